"""The case rules as plain data: dated cases against the statutory calendar, suspensions across closing time,
cards, on-time, refusals. No broker, no database."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from hub.attendance.rules import WorkCalendar
from hub.cases import rules as r
from hub.cases.rules import CaseBook, Clock, ServiceSpec, Workdays, days_used, deadline_of

TZ = ZoneInfo("Asia/Shanghai")


def clock(extra_holidays=(), extra_workdays=()) -> Clock:
    calendar = WorkCalendar(extra_holidays, extra_workdays)
    return Clock(Workdays(calendar.is_workday), time(17, 0), TZ)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


CLOCK = clock()


@pytest.mark.parametrize(("accepted", "days", "suspensions", "deadline"), [
    # a plain week: Mon 10:00, five working days, the acceptance day never counts
    ("2026-11-30 10:00", 5, [], "2026-12-07"),
    # accepted after closing on a Friday: Monday is the first day
    ("2026-12-04 18:00", 1, [], "2026-12-07"),
    # accepted on a Saturday (the hall opened for a campaign): Monday
    ("2026-12-05 10:00", 1, [], "2026-12-07"),
    # National Day 2025 (Oct 1-8 off), then Saturday Oct 11 is an adjusted working day
    ("2025-09-30 10:00", 3, [], "2025-10-11"),
    # Sunday Sep 28 2025 is an adjusted working day
    ("2025-09-26 16:00", 1, [], "2025-09-28"),
    # Spring Festival 2026: Saturday Feb 14 works, Feb 15-23 off
    ("2026-02-13 09:30", 1, [], "2026-02-14"),
    ("2026-02-13 09:30", 2, [], "2026-02-24"),
    # on the spot (即办件): the acceptance day's closing
    ("2026-11-30 10:00", 0, [], "2026-11-30"),
    # suspended across Tuesday's closing: Tuesday does not count
    ("2026-11-30 10:00", 2, [("2026-12-01 16:00", "2026-12-02 09:30")], "2026-12-03"),
    # suspended and resumed before closing the same day: nothing changes
    ("2026-11-30 10:00", 2, [("2026-12-01 10:00", "2026-12-01 15:00")], "2026-12-02"),
    # resumed exactly at closing time: not suspended at closing, the day counts
    ("2026-11-30 10:00", 2, [("2026-12-01 10:00", "2026-12-01 17:00")], "2026-12-02"),
    # suspended exactly at closing time: suspended at closing, the day does not count
    ("2026-11-30 10:00", 2, [("2026-12-01 17:00", "2026-12-02 09:00")], "2026-12-03"),
    # suspended over a weekend only: no working day's closing is held
    ("2026-11-30 10:00", 5, [("2026-12-04 17:30", "2026-12-07 08:00")], "2026-12-07"),
    # suspended over two working closings and a holiday: Oct 10, Saturday Oct 11 and Monday Oct 13 count
    ("2025-09-29 10:00", 3, [("2025-09-29 11:00", "2025-10-10 10:00")], "2025-10-13"),
    # suspended the acceptance day itself, resumed the next morning: no working day lost
    ("2026-11-30 10:00", 1, [("2026-11-30 11:00", "2026-12-01 09:00")], "2026-12-01"),
    # two suspensions: Tuesday, Wednesday and Thursday held; Friday, Monday, Tuesday count
    ("2026-11-30 10:00", 3, [("2026-12-01 16:00", "2026-12-02 09:00"), ("2026-12-02 16:30", "2026-12-04 09:00")],
     "2026-12-08"),
    # a suspension that begins after the count was reached does not move the deadline back
    ("2026-11-30 10:00", 1, [("2026-12-02 10:00", "2026-12-03 10:00")], "2026-12-01"),
])
def test_deadline(accepted, days, suspensions, deadline):
    spans = [(at(s), at(e)) for s, e in suspensions]
    assert deadline_of(CLOCK, at(accepted), days, spans) == date.fromisoformat(deadline)


def test_an_open_suspension_leaves_no_deadline_unless_the_count_was_reached_before_it():
    assert deadline_of(CLOCK, at("2026-11-30 10:00"), 3, [(at("2026-12-01 16:00"), None)]) is None
    assert deadline_of(CLOCK, at("2026-11-30 10:00"), 1, [(at("2026-12-02 16:00"), None)]) == date(2026, 12, 1)


def test_past_the_library_years_the_config_holidays_and_workdays_count():
    # 2027 is beyond the statutory calendar: Monday to Friday, with the config's extra days
    plain = clock()
    assert deadline_of(plain, at("2026-12-31 10:00"), 1, []) == date(2027, 1, 1)
    configured = clock(extra_holidays=[date(2027, 1, 1)], extra_workdays=[date(2027, 1, 2)])
    assert deadline_of(configured, at("2026-12-31 10:00"), 1, []) == date(2027, 1, 2)
    assert deadline_of(configured, at("2026-12-31 10:00"), 2, []) == date(2027, 1, 4)


def test_the_closing_time_is_the_halls():
    early = Clock(CLOCK.workdays, time(11, 40), TZ)
    # suspended at 12:00 Tuesday: held at a 11:40 closing only the next day
    spans = [(at("2026-12-01 12:00"), at("2026-12-02 12:00"))]
    assert deadline_of(early, at("2026-11-30 10:00"), 2, spans) == date(2026, 12, 3)
    assert deadline_of(CLOCK, at("2026-11-30 10:00"), 2, spans) == date(2026, 12, 3)
    spans = [(at("2026-12-01 12:00"), at("2026-12-01 16:00"))]
    assert deadline_of(early, at("2026-11-30 10:00"), 2, spans) == date(2026, 12, 2)
    assert deadline_of(CLOCK, at("2026-11-30 10:00"), 2, spans) == date(2026, 12, 2)


@pytest.mark.parametrize(("now", "card"), [
    ("2026-12-03 10:00", r.GREEN),
    ("2026-12-04 09:00", r.YELLOW),   # the deadline is the next working day (Monday)
    ("2026-12-05 12:00", r.YELLOW),   # a Saturday: Monday is still the next working day
    ("2026-12-07 16:59", r.YELLOW),
    ("2026-12-07 17:00", r.YELLOW),   # at closing time it has not passed yet
    ("2026-12-07 17:00:01", r.RED),
    ("2026-12-20 10:00", r.RED),
])
def test_cards(now, card):
    book = CaseBook(CLOCK)
    case = book.accept(at("2026-11-30 10:00"), days=5).case
    assert book.card(case, at(now)) == card
    assert book.cards(at(now)) == {case.number: card}


def test_cards_before_a_holiday_look_across_it():
    book = CaseBook(CLOCK)
    case = book.accept(at("2025-09-29 10:00"), days=2).case  # Sep 30, then Oct 9 after National Day
    assert book.deadline(case) == date(2025, 10, 9)
    assert book.card(case, at("2025-09-29 12:00")) == r.GREEN  # the next working day is the 30th
    assert book.card(case, at("2025-09-30 10:00")) == r.YELLOW  # the next working day is Oct 9
    assert book.card(case, at("2025-10-03 10:00")) == r.YELLOW
    sunday = book.accept(at("2025-09-26 10:00"), days=3).case  # Sep 28 (Sunday, worked), 29, 30
    assert book.deadline(sunday) == date(2025, 9, 30)
    assert book.card(sunday, at("2025-09-27 10:00")) == r.GREEN  # the next working day is Sunday the 28th
    assert book.card(sunday, at("2025-09-28 10:00")) == r.GREEN
    assert book.card(sunday, at("2025-09-29 10:00")) == r.YELLOW


def test_no_card_while_suspended_finished_or_withdrawn():
    book = CaseBook(CLOCK)
    a = book.accept(at("2026-11-30 10:00"), days=1).case
    book.suspend(a.number, at("2026-11-30 11:00"), "缺身份证复印件")
    assert book.card(a, at("2026-12-10 10:00")) is None
    assert book.shown_deadline(a) is None
    book.resume(a.number, at("2026-12-03 10:00"))
    assert a.status == r.ACCEPTED
    assert book.shown_deadline(a) == date(2026, 12, 3)
    assert book.card(a, at("2026-12-03 18:00")) == r.RED
    book.finish(a.number, at("2026-12-04 09:00"))
    assert book.card(a, at("2026-12-10 10:00")) is None
    assert book.on_time(a) is False
    b = book.accept(at("2026-11-30 10:00"), days=1).case
    book.withdraw(b.number, at("2026-11-30 11:00"), "申请人撤回")
    assert book.card(b, at("2026-12-10 10:00")) is None and book.on_time(b) is None


@pytest.mark.parametrize(("finished", "on_time"), [
    ("2026-12-07 17:00", True), ("2026-12-07 17:00:01", False), ("2026-12-01 09:00", True)])
def test_on_time_is_at_or_before_the_deadline(finished, on_time):
    book = CaseBook(CLOCK)
    case = book.accept(at("2026-11-30 10:00"), days=5).case
    assert book.finish(case.number, at(finished), r.REFUSED).ok
    assert book.on_time(case) is on_time and case.result == r.REFUSED


def test_the_life_of_a_case_and_its_refusals():
    book = CaseBook(CLOCK)
    case = book.accept(at("2026-11-30 10:00"), days=5).case
    assert case.number == "202611300001"
    assert book.accept(at("2026-11-30 10:05"), days=5).case.number == "202611300002"
    assert book.accept(at("2026-12-01 10:05"), days=5).case.number == "202612010001"
    n = case.number
    assert book.resume(n, at("2026-11-30 11:00")).code == r.NOT_SUSPENDED
    assert book.start(n, at("2026-11-30 11:00")).ok and case.status == r.IN_PROGRESS
    assert book.start(n, at("2026-11-30 11:00")).code == r.NOT_ACCEPTED
    assert book.suspend(n, at("2026-11-30 12:00")).ok and case.status == r.SUSPENDED
    assert book.suspend(n, at("2026-11-30 12:00")).code == r.IS_SUSPENDED
    assert book.finish(n, at("2026-11-30 12:00")).code == r.IS_SUSPENDED
    assert book.start(n, at("2026-11-30 12:00")).code == r.IS_SUSPENDED
    assert book.resume(n, at("2026-11-30 13:00")).ok and case.status == r.IN_PROGRESS  # back where it was
    assert book.withdraw(n, at("2026-11-30 14:00")).ok and case.status == r.WITHDRAWN
    refused = book.finish(n, at("2026-11-30 15:00"))
    assert refused.code == r.CASE_CLOSED and "退件" in refused.error and "withdrawn" in refused.error
    assert book.suspend(n, at("2026-11-30 15:00")).code == r.CASE_CLOSED
    assert book.finish("nope", at("2026-11-30 15:00")).code == r.UNKNOWN_CASE
    assert book.accept(at("2026-11-30 16:00"), days=1, number=n).code == r.CASE_EXISTS


def test_a_withdrawal_ends_the_suspension():
    book = CaseBook(CLOCK)
    case = book.accept(at("2026-11-30 10:00"), days=5).case
    book.suspend(case.number, at("2026-12-01 10:00"))
    book.withdraw(case.number, at("2026-12-03 10:00"))
    assert case.suspensions == [(at("2026-12-01 10:00"), at("2026-12-03 10:00"))]


def test_the_limit_comes_from_the_item_and_changes_only_with_a_reason():
    book = CaseBook(CLOCK, {"s1": ServiceSpec("s1", "scjg", promised_days=5, legal_days=20),
                            "s2": ServiceSpec("s2", "gaj", promised_days=None, legal_days=None),
                            "s3": ServiceSpec("s3", "gaj", promised_days=None, legal_days=15)})
    case = book.accept(at("2026-11-30 10:00"), service="s1").case
    assert (case.days, case.legal_days, case.department, case.days_reason) == (5, 20, "scjg", None)
    assert book.accept(at("2026-11-30 10:00"), service="s1", days=8).code == r.REASON_REQUIRED
    assert book.accept(at("2026-11-30 10:00"), service="s1", days=8, reason="  ").code == r.REASON_REQUIRED
    longer = book.accept(at("2026-11-30 10:00"), service="s1", days=8, reason="需现场核查 site inspection").case
    assert (longer.days, longer.days_reason) == (8, "需现场核查 site inspection")
    assert book.accept(at("2026-11-30 10:00"), service="s1", days=21, reason="x").code == r.BEYOND_LEGAL
    assert book.accept(at("2026-11-30 10:00"), service="s2").code == r.NO_LIMIT
    assert book.accept(at("2026-11-30 10:00"), service="s3").case.days == 15  # no promise: the legal limit
    assert book.accept(at("2026-11-30 10:00"), service="nope").code == r.UNKNOWN_SERVICE
    # a replay takes the limit taken back then, even if the catalogue changed since
    again = book.accept(at("2026-11-30 10:00"), service="s1", days=9, enforce=False)
    assert again.ok and again.case.days == 9


def test_id_numbers_by_their_check_digit_kept_as_a_keyed_hash():
    assert r.id_number_valid("11010519491231002X")
    assert r.id_number_valid("11010519491231002x ")
    assert not r.id_number_valid("110105194912310021")
    assert not r.id_number_valid("1101051949123100")
    assert not r.id_number_valid("A1010519491231002X")
    h = r.id_number_hash("11010519491231002x", b"k1")
    assert h == r.id_number_hash("11010519491231002X", b"k1") != r.id_number_hash("11010519491231002X", b"k2")
    assert "1949" not in h and r.id_last4("11010519491231002x") == "002X"
    assert (r.masked_name("张三"), r.masked_name("李小明"), r.masked_name("欧阳娜娜")) == ("张*", "李*明", "欧**娜")


def test_lookup_needs_the_number_and_the_last_four():
    book = CaseBook(CLOCK)
    case = book.accept(at("2026-11-30 10:00"), days=5, id_last4="002X").case
    assert book.lookup(case.number, "002x").case is case
    wrong, unknown = book.lookup(case.number, "1234"), book.lookup("202611309999", "002X")
    assert wrong.code == unknown.code == r.NOT_FOUND and wrong.error == unknown.error


def test_days_used():
    spans = [(at("2026-12-01 16:00"), at("2026-12-02 09:30"))]
    assert days_used(CLOCK, at("2026-11-30 10:00"), at("2026-11-30 16:00"), []) == 0
    assert days_used(CLOCK, at("2026-11-30 10:00"), at("2026-12-07 10:00"), []) == 5
    assert days_used(CLOCK, at("2026-11-30 10:00"), at("2026-12-03 10:00"), spans) == 2
    assert days_used(CLOCK, at("2025-09-30 10:00"), at("2025-10-09 10:00"), []) == 1


def test_followups_are_due_the_next_working_day():
    book = CaseBook(CLOCK)
    f = book.open_followup(r.RATING, at("2026-12-04 15:00"), department="scjg", window="1", score=1, rating=7).followup
    assert f.id == "Z20261204001"
    assert book.open_followup(r.RATING, at("2026-12-04 15:01"), rating=7).followup is None  # once per rating
    assert book.followup_deadline(f) == date(2026, 12, 7)
    assert book.followup_card(f, at("2026-12-04 16:00")) == r.YELLOW
    assert book.followup_card(f, at("2026-12-07 17:00:01")) == r.RED
    done = book.answer_followup(f.id, at("2026-12-07 16:00"), by="dept", contact="已电话联系", cause="等候过久",
                                correction="增开窗口")
    assert done.ok and book.followup_on_time(f) is True and book.followup_card(f, at("2026-12-09 10:00")) is None
    assert book.answer_followup(f.id, at("2026-12-07 16:30"), by="x", contact="", cause="", correction="").code == \
        r.ALREADY_ANSWERED
    complaint = book.open_followup(r.COMPLAINT, at("2026-12-04 15:00"), department="gaj", detail="态度差", by="sup")
    assert complaint.followup.id == "T20261204001"


def test_every_refusal_has_a_bilingual_message():
    for code, message in r.MESSAGES.items():
        zh, en = message.split(" · ")
        assert any("\u4e00" <= c <= "\u9fff" for c in zh) and en.isascii(), code


def test_a_calendar_asked_late_first_answers_earlier_days_alike():
    """The working days are indexed from the first day asked: a report judged on 31 December asks about that day
    first, then about cases accepted months before; their deadlines are those of a calendar asked in order."""
    for first_asked in (date(2026, 12, 31), date(2026, 10, 20), date(2026, 9, 1)):
        late_first = clock()
        late_first.workdays.next_after(first_asked)
        for accepted in ("2026-09-15 10:00", "2026-09-30 10:00", "2026-10-10 10:00", "2026-11-30 10:00"):
            assert deadline_of(late_first, at(accepted), 5, []) == deadline_of(clock(), at(accepted), 5, [])
            assert days_used(late_first, at(accepted), at("2026-12-20 10:00"), []) == \
                days_used(clock(), at(accepted), at("2026-12-20 10:00"), [])
