"""Reports that do not mislead: dates not closed are left out and make the candidates provisional (暂定), a
candidate needs enough ratings, ties are broken by the documented rule, and the workbook prints only what it
should."""

import zipfile
from datetime import date

import pytest

from hall.settings import load_hall
from hub.attendance.report import build_report
from tests.hub.attendance.test_report import (
    WORKDAYS,
    every_workday,
    hub_db,
    person,
    report_cli,
    with_min_ratings,
)

WINDOW_2 = [f"s00{i}" for i in range(6, 10)] + ["s010"]


@pytest.fixture(scope="module")
def hall():
    return load_hall()


def rated(staff, window, n, score=5, day="2026-11-03"):
    return [(day, window, staff, score)] * n


def test_dates_not_closed_are_left_out_of_scores_and_candidates_are_provisional(hall, tmp_path):
    """Closed through the 20th: s001 late every day after it, s002 never there after it. Neither loses a point
    for days the hub may still hear a terminal about; the candidates are named, but as 暂定."""
    late = [d for d in WORKDAYS if d > date(2026, 11, 20)]
    punches = every_workday("s001", skip=late) + every_workday("s002", skip=late)
    punches += [("s001", f"{d} {t}") for d in late for t in ("09:30", "11:45", "12:50", "17:10")]
    ratings = rated("s001", "1", 20) + rated("s002", "1", 20)
    path = hub_db(tmp_path, punches, final_through=date(2026, 11, 20), ratings=ratings)
    report = build_report(hall, path, "2026-11", today=date(2026, 11, 30))
    s1, s2 = person(report, "s001"), person(report, "s002")
    assert (s1["workdays"], s1["late"], s1["score"], s1["pending_days"]) == (21 - len(late), 0, 100.0, len(late))
    assert (s2["absent_days"], s2["score"], s2["pending_days"]) == (0, 100.0, len(late))
    assert report["provisional"] is True
    stars = report["service_stars"]
    assert [p["staff"] for p in stars] == ["s001", "s002"] and all(p["provisional"] for p in stars)
    # once every date is closed the same month is final
    (tmp_path / "closed").mkdir()
    final = build_report(hall, hub_db(tmp_path / "closed", punches, ratings=ratings), "2026-11",
                         today=date(2026, 12, 2))
    assert final["provisional"] is False
    assert (person(final, "s001")["late"], person(final, "s002")["absent_days"]) == (len(late), len(late))
    assert final["service_stars"] == []  # s001 lost 4 points a day, s002 was absent


def test_a_month_not_over_is_provisional(hall, tmp_path):
    path = hub_db(tmp_path, every_workday("s001"), ratings=rated("s001", "1", 20))
    report = build_report(hall, path, "2026-11", today=date(2026, 11, 25))
    assert report["provisional"] is True and report["service_stars"][0]["provisional"] is True


def test_too_few_ratings_make_no_candidate(hall, tmp_path):
    """Window 2 spotless all month: one rating short of the setting, neither it nor its people are named."""
    punches = [p for s in WINDOW_2 for p in every_workday(s)]
    few = [r for s in WINDOW_2 for r in rated(s, "2", 3)] + rated("s006", "2", 4)  # window: 19; s006: 7
    path = hub_db(tmp_path, punches, ratings=few)
    report = build_report(hall, path, "2026-11", today=date(2026, 12, 2))
    assert hall.attendance.min_ratings_for_candidate == 20
    assert report["red_flag_windows"] == [] and report["service_stars"] == []
    assert any("fewer than 20 ratings" in w for w in report["warnings"])
    enough = build_report(with_min_ratings(hall, 19), path, "2026-11", today=date(2026, 12, 2))
    assert [w["window"] for w in enough["red_flag_windows"]] == ["2"]
    assert enough["red_flag_windows"][0]["satisfaction"] == {"ratings": 19, "good_rate": 1.0, "mean": 5.0}
    assert enough["service_stars"] == []  # 19 for the window, 7 at most for any one person
    seven = build_report(with_min_ratings(hall, 7), path, "2026-11", today=date(2026, 12, 2))
    assert [p["staff"] for p in seven["service_stars"]] == ["s006"]
    assert seven["service_stars"][0]["satisfaction"]["ratings"] == 7  # the stars' own satisfaction is shown


def test_ties_go_to_fewer_late_minutes_then_more_ratings_then_the_id(hall, tmp_path):
    """Four people on 98.0 with every rating 5 stars: equal composites. s001 was late 10 minutes once (1 + 1.0
    points), s002 and s003 each missed a punch (2 points), s004 too; s003 has more ratings than s002 and s004."""
    day = WORKDAYS[3]
    punches = every_workday("s001", skip=[day]) + [("s001", f"{day} {t}") for t in ("09:10", "11:45", "12:50", "17:10")]
    for staff in ("s002", "s003", "s004"):
        punches += every_workday(staff, skip=[day]) + [(staff, f"{day} {t}") for t in ("08:50", "11:45", "12:50")]
    ratings = rated("s001", "1", 30) + rated("s002", "1", 25) + rated("s003", "1", 30) + rated("s004", "1", 25)
    path = hub_db(tmp_path, punches, ratings=ratings)
    report = build_report(hall, path, "2026-11", today=date(2026, 12, 2))
    assert {person(report, s)["score"] for s in ("s001", "s002", "s003", "s004")} == {98.0}
    assert [person(report, s)["late_minutes"] for s in ("s001", "s002")] == [10, 0]
    stars = report["service_stars"]
    assert len({p["star_composite"] for p in stars}) == 1
    assert [p["staff"] for p in stars] == ["s003", "s002", "s004", "s001"]
    assert report["candidate_rules"]["tie_break"] == ["composite", "late_and_early_minutes", "ratings", "id"]


def test_the_workbook_prints_no_chart_data_and_marks_provisional_candidates(tmp_path, capsys):
    from openpyxl import load_workbook

    punches = [p for s in WINDOW_2 for p in every_workday(s)] + every_workday("s001") + every_workday("s002")
    ratings = [r for s in WINDOW_2 for r in rated(s, "2", 20)]
    path = hub_db(tmp_path, punches, final_through=date(2026, 11, 25), ratings=ratings)
    out = tmp_path / "nov.xlsx"
    code, _, _ = report_cli(capsys, "--month", "2026-11", "--data", path, "--format", "xlsx", "--out", out)
    assert code == 0
    wb = load_workbook(out)
    data = wb["图表数据"]
    assert data.sheet_state == "hidden"
    assert wb["图表"].max_row <= 3  # the chart sheet holds its title, the charts and nothing else
    rows = [(data.cell(r, 1).value, data.cell(r, 2).value) for r in range(2, data.max_row + 1)]
    assert rows[0] == ("2 2号窗口", 1.0) and rows[1][0].startswith("1 ")  # window 1: 2 of 5 people there
    assert [rate for _, rate in rows] == sorted((rate for _, rate in rows), reverse=True)
    assert len(rows) == 34  # every window with people due; none without
    charts = [zipfile.ZipFile(out).read(n).decode() for n in zipfile.ZipFile(out).namelist()
              if n.startswith("xl/charts/chart")]
    assert len(charts) == 2 and all("'图表数据'!" in c and "'图表'!" not in c for c in charts)
    for name in ("个人考勤", "窗口考勤", "评选与排名", "图表", "说明"):
        assert wb[name].print_area, name
    assert wb["图表"].print_area == "'图表'!$A$1:$P$32"
    assert wb["个人考勤"].print_area == "'个人考勤'!$A$1:$P$190"
    sheet = wb["评选与排名"]
    texts = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert any(t.startswith("红旗窗口候选") and "暂定" in t for t in texts)
    assert any(t.startswith("服务标兵候选") and "暂定" in t for t in texts)
    assert "平均星级" in texts and "评价数" in texts and any("至少 20 条评价" in t for t in texts)
