"""A real Kivy window for GUI tests (under Xvfb in CI: ./hallkit test provides the screen).

Kivy allows one window per process, so every GUI test shares it: `screen.show(widget, size)` puts a root widget
on it at a given size, `screen.tap(widget)` touches it, `screen.until(...)` runs frames until a condition holds,
`screen.shot(path)` saves what a person would see.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class KivyScreen:
    _shot_size: tuple = ()  # the window's size at the last screenshot (one window per process)

    def __init__(self):
        from kivy.base import EventLoop
        from kivy.core.window import Window

        self.window = Window
        self.loop = EventLoop
        EventLoop.ensure_window()

    def show(self, widget, size=(1920, 1080)):
        self.clear()
        self.window.size = size
        self.window.add_widget(widget)
        self.pump(4)
        return widget

    def clear(self):
        for child in list(self.window.children):
            self.window.remove_widget(child)

    def pump(self, frames: int = 1):
        for _ in range(frames):
            self.loop.idle()

    def advance(self, seconds: float):
        """Run frames for this much wall time (clock callbacks and animations fire as in the field)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.loop.idle()

    def until(self, predicate, timeout: float = 5.0, message: str = "condition"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.loop.idle()
            if predicate():
                return
        raise AssertionError(f"{message} did not hold within {timeout} s")

    def tap(self, widget, frames: int = 3):
        """A finger down and up at the widget's centre, through the window like a real touch."""
        from kivy.tests.common import UnitTestTouch

        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.pump(1)
        touch.touch_up()
        self.pump(frames)

    def shot(self, path: Path | str) -> Path:
        """Save the whole window as PNG (Kivy appends a counter to the name; we put it back)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pump(2)
        if tuple(self.window.size) != self._shot_size:
            # the first read-back after the window is resized comes out black: take one to throw away
            KivyScreen._shot_size = tuple(self.window.size)
            self.advance(0.2)
            spare = self.window.screenshot(name=str(Path(tempfile.gettempdir()) / "kivy-warm%(counter)s.png"))
            if spare:
                Path(spare).unlink(missing_ok=True)
            self.pump(2)
        made = self.window.screenshot(name=str(path.with_suffix("")) + "%(counter)s.png")
        if made and made != str(path):
            os.replace(made, path)
        return path


@pytest.fixture(scope="session")
def _kivy_env():
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kivy-home-"))
    if not os.environ.get("DISPLAY"):
        pytest.skip("no X display: run the GUI tests through ./hallkit test (it starts Xvfb)")
    return True


@pytest.fixture
def screen(_kivy_env):
    """The shared Kivy window, cleared after each test."""
    s = KivyScreen()
    yield s
    s.clear()
    s.pump(1)
