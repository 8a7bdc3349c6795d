"""The calling board on a real Kivy window (Xvfb in CI): state topics and calls drive the tiles; nothing is cut off
at 1920×1080 or 1280×720; the offline mark; a screenshot of each size (into a temporary folder)."""

from __future__ import annotations

import threading

import pytest

from display.playlist import Playlist, load_playlist
from tests.helpers.display import busy_morning, call, cut_off, guide_catalogue

pytestmark = pytest.mark.gui


def band_in_view(board):
    """Stop the band on the first page of a service guide (the shot must not depend on timing)."""
    band = board.root.ids.band
    band.show(next(i for i in board.controller.band.items if i.kind == "guide"))
    band.stop()
    board.screen.pump(2)


def test_state_topics_fill_every_tile_and_queue(make_board, board_hall):
    board = make_board((1920, 1080))
    busy_morning(board, board_hall)
    root = board.root
    assert len(root.tiles) == 34 and root.ids.tiles.cols == 7
    one = board.tile("1")
    assert (one.ticket, one.status_zh, one.status_en) == ("A001", "办理中", "Serving")
    assert one.ids.ticket.text == "A001" and one.ids.name.text == "1号窗口"
    paused = board.tile("6")
    assert (paused.ids.ticket.text, paused.ids.status.text) == ("—", "暂停服务  Paused")
    assert board.tile("8").ids.status.text == "未开放  Closed"
    assert board.tile("4").ids.status.text == "空闲  Idle"
    row = root.queue_rows["B"]
    assert (row.ids.waiting.text, row.ids.wait.text) == ("5 人", "约 25 分钟")
    assert root.queue_rows["A"].ids.waiting.text == "0 人" and root.queue_rows["A"].ids.wait.text == ""
    assert root.ids.hall_name.text == "汨罗市政务服务中心"
    assert root.link_text == ""


def test_a_call_lights_its_tile_flashes_then_stays_lit(make_board, board_hall):
    from display import widgets

    board = make_board()
    busy_morning(board, board_hall)
    tile, now = board.tile("12"), board.root.ids.now
    assert tile.ticket == "B012" and tile.lit and tile.flash_on and tile.bg == list(widgets.FLASH_BG)
    assert now.ids.ticket.text == "B012" and now.ids.sentence.text == "请 B012 号到 12 号窗口办理"
    assert "C015" in now.ids.recent.text  # the retained list, below the call being made
    # two more calls at once: both tiles show their tickets and flash now, the newest on the panel
    board.controller.apply("hub/call", call("A020", "3"))
    board.controller.apply("hub/call", call("C016", "8"))
    three, eight = board.tile("3"), board.tile("8")
    assert three.ticket == "A020" and eight.ticket == "C016"
    assert tile.flash_on and three.flash_on and eight.flash_on  # in step
    assert now.ids.ticket.text == "C016" and now.calling_now == 2
    assert now.ids.recent.text.startswith("● A020") and "● B012" in now.ids.recent.text
    board.clock.advance(4.0)
    board.controller.tick()
    assert not tile.lit and not three.lit and tile.bg == list(widgets.SERVING_BG)
    assert eight.lit and not eight.flash_on and eight.bg == list(widgets.LIT_BG)  # steady
    assert not now.flash_on and now.calling_now == 0 and "●" not in now.ids.recent.text


def test_a_tile_that_moves_on_is_no_longer_called(make_board, board_hall):
    board = make_board()
    busy_morning(board, board_hall)
    board.controller.apply("hub/call", call("A020", "3"))
    board.controller.apply("hub/state/window/3", {"window": "3", "status": "idle", "ticket": None, "staff": "s1",
                                                  "queues": ["A"]})
    board.screen.pump(1)
    assert board.tile("3").ids.status.text == "空闲  Idle" and not board.tile("3").lit
    assert board.root.ids.now.ids.ticket.text == "B012" and board.tile("12").lit


def test_a_recall_says_so(make_board, board_hall):
    board = make_board()
    busy_morning(board, board_hall)
    board.clock.advance(5)
    board.controller.tick()
    board.controller.apply("hub/call", call("B012", "12", recall=1))
    board.screen.pump(1)
    assert board.root.ids.now.recall and board.tile("12").flash_on


def test_offline_mark_follows_the_hub_status_and_the_connection(make_board, board_hall):
    board = make_board()
    busy_morning(board, board_hall)
    mark = board.root.ids.offline
    assert mark.opacity == 0
    board.controller.apply("hub/status", {"state": "offline"})
    board.screen.pump(1)
    assert mark.opacity == 1 and mark.text.startswith("离线") and "Offline" in mark.text
    assert board.tile("1").ticket == "A001"  # the last state stays on screen
    board.controller.apply("hub/status", {"state": "online"})
    assert board.root.link_text == ""
    board.controller.refresh(board.model.set_connected(False))
    assert board.root.link_text.startswith("离线")


def test_messages_from_the_network_thread_reach_the_screen(make_board, board_hall):
    board = make_board()
    t = threading.Thread(target=board.controller.feed, args=("hub/state/window/20", {
        "window": "20", "status": "serving", "ticket": "J033", "staff": "s100", "queues": ["J"]}))
    t.start()
    t.join()
    board.screen.until(lambda: board.tile("20").ids.ticket.text == "J033", message="tile 20 shows J033")


def test_a_new_catalogue_relays_the_tiles_and_the_band(make_board, board_hall):
    board = make_board()
    wire = guide_catalogue(board_hall).wire()
    wire["windows"] = [w for w in wire["windows"] if w["id"] != "34"]
    wire["queues"] = [q for q in wire["queues"] if q["id"] != "W"]
    for w in wire["windows"]:
        w["backup"] = [q for q in w["backup"] if q != "W"]
    board.controller.apply("hub/catalogue", wire)
    board.screen.pump(2)
    assert "34" not in board.root.tiles and len(board.root.ids.tiles.children) == 33
    assert [i.key for i in board.controller.band.items if i.kind == "guide"] == ["guide:scjg-001", "guide:bdc-002"]


def test_a_restarted_board_shows_the_last_state_from_its_cache(make_board, board_hall, tmp_path):
    cache = tmp_path / "board.json"
    first = make_board(cache=cache)
    busy_morning(first, board_hall)
    first.close()  # saves
    assert cache.exists()
    again = make_board(cache=cache)
    assert again.tile("1").ticket == "A001" and again.root.ids.now.ids.ticket.text == "B012"
    assert again.root.link_text  # not live until the hub is heard


def playlist(**settings):
    """The shipped playlist with other page settings."""
    shipped = load_playlist()
    return Playlist(shipped.file.model_copy(update=settings), "test playlist")


def squeeze(text: str) -> str:
    return "".join(text.split())


def test_the_band_shows_every_item_a_page_at_a_time_chinese_first(make_board, board_hall):
    board = make_board((1920, 1080), catalogue=guide_catalogue(board_hall))
    band = board.root.ids.band
    band.stop()
    items = board.controller.band.items
    assert band.item.key == items[0].key and band.page_no == 1
    shown: dict[str, list[str]] = {}
    while True:
        shown.setdefault(band.item.key, []).append(band.page_text)
        page = band._page
        assert band.x < page.pos[0] and page.pos[0] + page.size[0] < band._count.pos[0] <= band.right
        assert band.y <= page.pos[1] and page.pos[1] + page.size[1] <= band.top
        if band.item.key == items[-1].key and band.page_no == band.page_count:
            break
        band.turn()
    band.stop()
    assert list(shown) == [i.key for i in items]  # every item, in playlist order, notices included
    for item in items:
        pages = shown[item.key]
        assert squeeze("".join(pages)) == squeeze(item.zh + item.en), item.key  # nothing dropped, Chinese first
        if item.en:
            assert squeeze(pages[-1]).endswith(squeeze(item.en)[-10:])
    assert max(len(p) for p in shown["guide:scjg-001"]) > 20  # a page is a line of the band, not a few words
    assert board.root.ids.band.turns >= sum(len(p) for p in shown.values())


def test_an_idle_board_draws_no_frames(make_board, board_hall, frames):
    board = make_board((1920, 1080), catalogue=guide_catalogue(board_hall), playlist=playlist(page=60))
    busy_morning(board, board_hall)
    board.settle()
    band = board.root.ids.band
    turns, counted = band.turns, frames()
    board.screen.advance(2.0)
    # the band used to scroll at 30 frames a second (60 here); a held page and a still board draw nothing
    # (one frame at most, should the minute turn meanwhile)
    assert counted.count <= 1 and band.turns == turns


def test_turning_a_page_draws_one_frame(make_board, board_hall, frames):
    board = make_board(catalogue=guide_catalogue(board_hall), playlist=playlist(page=1))
    board.settle()
    band = board.root.ids.band
    turns, counted = band.turns, frames(board.root)
    board.screen.advance(2.5)
    turned = band.turns - turns
    assert turned >= 1
    assert 1 <= counted.count <= turned + 1  # one frame a page
    assert all(not redrawn for redrawn in counted.redrawn)  # no cached box is drawn again for the band


def test_a_slide_moves_only_while_turning(make_board, board_hall, frames):
    board = make_board(catalogue=guide_catalogue(board_hall), playlist=playlist(page=60, transition=0.3))
    board.settle()
    band = board.root.ids.band
    before = band.page_text
    counted = frames()
    band.turn()
    board.screen.advance(0.6)
    assert band._anim is None and band.shift == 0 and tuple(band._next.size) == (0, 0)
    assert band.page_text != before and band._page.texture is band._shown
    slid = counted.count
    assert slid > 1  # it moved
    board.screen.advance(1.0)
    assert counted.count == slid  # and then stopped


def test_a_call_reaches_its_tile_in_one_frame_and_redraws_only_what_changed(make_board, board_hall, frames):
    board = make_board((1920, 1080), playlist=playlist(page=60))
    busy_morning(board, board_hall)
    board.settle()
    counted = frames(board.root)
    t = threading.Thread(target=board.controller.feed, args=("hub/call", call("A021", "3")))
    t.start()
    t.join()
    board.screen.pump(1)
    tile = board.tile("3")
    assert counted.count == 1 and tile.ids.ticket.text == "A021" and tile.lit
    assert board.root.ids.now.ids.ticket.text == "A021"
    redrawn = set(counted.redrawn[0])
    # the tile, the panel of the call, and the tile lit before it: not the other 33 tiles, nor the queues
    assert redrawn == {tile.parent, board.root.ids.now.parent, board.tile("12").parent}


def test_the_board_font_is_the_halls_simplified_chinese_face(make_board):
    from kivy.core.text import LabelBase

    from display import widgets
    from hall.fonts import cjk_font

    make_board()
    regular, _, bold, _ = LabelBase._fonts[widgets.FONT_NAME]
    assert regular == cjk_font() and bold == cjk_font(bold=True)


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_nothing_is_cut_off_and_screenshot(make_board, board_hall, size, tmp_path):
    board = make_board(size, catalogue=guide_catalogue(board_hall))
    busy_morning(board, board_hall)
    board.controller.apply("hub/call", call("A020", "3"))
    board.controller.apply("hub/call", call("C016", "8"))
    board.clock.advance(4.0)
    board.controller.tick()  # A020 flashing; B012 lit before it
    band_in_view(board)
    assert board.root.size == list(size)
    problems = cut_off(board.root)
    assert problems == [], "\n".join(problems)
    for tile in board.root.tiles.values():  # every tile inside the window, none overlapping the band
        assert tile.x >= 0 and tile.right <= size[0] and tile.y >= board.root.ids.band.top
    shot = board.screen.shot(tmp_path / f"board-{size[0]}x{size[1]}.png")
    assert shot.stat().st_size > 50_000
