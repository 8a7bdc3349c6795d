"""Every label on the calling board is readable across the hall: at 1920×1080 none is smaller than the board's
smallest size (MIN, 20 px), none is shrunk below it to fit, and every one's whole text, rendered at its font size,
fits its box, which lies inside the screen and does not overlap its neighbours. Checked on the real board (a Kivy
window under Xvfb) on a busy morning, with windows paused for each reason, and during the opening burst of 34
calls; Chinese and English labels alike."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.helpers.display import busy_morning, cut_off, labels, opening_calls

pytestmark = pytest.mark.gui

MIN_PX = 20   # at 1920×1080: MIN in display/board.kv
WIDEST_DATE = datetime(2025, 12, 31, 23, 58)   # 2025年12月31日 星期三  Wed 31 Dec: the header's widest date


def shown_labels(root):
    return [label for label in labels(root) if label.text and label.opacity > 0]


def too_small(root, smallest: int) -> list[str]:
    return [f"{label.text[:30]!r}: {label.font_size} px" for label in shown_labels(root) if label.font_size < smallest]


def wider_than_its_box(root) -> list[str]:
    """Labels whose text, rendered afresh at the label's own font and size, is wider than the label's box (Kivy
    would end it with …), line by line."""
    from kivy.core.text import Label as CoreLabel

    out = []
    for label in shown_labels(root):
        core = CoreLabel(font_size=label.font_size, font_name=label.font_name, bold=label.bold)
        width = max(core.get_extents(line)[0] for line in label.text.split("\n"))
        room = label.width - label.padding[0] - label.padding[2]
        if width > room + 1:
            out.append(f"{label.text[:30]!r}: {width:.0f} px wide in {room:.0f}")
    return out


def shortened(root) -> list[str]:
    """Labels Kivy drew shortened (ending in …) or wrapped: what it rendered is not the whole text, line for
    line. (Kivy shortens a little before the measured width reaches the box, so this is asked of what it drew.)"""
    out = []
    for label in shown_labels(root):
        drawn = ["".join(word.text for word in line.words) for line in label._label._cached_lines]
        if [line.strip() for line in drawn] != [line.strip() for line in label.text.split("\n")]:
            out.append(f"{label.text[:30]!r} drawn as {drawn[:3]!r}")
    return out


def off_screen(root, size) -> list[str]:
    """Labels whose box leaves the window."""
    return [f"{label.text[:30]!r} at {label.pos} {label.size}" for label in shown_labels(root)
            if label.x < -0.5 or label.y < -0.5 or label.right > size[0] + 0.5 or label.top > size[1] + 0.5]


def overlapping(root) -> list[str]:
    """Labels whose boxes overlap another label's box beside them (in the same row or column of a layout)."""
    out = []
    for label in shown_labels(root):
        parent = label.parent
        for other in parent.children:
            if other is label or other not in list(labels(parent)) or not other.text or other.opacity == 0:
                continue
            dx = min(label.right, other.right) - max(label.x, other.x)
            dy = min(label.top, other.top) - max(label.y, other.y)
            if dx > 0.5 and dy > 0.5:
                out.append(f"{label.text[:20]!r} over {other.text[:20]!r}")
    return out


def english(text: str) -> bool:
    return any("a" <= ch.lower() <= "z" for ch in text)


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def check_every_label(board, size):
    root = board.root
    board.controller.wall_clock = lambda: WIDEST_DATE
    board.controller._clock_ev.cancel()   # the minute's tick, made again at once with the widest date
    board.controller._tick_clock()
    board.screen.pump(1)
    assert root.u == pytest.approx(min(size[0] / 1920, size[1] / 1080))
    smallest = int(MIN_PX * root.u)
    problems = (too_small(root, smallest) + cut_off(root) + wider_than_its_box(root) + shortened(root)
                + off_screen(root, size) + overlapping(root))
    assert problems == [], "\n".join(problems)
    shown = shown_labels(root)
    # both languages are on the board, and both are held to the same size
    assert any(english(label.text) and not chinese(label.text) for label in shown)
    assert any(chinese(label.text) and not english(label.text) for label in shown)
    band = root.ids.band
    assert band._font_px() >= smallest and band._count_px() >= smallest
    return shown


def pause_for_every_reason(board):
    from hall.settings import PAUSE_REASONS

    for window, reason in zip(("6", "14", "22", "30"), PAUSE_REASONS, strict=True):
        board.controller.apply(f"hub/state/window/{window}", {
            "window": window, "status": "paused", "ticket": None, "staff": "s1", "queues": ["A"], "reason": reason})


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_a_busy_morning_is_readable(make_board, board_hall, size, tmp_path):
    board = make_board(size)
    busy_morning(board, board_hall)
    pause_for_every_reason(board)
    board.controller.apply("hub/status", {"state": "offline"})  # the red mark too
    board.screen.pump(2)
    shown = check_every_label(board, size)
    tile = board.tile("34")  # the longest window name, and a department with a short name on the tile
    assert (tile.ids.name.text, tile.ids.name_en.text) == ("34号窗口", "Window 34")
    assert board.tile("7").ids.department.text == "人社局"  # 人力资源和社会保障局, too long for a tile
    assert board.root.queue_rows["V"].ids.name_en.text == "Urban & Fire"  # the catalogue's short English name
    assert "系统故障" in {label.text for label in shown}
    board.screen.shot(tmp_path / f"board-text-{size[0]}x{size[1]}.png")


def test_the_opening_burst_of_34_calls_is_readable(make_board, board_hall, tmp_path):
    size = (1920, 1080)
    board = make_board(size)
    busy_morning(board, board_hall)
    calls = opening_calls(board_hall)
    assert len(calls) == 34
    for payload in calls:
        board.controller.apply("hub/call", payload)
        board.clock.advance(1 / 34)
    board.screen.pump(2)
    assert all(tile.lit for tile in board.root.tiles.values())
    now = board.root.ids.now
    assert now.calling_now == 33 and now.ids.recent.text.count("●") == 6
    check_every_label(board, size)
    board.screen.shot(tmp_path / "board-burst-1920x1080.png")


def test_a_long_name_without_its_short_form_is_cut_short_at_the_same_size_and_logged(make_board, board_hall,
                                                                                      caplog):
    from hall.catalogue import parse_catalogue

    data = board_hall.catalogue.model_dump()
    for queue in data["queues"]:
        if queue["id"] == "V":
            queue["en_short"] = ""   # Urban Management and Fire Safety
    with caplog.at_level("WARNING", logger="display.board"):
        board = make_board((1920, 1080), catalogue=parse_catalogue(data))
    assert any("queues[id='V'].en_short" in r.getMessage() for r in caplog.records)
    busy_morning(board, board_hall)
    label = board.root.queue_rows["V"].ids.name_en
    assert label.text == "Urban Management and Fire Safety" and label.font_size >= MIN_PX  # not shrunk
    assert [r for r in shortened(board.root) if "Urban" in r]  # cut short with …, where the catalogue can fix it
