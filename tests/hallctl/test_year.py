"""`hall simulate year|plan` and `hall report year|bimonth` as a manager runs them, each in its own process, on a
simulated week (the whole year runs in bench/year.py)."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import run_hall

KEYS = {"cases", "on_time_rate", "satisfaction", "tickets", "median_wait_min", "p90_wait_min", "red_flag_windows",
        "service_stars", "allowance_total", "seconds"}


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    data = tmp_path_factory.mktemp("hall-year")
    out = run_hall("simulate", "year", "--year", "2016", "--from", "2016-05-03", "--to", "2016-05-09",
                   "--data", str(data), "--json")
    assert out.returncode == 0, out.stderr
    return data, out


def test_simulate_year_prints_exactly_the_headline_figures(week):
    _, out = week
    figures = json.loads(out.stdout)
    assert set(figures) == KEYS
    assert 2000 < figures["tickets"] < 3500 and figures["on_time_rate"] == 1.0
    assert 0.95 < figures["satisfaction"] < 0.99 and figures["seconds"] > 0
    assert "working days" in out.stderr  # progress while it runs


def test_report_year_in_every_format(week, tmp_path):
    data, _ = week
    out = run_hall("report", "year", "--year", "2016", "--data", str(data), "--format", "json")
    assert out.returncode == 0, out.stderr
    table = json.loads(out.stdout)
    assert table["totals"]["tickets_issued"] == json.loads(week[1].stdout)["tickets"]
    assert table["sources"]["satisfaction"]["query"]["ratings"].startswith("SELECT day, window, staff, score")
    text = run_hall("report", "year", "--year", "2016", "--data", str(data))
    assert "按时办结率 on-time rate: 100.00%" in text.stdout and "红旗窗口" in text.stdout
    page = tmp_path / "year.html"
    out = run_hall("report", "year", "--year", "2016", "--data", str(data), "--format", "html", "--out", str(page))
    assert out.returncode == 0 and "<svg" in page.read_text(encoding="utf-8")


def test_report_bimonth_names_stars_bottom_and_allowance(week):
    data, _ = week
    out = run_hall("report", "bimonth", "--year", "2016", "--period", "3", "--data", str(data))
    assert out.returncode == 0, out.stderr
    assert "红旗窗口 red flag windows" in out.stdout and "出勤费合计 allowance total" in out.stdout
    review = json.loads(run_hall("report", "bimonth", "--year", "2016", "--period", "3", "--data", str(data),
                                 "--json").stdout)
    assert len(review["service_stars"]) <= 7 and review["allowance_total"] > 0
    bad = run_hall("report", "bimonth", "--year", "2016", "--period", "7", "--data", str(data))
    assert bad.returncode == 2 and "1 to 6" in bad.stderr


def test_simulate_plan_prints_waits_and_the_chart(week, tmp_path):
    data, _ = week
    chart = tmp_path / "plan.svg"
    out = run_hall("simulate", "plan", "--queue", "C", "--windows", "2..4", "--from", "2016-05-03", "--to",
                   "2016-05-09", "--data", str(data), "--chart", str(chart))
    assert out.returncode == 0, out.stderr
    assert "ErlangC" in out.stdout and f"图表 chart: {chart}" in out.stdout
    assert chart.read_text(encoding="utf-8").startswith("<svg")
    unknown = run_hall("simulate", "plan", "--queue", "ZZ", "--year", "2016", "--data", str(data))
    assert unknown.returncode == 2 and "no such queue" in unknown.stderr


def test_a_simulated_year_goes_only_into_an_empty_folder(week):
    data, _ = week
    out = run_hall("simulate", "year", "--year", "2016", "--from", "2016-05-03", "--to", "2016-05-03",
                   "--data", str(data))
    assert out.returncode == 2 and "empty data folder" in out.stderr


def test_bad_review_and_simulation_settings_are_named(tmp_path):
    from tests.helpers.queueing import all_day_hall

    config = all_day_hall(tmp_path / "config")
    text = config.read_text(encoding="utf-8").replace("red_flag_windows = 2", 'red_flag_windows = "2"')
    config.write_text(text, encoding="utf-8")
    out = run_hall("config", "check", str(config))
    assert out.returncode == 2 and "review.red_flag_windows" in out.stderr
    params = tmp_path / "year.toml"
    params.write_text("[arrivals]\nno_show = 1.5\n", encoding="utf-8")
    out = run_hall("simulate", "year", "--year", "2016", "--params", str(params), "--data", str(tmp_path / "d"))
    assert out.returncode == 2 and "arrivals.no_show" in out.stderr


def test_a_hub_without_a_year_reports_nothing_in_order(tmp_path):
    from hub.store import open_db

    open_db(tmp_path / "hub.db").close()  # a hub that has stored nothing yet
    out = run_hall("report", "year", "--year", "2016", "--data", str(tmp_path), "--format", "json")
    assert out.returncode == 0 and json.loads(out.stdout)["totals"]["tickets_issued"] == 0
    out = run_hall("simulate", "plan", "--queue", "A", "--year", "2016", "--data", str(tmp_path))
    assert out.returncode == 2 and "no served tickets" in out.stderr
    out = run_hall("report", "year", "--year", "2016", "--data", str(tmp_path / "none"))
    assert out.returncode == 2 and "no hub database" in out.stderr
