"""Alerts end to end: a real Mosquitto with the hall's secured config, the real hub on a clock the test moves, the
kiosk, window and console as Mosquitto's own clients."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hall.protocol import Alerts, read_from_hub
from tests.helpers.queueing import all_day_hall
from tests.helpers.rig import wait_for
from tests.helpers.timeline import ClockedTools, HallClock

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)  # a working Monday, in opening hours


@pytest.fixture
def hall(make_rig, tmp_path, monkeypatch):
    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    clock = HallClock(MONDAY_10).install(monkeypatch)
    rig.start_hub()
    return rig, ClockedTools(rig, clock), clock


def queue_wait_of(alerts: list[dict], queue: str) -> dict | None:
    return next((a for a in alerts if a["rule"] == "queue_wait" and a["subject"] == queue), None)


def test_a_queue_waiting_too_long_is_raised_acknowledged_and_cleared(hall):
    rig, tools, clock = hall
    assert tools.request("kiosk-01", "ticket_request", {"queue": "A"})["ticket"]["no"] == "A001"
    assert queue_wait_of(tools.alerts(), "A") is None

    clock.advance(minutes=31)
    alerts = tools.alerts(until=lambda s: queue_wait_of(s["alerts"], "A"))
    read_from_hub(Alerts, {"alerts": alerts})  # what the hub sends is what the console's model reads
    alert = queue_wait_of(alerts, "A")
    assert alert is not None, alerts
    assert (alert["state"], alert["department"], alert["severity"]) == ("firing", "scjg", "warning")
    assert "市场准入" in alert["title"] and "Business Registration" in alert["title_en"]
    # nobody is at the windows of queue A either: each is its own alert, in its department
    closed = {a["subject"] for a in alerts if a["rule"] == "window_closed"}
    assert closed == {"1", "2", "3"}

    # the console acknowledges it, with a note
    answer = tools.request("console-01", "alert_ack", {"alert": alert["id"], "by": "zhang", "note": "已加开窗口 opening more"})
    assert answer["ok"] is True
    assert (answer["alert"]["id"], answer["alert"]["state"], answer["alert"]["acknowledged_by"],
            answer["alert"]["note"]) == (alert["id"], "acknowledged", "zhang", "已加开窗口 opening more")
    shown = queue_wait_of(tools.alerts(until=lambda s: queue_wait_of(s["alerts"], "A")["state"] == "acknowledged"), "A")
    assert (shown["state"], shown["acknowledged_by"], shown["note"]) == ("acknowledged", "zhang", "已加开窗口 opening more")
    again = tools.request("console-01", "alert_ack", {"alert": alert["id"], "by": "li", "note": ""})
    assert (again["ok"], again["code"]) == (False, "already_acknowledged")
    assert "已被确认" in again["error"] and "already acknowledged" in again["error"]
    unknown = tools.request("console-01", "alert_ack", {"alert": "queue_wait:Z:1", "by": "li", "note": ""})
    assert (unknown["ok"], unknown["code"]) == (False, "unknown_alert")

    # the condition ends: the ticket is called; a minute later the alert clears
    assert tools.request("win-01", "login", {"window": "1", "staff": "s001"})["ok"]
    assert tools.request("win-01", "call_next", {"window": "1"})["ticket"]["no"] == "A001"
    clock.advance(minutes=2)
    alerts = tools.alerts(until=lambda s: queue_wait_of(s["alerts"], "A") is None)
    assert queue_wait_of(alerts, "A") is None, alerts

    with rig.db() as db:
        steps = db.execute("SELECT change, by, note, event IS NOT NULL, department FROM alerts_journal "
                           "WHERE alert=? ORDER BY id", (alert["id"],)).fetchall()
        assert steps == [("raised", None, None, 0, "scjg"), ("acknowledged", "zhang", "已加开窗口 opening more", 1, "scjg"),
                         ("cleared", None, None, 0, "scjg")]
        audit = db.execute("SELECT action, by, alert, reason, ok, code FROM manager_actions ORDER BY at").fetchall()
        assert audit == [("alert_ack", "zhang", alert["id"], "已加开窗口 opening more", 1, None),
                         ("alert_ack", "li", alert["id"], "", 0, "already_acknowledged"),
                         ("alert_ack", "li", "queue_wait:Z:1", "", 0, "unknown_alert")]


def test_alerts_come_back_the_same_after_the_hub_restarts(hall):
    rig, tools, clock = hall
    tools.request("kiosk-01", "ticket_request", {"queue": "A"})
    clock.advance(minutes=31)
    before = tools.alerts(until=lambda s: queue_wait_of(s["alerts"], "A"))
    alert = queue_wait_of(before, "A")
    tools.request("console-01", "alert_ack", {"alert": alert["id"], "by": "zhang", "note": "seen"})
    tools.alerts(until=lambda s: queue_wait_of(s["alerts"], "A")["state"] == "acknowledged")
    rig.stop_hub(rig._hubs[0])
    rig.start_hub()
    after = tools.alerts(until=lambda s: queue_wait_of(s["alerts"], "A") is not None)
    assert queue_wait_of(after, "A") == queue_wait_of(tools.alerts(), "A")
    assert queue_wait_of(after, "A")["id"] == alert["id"]
    assert queue_wait_of(after, "A")["state"] == "acknowledged"
    with rig.db() as db:
        assert db.execute("SELECT count(*) FROM alerts_journal WHERE alert=? AND change='raised'",
                          (alert["id"],)).fetchone()[0] == 1


def test_device_health_raises_paper_out_and_a_backlog(hall):
    rig, tools, clock = hall
    tools.publish("kiosk-01", "health", {"printer": "paper_out"})
    tools.publish("fp-01", "health", {"sensor": "ok", "outbox": 250})
    alerts = tools.alerts(until=lambda s: {"paper_out", "device_backlog"} <= {a["rule"] for a in s["alerts"]})
    assert {(a["rule"], a["subject"]) for a in alerts} >= {("paper_out", "kiosk-01"), ("device_backlog", "fp-01")}
    # a later report without the printer keeps what the kiosk said last; paper loaded clears it
    tools.publish("kiosk-01", "health", {"cpu_temp": 51.2})
    tools.publish("kiosk-01", "health", {"printer": "ok"})
    clock.advance(minutes=2)
    alerts = tools.alerts(until=lambda s: "paper_out" not in {a["rule"] for a in s["alerts"]})
    assert "paper_out" not in {a["rule"] for a in alerts}
    with rig.db() as db:
        row = db.execute("SELECT printer, outbox, data FROM device_health WHERE device='kiosk-01'").fetchone()
        assert (row[0], row[1], json.loads(row[2])) == ("ok", None, {"printer": "ok"})
    wait_for(lambda: rig.count("SELECT count(*) FROM alerts_journal WHERE rule='paper_out' AND change='cleared'"),
             5, "paper_out cleared in the journal")
