"""The queue end to end: a real Mosquitto with the hall's secured config, the real hub, Mosquitto's own clients."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest

from hall.clock import stamp
from tests.helpers.queueing import MosquittoTools, all_day_hall
from tests.helpers.rig import wait_for
from tests.helpers.staffing import log_in


@pytest.fixture
def hall_rig(make_rig, tmp_path):
    return make_rig(config=all_day_hall(tmp_path / "config"))


def test_take_a_ticket_call_it_and_see_the_screens_state(hall_rig):
    hall_rig.start_hub()
    tools = MosquittoTools(hall_rig)
    got = tools.request("kiosk-01", "ticket_request", {"queue": "A"})
    assert got["ok"] is True
    ticket = got["ticket"]
    assert (ticket["no"], ticket["queue"], ticket["windows"], ticket["ahead"]) == ("A001", "A", ["1", "2", "3"], 0)
    assert tools.retained("state/queue/A", until=lambda s: s["waiting"] == 1)["waiting"] == 1

    assert tools.request("win-01", "login", {"window": "1", "staff": "s001"})["ok"]
    calls = tools.follow("call", 1)
    called = tools.request("win-01", "call_next", {"window": "1"})
    assert called["ok"] is True and called["ticket"]["no"] == "A001"
    [call] = calls.collect()
    assert {k: call[k] for k in ("ticket", "window", "queue", "recall")} == {
        "ticket": "A001", "window": "1", "queue": "A", "recall": 0}
    serving = {"window": "1", "status": "serving", "ticket": "A001", "staff": "s001", "queues": ["A"]}
    assert tools.retained("state/window/1", until=serving.__eq__) == serving
    assert tools.retained("calls", until=lambda s: s["calls"] == [call])["calls"] == [call]
    emptied = {"queue": "A", "waiting": 0, "est_wait_s": 0, "last_called": "A001"}
    assert tools.retained("state/queue/A", until=emptied.__eq__) == emptied

    recalled = tools.request("win-01", "recall", {"window": "1"})
    assert recalled["ticket"]["recall"] == 1
    assert tools.retained("calls", until=lambda s: s["calls"][0]["recall"] == 1)["calls"][0]["recall"] == 1
    assert tools.request("win-01", "complete", {"window": "1"})["ticket"]["status"] == "done"
    assert tools.retained("state/window/1", until=lambda s: s["status"] == "idle")["status"] == "idle"
    # a rating pad's score through the keypad bus master, fire and forget
    tools.publish("caller-01", "rating", {"window": "1", "score": 4})
    wait_for(lambda: hall_rig.count("SELECT count(*) FROM ratings WHERE window='1' AND ticket='A001' "
                                    "AND staff='s001' AND score=4"), 10, "the rating stored")


def test_bad_window_events_are_refused_with_a_clear_code(hall_rig):
    hall_rig.start_hub()
    tools = MosquittoTools(hall_rig)
    tools.request("kiosk-01", "ticket_request", {"queue": "A"})
    refused = tools.request("win-03", "call_next", {"window": "4"})
    assert refused["ok"] is False and refused["code"] == "forbidden"
    assert tools.request("win-03", "call_next", {"window": "99"})["code"] == "unknown_window"
    nobody = tools.request("win-03", "call_next", {"window": "3"})
    assert nobody["code"] == "not_logged_in" and "请先登录" in nobody["error"] and "log in" in nobody["error"]
    assert tools.request("win-03", "login", {"window": "3", "staff": "s011"})["ok"]
    assert tools.request("win-03", "call_next", {"window": "3"})["ticket"]["no"] == "A001"
    moved = tools.request("win-03", "transfer", {"window": "3", "queue": "ZZ"})
    assert (moved["ok"], moved["code"]) == (False, "unknown_queue")
    assert "unknown queue" in moved["error"]
    # nothing changed: the ticket is still at window 3
    assert tools.retained("state/window/3", until=lambda s: s["ticket"] == "A001")["ticket"] == "A001"
    assert tools.request("kiosk-01", "ticket_request", {"queue": "A"})["ticket"]["no"] == "A002"


def test_no_device_forges_a_rating_or_a_login(hall_rig):
    """What a window PC or a fingerprint terminal may not do, tried through the broker as they would."""
    hall_rig.start_hub()
    tools = MosquittoTools(hall_rig)
    assert tools.request("kiosk-01", "ticket_request", {"queue": "A"})["ok"]
    # a fingerprint terminal (or a window PC) logs nobody in at a window they are not assigned to
    assert tools.request("fp-01", "login", {"window": "1", "staff": "s011"})["code"] == "not_assigned"
    assert tools.request("win-01", "login", {"window": "1", "staff": "s011"})["code"] == "not_assigned"
    assert tools.retained("state/window/1")["staff"] is None
    assert tools.request("fp-01", "login", {"staff": "s001"})["window"]["staff"] == "s001"
    assert tools.request("win-01", "call_next", {"window": "1"})["ticket"]["no"] == "A001"
    assert tools.request("win-01", "complete", {"window": "1"})["ok"]
    # the clerk's own PC rates its clerk, with or without a ticket: refused every time, by the queue
    # (rating_forbidden, stored with that answer) or already at ingest (forbidden for its kind, kept in `rejected`)
    forged = [tools.publish("win-01", "rating", data)
              for data in ({"window": "1", "score": 5}, {"window": "1", "ticket": "A001", "score": 5})]
    marks = ",".join(f"'{i}'" for i in forged)
    wait_for(lambda: hall_rig.count(
        f"SELECT count(*) FROM events WHERE id IN ({marks}) AND json_extract(res, '$.code') = 'rating_forbidden'")
        + hall_rig.count(f"SELECT count(*) FROM rejected WHERE event_id IN ({marks}) AND code = 'forbidden'") == 2,
        10, "both forged ratings refused")
    # the window's rating pad, through its bus master: once for the ticket
    assert tools.request("caller-01", "rating", {"window": "1", "score": 4})["rating"]["ticket"] == "A001"
    assert tools.request("caller-01", "rating", {"window": "1", "score": 5})["code"] == "already_rated"
    assert hall_rig.count("SELECT count(*) FROM ratings") == 1
    assert hall_rig.count("SELECT count(*) FROM ratings WHERE ticket='A001' AND staff='s001' AND score=4") == 1
    # the refused logins and the second rating are kept with their answers
    assert hall_rig.count("SELECT count(*) FROM events WHERE type IN ('rating', 'login') AND "
                          "json_extract(res, '$.ok') = 0 AND NOT (device = 'win-01' AND type = 'rating')") == 3


def _retained_hub_state(rig, until=None) -> dict:
    """Every retained queue topic, read as a display reads them; with `until`, once it holds of them (the hub
    sends retained state a few milliseconds after its answers)."""
    seen: dict[str, dict] = {}
    heard = [time.monotonic()]

    def on_message(cl, u, m):
        heard[0] = time.monotonic()
        if m.payload:
            seen[m.topic] = json.loads(m.payload)

    c = rig.mqtt("display-01", connect=False)
    c.on_message = on_message
    c.on_connect = lambda cl, u, f, rc, p=None: cl.subscribe([(f"hall/v1/{rig.hall.id}/hub/state/#", 1),
                                                              (f"hall/v1/{rig.hall.id}/hub/calls", 1)])
    rig._connect(c)
    expected = 1 + len(rig.hall.catalogue.windows) + len(rig.hall.catalogue.queues)
    wait_for(lambda: len(seen) >= expected, 10, "all retained state")
    if until is not None:
        wait_for(lambda: until(seen), 5, "the retained state to settle")
        # one burst's state goes out topic by topic: the rest of it is still on its way when `until` first holds
        wait_for(lambda: time.monotonic() - heard[0] > 0.3, 5, "the hub to fall quiet")
    c.disconnect()
    c.loop_stop()
    return dict(seen)


def _clear_retained(rig, topics) -> None:
    """As the hub (which is down), wipe what it left retained, so only a rebuilt hub can put it back."""
    hub = rig.mqtt("hub", name="hub")
    for topic in topics:
        hub.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    hub.disconnect()
    hub.loop_stop()


def _hub_process(rig):
    """`hall hub` as a process, awaited through a display's eyes (a second login as `hub` would evict the hub)."""
    started = stamp()
    status: dict = {}
    c = rig.mqtt("display-02", connect=False)
    c.on_message = lambda cl, u, m: status.update(json.loads(m.payload))
    c.on_connect = lambda cl, u, f, rc, p=None: cl.subscribe(f"hall/v1/{rig.hall.id}/hub/status", 1)
    rig._connect(c)
    proc = rig.hub_process(wait=False)
    wait_for(lambda: status.get("state") == "online" and status.get("ts", "") >= started, 20, "hub online")
    c.disconnect()
    c.loop_stop()
    return proc


def test_the_hub_killed_mid_day_comes_back_with_the_same_state_and_numbering(hall_rig):
    hub = _hub_process(hall_rig)
    kiosk = hall_rig.link("kiosk-01")
    win = {w: hall_rig.link(f"win-0{w}") for w in ("1", "4", "7")}
    assert kiosk.wait_connected(10)
    for q in "AABBCCAB":
        assert kiosk.request("ticket_request", {"queue": q})["ok"]
    assert kiosk.request("ticket_request", {"queue": "C", "priority": True})["ticket"]["no"] == "C003"
    for w, link in win.items():
        log_in(link, hall_rig.hall, w)
    assert win["1"].request("call_next", {"window": "1"})["ticket"]["no"] == "A001"
    assert win["1"].request("skip", {"window": "1"})["ok"]
    assert win["1"].request("call_next", {"window": "1"})["ticket"]["no"] == "A002"
    assert win["4"].request("call_next", {"window": "4"})["ticket"]["no"] == "B001"
    assert win["4"].request("transfer", {"window": "4", "queue": "C"})["ok"]
    assert win["7"].request("pause", {"window": "7"})["ok"]
    assert kiosk.request("requeue", {"ticket": "A001"})["ticket"]["ahead"] == 1
    queue_a = f"hall/v1/{hall_rig.hall.id}/hub/state/queue/A"
    queue_c = f"hall/v1/{hall_rig.hall.id}/hub/state/queue/C"
    before = _retained_hub_state(  # A003 and A001; C001-C003 and B001 transferred
        hall_rig, until=lambda seen: seen[queue_a]["waiting"] == 2 and seen[queue_c]["waiting"] == 4)

    hub.send_signal(signal.SIGKILL)
    hub.wait(10)
    _clear_retained(hall_rig, before)
    _hub_process(hall_rig)
    assert _retained_hub_state(hall_rig) == before

    # numbering continues without gap or repeat, the lines are as they were
    assert kiosk.request("ticket_request", {"queue": "A"})["ticket"]["no"] == "A004"
    assert kiosk.request("ticket_request", {"queue": "C"})["ticket"]["no"] == "C004"
    assert win["7"].request("call_next", {"window": "7"})["code"] == "paused"
    assert win["7"].request("resume", {"window": "7"})["ok"]
    called = [win["7"].request("call_next", {"window": "7"})["ticket"]["no"] for _ in range(5)]
    assert called == ["C003", "B001", "C001", "C002", "C004"]
    assert win["1"].request("call_next", {"window": "1"})["ticket"]["no"] == "A003"
    assert win["1"].request("call_next", {"window": "1"})["ticket"]["no"] == "A001"


def test_34_windows_calling_at_once_never_call_a_ticket_twice(hall_rig):
    hall_rig.start_hub()
    kiosk = hall_rig.link("kiosk-01")
    assert kiosk.wait_connected(10)
    queues = [q.id for q in hall_rig.hall.catalogue.queues]
    total = 170
    for i in range(total):
        kiosk.send("ticket_request", {"queue": queues[i % len(queues)], "priority": i % 11 == 0})
    assert kiosk.wait_drained(30)
    windows = [w.id for w in hall_rig.hall.catalogue.windows]
    links = {w: hall_rig.link(f"win-{int(w):02d}") for w in windows}
    for w, link in links.items():
        assert link.wait_connected(10)
        log_in(link, hall_rig.hall, w)
    called: dict[str, list[str]] = {w: [] for w in windows}
    start = threading.Barrier(len(windows))

    def serve(w: str) -> None:
        start.wait()
        while True:
            res = links[w].request("call_next", {"window": w}, timeout=20)
            assert res is not None and res["ok"], res
            if res["ticket"] is None:
                return
            called[w].append(res["ticket"]["no"])

    threads = [threading.Thread(target=serve, args=(w,)) for w in windows]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    everything = [no for nos in called.values() for no in nos]
    assert len(everything) == len(set(everything)) == total
    # the report rows follow the answers once the burst is over
    wait_for(lambda: hall_rig.count("SELECT count(*) FROM calls") == total, 5, "every call in the report rows")
    assert hall_rig.count("SELECT count(DISTINCT ticket) FROM calls") == total
    busy = sum(1 for nos in called.values() if nos)
    assert busy >= 30  # every window with a queue of its own took part

