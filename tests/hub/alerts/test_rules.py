"""The alert rules and an alert's life, as plain data: facts in, changes out, no broker and no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hall.settings import ALERT_RULES, load_hall
from hub.alerts.rules import (
    ACKNOWLEDGED,
    ALREADY_ACKNOWLEDGED,
    RULES,
    UNKNOWN_ALERT,
    AlertBook,
    DeviceFact,
    Facts,
    Limits,
    QueueFact,
    RatingFact,
    TerminalFact,
    WindowFact,
    limits_from_hall,
)

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 30)


def at(clock: str, day: date = DAY) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=TZ)


def queue(waiting: int = 1, since: str | None = "09:00", qid: str = "A") -> QueueFact:
    return QueueFact(qid, waiting, at(since) if since else None, "scjg", "市场准入", "Business Registration")


def window(status: str, since: str, wid: str = "1", queues=("A",)) -> WindowFact:
    return WindowFact(wid, status, at(since), tuple(queues), "scjg", f"{wid}号窗口", f"window {wid}")


def changes(book: AlertBook, clock: str, **facts) -> list[tuple[str, str]]:
    return [(c.change, c.alert.rule) for c in book.evaluate(Facts(now=at(clock), **facts))]


def test_every_rule_in_the_config_has_a_rule_here_and_the_shipped_limits_are_the_halls():
    assert set(RULES) == set(ALERT_RULES)
    limits = limits_from_hall(load_hall())
    assert (limits.queue_wait, limits.queue_length, limits.window_paused, limits.window_closed) == (
        timedelta(minutes=30), 30, timedelta(minutes=15), timedelta(minutes=5))
    assert (limits.poor_rating_max, limits.device_offline, limits.device_backlog) == (2, timedelta(minutes=2), 200)
    assert limits.open == ((time(9, 0), time(11, 40)), (time(13, 0), time(17, 0)))


def test_open_time_counts_only_opening_hours():
    limits = Limits()
    assert limits.open_time(at("11:30"), at("13:05")) == timedelta(minutes=15)
    assert limits.open_time(at("08:30"), at("09:10")) == timedelta(minutes=10)
    assert limits.open_time(at("16:50"), at("09:05", DAY + timedelta(days=1))) == timedelta(minutes=15)
    assert limits.open_time(at("10:00"), at("09:00")) == timedelta(0)


# ---------------------------------------------------------------- each rule raises and clears

def test_queue_wait_raises_at_the_limit_and_clears_once_the_wait_is_over():
    book = AlertBook(Limits())
    assert changes(book, "09:29:59", queues=(queue(),)) == []
    assert changes(book, "09:30", queues=(queue(),)) == [("raised", "queue_wait")]
    [alert] = book.alerts()
    assert alert.id == "queue_wait:A:20261130T093000"
    assert (alert.subject, alert.department, alert.state) == ("A", "scjg", "firing")
    assert "市场准入" in alert.title and "Business Registration" in alert.title_en
    assert changes(book, "09:40", queues=(queue(),)) == []          # still holds: no second alert
    assert changes(book, "09:40:59", queues=()) == []               # ended, but not for clear_after yet
    assert changes(book, "09:41", queues=()) == [("cleared", "queue_wait")]
    assert book.alerts() == []


def test_queue_wait_counts_opening_hours_and_says_nothing_outside_them():
    book = AlertBook(Limits())
    lunch = (queue(since="11:30"),)
    assert changes(book, "11:39", queues=lunch) == []
    assert changes(book, "12:30", queues=lunch) == []               # the hall is closed: nobody to act
    assert changes(book, "13:19", queues=lunch) == []               # 10 + 19 minutes of opening hours
    assert changes(book, "13:20", queues=lunch) == [("raised", "queue_wait")]
    assert changes(book, "16:59:59", queues=lunch) == []
    assert changes(book, "17:00", queues=lunch) == []
    assert changes(book, "17:01", queues=lunch) == [("cleared", "queue_wait")]  # closed for the day


def test_queue_length_raises_at_the_limit():
    book = AlertBook(Limits(queue_length=30))
    assert changes(book, "10:00", queues=(queue(29, since="09:59"),)) == []
    assert changes(book, "10:01", queues=(queue(30, since="09:59"),)) == [("raised", "queue_length")]
    assert changes(book, "10:03", queues=(queue(12, since="09:59"),)) == [("cleared", "queue_length")]


def test_a_condition_hovering_at_its_limit_stays_one_alert():
    book = AlertBook(Limits(queue_length=30, off=frozenset({"queue_wait"})))
    assert changes(book, "10:00", queues=(queue(30),)) == [("raised", "queue_length")]
    first = book.alerts()[0].id
    assert changes(book, "10:00:30", queues=(queue(29),)) == []
    assert changes(book, "10:00:50", queues=(queue(30),)) == []
    assert changes(book, "10:01:40", queues=(queue(29),)) == []
    assert [a.id for a in book.alerts()] == [first]
    assert changes(book, "10:01:51", queues=(queue(29),)) == [("cleared", "queue_length")]
    assert changes(book, "10:05", queues=(queue(31),)) == [("raised", "queue_length")]
    assert book.alerts()[0].id != first                             # a new occurrence of the condition


def test_window_paused_past_the_limit_in_opening_hours():
    book = AlertBook(Limits())
    assert changes(book, "10:14", windows=(window("paused", "10:00"),)) == []
    assert changes(book, "10:15", windows=(window("paused", "10:00"),)) == [("raised", "window_paused")]
    assert book.alerts()[0].department == "scjg"
    assert changes(book, "10:20", windows=(window("idle", "10:19"),)) == [("cleared", "window_paused")]
    # paused at 11:30: ten minutes before lunch, five after
    assert changes(book, "13:04", windows=(window("paused", "11:30"),)) == []
    assert changes(book, "13:05", windows=(window("paused", "11:30"),)) == [("raised", "window_paused")]


def test_window_closed_while_its_queue_waits():
    book = AlertBook(Limits())
    closed = (window("closed", "09:00"),)
    assert changes(book, "10:00", windows=closed, queues=()) == []             # nobody waits: nothing to say
    assert changes(book, "10:04", windows=closed, queues=(queue(since="10:00"),)) == []
    assert changes(book, "10:05", windows=closed, queues=(queue(since="10:00"),)) == [("raised", "window_closed")]
    assert book.alerts()[0].severity == "critical"
    # another window's queue waiting says nothing of this one
    other = AlertBook(Limits(off=frozenset({"queue_wait"})))
    assert changes(other, "10:30", windows=closed, queues=(queue(qid="B", since="10:00"),)) == []
    # someone logs in: it clears
    assert changes(book, "10:05:30", windows=(window("idle", "10:05:30"),), queues=(queue(since="10:00"),)) == []
    assert changes(book, "10:06", windows=(window("idle", "10:05:30"),), queues=(queue(since="10:00"),)) == [
        ("cleared", "window_closed")]


def test_a_poor_rating_is_an_occurrence_raised_once_and_cleared_by_acknowledging():
    book = AlertBook(Limits())
    ratings = (RatingFact(7, "1", 2, at("10:00"), "A012", "s001", "scjg", "1号窗口"),
               RatingFact(8, "1", 3, at("10:01"), "A013", "s001", "scjg", "1号窗口"))
    assert changes(book, "10:01:30", ratings=ratings) == [("raised", "poor_rating")]
    [alert] = book.alerts()
    assert (alert.id, alert.subject, alert.department) == ("poor_rating:A012:r7", "A012", "scjg")
    assert "s001" in alert.detail and "2" in alert.title
    assert changes(book, "10:02", ratings=ratings) == []            # seen again: not raised twice
    assert changes(book, "11:00", ratings=()) == []                 # nothing ends an occurrence but a person
    out = book.acknowledge(alert.id, "zhang", "已回访群众 called the citizen back", at("11:05"))
    assert out.ok and [c.change for c in out.changes] == ["acknowledged", "cleared"]
    assert out.alert.state == ACKNOWLEDGED and out.alert.note == "已回访群众 called the citizen back"
    assert book.alerts() == []
    assert changes(book, "11:06", ratings=ratings) == []            # never raised again
    strict = AlertBook(Limits(poor_rating_max=3))
    assert changes(strict, "10:02", ratings=ratings) == [("raised", "poor_rating"), ("raised", "poor_rating")]


def test_device_offline_past_the_limit_then_back():
    book = AlertBook(Limits())
    gone = (DeviceFact("kiosk-01", "kiosk", "offline", at("10:00"), name="一楼大厅自助机 1"),)
    assert changes(book, "10:01:59", devices=gone) == []
    assert changes(book, "10:02", devices=gone) == [("raised", "device_offline")]
    assert book.alerts()[0].department is None
    back = (replace(gone[0], status="online", last_seen=at("10:02:30")),)
    assert changes(book, "10:02:30", devices=back) == []
    assert changes(book, "10:03", devices=back) == [("cleared", "device_offline")]
    # at night too: devices are watched whatever the hours
    assert changes(book, "22:00", devices=(replace(gone[0], last_seen=at("21:00")),)) == [
        ("raised", "device_offline")]


@pytest.mark.parametrize("rule, bad, good", [
    ("clock_skew", DeviceFact("fp-01", skew_flagged=True, clock_skew_s=42.0), DeviceFact("fp-01")),
    ("device_backlog", DeviceFact("fp-01", backlog=200), DeviceFact("fp-01", backlog=199)),
    ("paper_out", DeviceFact("kiosk-01", printer="paper_out"), DeviceFact("kiosk-01", printer="paper_low")),
])
def test_device_rules_raise_and_clear(rule, bad, good):
    book = AlertBook(Limits())
    assert changes(book, "03:00", devices=(bad,)) == [("raised", rule)]
    assert book.alerts()[0].subject == bad.device
    assert changes(book, "03:00:30", devices=(good,)) == []
    assert changes(book, "03:01", devices=(good,)) == [("cleared", rule)]


def test_a_terminal_that_missed_the_punch_window():
    book = AlertBook(Limits())
    waiting = (TerminalFact("fp-02", DAY, "二楼指纹考勤机"),)
    assert changes(book, "02:00", terminals=waiting) == [("raised", "punch_missed")]
    assert "2026-11-30" in book.alerts()[0].title
    assert changes(book, "02:10", terminals=()) == [("cleared", "punch_missed")]


def test_a_rule_switched_off_raises_nothing_and_clears_what_it_raised():
    facts = {"queues": (queue(40),)}
    book = AlertBook(Limits())
    assert sorted(changes(book, "10:00", **facts)) == [("raised", "queue_length"), ("raised", "queue_wait")]
    book.limits = Limits(off=frozenset({"queue_length"}))
    assert changes(book, "10:01", **facts) == [("cleared", "queue_length")]
    assert changes(book, "10:30", **facts) == []


# ---------------------------------------------------------------- acknowledging

def test_acknowledged_stays_while_the_condition_holds_then_clears():
    book = AlertBook(Limits())
    changes(book, "09:30", queues=(queue(),))
    [alert] = book.alerts()
    out = book.acknowledge(alert.id, "zhang", "加开 3 号窗口 opening window 3", at("09:31"))
    assert out.ok and [c.change for c in out.changes] == ["acknowledged"]
    wire = out.alert.wire()
    assert (wire["state"], wire["acknowledged_by"], wire["note"]) == ("acknowledged", "zhang", "加开 3 号窗口 opening window 3")
    assert wire["acknowledged_at"] == "2026-11-30T09:31:00.000+08:00"
    assert changes(book, "09:45", queues=(queue(),)) == []
    assert book.alerts()[0].state == "acknowledged"
    assert changes(book, "09:45:30", queues=()) == []
    assert changes(book, "09:46", queues=()) == [("cleared", "queue_wait")]


def test_acknowledging_refusals_are_codes_with_bilingual_messages():
    book = AlertBook(Limits())
    changes(book, "09:30", queues=(queue(),))
    [alert] = book.alerts()
    unknown = book.acknowledge("queue_wait:Z:20261130T093000", "zhang", "", at("09:31"))
    assert (unknown.ok, unknown.code) == (False, UNKNOWN_ALERT)
    assert "没有这个告警" in unknown.error and "no such alert" in unknown.error
    assert book.acknowledge(alert.id, "zhang", "", at("09:31")).ok
    again = book.acknowledge(alert.id, "li", "", at("09:32"))
    assert (again.ok, again.code) == (False, ALREADY_ACKNOWLEDGED)
    assert "已被确认" in again.error and "already acknowledged" in again.error and "zhang" in again.error
    assert again.changes == [] and book.alerts()[0].acknowledged_by == "zhang"
    changes(book, "09:40", queues=())
    assert book.acknowledge(alert.id, "li", "", at("09:41")).code == UNKNOWN_ALERT  # cleared: gone


# ---------------------------------------------------------------- replay

def test_the_journal_replayed_gives_the_same_alerts():
    book = AlertBook(Limits())
    journal = []
    journal += book.evaluate(Facts(now=at("09:30"), queues=(queue(),),
                                   ratings=(RatingFact(7, "1", 1, at("09:20"), "A001"),)))
    journal += book.acknowledge(book.alerts()[-1].id, "zhang", "seen", at("09:31")).changes
    journal += book.evaluate(Facts(now=at("09:40"), devices=(DeviceFact("kiosk-01", printer="paper_out"),)))
    again = AlertBook(Limits())
    for c in journal:
        again.replay(c.change, c.alert.key, c.alert.wire(), c.at)
    assert [a.wire() for a in again.alerts()] == [a.wire() for a in book.alerts()]
    assert again.raised_occurrences == book.raised_occurrences
    assert again.evaluate(Facts(now=at("09:40:01"), ratings=(RatingFact(7, "1", 1, at("09:20"), "A001"),),
                                devices=(DeviceFact("kiosk-01", printer="paper_out"),))) == []
