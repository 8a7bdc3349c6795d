"""The console's pure rules: roles, the login throttle, the live hall read from the hub's messages."""

from __future__ import annotations

from datetime import datetime, timedelta

from hall.clock import HALL_TZ
from hall.settings import load_hall
from web.auth import LoginThrottle
from web.hub_feed import _latest
from web.live import LiveHall
from web.roles import Person, only_visible

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=HALL_TZ)
HUB = "hall/v1/miluo/hub"


def test_roles_decide_what_is_seen_and_done():
    head = Person("wang", "department", "scjg")
    assert head.sees("scjg") and not head.sees("bdc") and not head.sees(None)
    assert not head.may("ack_alert") and not head.may("manage_users")
    assert Person("li", "supervisor").may("ack_alert") and not Person("li", "supervisor").may("manage_users")
    assert Person("root", "admin").may("manage_users") and Person("root", "admin").sees("bdc")
    assert not Person("r", "viewer").may("ack_alert") and Person("r", "viewer").sees("bdc")
    items = [{"id": "1", "department": "scjg"}, {"id": "9", "department": "bdc"}]
    assert only_visible(head, items) == [items[0]]


def test_five_failures_lock_a_key_for_five_minutes_and_success_forgets():
    clock = [0.0]
    throttle = LoginThrottle(clock=lambda: clock[0])
    for _ in range(4):
        throttle.failed("addr:a", "user:u")
        clock[0] += 1
    assert throttle.locked("addr:a", "user:u") == 0
    throttle.failed("addr:a", "user:u")
    assert throttle.locked("user:u") == 300
    assert throttle.locked("addr:b", "user:other") == 0
    clock[0] += 301
    assert throttle.locked("addr:a", "user:u") == 0
    for _ in range(4):
        throttle.failed("user:v")
    throttle.succeeded("user:v")
    throttle.failed("user:v")
    assert throttle.locked("user:v") == 0


def test_failures_spread_beyond_the_window_do_not_lock():
    clock = [0.0]
    throttle = LoginThrottle(clock=lambda: clock[0])
    for _ in range(10):
        throttle.failed("user:u")
        clock[0] += 100
    assert throttle.locked("user:u") == 0


def _live():
    return LiveHall.of(load_hall())


def test_every_configured_window_and_queue_is_there_before_the_hub_speaks():
    snap = _live().snapshot(NOW)
    assert len(snap["windows"]) == 34 and all(w["status"] == "closed" for w in snap["windows"])
    assert {q["id"] for q in snap["queues"]} >= {"A", "B"}
    assert snap["alerts"] == [] and snap["alerts_published"] is False


def test_window_queue_and_call_messages_change_the_hall():
    live = _live()
    [(kind, w)] = live.apply(f"{HUB}/state/window/1", {"window": "1", "status": "serving", "ticket": "A003",
                                                        "staff": "s001", "queues": ["A"]}, NOW)
    assert kind == "window" and (w["status"], w["ticket"], w["staff"], w["department"]) == (
        "serving", "A003", "s001", "scjg")
    assert w["staff_name"]  # the staff file's name beside the id
    [(kind, q)] = live.apply(f"{HUB}/state/queue/A", {"queue": "A", "waiting": 4, "est_wait_s": 720}, NOW)
    assert (q["waiting"], q["estimated_wait_min"], q["oldest_wait_min"]) == (4, 12.0, None)
    [(_, q)] = live.set_oldest("A", (NOW - timedelta(minutes=17)).isoformat(), NOW)
    assert q["oldest_wait_min"] == 17.0
    call = {"ticket": "A004", "window": "1", "queue": "A", "at": NOW.isoformat(), "recall": 0}
    assert live.apply(f"{HUB}/call", call, NOW)[0][0] == "call"
    assert live.apply(f"{HUB}/call", call, NOW) == []  # the same announcement twice is one call
    assert live.snapshot(NOW)["calls"][0]["ticket"] == "A004"


def test_a_window_seen_pausing_counts_its_pause_from_then():
    live = _live()
    live.apply(f"{HUB}/state/window/2", {"window": "2", "status": "idle", "staff": "s002"}, NOW)
    [(_, w)] = live.apply(f"{HUB}/state/window/2", {"window": "2", "status": "paused", "staff": "s002"}, NOW)
    assert w["paused_since"] == NOW.isoformat(timespec="seconds")
    [(_, w)] = live.apply(f"{HUB}/state/window/2", {"window": "2", "status": "paused", "staff": "s002"},
                          NOW + timedelta(minutes=6))
    assert w["paused_min"] == 6.0
    [(_, w)] = live.apply(f"{HUB}/state/window/2", {"window": "2", "status": "idle", "staff": "s002"}, NOW)
    assert w["paused_since"] is None


def test_alerts_take_the_department_of_their_subject_when_the_hub_names_none():
    live = _live()
    alert = {"id": "queue_wait:A:1", "rule": "queue_wait", "subject": "A", "title": "等候过久",
             "title_en": "waiting too long", "raised_at": NOW.isoformat()}
    [(kind, body)] = live.apply(f"{HUB}/alerts", {"alerts": [alert]}, NOW)
    assert kind == "alerts" and body["alerts"][0]["department"] == "scjg"


def test_what_does_not_parse_changes_nothing(caplog):
    live = _live()
    assert live.apply(f"{HUB}/state/window/1", {"window": "1", "status": "dancing"}, NOW) == []
    assert "state/window/1" in caplog.text and "dancing" in caplog.text
    assert live.apply(f"{HUB}/state/window/99", {"window": "99", "status": "idle"}, NOW) == []
    assert live.apply("hall/v1/miluo/kiosk-01/status", {"state": "online"}, NOW) == []
    assert live.snapshot(NOW)["windows"][0]["status"] == "closed"


def test_one_change_per_window_reaches_the_browsers():
    changes = [("window", {"id": "1", "v": 1}), ("call", {"ticket": "A1"}), ("window", {"id": "1", "v": 2})]
    assert _latest(changes) == [("call", {"ticket": "A1"}), ("window", {"id": "1", "v": 2})]
