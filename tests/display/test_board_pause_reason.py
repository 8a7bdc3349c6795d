"""The board's paused tile says why the window paused, when the clerk gave a reason (the hub's window state)."""

from __future__ import annotations

import pytest

from display.model import BoardModel
from hall.settings import load_hall
from tests.helpers.display import busy_morning, cut_off

pytestmark = pytest.mark.gui

REASONS = {"6": "系统故障", "14": "午休", "22": None, "30": "外出调研"}  # the last: a hall's own reason


def paused(window: str, reason: str | None, status: str = "paused") -> dict:
    state = {"window": window, "status": status, "ticket": None, "staff": "s001", "queues": ["A"]}
    if status == "paused":
        state |= {"reason": reason, "paused_since": "2026-11-30T11:32:08.004+08:00"}
    return state


def test_the_tile_model_carries_the_reason_while_paused_only():
    hall = load_hall()
    model = BoardModel(hall.catalogue)
    assert model.apply("hub/state/window/6", paused("6", "会议"), 0.0) == {"tile:6"}
    tile = model.tiles["6"]
    assert (tile.reason_text, tile.status_text) == ("会议", ("暂停", "Meeting"))
    assert model.apply("hub/state/window/6", paused("6", "午休"), 0.0) == {"tile:6"}  # another reason: redrawn
    assert (tile.reason_text, tile.status_text) == ("午休", ("暂停", "Lunch break"))
    model.apply("hub/state/window/6", paused("6", None), 0.0)
    assert (tile.reason_text, tile.status_text) == ("", ("暂停服务", "Paused"))
    model.apply("hub/state/window/6", paused("6", "外出调研"), 0.0)  # a hall's own reason: no English for it
    assert (tile.reason_text, tile.status_text) == ("外出调研", ("暂停服务", "Paused"))
    model.apply("hub/state/window/6", paused("6", None, "idle"), 0.0)
    assert (tile.reason, tile.reason_text, tile.status_text) == (None, "", ("空闲", "Idle"))


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_paused_tiles_show_the_reason_uncut_and_screenshot(make_board, board_hall, size, tmp_path):
    board = make_board(size)
    busy_morning(board, board_hall)
    for window, reason in REASONS.items():
        board.controller.apply(f"hub/state/window/{window}", paused(window, reason))
    board.screen.pump(2)
    shown = {w: (board.tile(w).ids.ticket.text, board.tile(w).ids.status.text) for w in REASONS}
    assert shown == {"6": ("系统故障", "暂停  System fault"), "14": ("午休", "暂停  Lunch break"),
                     "22": ("—", "暂停服务  Paused"), "30": ("外出调研", "暂停服务  Paused")}
    # resumed: the tile's middle is the ticket's again
    board.controller.apply("hub/state/window/6", paused("6", None, "idle"))
    board.screen.pump(2)
    assert (board.tile("6").ids.ticket.text, board.tile("6").ids.status.text) == ("—", "空闲  Idle")
    board.controller.apply("hub/state/window/6", paused("6", "系统故障"))
    board.screen.pump(2)
    shot = board.screen.shot(tmp_path / f"board-paused-{size[0]}x{size[1]}.png")
    problems = cut_off(board.root)
    assert problems == [], "\n".join(problems)
    assert shot.stat().st_size > 50_000
