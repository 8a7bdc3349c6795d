"""`hall queue report`: a day's queues, windows and totals from the hub database."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from hall.clock import now
from hall.settings import load_hall
from hub.queue.report import day_report
from tests.helpers.queueing import DAY, DomainDriver
from tests.helpers.rig import ROOT


@pytest.fixture
def day_db(tmp_path):
    """A small morning: 4 A tickets, one no-show, one transferred to B, two ratings."""
    d = DomainDriver(tmp_path / "hub.db")
    for i in range(4):
        d.send("kiosk-01", "ticket_request", {"queue": "A"}, f"09:00:0{i}")
    d.send("win-01", "login", {"window": "1", "staff": "s001"}, "09:00:30")
    d.send("win-02", "login", {"window": "2", "staff": "s006"}, "09:00:31")
    d.send("win-04", "login", {"window": "4", "staff": "s016"}, "09:00:32")
    d.send("win-01", "call_next", {"window": "1"}, "09:01:00")      # A001 waited 60 s
    d.send("win-01", "call_next", {"window": "1"}, "09:11:00")      # A001 done in 600 s; A002 waited 659 s
    d.send("win-01", "skip", {"window": "1"}, "09:12:00")           # A002 no-show
    d.send("win-02", "call_next", {"window": "2"}, "09:13:00")      # A003 waited 778 s
    d.send("win-02", "transfer", {"window": "2", "queue": "B"}, "09:14:00")
    d.send("win-04", "call_next", {"window": "4"}, "09:15:00")      # A003 again, in B
    d.send("win-04", "complete", {"window": "4"}, "09:35:00")       # done in 1200 s
    d.send("caller-01", "rating", {"window": "1", "ticket": "A001", "score": 5}, "09:11:05")
    d.send("caller-01", "rating", {"window": "4", "score": 2}, "09:35:10")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00", day=DAY.replace(month=12, day=1))  # next day
    return tmp_path


def test_the_day_per_queue_per_window_and_in_total(day_db):
    report = day_report(day_db / "hub.db", DAY, load_hall())
    a = next(q for q in report["queues"] if q["queue"] == "A")
    assert {k: a[k] for k in ("issued", "served", "no_show", "avg_wait_s", "longest_wait_s", "avg_handling_s")} == {
        "issued": 4, "served": 1, "no_show": 1, "avg_wait_s": round((60 + 659 + 778) / 3, 1),
        "longest_wait_s": 778.0, "avg_handling_s": 600.0}
    b = next(q for q in report["queues"] if q["queue"] == "B")
    assert (b["issued"], b["served"], b["avg_handling_s"]) == (0, 1, 1200.0)
    w1 = next(w for w in report["windows"] if w["window"] == "1")
    assert {k: w1[k] for k in ("called", "served", "no_show", "avg_handling_s", "ratings", "satisfaction")} == {
        "called": 2, "served": 1, "no_show": 1, "avg_handling_s": 600.0, "ratings": 1, "satisfaction": 1.0}
    w4 = next(w for w in report["windows"] if w["window"] == "4")
    assert (w4["ratings"], w4["avg_score"], w4["satisfaction"]) == (1, 2.0, 0.0)
    assert report["staff"][0]["staff"] == "s001" and report["staff"][0]["served"] == 1
    t = report["totals"]
    assert {k: t[k] for k in ("issued", "served", "no_show", "unserved", "ratings", "satisfaction")} == {
        "issued": 4, "served": 2, "no_show": 1, "unserved": 1, "ratings": 2, "satisfaction": 0.5}


def _hall(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hallctl.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_the_command_prints_json_and_csv(day_db):
    out = _hall("queue", "report", "--date", DAY.isoformat(), "--data", str(day_db), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["totals"]["issued"] == 4 and report["date"] == "2026-11-30"
    out = _hall("queue", "report", "--date", DAY.isoformat(), "--data", str(day_db), "--csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["section"] for r in rows].count("queue") == 21
    assert [r["section"] for r in rows].count("window") == 34
    assert rows[-1]["section"] == "total" and rows[-1]["issued"] == "4" and rows[-1]["satisfaction"] == "0.5"
    text = _hall("queue", "report", "--date", DAY.isoformat(), "--data", str(day_db)).stdout
    assert "排队日报" in text and "queue report" in text
    before = now().date().isoformat()
    today = json.loads(_hall("queue", "report", "--date", "today", "--data", str(day_db), "--json").stdout)
    assert today["date"] in (before, now().date().isoformat())


def test_the_command_names_what_is_wrong(tmp_path):
    out = _hall("queue", "report", "--date", "30/11/2026", "--data", str(tmp_path), "--json")
    assert out.returncode == 2 and "YYYY-MM-DD" in out.stderr
    out = _hall("queue", "report", "--date", "2026-11-30", "--data", str(tmp_path), "--json")
    assert out.returncode == 2 and "hub.db" in out.stderr


def test_simulate_prints_every_step_as_json_and_as_lines(tmp_path):
    scenario = {"date": "2026-11-30", "hall": {
        "queues": [{"id": "A", "prefix": "A"}, {"id": "B", "prefix": "B"}],
        "windows": [{"id": "1", "queues": ["A"], "backup": ["B"]}, {"id": "2", "queues": ["B"]}]},
        "steps": [{"at": "09:00:05", "op": "issue", "queue": "A"},
                  {"at": "09:00:09", "op": "issue", "queue": "A", "priority": True},
                  {"at": "09:01:00", "op": "call_next", "window": "1"},
                  {"at": "09:02:00", "op": "requeue", "ticket": "A001"}]}
    path = tmp_path / "day.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    out = _hall("queue", "simulate", str(path), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"steps": [
        {"op": "issue", "ok": True, "ticket": "A001", "ahead": 0},
        {"op": "issue", "ok": True, "ticket": "A002", "ahead": 0},
        {"op": "call_next", "ok": True, "ticket": "A002"},
        {"op": "requeue", "ok": False, "code": "unknown_ticket"}]}
    text = _hall("queue", "simulate", str(path))
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines() == [
        "   1 09:00:05 issue     A     成功 ok  ticket=A001 ahead=0",
        "   2 09:00:09 issue     A     成功 ok  ticket=A002 ahead=0",
        "   3 09:01:00 call_next 1     成功 ok  ticket=A002",
        "   4 09:02:00 requeue   A001  拒绝 refused: unknown_ticket"]
    path.write_text('{"date": "2026-11-30", "steps": [{"at": "09:00", "op": "fly"}]}', encoding="utf-8")
    out = _hall("queue", "simulate", str(path), "--json")
    assert out.returncode == 2 and "steps[0].op" in out.stderr
