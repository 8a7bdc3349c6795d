"""The calling board's screen model, without a window: tiles, the highlights, counts, offline, the cache."""

from __future__ import annotations

from display.model import BoardModel, call_sentence
from tests.helpers.display import call, hall_day


def model(hall, **kw) -> BoardModel:
    return BoardModel(hall.catalogue, **kw)


def feed(m: BoardModel, messages, now: float = 0.0) -> set[str]:
    changes: set[str] = set()
    for suffix, payload in messages:
        changes |= m.apply(suffix, payload, now)
    return changes


def test_a_tile_per_window_in_catalogue_order(board_hall):
    m = model(board_hall)
    assert [t.window for t in m.ordered_tiles()] == [w.id for w in board_hall.catalogue.windows]
    assert len(m.tiles) == 34
    tile = m.tiles["3"]
    assert (tile.name, tile.name_en, tile.department) == ("3号窗口", "Window 3", "市场监督管理局")
    assert tile.status == "closed" and tile.ticket is None


def test_window_states_drive_tiles(board_hall):
    m = model(board_hall)
    changes = feed(m, [("hub/state/window/3", {"window": "3", "status": "serving", "ticket": "A012",
                                               "staff": "s023", "queues": ["A"]}),
                       ("hub/state/window/5", {"window": "5", "status": "paused", "ticket": None,
                                               "staff": "s030", "queues": ["B"]})])
    assert changes == {"tile:3", "tile:5"}
    assert (m.tiles["3"].status, m.tiles["3"].ticket) == ("serving", "A012")
    assert m.tiles["5"].status_text == ("暂停服务", "Paused")
    # the same state again changes nothing: the view redraws nothing
    assert feed(m, [("hub/state/window/3", {"window": "3", "status": "serving", "ticket": "A012",
                                            "staff": "s023", "queues": ["A"]})]) == set()


def test_bad_payloads_are_ignored_and_logged(board_hall, caplog):
    m = model(board_hall)
    assert m.apply("hub/state/window/3", {"window": "3", "status": "asleep"}, 0) == set()
    assert m.apply("hub/state/queue/A", {"queue": "A", "waiting": -1}, 0) == set()
    assert m.apply("hub/call", {"ticket": "a12", "window": "3"}, 0) == set()
    assert m.apply("hub/call", ["not", "a", "dict"], 0) == set()
    assert "hub/state/window/3" in caplog.text and "status" in caplog.text
    assert m.tiles["3"].status == "closed"


def test_an_unknown_window_gets_a_tile_rather_than_being_dropped(board_hall):
    m = model(board_hall)
    changes = m.apply("hub/state/window/99", {"window": "99", "status": "idle", "queues": []}, 0)
    assert "layout" in changes and "tile:99" in changes
    assert m.tiles["99"].name == "99号窗口"


def test_queue_counts(board_hall):
    m = model(board_hall)
    changes = m.apply("hub/state/queue/B", {"queue": "B", "waiting": 5, "est_wait_s": 610, "last_called": "B007"},
                      0)
    assert changes == {"queue:B"}
    line = m.queues["B"]
    # the board shows the catalogue's short English name (en_short) where it has one
    assert (line.name, line.name_en, line.waiting, line.est_wait_min) == ("不动产登记", "Real Estate", 5, 11)


def test_a_call_shows_at_once_and_flashes_then_stays_lit(board_hall):
    m = model(board_hall, flash_s=4.0)
    changes = m.apply("hub/call", call("A012", "3"), now=100.0)
    assert {"tile:3", "highlight", "calls"} <= changes
    assert (m.tiles["3"].ticket, m.tiles["3"].status) == ("A012", "serving")
    assert m.tile_lit("3") and m.flashing(100.0) and m.flashing(103.9)
    assert m.next_deadline(100.0) == 104.0
    assert not m.flashing(104.0) and m.tile_lit("3")  # steady after the flash
    assert m.next_deadline(104.0) is None
    assert call_sentence("A012", "3") == ("请 A012 号到 3 号窗口办理", "Ticket A012, please go to window 3")


def test_simultaneous_calls_all_light_at_once(board_hall):
    m = model(board_hall, flash_s=4.0)
    for ticket, window in (("A012", "3"), ("B005", "12"), ("C020", "8")):
        m.apply("hub/call", call(ticket, window), now=100.0)
    # all three tiles show their tickets and flash at once; the newest is the big one on the panel
    assert [m.tiles[w].ticket for w in ("3", "12", "8")] == ["A012", "B005", "C020"]
    assert all(m.tile_lit(w) and m.tile_flashing(w, 103.9) for w in ("3", "12", "8"))
    assert m.highlight.ticket == "C020" and [c.ticket for c in m.burst(100.0)] == ["C020", "B005", "A012"]
    assert m.tick(102.0) == set() and m.next_deadline(102.0) == 104.0
    assert m.tick(104.0) == {"tile:3", "tile:12", "highlight"}
    assert not m.tile_lit("3") and not m.tile_lit("12")
    assert m.tile_lit("8") and not m.tile_flashing("8", 104.0)  # the newest stays lit, steady
    assert m.burst(104.0) == [] and m.next_deadline(104.0) is None
    assert [c.ticket for c in m.recent] == ["C020", "B005", "A012"]


def test_a_burst_of_34_calls_is_all_on_screen_in_the_same_second(board_hall):
    m = model(board_hall, flash_s=4.0)
    windows = [w.id for w in board_hall.catalogue.windows]
    for i, window in enumerate(windows):
        changes = m.apply("hub/call", call(f"A{100 + i:03d}", window), now=100.0 + i / 34)
        assert f"tile:{window}" in changes  # drawn with this very message, not after a turn
    assert all(m.tile_flashing(w, 100.99) for w in windows)
    assert m.highlight.ticket == "A133" and len(m.burst(100.99)) == 34


def test_the_panel_and_the_tiles_never_disagree(board_hall):
    m = model(board_hall, flash_s=4.0)
    m.apply("hub/call", call("A012", "3"), now=100.0)
    m.apply("hub/call", call("B005", "12"), now=100.5)
    # window 12 finishes at once: its tile says idle, so neither it nor the panel calls B005 any more
    changes = m.apply("hub/state/window/12", {"window": "12", "status": "idle", "ticket": None, "staff": "s1",
                                              "queues": ["B"]}, 101.0)
    assert {"tile:12", "highlight"} <= changes
    assert not m.tile_lit("12") and m.highlight.ticket == "A012"
    m.apply("hub/state/window/3", {"window": "3", "status": "paused", "ticket": None, "staff": "s1",
                                   "queues": ["A"]}, 101.0)
    assert m.highlight is None and m.lit == {}
    # the same ticket still served: the tile stays lit
    m.apply("hub/call", call("C020", "8"), now=102.0)
    m.apply("hub/state/window/8", {"window": "8", "status": "serving", "ticket": "C020", "staff": "s1",
                                   "queues": ["C"]}, 102.1)
    assert m.tile_lit("8") and m.highlight.ticket == "C020"


def test_a_resent_call_is_absorbed_and_a_recall_flashes_again(board_hall):
    m = model(board_hall, flash_s=4.0)
    first = call("A012", "3")
    m.apply("hub/call", first, now=100.0)
    assert m.apply("hub/call", dict(first), now=100.5) == set()   # QoS 1 delivered it twice
    m.tick(104.0)
    assert not m.flashing(104.0)
    changes = m.apply("hub/call", {**first, "recall": 1}, now=110.0)
    assert "highlight" in changes and m.flashing(110.0) and m.highlight.call.recall == 1
    assert [c.ticket for c in m.recent] == ["A012"]  # one line per ticket and window in the recent list


def test_retained_calls_list_lights_the_newest_its_tile_agrees_with_without_flashing(board_hall):
    m = model(board_hall)
    feed(m, hall_day(board_hall), now=50.0)
    # C015 at window 8 and A006 at window 1 are history: window 8 is closed and window 1 serves A001 now
    assert m.highlight is None and [c.ticket for c in m.recent] == ["C015", "A006"]
    fresh = model(board_hall)
    fresh.apply("hub/calls", {"calls": [call("A001", "1")]}, 50.0)  # before any window state: trusted
    assert fresh.highlight.ticket == "A001" and not fresh.flashing(50.0) and fresh.tile_lit("1")
    # a live call that arrives after its own hub/calls update still flashes
    m.apply("hub/calls", {"calls": [call("D003", "10"), *[c.model_dump() for c in m.recent]]}, 60.0)
    assert "highlight" in m.apply("hub/call", call("D003", "10"), 60.1)
    assert m.flashing(60.1)


def test_offline_when_the_hub_says_so_or_the_broker_is_gone(board_hall):
    m = model(board_hall)
    assert not m.online and m.hub_online is None
    assert m.set_connected(True) == {"hub"}
    assert m.apply("hub/status", {"state": "online", "kind": "hub"}, 0) == {"hub"}
    assert m.online
    assert m.apply("hub/status", {"state": "offline"}, 0) == {"hub"} and not m.online
    m.apply("hub/status", {"state": "online"}, 0)
    m.set_connected(False)
    assert not m.online


def test_catalogue_topic_relayouts_and_keeps_state(board_hall):
    m = model(board_hall)
    m.apply("hub/state/window/3", {"window": "3", "status": "serving", "ticket": "A012", "queues": ["A"]}, 0)
    wire = board_hall.catalogue.wire()
    wire["windows"] = [w for w in wire["windows"] if w["id"] != "34"]
    wire["queues"] = [q for q in wire["queues"] if q["id"] != "W"]  # window 34's only queue
    for w in wire["windows"]:
        w["backup"] = [q for q in w["backup"] if q != "W"]
    wire["services"] = []
    changes = m.apply("hub/catalogue", wire, 0)
    assert {"layout", "band"} <= changes
    assert "34" not in m.tiles and "W" not in m.queues and m.tiles["3"].ticket == "A012"
    assert m.apply("hub/catalogue", {"windows": "nonsense"}, 0) == set()


def test_snapshot_restores_the_last_state(board_hall):
    m = model(board_hall)
    feed(m, hall_day(board_hall))
    again = model(board_hall)
    again.restore(m.snapshot())
    assert again.snapshot() == m.snapshot()
    assert again.highlight is None  # the newest calls are history: their windows have moved on
    m.apply("hub/call", call("B012", "12"), 60.0)
    again = model(board_hall)
    again.restore(m.snapshot())
    assert again.highlight.ticket == "B012" and again.tile_lit("12")
