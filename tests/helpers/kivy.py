"""A real Kivy window for GUI tests (under Xvfb in CI: ./hallkit test provides the screen).

Kivy allows one window per process, so every GUI test shares it: the window the docs' screenshots are made on
(`hallctl.screenshots.ShotWindow`). `screen.show(widget, size)` puts a root widget on it at a given size,
`screen.tap(widget)` touches it, `screen.until(...)` runs frames until a condition holds, `screen.shot(path)` saves
what a person would see: tests save into their temporary folder, never into docs/screenshots (`hall docs
screenshots` makes those on purpose).
"""

from __future__ import annotations

import os

import pytest

from hallctl.screenshots import ShotWindow, prepare_kivy


@pytest.fixture(scope="session")
def _kivy_env():
    if not os.environ.get("DISPLAY"):
        pytest.skip("no X display: run the GUI tests through ./hallkit test (it starts Xvfb)")
    prepare_kivy()
    return True


@pytest.fixture
def screen(_kivy_env):
    """The shared Kivy window, cleared after each test."""
    s = ShotWindow()
    yield s
    s.clear()
    s.pump(1)
