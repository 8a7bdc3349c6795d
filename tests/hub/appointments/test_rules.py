"""The rules of appointments (hub/appointments/rules.py), pure: slots, bookable days, limits, check-in timing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hall.settings import load_hall
from hub.appointments.rules import (
    EARLY,
    LATE,
    ON_TIME,
    BookingRules,
    QueueSlots,
    Refusal,
    Taken,
    blocked_until,
    bookable_days,
    check_person,
    check_slot,
    checkin_timing,
    decide_booking,
    new_code,
    rules_from_hall,
)

TZ = ZoneInfo("Asia/Shanghai")
HOURS = ((time(9), time(11, 40)), (time(13), time(17)))
RULES = BookingRules(queues={"A": QueueSlots(4, 60), "B": QueueSlots(2, 30), "F": QueueSlots(20, None)}, open=HOURS)
MONDAY = date(2026, 11, 30)


def weekdays(day: date) -> bool:
    return day.weekday() < 5


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=TZ)


def test_slots_cut_the_opening_hours_and_the_last_slot_ends_with_its_span():
    assert [(s.label, f"{s.end:%H:%M}") for s in RULES.slots("A")] == [
        ("09:00", "10:00"), ("10:00", "11:00"), ("11:00", "11:40"),
        ("13:00", "14:00"), ("14:00", "15:00"), ("15:00", "16:00"), ("16:00", "17:00")]
    assert len(RULES.slots("B")) == 6 + 8
    assert [(s.label, s.capacity) for s in RULES.slots("F")] == [("09:00", 20), ("13:00", 20)]
    assert RULES.slots("Z") == []


def test_the_shipped_hall_books_its_queues_by_its_hours():
    rules = rules_from_hall(load_hall())
    assert set(rules.queues) == {"A", "B", "F", "G"} and rules.id_required == frozenset()
    assert rules.slots("F")[1].start == time(13) and rules.checkin_before == timedelta(minutes=30)


def test_bookable_days_are_today_and_the_next_working_days():
    # Friday: today, then Monday to Friday of the next week
    friday = date(2026, 12, 4)
    assert bookable_days(RULES, friday, weekdays) == [friday] + [date(2026, 12, d) for d in (7, 8, 9, 10, 11)]
    saturday = date(2026, 12, 5)
    assert bookable_days(RULES, saturday, weekdays)[0] == date(2026, 12, 7)


def test_the_statutory_calendar_decides_working_days():
    from hub.attendance.rules import WorkCalendar

    # 2026-10-01..07 is the National Day holiday: none of it is bookable
    days = bookable_days(RULES, date(2026, 9, 30), WorkCalendar().is_workday)
    assert not any(date(2026, 10, 1) <= d <= date(2026, 10, 7) for d in days)


def test_a_request_names_a_bookable_slot_or_the_field_that_is_wrong():
    now = at(MONDAY, "10:30:00")
    ok = check_slot(RULES, "A", "2026-12-01", "09:00", now, weekdays)
    assert ok[0] == date(2026, 12, 1) and ok[1].label == "09:00"
    for queue, day, clock, field in [("Z", "2026-12-01", "09:00", "queue"), ("A", "2026-12-05", "09:00", "date"),
                                     ("A", "2026-11-27", "09:00", "date"), ("A", "2026-12-01", "09:30", "time"),
                                     ("A", "2026-11-30", "10:00", "time"), ("A", "2026-12-31", "09:00", "date")]:
        refused = check_slot(RULES, queue, day, clock, now, weekdays)
        assert isinstance(refused, Refusal) and refused.code == "invalid" and refused.field == field, (day, clock)
    assert "预约时段" in check_slot(RULES, "A", "2026-12-01", "09:30", now, weekdays).error
    # today's slots that have not begun are bookable
    assert check_slot(RULES, "A", "2026-11-30", "11:00", now, weekdays)[1].label == "11:00"


def test_the_id_number_is_checked_against_its_check_digit():
    assert check_person(RULES, "11010519491231002X") is None
    bad = check_person(RULES, "110105194912310021")
    assert bad.code == "invalid" and bad.field == "id_number" and "身份证号码" in bad.error
    assert check_person(RULES, "11010519491231002X", "12345678901").field == "phone"


def test_capacity_one_booking_per_person_per_day_and_blocking():
    slot = RULES.slots("A")[0]
    assert decide_booking(RULES, slot, MONDAY, Taken(in_slot=3)) is None
    assert decide_booking(RULES, slot, MONDAY, Taken(in_slot=4)).code == "slot_full"
    assert decide_booking(RULES, slot, MONDAY, Taken(person_same_day=("12345678",))).code == "already_booked"
    three = (date(2026, 11, 2), date(2026, 11, 10), date(2026, 11, 20))
    refused = decide_booking(RULES, slot, MONDAY, Taken(no_shows=three))
    assert refused.code == "blocked" and "2026-12-20" in refused.error


def test_three_no_shows_within_30_days_block_for_30_days_from_the_latest():
    assert blocked_until(RULES, [date(2026, 11, 1), date(2026, 11, 20)]) is None
    assert blocked_until(RULES, [date(2026, 10, 1), date(2026, 10, 20), date(2026, 11, 5)]) is None  # 35 days
    assert blocked_until(RULES, [date(2026, 10, 20), date(2026, 11, 5), date(2026, 11, 10)]) == date(2026, 12, 10)


def test_check_in_from_30_minutes_before_the_slot_to_its_end_then_late():
    slot = RULES.slots("A")[1]  # 10:00-11:00
    assert checkin_timing(RULES, MONDAY, slot, at(MONDAY, "09:29:59")) == EARLY
    assert checkin_timing(RULES, MONDAY, slot, at(MONDAY, "09:30:00")) == ON_TIME
    assert checkin_timing(RULES, MONDAY, slot, at(MONDAY, "10:59:59")) == ON_TIME
    assert checkin_timing(RULES, MONDAY, slot, at(MONDAY, "11:00:00")) == LATE


def test_codes_are_eight_digits_never_one_taken():
    draws = iter([42, 42, 7])
    taken = {"00000042"}
    assert new_code(lambda c: c in taken, lambda n: next(draws)) == "00000007"
    assert len(new_code(lambda c: False)) == 8
