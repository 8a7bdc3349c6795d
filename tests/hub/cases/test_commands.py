"""`hall cases simulate` and `hall cases report`, run as a user would."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlite_utils
from openpyxl import load_workbook

from hall.settings import load_hall
from hub.cases import store
from hub.cases.rules import CaseBook, clock_from_hall, services_from_hall
from tests.helpers.cli import run_hall

TZ = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def test_simulate_prints_one_result_per_step(tmp_path):
    script = tmp_path / "s.json"
    steps = [
        {"at": "2026-11-30T10:00:00+08:00", "op": "accept", "case": "C1", "days": 2},
        {"at": "2026-12-01T16:00:00+08:00", "op": "suspend", "case": "C1"},
        {"at": "2026-12-02T09:30:00+08:00", "op": "resume", "case": "C1"},
        {"at": "2026-12-03T17:00:01+08:00", "op": "check", "case": "C1"},
        {"at": "2026-12-04T10:00:00+08:00", "op": "finish", "case": "C1"},
        {"at": "2026-12-04T10:00:00+08:00", "op": "withdraw", "case": "C1"},
        {"at": "2025-09-30T10:00:00+08:00", "op": "accept", "case": "C2", "service": "scjg-005"},
        {"at": "2025-10-13T17:00:00+08:00", "op": "finish", "case": "C2", "result": "refused"},
    ]
    script.write_text(json.dumps({"steps": steps}), encoding="utf-8")
    done = run_hall("cases", "simulate", str(script), "--json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)["steps"]
    assert got == [
        {"ok": True, "case": "C1", "status": "accepted", "deadline": "2026-12-02", "card": "green", "on_time": None},
        {"ok": True, "case": "C1", "status": "suspended", "deadline": None, "card": None, "on_time": None},
        {"ok": True, "case": "C1", "status": "accepted", "deadline": "2026-12-03", "card": "yellow", "on_time": None},
        {"ok": True, "case": "C1", "status": "accepted", "deadline": "2026-12-03", "card": "red", "on_time": None},
        {"ok": True, "case": "C1", "status": "finished", "deadline": "2026-12-03", "card": None, "on_time": False},
        {"ok": False, "case": "C1", "status": "finished", "deadline": "2026-12-03", "card": None, "on_time": False},
        # the item promises 5 working days: Oct 9, 10, 11 (a Saturday worked), 13, 14
        {"ok": True, "case": "C2", "status": "accepted", "deadline": "2025-10-14", "card": "green", "on_time": None},
        {"ok": True, "case": "C2", "status": "finished", "deadline": "2025-10-14", "card": None, "on_time": True},
    ]
    text = run_hall("cases", "simulate", str(script))
    assert text.returncode == 0 and "拒绝 refused" in text.stdout and "超期 late" in text.stdout


def test_simulate_refuses_a_time_without_offset(tmp_path):
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"steps": [{"at": "2026-11-30T10:00:00", "op": "accept", "case": "C", "days": 1}]}))
    done = run_hall("cases", "simulate", str(script), "--json")
    assert done.returncode == 2 and "offset" in done.stderr


def make_journal(data) -> None:
    hall = load_hall()
    book = CaseBook(clock_from_hall(hall), services_from_hall(hall))
    on_time = book.accept(at("2026-11-02 10:00"), service="scjg-005").case        # 5 of legal 10
    book.finish(on_time.number, at("2026-11-06 10:00"))
    late = book.accept(at("2026-11-02 11:00"), service="scjg-002").case           # 1 of legal 3
    book.suspend(late.number, at("2026-11-02 12:00"))
    book.resume(late.number, at("2026-11-03 09:00"))
    book.finish(late.number, at("2026-11-05 10:00"))
    book.accept(at("2026-11-03 10:00"), service="scjg-008")                      # open, 10 of legal 20
    w = book.accept(at("2026-11-03 10:00"), service="scjg-002").case
    book.withdraw(w.number, at("2026-11-03 11:00"))
    book.accept(at("2026-12-01 10:00"), service="scjg-002")                      # outside the period
    f = book.open_followup("rating", at("2026-11-04 10:00"), department="scjg", window="1", score=1, rating=1).followup
    data.mkdir()
    db = sqlite_utils.Database(data / "hub.db")
    store.create_tables(db)
    store.save_cases(db, book, list(book.cases.values()), {}, {})
    store.save_followups(db, book, [f], {})
    store.count_cards(db, [(late.number, "red", at("2026-11-03 17:01"), "scjg")])
    db.conn.commit()


def test_report_counts_on_time_late_open_and_compression(tmp_path):
    make_journal(tmp_path / "var")
    done = run_hall("cases", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json",
                    "--data", str(tmp_path / "var"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    t = report["totals"]
    assert (t["accepted"], t["finished"], t["on_time"], t["late"], t["withdrawn"]) == (4, 2, 1, 1, 1)
    assert t["on_time_rate"] == 0.5 and t["open_by_card"]["red"] == 1  # the open one is long overdue by now
    assert t["avg_days_used"] == 3.5  # 4, and 3: its suspension held only the acceptance day's closing
    assert t["compression"] == round(1 - (5 + 1 + 10 + 1) / (10 + 3 + 20 + 3), 4)
    assert [d["department"] for d in report["departments"]] == ["scjg"]
    assert report["cards_raised"] == {"yellow": 0, "red": 1}
    assert report["followups"]["rating"] == {"opened": 1, "answered": 0, "on_time": 0, "overdue": 1}
    text = run_hall("cases", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--data", str(tmp_path / "var"))
    assert "按时办结率 on-time rate 50.0%" in text.stdout
    out = tmp_path / "cases.xlsx"
    xlsx = run_hall("cases", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "xlsx", "--out",
                    str(out), "--data", str(tmp_path / "var"))
    assert xlsx.returncode == 0, xlsx.stderr
    wb = load_workbook(out)
    assert wb.sheetnames == ["汇总 Totals", "部门 Departments", "事项 Services", "整改 Follow-ups"]
