"""考勤 Attendance: the day person by person (`hall attendance report --day`), the month's ranking so far, and
leave and punch corrections sent from the page through the console's device link to the real hub."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from hall.clock import now as clock_now
from tests.helpers.figures_journal import DAY, figures_console
from tests.helpers.rig import wait_for
from tests.helpers.web import csrf_of, login
from web import users


def client(app, name: str) -> TestClient:
    c = TestClient(app)
    assert login(c, name).status_code == 303
    return c


# ---------------------------------------------------------------- on the known day, no broker

@pytest.fixture(scope="module")
def known(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attendance")
    app, hall = figures_console(tmp)
    return app, hall, tmp / "data"


def test_the_day_report_of_the_command_line_person_by_person(known):
    _app, hall, data = known
    done = subprocess.run([sys.executable, "-m", "hallctl.cli", "attendance", "report", "--day", str(DAY), "--out", "-",
                           "--config", str(hall.path), "--data", str(data)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["date"] == "2026-11-30" and report["workday"] is True and report["closed"] is True  # the hub closed it
    people = {p["staff"]: p for p in report["people"]}
    assert len(people) == len(hall.staff)
    s001, s002, s003 = people["s001"], people["s002"], people["s003"]
    assert s001["status"] == "ok" and [s["at"] for s in s001["slots"].values()] == ["08:55:00", "11:45:00",
                                                                                     "12:55:00", "17:02:00"]
    assert s002["slots"]["am_in"] == {"status": "late", "at": "09:07:00", "minutes": 7}
    assert s002["slots"]["am_out"] == {"status": "early", "at": "11:30:00", "minutes": 10}
    assert s002["slots"]["pm_in"]["status"] == "missing" and s002["status"] == "abnormal"
    assert s003["status"] == "leave" and s003["leave"][0]["kind"] == "leave"
    assert report["counts"]["am_in"] == {"ok": 1, "late": 1, "leave": 1, "missing": len(hall.staff) - 3}
    wrong = subprocess.run([sys.executable, "-m", "hallctl.cli", "attendance", "report", "--day", str(DAY),
                            "--format", "xlsx", "--out", "x.xlsx", "--data", str(data)], capture_output=True, text=True)
    assert wrong.returncode == 2 and "json only" in wrong.stderr


def test_the_page_and_its_twin_show_the_four_slots_and_the_month(known):
    app, _hall, _data = known
    c = client(app, "reader")
    a = c.get(f"/api/attendance?date={DAY}").json()
    assert a["error"] is None
    s002 = next(p for p in a["people"] if p["staff"] == "s002")
    assert s002["slots"]["am_in"]["status"] == "late"
    assert a["month"]["period"]["start"] == "2026-11" and a["month"]["people"]
    page = c.get(f"/attendance?date={DAY}").text
    assert 'data-staff="s002"' in page and "迟到 09:07 +7′" in page and "早退 11:30 +10′" in page
    assert "红旗窗口候选" in page and "服务标兵候选" in page
    assert 'action="/attendance/leave"' not in page  # a viewer enters nothing


def test_a_department_head_sees_only_their_people(known):
    app, hall, _data = known
    a = client(app, "scjg-head").get(f"/api/attendance?date={DAY}").json()
    scjg = {w.id for w in hall.catalogue.windows if w.department == "scjg"}
    assert a["people"] and {p["window"] for p in a["people"]} <= scjg
    assert {p["window"] for p in a["month"]["people"]} <= scjg
    assert all(w["window"] in scjg for w in a["month"]["windows"])


# ---------------------------------------------------------------- through the real hub

@pytest.fixture(scope="module")
def app(console_hall):
    app = console_hall.app()
    with TestClient(app):
        wait_for(lambda: app.state.console.feed.connected, 10, "the console's link")
        yield app


def last_workday(hall):
    """The latest weekday before today: leave shows on a workday, and a correction may not be for the future."""
    day = clock_now(hall.tz).date() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def test_leave_entered_on_the_page_reaches_the_hub_and_the_audit(app, console_hall):
    c = client(app, "inspector")
    today = last_workday(console_hall.hall)
    page = c.get("/attendance")
    answer = c.post("/attendance/leave", data={
        "staff": "s010", "kind": "business", "start": f"{today}T08:00", "end": f"{today}T18:00",
        "reason": "赴市局培训 training at the city bureau", "csrf": csrf_of(page.text)})
    assert answer.status_code == 200
    stored = wait_for(lambda: console_hall.rig.count(
        "SELECT count(*) FROM events WHERE device='console-01' AND type='leave' "
        "AND json_extract(data, '$.staff')='s010' AND json_extract(data, '$.by')='inspector'"), 5,
        "the leave event in the hub's journal")
    assert stored == 1
    # the hub's side (hub/attendance/domain.py) records it in `leave` with who and why, and answers ok
    assert "中心已登记" in answer.text, answer.text[answer.text.find("action-answer"):][:300]
    assert console_hall.rig.count("SELECT count(*) FROM leave WHERE staff='s010' AND by='inspector' "
                                  "AND kind='business'") == 1
    day = c.get(f"/api/attendance?date={today}").json()
    s010 = next(p for p in day["people"] if p["staff"] == "s010")
    assert s010["status"] == "leave" and s010["leave"][0]["kind"] == "business"
    [action] = [x for x in day["actions"] if x["type"] == "leave" and x["staff"] == "s010"]
    assert action["by"] == "inspector" and action["ok"] is True and "培训" in action["reason"]
    db = users.open_db(console_hall.data_dir)
    assert any(a["action"] == "leave" and a["subject"] == "s010" for a in users.audit_log(db))
    db.close()


def test_a_punch_correction_entered_on_the_page_reaches_the_hub(app, console_hall):
    c = client(app, "root")
    today = last_workday(console_hall.hall)
    answer = c.post("/attendance/correction", data={
        "staff": "s011", "at": f"{today}T08:50", "reason": "指纹机故障 the terminal failed",
        "csrf": csrf_of(c.get("/attendance").text)})
    assert answer.status_code == 200
    wait_for(lambda: console_hall.rig.count(
        "SELECT count(*) FROM events WHERE device='console-01' AND type='punch_correction' "
        "AND json_extract(data, '$.staff')='s011'"), 5, "the correction in the hub's journal")
    assert "中心已登记" in answer.text
    assert console_hall.rig.count("SELECT count(*) FROM punch_corrections WHERE staff='s011' AND by='root'") == 1
    assert console_hall.rig.count("SELECT count(*) FROM punches WHERE staff='s011'") == 0  # raw punches untouched
    day = c.get(f"/api/attendance?date={today}").json()
    assert any(x["type"] == "punch_correction" and x["staff"] == "s011" and x["ok"] for x in day["actions"])
    s011 = next(p for p in day["people"] if p["staff"] == "s011")
    assert s011["slots"]["am_in"] == {"status": "ok", "at": "08:50:00", "minutes": 0}  # the correction counts
    assert s011["corrections"][0]["by"] == "root"


def test_a_bad_form_is_refused_here_and_only_managers_may_enter(app, console_hall):
    c = client(app, "inspector")
    token = csrf_of(c.get("/attendance").text)
    backwards = c.post("/attendance/leave", data={"staff": "s012", "kind": "leave", "start": "2026-11-30T17:00",
                                                  "end": "2026-11-30T09:00", "reason": "x", "csrf": token})
    assert "未登记" in backwards.text and "invalid" in backwards.text
    stranger = c.post("/attendance/correction", data={"staff": "nobody", "at": "2026-11-30T09:00", "reason": "x",
                                                       "csrf": token})
    assert "unknown_staff" in stranger.text
    assert c.post("/attendance/leave", data={"staff": "s012", "csrf": "forged"}).status_code == 403
    head = client(app, "scjg-head")
    assert head.post("/attendance/leave", data={"staff": "s001", "csrf": csrf_of(head.get("/attendance").text)}
                     ).status_code == 403
    assert console_hall.rig.count("SELECT count(*) FROM events WHERE device='console-01' "
                                  "AND json_extract(data, '$.staff') IN ('s012', 'nobody', 's001')") == 0
