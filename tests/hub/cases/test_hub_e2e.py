"""Cases end to end: a real Mosquitto and the real hub on a clock the test moves; the window PC, the kiosk, the
caller bus and the console as Mosquitto's own clients."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hall.protocol import Answer, read_from_hub
from tests.helpers.queueing import all_day_hall
from tests.helpers.rig import wait_for
from tests.helpers.timeline import ClockedTools, HallClock

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)
ID = "11010519491231002X"


@pytest.fixture
def hall(make_rig, tmp_path, monkeypatch):
    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    clock = HallClock(MONDAY_10).install(monkeypatch)
    hub = rig.start_hub()
    return rig, ClockedTools(rig, clock), clock, hub


def accept(tools, **extra) -> dict:
    return tools.request("win-01", "case_accept", {"service": "scjg-005", "applicant_name": "张三", "id_number": ID,
                                                   "ticket": "A001", **extra})


def test_a_case_from_acceptance_to_finish_journaled_and_replayed(hall):
    rig, tools, clock, hub = hall
    answer = accept(tools)
    read_from_hub(Answer, {"re": "x", **answer})
    case = answer["case"]
    # scjg-005 promises 5 working days: Monday's acceptance does not count
    assert (case["case"], case["status"], case["days"], case["deadline"]) == ("202611300001", "accepted", 5,
                                                                              "2026-12-07")
    n = case["case"]
    assert tools.request("win-01", "case_start", {"case": n})["case"]["status"] == "in_progress"
    clock.advance(days=1, hours=6)  # Tuesday 16:00
    suspended = tools.request("win-01", "case_suspend", {"case": n, "reason": "缺少场所证明 missing lease"})["case"]
    assert (suspended["status"], suspended["deadline"]) == ("suspended", None)
    clock.advance(hours=17, minutes=30)  # Wednesday 09:30: Tuesday's closing was held
    assert tools.request("win-01", "case_resume", {"case": n})["case"]["deadline"] == "2026-12-08"
    done = tools.request("win-01", "case_finish", {"case": n, "result": "approved"})["case"]
    assert (done["status"], done["result"], done["on_time"]) == ("finished", "approved", True)
    refused = tools.request("win-01", "case_withdraw", {"case": n})
    assert (refused["ok"], refused["code"]) == (False, "case_closed") and "已办结或已退件" in refused["error"]

    # the kiosk's lookup: number and the last 4 characters, nothing personal in the answer
    looked = tools.request("kiosk-01", "case_lookup", {"case": n, "id_last4": "002x"})
    assert looked == {"ok": True, "case": {"case": n, "service": "scjg-005", "status": "finished",
                                           "deadline": "2026-12-08"}}
    assert tools.request("kiosk-01", "case_lookup", {"case": n, "id_last4": "1234"})["code"] == "not_found"

    wait_for(lambda: rig.count("SELECT count(*) FROM cases WHERE status='finished'") == 1, message="the row")
    db = rig.db()
    row = db.execute("SELECT applicant, id_hash, id_last4, status, on_time, device FROM cases").fetchone()
    assert row[0] == "张*" and row[2] == "002X" and len(row[1]) == 64 and row[3:] == ("finished", 1, "win-01")
    journal = " ".join(r[0] for r in db.execute("SELECT args || result FROM cases_journal"))
    assert ID not in journal and "张三" not in journal
    stored = " ".join(r[0] for r in db.execute("SELECT data FROM events WHERE type='case_accept'"))
    assert ID not in stored and ID[-4:] in stored and row[1] in stored  # the event itself keeps hash and last 4
    key = rig.data_dir / "case-id.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600

    # a restart replays the journal into the very same book
    cases_domain = next(d for d in hub.domains if type(d).__name__ == "CasesDomain")
    before = cases_domain.snapshot()
    rig.stop_hub(hub)
    hub = rig.start_hub()
    again = next(d for d in hub.domains if type(d).__name__ == "CasesDomain")
    assert again.snapshot() == before
    assert accept(tools)["case"]["case"] == "202612020001"  # numbering by the acceptance date


def test_refusals_answer_on_res(hall):
    rig, tools, clock, hub = hall
    assert accept(tools, id_number="110105194912310021")["code"] == "invalid_id_number"
    assert accept(tools, window="2")["code"] == "forbidden"
    assert accept(tools, days=8)["code"] == "reason_required"
    longer = accept(tools, days=8, reason="需现场核查 site inspection")
    assert longer["ok"] and longer["case"]["days"] == 8
    assert accept(tools, days=11, reason="x")["code"] == "beyond_legal_limit"
    assert tools.request("win-01", "case_resume", {"case": longer["case"]["case"]})["code"] == "not_suspended"
    assert tools.request("win-01", "case_finish", {"case": "202611309999", "result": "approved"})["code"] == \
        "unknown_case"
    # a back-office clerk at the console accepts too, naming who
    back = tools.request("console-01", "case_accept", {"service": "scjg-002", "applicant_name": "李小明",
                                                       "id_number": ID, "by": "wang"})
    assert back["ok"] and back["case"]["deadline"] == "2026-12-01"
    wait_for(lambda: rig.count("SELECT count(*) FROM cases WHERE number=?", back["case"]["case"]) == 1,
             message="the case row written")
    row = rig.db().execute("SELECT device, accepted_by, window FROM cases WHERE number=?",
                           (back["case"]["case"],)).fetchone()
    assert row == ("console-01", "wang", None)


def test_yellow_and_red_cards_are_alerts_in_the_department_and_counted(hall):
    rig, tools, clock, hub = hall
    n = tools.request("win-01", "case_accept", {"service": "scjg-002", "applicant_name": "张三",
                                                "id_number": ID})["case"]["case"]  # 1 day: due Tuesday 17:00

    def alert_of(rule):
        return lambda state: next((a for a in state["alerts"] if a["rule"] == rule and a["subject"] == n), None)

    alerts = tools.alerts(until=alert_of("case_yellow"))
    yellow = next(a for a in alerts if a["rule"] == "case_yellow")
    assert (yellow["department"], yellow["severity"]) == ("scjg", "warning") and "黄牌" in yellow["title"]
    clock.advance(days=1, hours=7, minutes=1)  # Tuesday 17:01
    alerts = tools.alerts(until=alert_of("case_red"))
    red = next(a for a in alerts if a["rule"] == "case_red")
    assert (red["department"], red["severity"]) == ("scjg", "critical") and "red card" in red["title_en"]
    wait_for(lambda: rig.count("SELECT count(*) FROM case_cards WHERE number=?", n) == 2, message="cards counted")
    assert rig.db().execute("SELECT card FROM cases WHERE number=?", (n,)).fetchone()[0] == "red"


def test_a_poor_rating_opens_a_follow_up_the_department_head_answers(hall):
    rig, tools, clock, hub = hall
    tools.request("kiosk-01", "ticket_request", {"queue": "A"})
    tools.request("win-01", "login", {"window": "1", "staff": "s001"})
    assert tools.request("win-01", "call_next", {"window": "1"})["ok"]
    tools.publish("caller-01", "rating", {"window": "1", "score": 1})
    wait_for(lambda: rig.count("SELECT count(*) FROM ratings") == 1, message="the rating stored")
    clock.advance(minutes=1)
    wait_for(lambda: rig.count("SELECT count(*) FROM followups") == 1, message="a follow-up opened")
    fid, kind, dept, due = rig.db().execute("SELECT id, kind, department, due FROM followups").fetchone()
    assert (fid, kind, dept, due) == ("Z20261130001", "rating", "scjg", "2026-12-01")
    answer = tools.request("console-01", "followup_answer", {"followup": fid, "by": "dept-scjg",
                                                             "contact": "已电话联系", "cause": "等候过久",
                                                             "correction": "高峰增开窗口"})
    assert answer["ok"] and answer["followup"]["answered_by"] == "dept-scjg"
    assert tools.request("console-01", "followup_answer", {"followup": fid, "by": "x", "contact": "a", "cause": "b",
                                                           "correction": "c"})["code"] == "already_answered"
    complaint = tools.request("console-01", "complaint", {"department": "gaj", "detail": "办事态度差", "by": "du"})
    assert complaint["followup"]["id"] == "T20261130001" and complaint["followup"]["due"] == "2026-12-01"
    # a kiosk may not enter a complaint: the hub refuses the type for its kind
    errors = rig.db().execute("SELECT count(*) FROM rejected").fetchone()[0]
    tools.publish("kiosk-01", "complaint", {"department": "gaj", "detail": "x", "by": "me"})
    wait_for(lambda: rig.count("SELECT count(*) FROM rejected WHERE code='forbidden'") >= 1 + 0 * errors,
             message="refused for its kind")
    assert json.loads(rig.db().execute("SELECT result FROM cases_journal WHERE op='open_followup' "
                                       "ORDER BY id LIMIT 1").fetchone()[0])["followup"]["id"] == fid
