"""Fixtures for the calling board and the voice: the default hall, a catalogue with guides, a built clip set,
a board on the shared Kivy window, and a day's worth of hub state to feed it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hall.settings import load_hall

# the busy morning the docs' screenshots show: the tests feed the board the same
from hallctl.screenshots import GUIDES, MORNING, call, guide_catalogue, hall_day, opening_calls  # noqa: F401
from hallctl.screenshots import HeldClock as FakeClock  # noqa: F401


@pytest.fixture(scope="session")
def board_hall():
    return load_hall()


@pytest.fixture(scope="session")
def voice_clips(tmp_path_factory):
    """The clip set as `hall voice build` makes it (espeak-ng), built once per test run."""
    from display.voice import ClipSet, build_clips, espeak_available

    if not espeak_available():
        pytest.skip("espeak-ng is not installed")
    folder = tmp_path_factory.mktemp("voice")
    build_clips(folder)
    return ClipSet(folder)


class Frames:
    """Counts the frames the window draws (Kivy draws one only when something on a canvas changed), and which
    of the board's off-screen buffers each frame draws again."""

    def __init__(self, root=None):
        from kivy.core.window import Window

        self.window = Window
        self.root = root
        self.count = 0
        self.redrawn: list[list] = []   # per frame: the Cached boxes drawn again (when a root is given)
        Window.bind(on_draw=self._draw, on_flip=self._flip)

    def _draw(self, *_):
        if self.root is not None:
            self.redrawn.append([box for box in cached_boxes(self.root) if box.fbo.needs_redraw])

    def _flip(self, *_):
        self.count += 1

    def reset(self) -> None:
        self.count = 0
        self.redrawn = []

    def close(self) -> None:
        self.window.unbind(on_draw=self._draw, on_flip=self._flip)


def cached_boxes(widget):
    """The board's Cached boxes under `widget`, in the widget tree."""
    from display.widgets import Cached

    if isinstance(widget, Cached):
        yield widget
    for child in widget.children:
        yield from cached_boxes(child)


@pytest.fixture
def frames(screen):
    """frames(root=None) → a Frames counter from now on, unbound after the test."""
    made = []

    def make(root=None):
        counter = Frames(root)
        made.append(counter)
        return counter

    yield make
    for counter in made:
        counter.close()


class BoardOnScreen:
    def __init__(self, screen, app, root, clock):
        self.screen, self.app, self.root, self.clock = screen, app, root, clock
        self.controller = app.controller
        self.model = app.model

    def feed(self, messages):
        for suffix, payload in messages:
            self.controller.apply(suffix, payload)
        self.screen.pump(2)

    def tile(self, window: str):
        return self.root.tiles[window]

    def settle(self):
        """Let the last call's flash end, then draw what is left to draw: from here the board is idle."""
        self.clock.advance(60)
        self.controller.tick()
        self.screen.pump(3)

    def close(self):
        self.controller.stop()


@pytest.fixture
def make_board(screen, board_hall, tmp_path):
    """make_board(size=(1280, 720), catalogue=None, link=None, voice=None) → a board shown on the test window.

    Its header shows the held MORNING: a minute turning on the real clock would redraw the header's box in the
    middle of a test that counts what is drawn."""
    from kivy.core.window import Window

    from display.board import BoardApp
    from display.playlist import load_playlist

    made = []
    clearcolor = list(Window.clearcolor)

    def make(size=(1280, 720), *, catalogue=None, link=None, voice=None, clock=None, cache: Path | None = None,
             playlist=None):
        hall = board_hall
        if catalogue is not None:
            hall = _with_catalogue(board_hall, catalogue)
        clock = clock or FakeClock()
        app = BoardApp(hall, playlist=playlist or load_playlist(), link=link, voice=voice, cache=cache,
                       clock=clock, wall_clock=lambda: MORNING)
        root = app.build()
        screen.show(root, size)
        board = BoardOnScreen(screen, app, root, clock)
        made.append(board)
        return board

    yield make
    for b in made:
        b.close()
    Window.clearcolor = clearcolor  # the board sets its background as the window's clear colour


def _with_catalogue(hall, catalogue):
    from hall.settings import Hall

    return Hall(hall.path, hall.file, catalogue, hall.staff)


def dumps(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


# ---- what a person sees on the board

def labels(widget):
    from kivy.uix.label import Label

    if isinstance(widget, Label):
        yield widget
    for child in widget.children:
        yield from labels(child)


def cut_off(root) -> list[str]:
    """Labels whose whole text does not fit their box (Kivy would shorten it with '…' or overflow it)."""
    out = []
    for label in labels(root):
        if not label.text or label.opacity == 0:
            continue
        core = label._label
        lines = label.text.split("\n")
        width = max(core.get_extents(line)[0] for line in lines)
        height = sum(core.get_extents(line)[1] for line in lines) * (label.line_height if len(lines) > 1 else 1)
        room_w = label.width - 2 * label.padding[0] if label.text_size[0] is not None else width
        if width > room_w + 1 or height > label.height + 2:
            out.append(f"{label.text[:30]!r}: {width:.0f}×{height:.0f} in {label.width:.0f}×{label.height:.0f}")
    return out


def busy_morning(board, hall):
    board.feed(hall_day(hall))
    board.controller.apply("hub/status", {"state": "online"})
    board.controller.refresh(board.model.set_connected(True))
    board.controller.apply("hub/call", call("B012", "12"))
    board.screen.pump(2)
