"""Monthly and bimonthly reports from a hub database: figures, ranking, candidates, and the three formats."""

import csv
import json
from datetime import date, time, timedelta

import pytest
import sqlite_utils

from hall.settings import load_hall
from hub.attendance import store
from hub.attendance.report import Period, ReportError, build_report
from hub.attendance.rules import Schedule, WorkCalendar, date_range
from tests.helpers.attendance import at, fill_hub_db, run_cli

NOV = [date(2026, 11, 1) + timedelta(d) for d in range(30)]
WORKDAYS = [d for d in NOV if WorkCalendar().is_workday(d)]
ON_TIME = ("08:50", "11:45", "12:50", "17:10")


@pytest.fixture(scope="module")
def hall():
    return load_hall()


def hub_db(path, punches, *, final_through=date(2026, 11, 30), leave=(), ratings=None):
    db = sqlite_utils.Database(path / "hub.db")
    store.create_tables(db)
    db.execute("PRAGMA synchronous=OFF")  # test data: speed over durability
    with db.atomic():
        for i, (staff, when) in enumerate(punches):
            moment = at(when)
            store.insert_punch(db, f"e{i:06d}", staff, moment, "fp-01", 100, moment, None)
        for d in NOV:
            if d <= final_through:
                db.execute("INSERT INTO attendance_dates(date, final) VALUES (?, 1)", (d.isoformat(),))
        for staff, start, end, kind in leave:
            db.execute("INSERT INTO leave(staff, start, end, kind) VALUES (?,?,?,?)",
                       (staff, at(start).isoformat(), at(end).isoformat(), kind))
        if ratings is not None:
            db.execute("CREATE TABLE ratings (id INTEGER PRIMARY KEY, day TEXT, window TEXT, staff TEXT, score INTEGER)")
            db.conn.executemany("INSERT INTO ratings(day, window, staff, score) VALUES (?,?,?,?)", ratings)
    db.close()
    return path


def every_workday(staff, times=ON_TIME, skip=()):
    return [(staff, f"{d} {t}") for d in WORKDAYS if d not in skip for t in times]


@pytest.fixture
def window_one(tmp_path):
    """Window 1's five people in November 2026: one spotless, one late once, one on leave for a week, one who
    forgot punches, one never there; everyone else in the hall never punched."""
    punches = every_workday("s001") + every_workday("s002", skip=[date(2026, 11, 2)]) + [
        ("s002", "2026-11-02 09:07"), ("s002", "2026-11-02 11:45"), ("s002", "2026-11-02 12:50"),
        ("s002", "2026-11-02 16:58:30")]
    punches += every_workday("s003", skip=WORKDAYS[:5])
    punches += every_workday("s004", times=("08:50", "17:10"))
    punches += [("s001", "2026-11-07 10:00")]  # a Saturday: overtime, counts for nothing
    leave = [("s003", "2026-11-02 00:00", "2026-11-06 23:59", "leave")]
    return hub_db(tmp_path, punches, leave=leave)


def close_dates(path, hall, first=NOV[0], last=NOV[-1], *, schedule=None):
    """Close the dates as the hub does: every person's day judged and stored in attendance_days."""
    db = sqlite_utils.Database(path / "hub.db")
    with db.conn:
        for d in date_range(first, last):
            store.close_date(db, d, [s.id for s in hall.staff], schedule=schedule or Schedule.from_rules(hall.attendance),
                             calendar=WorkCalendar.from_rules(hall.attendance), tz=hall.tz, now=at("2026-12-01 00:10"))
    db.close()
    return path


def with_min_ratings(hall, n):
    """The hall with `[attendance] min_ratings_for_candidate = n`."""
    from hall.settings import Hall

    rules = hall.attendance.model_copy(update={"min_ratings_for_candidate": n})
    return Hall(hall.path, hall.file.model_copy(update={"attendance": rules}), hall.catalogue, hall.staff)


def person(report, staff):
    return next(p for p in report["people"] if p["staff"] == staff)


def test_period_bounds():
    assert Period.of("2026-11", 1) == Period("month", "2026-11", date(2026, 11, 1), date(2026, 11, 30))
    assert Period.of("2026-12", 2).last == date(2027, 1, 31)
    assert Period.of("2026-11", 2).label == "2026年11–12月"


def test_figures_per_person(hall, window_one):
    report = build_report(hall, window_one, "2026-11", today=date(2026, 12, 5))
    assert len(WORKDAYS) == 21
    s1, s2, s3, s4, s5 = (person(report, f"s00{i}") for i in range(1, 6))
    assert (s1["workdays"], s1["ok_days"], s1["score"], s1["rest_punch_days"]) == (21, 21, 100.0, 1)
    assert (s2["ok_days"], s2["late"], s2["late_minutes"], s2["early"], s2["early_minutes"]) == (20, 1, 7, 1, 2)
    assert s2["score"] == pytest.approx(100 - 2 - 0.9)
    assert (s3["leave_days"], s3["ok_days"], s3["expected_days"], s3["score"]) == (5, 16, 16, 100.0)
    assert (s4["missing"], s4["score"]) == (42, 16.0)
    assert (s5["absent_days"], s5["score"], s5["attendance_rate"]) == (21, 0.0, 0.0)
    assert [p["staff"] for p in report["people"][:2]] == ["s001", "s003"]
    assert s1["rank"] == s3["rank"] == 1 and s2["rank"] == 3


def test_window_figures_add_up_its_people(hall, window_one):
    report = build_report(hall, window_one, "2026-11", today=date(2026, 12, 5))
    w1 = next(w for w in report["windows"] if w["window"] == "1")
    assert (w1["people"], w1["name"], w1["department"]) == (5, "1号窗口", "市场监督管理局")
    assert w1["ok_days"] == 21 + 20 + 16
    assert w1["absent_days"] == 21 + 21 * 0  # only s005 was never there
    assert w1["score"] == pytest.approx(round((100 + 97.1 + 100 + 16 + 0) / 5, 1))
    assert w1["rank"] == 1  # every other window was never there at all
    assert report["bottom"]["windows"][0]["score"] == 0.0


def test_candidates_and_bottom(hall, window_one):
    assert build_report(hall, window_one, "2026-11", today=date(2026, 12, 5))["service_stars"] == []  # no ratings
    report = build_report(with_min_ratings(hall, 0), window_one, "2026-11", today=date(2026, 12, 5))
    assert report["provisional"] is False
    assert report["red_flag_windows"] == []  # window 1 has an absent day, the others have nothing but
    stars = [p["staff"] for p in report["service_stars"]]
    assert stars == ["s001", "s003", "s002"]  # score ≥ 95, no absent day; 4 a month at most
    bottom = [p["staff"] for p in report["bottom"]["people"]]
    assert len(bottom) == 5 and "s001" not in bottom


def test_satisfaction_from_the_ratings_table(hall, tmp_path):
    punches = every_workday("s001") + every_workday("s006") + every_workday("s002")
    ratings = [("2026-11-03", "1", "s001", 5)] * 9 + [("2026-11-03", "1", "s001", 1)]
    ratings += [("2026-11-03", "2", "s006", 5)] * 10 + [("2026-10-03", "1", "s001", 1)] * 50  # October: not counted
    path = hub_db(tmp_path, punches, ratings=ratings)
    report = build_report(with_min_ratings(hall, 10), path, "2026-11", today=date(2026, 12, 5))
    assert person(report, "s001")["satisfaction"] == {"ratings": 10, "good_rate": 0.9, "mean": 4.6}
    w2 = next(w for w in report["windows"] if w["window"] == "2")
    assert w2["satisfaction"]["good_rate"] == 1.0
    assert w2["composite"] == pytest.approx(0.7 * w2["score"] + 30)
    stars = report["service_stars"]
    assert [p["staff"] for p in stars[:2]] == ["s006", "s001"]  # equal attendance; s006's window is rated better
    assert stars[1]["star_composite"] == pytest.approx(0.7 * 100 + 30 * 0.9)


def test_absences_on_dates_not_closed_are_pending(hall, tmp_path):
    path = hub_db(tmp_path, every_workday("s001"), final_through=date(2026, 11, 20))
    report = build_report(hall, path, "2026-11", today=date(2026, 11, 30))
    s5 = person(report, "s005")
    late_workdays = [d for d in WORKDAYS if d > date(2026, 11, 20)]
    assert (s5["absent_days"], s5["pending_days"]) == (21 - len(late_workdays), len(late_workdays))
    assert report["pending_dates"][0] == "2026-11-21"
    assert "pending" in report["warnings"][0]
    # days after today are not evaluated at all
    early = build_report(hall, path, "2026-11", today=date(2026, 11, 10))
    assert early["period"]["evaluated_through"] == "2026-11-10" and person(early, "s001")["workdays"] == 7


def test_closed_days_give_the_report_the_punches_gave(hall, window_one, tmp_path):
    from_punches = build_report(hall, window_one, "2026-11", today=date(2026, 12, 5))
    assert not store.closed_days(sqlite_utils.Database(window_one / "hub.db"), NOV[0], NOV[-1])
    close_dates(window_one, hall)
    assert build_report(hall, window_one, "2026-11", today=date(2026, 12, 5)) == from_punches


def test_a_closed_day_counts_as_the_hub_judged_it(hall, tmp_path):
    """November closed under summer hours (in by 08:30): changing the schedule afterwards does not judge it again."""
    path = hub_db(tmp_path, every_workday("s001", times=("08:40", "11:45", "12:50", "17:10")),
                  final_through=date(2026, 11, 29))
    rules = hall.attendance
    summer = Schedule.from_times(time(8, 30), rules.am_out, rules.pm_in, rules.pm_out)
    close_dates(path, hall, NOV[0], date(2026, 11, 29), schedule=summer)
    s1 = person(build_report(hall, path, "2026-11", today=date(2026, 11, 30)), "s001")
    assert (s1["late"], s1["late_minutes"], s1["pending_days"]) == (20, 200, 1)  # the 30th is not closed: left out
    assert s1["score"] == pytest.approx(100 - 20 * 2)


def test_a_leave_file_applies_to_closed_days_too(hall, window_one, tmp_path):
    close_dates(window_one, hall)
    leave = tmp_path / "leave.csv"
    leave.write_text("staff,start,end,kind\ns005,2026-11-02,2026-11-06,请假\n", encoding="utf-8")
    s5 = person(build_report(hall, window_one, "2026-11", leave_path=leave, today=date(2026, 12, 5)), "s005")
    assert (s5["leave_days"], s5["absent_days"]) == (5, 16)
    s5 = person(build_report(hall, window_one, "2026-11", today=date(2026, 12, 5)), "s005")
    assert (s5["leave_days"], s5["absent_days"]) == (0, 21)  # the file is not stored


def test_the_report_makes_the_hub_database_private(hall, tmp_path):
    import os

    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    hub_db(data, every_workday("s001"))
    os.chmod(data / "hub.db", 0o644)  # as an older install, or sqlite under a 022 umask, left it
    build_report(hall, data, "2026-11", today=date(2026, 12, 1))
    assert (data.stat().st_mode & 0o777, (data / "hub.db").stat().st_mode & 0o777) == (0o700, 0o600)


def test_punches_of_unknown_staff_are_counted_apart(hall, tmp_path):
    path = hub_db(tmp_path, every_workday("s001"))
    db = sqlite_utils.Database(path / "hub.db")
    store.insert_punch(db, "x1", "s999", at("2026-11-03 09:00"), "fp-01", 80, at("2026-11-03 09:00"),
                       "unknown_staff")
    db.close()
    report = build_report(hall, path, "2026-11", today=date(2026, 12, 1))
    assert any("not in the staff list" in w for w in report["warnings"])


def test_report_errors(hall, tmp_path):
    with pytest.raises(ReportError, match="no hub database"):
        build_report(hall, tmp_path, "2026-11")
    hub_db(tmp_path, [])
    with pytest.raises(ReportError, match="has not begun"):
        build_report(hall, tmp_path, "2027-03", today=date(2026, 12, 1))


# ---------------------------------------------------------------- the command and its formats

def report_cli(capsys, *argv):
    code = run_cli(["attendance", "report", *map(str, argv)])
    return (code, *capsys.readouterr())


def test_json_to_stdout_with_progress_on_stderr(window_one, capsys):
    code, out, err = report_cli(capsys, "--month", "2026-11", "--data", window_one, "--format", "json", "--out", "-")
    assert code == 0
    report = json.loads(out)
    assert report["period"]["kind"] == "month" and len(report["people"]) == 186
    assert "evaluated 186 of 186 people" in err


def test_csv_has_chinese_headers_and_a_windows_file(window_one, tmp_path, capsys):
    out = tmp_path / "nov.csv"
    code, _, err = report_cli(capsys, "--month", "2026-11", "--data", window_one, "--format", "csv", "--out", out)
    assert code == 0 and f"written {out}" in err
    raw = out.read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0][:3] == ["排名 Rank", "工号 Staff", "姓名 Name"] and len(rows) == 187
    windows = list(csv.reader((tmp_path / "nov-windows.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert windows[0][1] == "窗口 Window" and len(windows) == 35


def test_xlsx_layout(window_one, tmp_path, capsys):
    from openpyxl import load_workbook

    out = tmp_path / "nov.xlsx"
    code, _, _ = report_cli(capsys, "--month", "2026-11", "--data", window_one, "--format", "xlsx", "--out", out)
    assert code == 0
    wb = load_workbook(out)
    assert wb.sheetnames == ["个人考勤", "窗口考勤", "评选与排名", "图表", "说明", "图表数据"]
    people = wb["个人考勤"]
    assert people["A1"].value.startswith("汨罗市政务服务中心 2026年11月个人考勤")
    assert [people.cell(3, c).value for c in range(1, 4)] == ["排名", "工号", "姓名"]
    assert [people.cell(4, c).value for c in range(1, 4)] == ["Rank", "Staff", "Name"]
    assert people.freeze_panes == "D5"
    assert people.cell(5, 2).value == "s001"
    assert all(people.column_dimensions[col].width < 20 for col in "ABCDEFGH")
    assert people.print_title_rows == "$3:$4"
    assert wb["窗口考勤"].freeze_panes == "D5"
    import zipfile

    charts = [n for n in zipfile.ZipFile(out).namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 2  # openpyxl does not read charts back: look in the package


def test_bimonth_and_a_missing_database(window_one, tmp_path, capsys):
    code, out, _ = report_cli(capsys, "--bimonth", "2026-11", "--data", window_one, "--out", "-")
    assert code == 0 and json.loads(out)["period"]["last"] == "2026-12-31"
    code, _, err = report_cli(capsys, "--month", "2026-11", "--data", tmp_path / "none", "--out", "-")
    assert code == 1 and "no hub database" in err


def test_a_month_of_the_whole_hall(hall, tmp_path):
    plan = fill_hub_db(tmp_path / "hub.db", hall, date(2026, 11, 1), date(2026, 11, 30))
    assert 14_000 < len(plan) < 18_000
    report = build_report(with_min_ratings(hall, 0), tmp_path, "2026-11", today=date(2026, 12, 1))
    scores = [p["score"] for p in report["people"]]
    assert scores == sorted(scores, reverse=True)
    assert len(report["red_flag_windows"]) == 1 and len(report["service_stars"]) == 4
    assert sum(p["ok_days"] for p in report["people"]) > 0.7 * sum(p["workdays"] for p in report["people"])


def test_leave_import_then_report(window_one, tmp_path, capsys):
    leave = tmp_path / "leave.csv"
    leave.write_text("staff,start,end,kind\ns005,2026-11-01,2026-11-30,请假\ns777,2026-11-02,2026-11-02,公出\n",
                     encoding="utf-8")
    assert run_cli(["attendance", "leave", str(leave), "--data", str(window_one)]) == 0
    assert run_cli(["attendance", "leave", str(leave), "--data", str(window_one)]) == 0  # twice: no duplicates
    err = capsys.readouterr().err
    assert "2 leave rows imported" in err and "0 leave rows imported" in err and "s777" in err
    code, out, _ = report_cli(capsys, "--month", "2026-11", "--data", window_one, "--out", "-")
    s5 = person(json.loads(out), "s005")
    assert (s5["leave_days"], s5["absent_days"], s5["score"]) == (s5["workdays"], 0, 100.0) and s5["workdays"]
    bad = tmp_path / "bad.csv"
    bad.write_text("staff,start,end,kind\ns005,2026-11-01,2026-10-30,请假\n", encoding="utf-8")
    assert run_cli(["attendance", "leave", str(bad), "--data", str(window_one)]) == 1
    assert "line 2: end" in capsys.readouterr().err


def test_the_workbook_only_renders_the_report():
    import subprocess
    import sys

    code = "import sys, hub.attendance.excel; sys.exit('hub.attendance.report' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
