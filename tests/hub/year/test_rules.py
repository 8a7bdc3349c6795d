"""The pure rules of a year at the hall: Erlang C, the review periods, the allowance, the review's choices and the
annual table, on plain rows (no database)."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from hall.settings import AllowanceRules, ReviewRules, load_hall
from hub.attendance.rules import Tally
from hub.cases.rules import clock_from_hall
from hub.year.rules import (
    HallView,
    YearRows,
    allowance,
    bimonth,
    erlang_c,
    erlang_estimate,
    errors_of,
    percentile,
    review,
    year_table,
)

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2017, 3, 1, 12, 0, tzinfo=TZ)


def test_erlang_c_matches_the_textbook():
    # the call-centre textbook case: 10 agents, 8 erlangs → 40.9 % of callers wait
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=1e-4)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) is the utilisation
    assert erlang_c(3, 3.0) == 1.0 and erlang_c(3, 0.0) == 0.0


def test_erlang_estimate_gives_mean_and_quantiles():
    e = erlang_estimate(1, 30, 1.0)  # M/M/1 at ρ = 0.5: Wq = ρ / (μ − λ) = 1 min
    assert e.mean_wait_min == pytest.approx(1.0)
    assert e.median_wait_min == 0.0  # half do not wait at all
    assert e.p90_wait_min == pytest.approx(2 * 1.6094, rel=1e-3)  # ln(0.5 / 0.1) / 0.5
    overloaded = erlang_estimate(2, 20, 6.0)  # 2 erlangs on 2 windows: no steady state
    assert overloaded.wait_probability == 1.0 and overloaded.p90_wait_min is None


def test_review_periods_are_two_months():
    assert bimonth(2016, 1) == (date(2016, 1, 1), date(2016, 2, 29))
    assert bimonth(2016, 6) == (date(2016, 11, 1), date(2016, 12, 31))
    with pytest.raises(ValueError):
        bimonth(2016, 7)


def test_percentile_is_the_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([5, 1, 3], 0.5) == 3
    assert percentile(list(range(1, 11)), 0.9) == 9


def test_allowance_deducts_by_occurrence_and_leave_kind():
    t = Tally("s1", workdays=40, late=2, early=1, missing=1, absent_days=1)
    rules = AllowanceRules()  # 600 less 10 per late or early, 20 per missing, 100 per absent day, 20 per 请假 day
    got = allowance(t, {"leave": 2, "business": 3, "in_lieu": 1}, rules)
    assert got["deductions"] == {"late": 20, "early": 10, "missing": 20, "absent": 100, "leave": 40, "business": 0,
                                 "in_lieu": 0}
    assert got["amount"] == 600 - 190
    assert allowance(Tally("s2", absent_days=9), {}, rules)["amount"] == 0  # never below 0
    assert allowance(Tally("s3", workdays=10), {}, rules, period_workdays=40)["amount"] == 150  # a quarter judged


def _slots(late: int = 0) -> str:
    ok = {"status": "ok", "at": "08:50:00", "minutes": 0}
    am_in = {"status": "late", "at": "09:10:00", "minutes": late} if late else ok
    return json.dumps({"am_in": am_in, "am_out": ok, "pm_in": ok, "pm_out": ok})


VIEW = HallView(windows={"1": ("1号窗口", "d1"), "2": ("2号窗口", "d2")}, departments={"d1": "甲局", "d2": "乙局"},
                queues={"A": "d1", "B": "d2"},
                staff={"a": ("张一", "1", "window"), "b": ("李二", "1", "window"), "c": ("王三", "2", "window"),
                       "o": ("赵四", None, "office")})


def _rows(absent_c: bool = False) -> YearRows:
    rows = YearRows()
    for day in ("2016-01-04", "2016-01-05"):
        rows.attendance += [("a", day, 1, "ok", _slots()), ("b", day, 1, "abnormal", _slots(late=15))]
        rows.attendance.append(("c", day, 1, "absent", json.dumps({k: {"status": "missing", "at": None, "minutes": 0}
                                                                  for k in ("am_in", "am_out", "pm_in", "pm_out")}))
                               if absent_c and day == "2016-01-05" else ("c", day, 1, "ok", _slots()))
    rows.ratings = [("2016-01-04", "1", "a", 5)] * 3 + [("2016-01-04", "1", "b", 4)] * 3 + \
                   [("2016-01-04", "2", "c", 5)] * 2 + [("2016-01-04", "2", "c", 1)]
    return rows


def test_the_review_ranks_chooses_and_names_the_bottom():
    rules = ReviewRules(red_flag_windows=1, service_stars=1, min_ratings=3, bottom_windows=1, bottom_people=1)
    hall = load_hall()
    r = review(_rows(), VIEW, 2016, 1, rules, AllowanceRules(), clock=clock_from_hall(hall), now=NOW)
    assert [w["window"] for w in r["red_flag_windows"]] == ["1"]  # all good ratings; window 2 has a poor one
    assert [p["staff"] for p in r["service_stars"]] == ["a"]       # clean and rated; b was late
    assert [p["staff"] for p in r["bottom"]["people"]] == ["b"]    # the only one who lost points
    assert [w["window"] for w in r["bottom"]["windows"]] == ["2"]
    assert "o" not in {p["staff"] for p in r["people"]}            # office staff are not ranked or paid here
    pay = {p["staff"]: p["allowance"]["amount"] for p in r["people"]}
    # two working days judged of the 38 of January–February 2016: 32 yuan of the base; b was late twice
    assert pay == {"a": 32, "b": 12, "c": 32} and r["allowance_total"] == 76
    later = review(_rows(), VIEW, 2016, 4, rules, AllowanceRules(), clock=clock_from_hall(hall), now=NOW)
    assert later["allowance_total"] == 0 and not later["red_flag_windows"]  # no day of that period judged yet
    assert later["bottom"] == {"windows": [], "people": []}


def test_an_absent_day_rules_a_window_and_its_people_out():
    rules = ReviewRules(red_flag_windows=2, service_stars=3, min_ratings=3)
    r = review(_rows(absent_c=True), VIEW, 2016, 1, rules, AllowanceRules(), clock=clock_from_hall(load_hall()),
               now=NOW)
    assert [w["window"] for w in r["red_flag_windows"]] == ["1"]
    assert "c" not in [p["staff"] for p in r["service_stars"]]
    without = ReviewRules(red_flag_windows=2, service_stars=3, min_ratings=3, no_absence=False)
    r = review(_rows(absent_c=True), VIEW, 2016, 1, without, AllowanceRules(), clock=clock_from_hall(load_hall()),
               now=NOW)
    assert [w["window"] for w in r["red_flag_windows"]] == ["1", "2"]


def _case(accepted: str, finished: str | None, *, status: str = "finished", result: str = "approved",
          who: str = "h1", service: str = "scjg-001", window: str = "1", days: int = 0, legal: int | None = 3):
    return (service, "d1", accepted, days, legal, status, "[]", finished, window, "a", result, who)


def test_a_refusal_approved_later_is_an_error():
    cases = [_case("2016-01-04T10:00:00+08:00", "2016-01-04T10:10:00+08:00", result="refused"),
             _case("2016-01-08T10:00:00+08:00", "2016-01-08T10:10:00+08:00"),
             _case("2016-01-05T10:00:00+08:00", "2016-01-05T10:10:00+08:00", result="refused", who="h2")]
    assert [r[2] for r in errors_of(cases)] == ["2016-01-04T10:00:00+08:00"]


def test_the_annual_table_from_plain_rows():
    hall = load_hall()
    rows = _rows()
    rows.tickets = [("2016-01-04", "A", "scjg-001", "done", "1", "2016-01-04T09:00:00+08:00",
                     "2016-01-04T09:04:00+08:00"),
                    ("2016-01-04", "A", "scjg-001", "done", "1", "2016-01-04T09:01:00+08:00",
                     "2016-01-04T09:11:00+08:00"),
                    ("2016-02-01", "B", None, "no_show", "2", "2016-02-01T14:00:00+08:00",
                     "2016-02-01T14:02:00+08:00")]
    rows.calls = [("2016-01-04", "1", "a", "done"), ("2016-01-04", "1", "a", "done"), ("2016-02-01", "2", "c",
                                                                                        "no_show")]
    rows.cases = [_case("2016-01-04T09:05:00+08:00", "2016-01-04T09:10:00+08:00"),
                  _case("2016-01-04T09:12:00+08:00", "2016-01-04T17:30:00+08:00")]  # after closing: late
    rows.followups = [("T20160105001", "complaint", "d1", "1", None, "2016-01-05T10:00:00+08:00")]
    table = year_table(rows, VIEW, 2016, clock=clock_from_hall(hall), now=NOW, review_rules=ReviewRules(min_ratings=3),
                       allowance_rules=AllowanceRules())
    t = table["totals"]
    assert (t["tickets_issued"], t["tickets_served"], t["median_wait_min"], t["p90_wait_min"]) == (3, 2, 4.0, 10.0)
    assert (t["cases_accepted"], t["cases_finished"], t["cases_on_time"], t["on_time_rate"]) == (2, 2, 1, 0.5)
    assert t["compression"] == 1.0  # promised 0 days against 3 legal
    assert t["satisfaction"] == {"ratings": 9, "good": 8, "rate": 0.8889, "mean": 4.22}
    assert (t["complaints"], t["errors"], t["windows"], t["staff"]) == (1, 0, 1, 2)
    assert table["months"][0]["tickets"] == 2 and table["months"][1]["tickets"] == 1
    assert table["waits"]["median_wait_min"]["0,9"] == 4.0  # Monday, 09:00: waits of 4 and 10 minutes
    assert table["waits"]["mean_wait_min"]["0,9"] == 7.0 and table["waits"]["p90_wait_min"]["0,9"] == 10.0
    assert len(table["reviews"]) == 6 and table["red_flag_windows"] == sum(len(r["red_flag_windows"])
                                                                           for r in table["reviews"])
    by_window = {w["window"]: w for w in table["windows"]}
    assert by_window["1"]["complaints"] == 1 and by_window["1"]["cases_on_time"] == 1


def test_the_rules_are_checked_strictly(tmp_path):
    from pydantic import ValidationError

    from hall.errors import ConfigError
    from hall.settings import load_year_simulation

    with pytest.raises(ValidationError):
        ReviewRules(weight_attendance=0.0, weight_ratings=0.0, weight_cases=0.0, weight_discipline=0.0)
    with pytest.raises(ValidationError):
        AllowanceRules(base="600")
    params = tmp_path / "year.toml"
    params.write_text('[arrivals.queues]\nZZ = 1.0\n[handling.services]\n"no-such" = 5.0\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_year_simulation(params, load_hall())
    assert "arrivals.queues.ZZ: unknown queue" in str(err.value) and "handling.services.no-such" in str(err.value)
