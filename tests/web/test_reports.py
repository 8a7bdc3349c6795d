"""报表 Reports: the queue day report and the attendance month and bimonth reports on screen, and their xlsx
downloads, which are the very workbooks the command line writes; the helper that runs `hall` commands."""

from __future__ import annotations

import io
import subprocess
import sys

import openpyxl
import pytest
from fastapi.testclient import TestClient

from tests.helpers.figures_journal import DAY, figures_console
from tests.helpers.web import login
from web.hall_command import HallCommand, HallCommandError


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reports")
    app, hall = figures_console(tmp)
    return app, hall, tmp / "data"


def client(app, name: str) -> TestClient:
    c = TestClient(app)
    assert login(c, name).status_code == 303
    return c


def cells(workbook) -> dict:
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in workbook.worksheets}


def cli_workbook(hall, data, tmp_path, *args) -> openpyxl.Workbook:
    out = tmp_path / "cli.xlsx"
    done = subprocess.run([sys.executable, "-m", "hallctl.cli", *[str(out) if a == "{out}" else a for a in args],
                           "--config", str(hall.path), "--data", str(data)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return openpyxl.load_workbook(out)


def test_the_queue_day_report_on_screen_and_as_json(console):
    app, _hall, _data = console
    c = client(app, "reader")
    r = c.get(f"/api/reports/queue?date={DAY}").json()
    assert r["error"] is None and r["report"]["totals"]["issued"] == 5 and r["report"]["totals"]["served"] == 3
    page = c.get(f"/reports?date={DAY}").text
    assert 'id="report-queues"' in page and "排队日报" in page and "Queue day report" in page
    assert f'href="/reports/queue.xlsx?date={DAY}"' in page


def test_the_queue_workbook_downloaded_is_the_one_the_command_line_writes(console, tmp_path):
    app, hall, data = console
    got = client(app, "inspector").get(f"/reports/queue.xlsx?date={DAY}")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert f"queue-report-{DAY}.xlsx" in got.headers["content-disposition"]
    downloaded = openpyxl.load_workbook(io.BytesIO(got.content))
    assert downloaded.sheetnames == ["汇总", "业务类别", "窗口", "工作人员"]
    assert cells(downloaded) == cells(cli_workbook(hall, data, tmp_path, "queue", "report", "--date", str(DAY),
                                                   "--xlsx", "{out}"))
    queues = downloaded["业务类别"]
    assert [c.value for c in queues[6]][:5] == ["A", "市场准入", 3, 2, 1]
    assert queues["H6"].value == 11  # A's average handling: 11 minutes
    assert len(downloaded["窗口"]._charts) == 1


def test_the_attendance_month_on_screen_and_its_workbook(console, tmp_path):
    app, hall, data = console
    c = client(app, "inspector")
    r = c.get("/api/reports/attendance?month=2026-11").json()
    assert r["error"] is None and r["report"]["period"]["start"] == "2026-11"
    s002 = next(p for p in r["report"]["people"] if p["staff"] == "s002")
    assert (s002["late"], s002["late_minutes"], s002["early"], s002["early_minutes"]) == (1, 7, 1, 10)
    page = c.get("/reports?kind=month&month=2026-11").text
    assert 'id="report-att-windows"' in page and "红旗窗口候选" in page
    got = c.get("/reports/attendance.xlsx?kind=month&month=2026-11")
    assert got.status_code == 200
    downloaded = openpyxl.load_workbook(io.BytesIO(got.content))
    assert cells(downloaded) == cells(cli_workbook(hall, data, tmp_path, "attendance", "report", "--month", "2026-11",
                                                   "--format", "xlsx", "--out", "{out}"))
    bimonth = c.get("/api/reports/attendance?kind=bimonth&month=2026-11").json()
    assert bimonth["report"]["period"]["kind"] == "bimonth"


def test_a_department_head_sees_their_rows_and_downloads_nothing(console):
    app, _hall, _data = console
    c = client(app, "scjg-head")
    r = c.get(f"/api/reports/queue?date={DAY}").json()["report"]
    assert [q["queue"] for q in r["queues"]] == ["A"] and r["totals"] is None
    assert {w["window"] for w in r["windows"]} == {"1", "2", "3"}
    att = c.get("/api/reports/attendance?month=2026-11").json()["report"]
    assert {p["window"] for p in att["people"]} == {"1", "2", "3"}
    assert c.get(f"/reports/queue.xlsx?date={DAY}").status_code == 403
    assert "download-queue" not in c.get(f"/reports?date={DAY}").text


def test_a_report_that_fails_says_why(console):
    app, _hall, _data = console
    r = client(app, "reader").get("/api/reports/attendance?month=2999-01").json()
    assert r["report"] is None and "2999-01" in r["error"]
    assert client(app, "reader").get("/api/reports/attendance?month=2026-13").status_code == 422


def test_the_hall_command_helper_keeps_stderr_and_times_out(console, tmp_path):
    _app, hall, data = console
    cmd = HallCommand.of(hall, data)
    assert cmd.command("queue", "report")[:4] == [sys.executable, "-P", "-m", "hallctl.cli"]
    assert cmd.json("queue", "report", "--date", str(DAY), "--json")["totals"]["issued"] == 5
    with pytest.raises(HallCommandError) as failed:
        cmd.run("queue", "report", "--date", "30/11/2026")
    assert failed.value.code == 2 and "YYYY-MM-DD" in str(failed.value)
    with pytest.raises(HallCommandError) as slow:
        HallCommand(hall.path, data, timeout_s=0.01).run("queue", "report", "--date", str(DAY))
    assert slow.value.code is None and "超时" in str(slow.value)
