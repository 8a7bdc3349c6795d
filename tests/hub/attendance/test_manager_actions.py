"""Leave and punch corrections (补卡) entered by a manager at the console, end to end: a real Mosquitto, the real hub
on a clock the test moves, the terminals and the console as Mosquitto's own clients."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.helpers.queueing import all_day_hall
from tests.helpers.rig import wait_for
from tests.helpers.timeline import ClockedTools, HallClock

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = "2026-11-30"


def t(clock: str, day: str = MONDAY) -> str:
    return f"{day}T{clock}:00+08:00"


@pytest.fixture
def hall(make_rig, tmp_path, monkeypatch):
    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    # Monday evening: the day's punches are in the past, its closing (after 23:59) still to come
    clock = HallClock(datetime(2026, 11, 30, 18, 0, tzinfo=TZ)).install(monkeypatch)
    rig.start_hub()
    return rig, ClockedTools(rig, clock), clock


def day_of(rig, staff: str, day: str = MONDAY):
    with rig.db() as db:
        row = db.execute("SELECT status, slots, revised FROM attendance_days WHERE staff=? AND date=?",
                         (staff, day)).fetchone()
    return None if row is None else (row[0], {k: v["status"] for k, v in json.loads(row[1]).items()}, row[2])


def close_monday(rig, tools, clock) -> None:
    """The evening window ends; both terminals are heard from after it; the hub closes the date."""
    clock.advance(hours=6, minutes=5)           # Tuesday 00:05
    tools.publish("fp-01", "health", {"sensor": "ok"})
    tools.publish("fp-02", "health", {"sensor": "ok"})
    wait_for(lambda: rig.count("SELECT count(*) FROM events WHERE type='health'") == 2, 10, "heartbeats stored")
    clock.advance(seconds=31)                   # past the hub's next look at the terminals
    wait_for(lambda: rig.count("SELECT count(*) FROM attendance_dates WHERE date=? AND final=1", MONDAY), 10,
             "Monday closed")


def test_a_punch_correction_changes_the_day_and_never_the_punches(hall):
    rig, tools, clock = hall
    for at in ("08:55", "11:45", "12:55"):     # s001 forgot the evening punch
        tools.publish("fp-01", "punch", {"staff": "s001", "at": t(at), "score": 120})
    wait_for(lambda: rig.count("SELECT count(*) FROM punches") == 3, 10, "punches stored")
    # a correction for a day not closed yet is simply counted when it closes
    early = tools.request("console-01", "punch_correction", {"staff": "s003", "at": t("08:50"), "by": "zhang",
                                                             "reason": "指纹识别失败 finger not recognised"})
    assert early["ok"] is True and early["revised"] == []
    close_monday(rig, tools, clock)
    assert day_of(rig, "s001") == ("abnormal", {"am_in": "ok", "am_out": "ok", "pm_in": "ok", "pm_out": "missing"}, 0)
    assert day_of(rig, "s003")[:2] == ("abnormal", {"am_in": "ok", "am_out": "missing", "pm_in": "missing",
                                                    "pm_out": "missing"})
    with rig.db() as db:
        punches_before = db.execute("SELECT * FROM punches ORDER BY event_id").fetchall()

    answer = tools.request("console-01", "punch_correction", {"staff": "s001", "at": t("17:05"), "by": "zhang",
                                                              "reason": "考勤机故障 the terminal was down"})
    assert answer["ok"] is True
    assert {k: answer["correction"][k] for k in ("staff", "at", "by", "reason")} == {
        "staff": "s001", "at": "2026-11-30T17:05:00+08:00", "by": "zhang", "reason": "考勤机故障 the terminal was down"}
    [revised] = answer["revised"]
    assert (revised["staff"], revised["date"], revised["status"]) == ("s001", MONDAY, "ok")
    assert day_of(rig, "s001") == ("ok", {"am_in": "ok", "am_out": "ok", "pm_in": "ok", "pm_out": "ok"}, 1)

    with rig.db() as db:
        assert db.execute("SELECT * FROM punches ORDER BY event_id").fetchall() == punches_before
        assert db.execute("SELECT staff, at, date, by, reason FROM punch_corrections ORDER BY id").fetchall() == [
            ("s003", "2026-11-30T08:50:00.000+08:00", MONDAY, "zhang", "指纹识别失败 finger not recognised"),
            ("s001", "2026-11-30T17:05:00.000+08:00", MONDAY, "zhang", "考勤机故障 the terminal was down")]

    unknown = tools.request("console-01", "punch_correction", {"staff": "s999", "at": t("17:05"), "by": "zhang",
                                                               "reason": "?"})
    assert (unknown["ok"], unknown["code"]) == (False, "unknown_staff")
    assert "没有这个工作人员" in unknown["error"] and "no such staff member" in unknown["error"]
    ahead = tools.request("console-01", "punch_correction", {"staff": "s001", "at": t("09:00", "2026-12-02"),
                                                             "by": "zhang", "reason": "?"})
    assert (ahead["ok"], ahead["code"]) == (False, "not_yet")
    assert rig.count("SELECT count(*) FROM punch_corrections") == 2


def test_leave_entered_at_the_console_covers_slots_of_a_closed_day(hall):
    rig, tools, clock = hall
    for at in ("12:58", "17:02"):               # s002 was out all morning
        tools.publish("fp-02", "punch", {"staff": "s002", "at": t(at), "score": 99})
    wait_for(lambda: rig.count("SELECT count(*) FROM punches") == 2, 10, "punches stored")
    close_monday(rig, tools, clock)
    assert day_of(rig, "s002")[0] == "abnormal"

    entry = {"staff": "s002", "kind": "business", "start": t("08:00"), "end": t("12:00"), "by": "li",
             "reason": "到市局开会 a meeting at the city bureau"}
    answer = tools.request("console-01", "leave", entry)
    assert answer["ok"] is True
    assert {k: answer["leave"][k] for k in ("staff", "kind", "by", "reason")} == {
        "staff": "s002", "kind": "business", "by": "li", "reason": "到市局开会 a meeting at the city bureau"}
    assert [(d["date"], d["status"]) for d in answer["revised"]] == [(MONDAY, "ok")]
    assert day_of(rig, "s002") == ("ok", {"am_in": "leave", "am_out": "leave", "pm_in": "ok", "pm_out": "ok"}, 1)

    again = tools.request("console-01", "leave", entry)
    assert (again["ok"], again["code"]) == (False, "already_entered")
    unknown = tools.request("console-01", "leave", entry | {"staff": "s999"})
    assert (unknown["ok"], unknown["code"]) == (False, "unknown_staff")
    with rig.db() as db:
        assert db.execute("SELECT staff, kind, by, reason, event IS NOT NULL FROM leave").fetchall() == [
            ("s002", "business", "li", "到市局开会 a meeting at the city bureau", 1)]
        # every manager action, refused ones too, in one query
        audit = db.execute("SELECT action, by, staff, reason, ok, code FROM manager_actions ORDER BY at").fetchall()
    assert audit == [("leave", "li", "s002", "到市局开会 a meeting at the city bureau", 1, None),
                     ("leave", "li", "s002", "到市局开会 a meeting at the city bureau", 0, "already_entered"),
                     ("leave", "li", "s999", "到市局开会 a meeting at the city bureau", 0, "unknown_staff")]


def test_the_manager_actions_and_their_refusals_are_documented():
    from pathlib import Path

    from hub.attendance.domain import MESSAGES

    doc = (Path(__file__).resolve().parents[3] / "docs" / "attendance.md").read_text(encoding="utf-8")
    section = doc.split("### Manager actions")[1].split("\n## ")[0]
    for word in ("`leave`", "`punch_correction`", "`punch_corrections`", "`by`", "`reason`", "`manager_actions`"):
        assert word in section
    for code, message in MESSAGES.items():
        assert f"| `{code}` | {message}" in section
