"""The attendance rules, case by case, through `evaluate`."""

from datetime import date, time, timedelta

import pytest

from hub.attendance.rules import Punch, Schedule, WorkCalendar, evaluate, tally
from tests.helpers.attendance import SCHEDULE, TZ, at, day, leave, punches, slot

ON_TIME = ["08:55", "11:45", "12:58", "17:05"]


# ---------------------------------------------------------------- slot windows

def test_windows_are_the_midpoints_between_scheduled_times():
    bounds = [(s.name, s.start.isoformat("minutes"), s.end.isoformat("minutes")) for s in SCHEDULE.slots]
    assert bounds == [("am_in", "06:00", "10:20"), ("am_out", "10:20", "12:20"),
                      ("pm_in", "12:20", "15:00"), ("pm_out", "15:00", "23:59")]


def test_windows_follow_the_config():
    schedule = Schedule.from_times(time(8, 30), time(12, 0), time(14, 0), time(17, 30))
    assert [(s.start.isoformat("minutes"), s.end.isoformat("minutes")) for s in schedule.slots] == [
        ("05:30", "10:15"), ("10:15", "13:00"), ("13:00", "15:45"), ("15:45", "23:59")]


def test_schedule_from_hall_rules():
    from hall.settings import AttendanceRules

    schedule = Schedule.from_rules(AttendanceRules(grace_minutes=5, merge_seconds=30))
    assert schedule == Schedule.from_times(time(9), time(11, 40), time(13), time(17), grace_minutes=5,
                                           merge_seconds=30)


# ---------------------------------------------------------------- boundaries

@pytest.mark.parametrize(("punch", "expected"), [
    ("05:59:59", ("missing", None, 0)),          # before the first window: ignored
    ("06:00:00", ("ok", "06:00:00", 0)),
    ("09:00:00", ("ok", "09:00:00", 0)),
    ("09:00:01", ("late", "09:00:01", 1)),        # ceil(1 s / 60)
    ("09:01:00", ("late", "09:01:00", 1)),
    ("09:01:01", ("late", "09:01:01", 2)),
    ("09:07:00", ("late", "09:07:00", 7)),
    ("10:19:59", ("late", "10:19:59", 80)),
    ("10:20:00", ("missing", None, 0)),           # belongs to am_out
])
def test_am_in_boundaries(punch, expected):
    assert slot([punch], "am_in") == expected


@pytest.mark.parametrize(("punch", "expected"), [
    ("10:19:59", ("missing", None, 0)),
    ("10:20:00", ("early", "10:20:00", 80)),
    ("11:39:00", ("early", "11:39:00", 1)),
    ("11:39:59", ("early", "11:39:59", 1)),
    ("11:40:00", ("ok", "11:40:00", 0)),
    ("12:19:59", ("ok", "12:19:59", 0)),
    ("12:20:00", ("missing", None, 0)),
])
def test_am_out_boundaries(punch, expected):
    assert slot([punch], "am_out") == expected


@pytest.mark.parametrize(("punch", "expected"), [
    ("12:20:00", ("ok", "12:20:00", 0)),
    ("13:00:00", ("ok", "13:00:00", 0)),
    ("13:00:30", ("late", "13:00:30", 1)),
    ("14:59:59", ("late", "14:59:59", 120)),
    ("15:00:00", ("missing", None, 0)),
])
def test_pm_in_boundaries(punch, expected):
    assert slot([punch], "pm_in") == expected


@pytest.mark.parametrize(("punch", "expected"), [
    ("15:00:00", ("early", "15:00:00", 120)),
    ("16:59:59", ("early", "16:59:59", 1)),
    ("17:00:00", ("ok", "17:00:00", 0)),
    ("23:58:59", ("ok", "23:58:59", 0)),
    ("23:59:00", ("missing", None, 0)),            # [start, end): the evening window ends at 23:59
])
def test_pm_out_boundaries(punch, expected):
    assert slot([punch], "pm_out") == expected


def test_in_slots_count_the_earliest_punch_and_out_slots_the_latest():
    d = day(["08:50", "09:30", "11:00", "11:50", "12:40", "13:30", "16:00", "18:00"])
    assert {n: (s.status, s.at.isoformat()) for n, s in d.slots.items()} == {
        "am_in": ("ok", "08:50:00"), "am_out": ("ok", "11:50:00"),
        "pm_in": ("ok", "12:40:00"), "pm_out": ("ok", "18:00:00")}
    assert d.status == "ok"


def test_fractions_of_a_second_do_not_make_anyone_late():
    ps = [Punch(at("2026-11-30 09:00:00").replace(microsecond=900_000), "s023")]
    result = evaluate(ps, staff=["s023"], dates=[date(2026, 11, 30)], schedule=SCHEDULE, calendar=WorkCalendar(),
                      tz=TZ)
    assert result[0].slots["am_in"].status == "ok"


def test_times_with_another_offset_are_judged_in_hall_time():
    from datetime import datetime

    utc = datetime.fromisoformat("2026-11-30T01:05:00+00:00")  # 09:05 in Shanghai
    result = evaluate([Punch(utc, "s023")], staff=["s023"], dates=[date(2026, 11, 30)], schedule=SCHEDULE,
                      calendar=WorkCalendar(), tz=TZ)
    assert result[0].slots["am_in"].to_dict() == {"status": "late", "at": "09:05:00", "minutes": 5}


def test_grace_minutes():
    graceful = Schedule.from_times(time(9), time(11, 40), time(13), time(17), grace_minutes=5)
    assert slot(["09:05:00"], "am_in", schedule=graceful) == ("ok", "09:05:00", 0)
    # past the grace the whole delay counts, as on a time clock's "allowed late" setting
    assert slot(["09:05:01"], "am_in", schedule=graceful) == ("late", "09:05:01", 6)
    assert slot(["11:35:00"], "am_out", schedule=graceful) == ("ok", "11:35:00", 0)
    assert slot(["11:34:59"], "am_out", schedule=graceful) == ("early", "11:34:59", 6)


# ---------------------------------------------------------------- duplicates

def test_punches_within_60_seconds_are_one_punch_and_the_first_counts():
    # a second touch to be sure does not turn an early leave into an on-time one
    assert slot(["11:39:30", "11:40:20"], "am_out") == ("early", "11:39:30", 1)
    assert slot(["11:39:00", "11:40:00"], "am_out") == ("early", "11:39:00", 1)  # exactly 60 s: still one


def test_punches_more_than_60_seconds_apart_are_two():
    assert slot(["11:39:00", "11:40:01"], "am_out") == ("ok", "11:40:01", 0)


def test_merging_is_anchored_on_the_kept_punch_not_chained():
    d = day(["10:00:00", "10:00:50", "10:01:40", "10:02:30"], "2026-11-28")  # a Saturday
    assert d.overtime == (time(10, 0), time(10, 1, 40))


def test_merge_window_comes_from_the_config():
    no_merge = Schedule.from_times(time(9), time(11, 40), time(13), time(17), merge_seconds=0)
    assert slot(["11:39:30", "11:40:20"], "am_out", schedule=no_merge) == ("ok", "11:40:20", 0)


# ---------------------------------------------------------------- day status

def test_all_on_time_is_ok():
    assert day(ON_TIME).status == "ok"


def test_one_late_slot_is_abnormal():
    d = day(["09:07", "11:45", "12:58", "17:00"])
    assert d.status == "abnormal"
    assert d.to_dict()["slots"]["am_in"] == {"status": "late", "at": "09:07:00", "minutes": 7}


def test_a_missing_slot_is_abnormal():
    d = day(["08:55", "12:58", "17:05"])
    assert d.slots["am_out"].status == "missing"
    assert d.status == "abnormal"


def test_no_punch_on_a_workday_is_absent():
    d = day([])
    assert d.status == "absent"
    assert {s.status for s in d.slots.values()} == {"missing"}


def test_punches_outside_every_window_are_ignored():
    d = day(["05:30", "23:59:30"])
    assert d.status == "absent"


# ---------------------------------------------------------------- leave

def test_leave_covers_slots_whose_scheduled_time_it_contains():
    d = day(["12:58", "17:05"], leaves=[leave("s023", "2026-11-30 08:00", "2026-11-30 12:00")])
    assert [s.status for s in d.slots.values()] == ["leave", "leave", "ok", "ok"]
    assert d.status == "ok"


def test_leave_bounds_are_inclusive():
    # ends exactly at 09:00: am_in is covered; starts at 11:40:00: am_out is covered
    d = day(["12:58", "17:05"], leaves=[leave("s023", "2026-11-30 07:00", "2026-11-30 09:00"),
                                        leave("s023", "2026-11-30 11:40", "2026-11-30 11:45")])
    assert [s.status for s in d.slots.values()] == ["leave", "leave", "ok", "ok"]


def test_leave_starting_after_the_scheduled_time_does_not_cover_it():
    d = day(["12:58", "17:05"], leaves=[leave("s023", "2026-11-30 09:00:01", "2026-11-30 11:00")])
    assert d.slots["am_in"].status == "missing"
    assert d.status == "abnormal"


def test_an_on_time_punch_in_a_covered_slot_is_ok_and_a_late_one_is_leave():
    lv = [leave("s023", "2026-11-30 00:00", "2026-11-30 23:59:59", "business")]
    d = day(["08:59", "11:00", "13:30"], leaves=lv)
    assert d.slots["am_in"].to_dict() == {"status": "ok", "at": "08:59:00", "minutes": 0}
    assert d.slots["am_out"].to_dict() == {"status": "leave", "at": "11:00:00", "minutes": 0}
    assert d.slots["pm_in"].to_dict() == {"status": "leave", "at": "13:30:00", "minutes": 0}
    assert d.slots["pm_out"].to_dict() == {"status": "leave", "at": None, "minutes": 0}
    assert d.status == "ok"


def test_all_four_slots_on_leave_is_a_leave_day():
    d = day([], leaves=[leave("s023", "2026-11-30 00:00", "2026-11-30 23:59", "in_lieu")])
    assert d.status == "leave"


def test_leave_over_several_days():
    lv = [leave("s023", "2026-11-30 08:00", "2026-12-02 18:00")]
    result = evaluate([], lv, staff=["s023"], dates=[date(2026, 11, 30), date(2026, 12, 2), date(2026, 12, 3)],
                      schedule=SCHEDULE, calendar=WorkCalendar(), tz=TZ)
    assert [d.status for d in result] == ["leave", "leave", "absent"]


def test_half_day_leave_and_no_punch_is_absent():
    d = day([], leaves=[leave("s023", "2026-11-30 08:00", "2026-11-30 12:00")])
    assert [s.status for s in d.slots.values()] == ["leave", "leave", "missing", "missing"]
    assert d.status == "absent"


def test_leave_of_someone_else_does_not_count():
    d = day([], leaves=[leave("s024", "2026-11-30 00:00", "2026-11-30 23:59")])
    assert d.status == "absent"


# ---------------------------------------------------------------- calendar

def test_rest_day_punches_are_overtime_and_count_against_no_one():
    d = day(["10:03", "10:03:30", "15:30"], "2026-11-28")  # Saturday
    assert (d.workday, d.status, d.slots) == (False, "rest", None)
    assert d.to_dict()["overtime"] == ["10:03:00", "15:30:00"]
    t = tally([d])["s023"]
    assert (t.workdays, t.score, t.rest_punch_days) == (0, 100.0, 1)


def test_a_rest_day_without_punches_is_rest():
    assert day([], "2026-11-29").status == "rest"


def test_adjusted_working_weekend_is_a_workday():
    assert day([], "2026-02-14").status == "absent"  # Saturday worked in exchange for the Spring Festival
    assert day(ON_TIME, "2026-02-14").status == "ok"


def test_statutory_holiday_is_rest():
    d = day(ON_TIME, "2026-10-01")  # National Day, a Thursday
    assert (d.workday, d.status) == (False, "rest")
    assert len(d.overtime) == 4


def test_a_year_the_calendar_does_not_know_falls_back_with_a_warning():
    said = []
    calendar = WorkCalendar(extra_holidays=[date(2027, 2, 1)], extra_workdays=[date(2027, 1, 9)], warn=said.append)
    assert day([], "2027-01-04", calendar=calendar).status == "absent"  # a Monday
    assert day([], "2027-01-09", calendar=calendar).status == "absent"  # a Saturday listed as working
    assert day([], "2027-01-10", calendar=calendar).status == "rest"    # a Sunday
    assert day([], "2027-02-01", calendar=calendar).status == "rest"    # a Monday listed as holiday
    assert len(said) == 1 and "2027" in said[0] and "warning" in said[0] and said[0].startswith("警告")
    assert calendar.warnings == said


def test_the_fallback_lists_apply_only_to_unknown_years():
    calendar = WorkCalendar(extra_holidays=[date(2026, 11, 30)], extra_workdays=[date(2026, 10, 1)])
    assert calendar.is_workday(date(2026, 11, 30)) and not calendar.is_workday(date(2026, 10, 1))
    assert calendar.warnings == []


# ---------------------------------------------------------------- many people, many days

def test_evaluate_sorts_by_staff_then_date_and_fills_every_day():
    ps = punches("s002", "2026-12-01 08:58") + punches("s001", "2026-11-30 08:58", "2026-12-01 09:02")
    result = evaluate(ps, staff=["s002", "s001"], dates=[date(2026, 12, 1), date(2026, 11, 30)],
                      schedule=SCHEDULE, calendar=WorkCalendar(), tz=TZ)
    assert [(d.staff, d.date.isoformat()) for d in result] == [
        ("s001", "2026-11-30"), ("s001", "2026-12-01"), ("s002", "2026-11-30"), ("s002", "2026-12-01")]
    assert [d.status for d in result] == ["abnormal", "abnormal", "absent", "abnormal"]


def test_punches_of_people_not_asked_for_are_ignored():
    result = evaluate(punches("s999", "2026-11-30 09:00"), staff=["s001"], dates=[date(2026, 11, 30)],
                      schedule=SCHEDULE, calendar=WorkCalendar(), tz=TZ)
    assert [(d.staff, d.status) for d in result] == [("s001", "absent")]


def test_a_day_survives_a_round_trip_through_json():
    from hub.attendance.rules import AttendanceDay

    for d in (day(["09:07", "11:45"]), day(["10:00"], "2026-11-28")):
        assert AttendanceDay.from_dict(d.to_dict()) == d


def test_tally_adds_up_a_period():
    lv = [leave("s023", "2026-12-02 00:00", "2026-12-02 23:59")]
    ps = punches("s023", "2026-11-30 09:07", "2026-11-30 11:45", "2026-11-30 12:58", "2026-11-30 16:50",
                 "2026-12-01 08:50", "2026-12-01 17:10",
                 "2026-12-04 08:50", "2026-12-04 11:41", "2026-12-04 12:50", "2026-12-04 17:01")
    days = evaluate(ps, lv, staff=["s023"], dates=[date(2026, 11, 30) + timedelta(d)
                                                  for d in range(7)],
                    schedule=SCHEDULE, calendar=WorkCalendar(), tz=TZ)
    t = tally(days)["s023"]
    assert (t.workdays, t.ok_days, t.late, t.late_minutes, t.early, t.early_minutes) == (5, 1, 1, 7, 1, 10)
    assert (t.missing, t.absent_days, t.leave_days) == (2, 1, 1)
    # 100 - (2 occurrences + 0.7 + 1.0) - 2 missing × 2 - 1 absent × 10
    assert t.score == pytest.approx(100 - 3.7 - 4 - 10)
    assert t.attendance_rate == pytest.approx(1 / 4)


def test_the_minutes_of_each_late_arrival_cost_at_most_2_points():
    # back from lunch 100 minutes late (14:40 for 13:00) one day, in 1 minute late (09:01) the next
    days = [day(["08:50", "11:45", "14:40", "17:10"], "2026-11-30"),
            day(["09:01", "11:45", "12:50", "17:10"], "2026-12-01")]
    t = tally(days)["s023"]
    assert (t.late, t.late_minutes, t.counted_minutes) == (2, 101, 21)
    assert t.score == 95.9  # (1 + 2) + (1 + 0.1); capped over the period it would be 94.0
