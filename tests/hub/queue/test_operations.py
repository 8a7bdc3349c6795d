"""The table of queue operations: one entry per event the queue takes, and a journal of every operation replays
exactly, an unknown one skipped."""

from __future__ import annotations

import logging

from tests.helpers.queueing import DomainDriver


def test_every_event_the_queue_takes_asks_for_one_operation():
    from hub.queue.domain import QueueDomain
    from hub.queue.operations import ASKED_BY, OPERATIONS

    assert QueueDomain.types == frozenset(ASKED_BY)
    assert len(ASKED_BY) == len(OPERATIONS)
    assert all(name == op.name for name, op in OPERATIONS.items())


def _booking(d: DomainDriver, code: str, slot: str) -> None:
    """A booking made on the citizens' site (the appointments domain's row), to check in at the kiosk."""
    from hub.appointments import store as bookings

    with d.db.atomic():
        bookings.create_tables(d.db)
        bookings.insert(d.db, bookings.Booking(
            code=code, queue="A", date="2026-11-30", time=slot, end="10:00", name="张*", id_hash="0" * 64,
            id_last4="002X", phone=None, status="booked", booked_at="2026-11-27T10:00:00.000+08:00", changed_at=None,
            cancelled_at=None, checked_in_at=None, ticket=None, on_time=None, device=None, event=None))


def _every_operation(d: DomainDriver) -> None:
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:01")
    d.send("win-01", "login", {"window": "1", "staff": "s001"}, "09:00:30")
    d.send("win-01", "call_next", {"window": "1"}, "09:01:00")
    d.send("win-01", "recall", {"window": "1"}, "09:01:30")
    d.send("win-01", "skip", {"window": "1"}, "09:02:00")
    d.send("win-01", "call_next", {"window": "1"}, "09:02:10")
    d.send("win-01", "transfer", {"window": "1", "queue": "B"}, "09:03:00")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:03:30")
    d.send("kiosk-01", "requeue", {"ticket": "A001"}, "09:04:00")
    _booking(d, "12345678", "09:00")
    d.send("kiosk-01", "checkin", {"code": "12345678"}, "09:04:10")
    d.send("win-01", "call_ticket", {"window": "1", "ticket": "A001"}, "09:04:30")
    d.send("win-01", "call_next", {"window": "1"}, "09:05:00")
    d.send("win-01", "complete", {"window": "1"}, "09:08:00")
    d.send("caller-01", "rating", {"window": "1", "score": 4}, "09:08:30")
    d.send("win-01", "pause", {"window": "1", "reason": "会议"}, "09:10:00")
    d.send("win-01", "resume", {"window": "1"}, "09:11:00")
    d.send("win-01", "logout", {"window": "1", "staff": "s001"}, "09:12:00")


def test_a_day_of_every_operation_replays_as_it_was_answered(tmp_path, caplog):
    from hub.queue.operations import OPERATIONS

    d = DomainDriver(tmp_path / "hub.db")
    _every_operation(d)
    ops = {r[0] for r in d.db.execute("SELECT op FROM queue_journal WHERE op != 'open_day'")}
    assert ops == set(OPERATIONS)
    with caplog.at_level(logging.INFO, logger="hub.queue"):
        again = DomainDriver(tmp_path / "hub.db")
    assert again.domain.snapshot() == d.domain.snapshot()
    assert "(0 differ)" in caplog.text and "replays as" not in caplog.text
    answers = [r[0] for r in d.db.execute("SELECT result FROM queue_journal WHERE op IN ('call_ticket', 'pause')")]
    assert '"no":"A001"' in answers[0] and '"reason":"会议"' in answers[1]


def test_a_call_journaled_before_logins_were_required_replays(tmp_path, caplog):
    """A journal of a day when windows called with nobody logged in comes back as it was: decisions are
    replayed, not made again."""
    d = DomainDriver(tmp_path / "hub.db")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    assert d.send("win-01", "call_next", {"window": "1"}, "09:01:00")["code"] == "not_logged_in"
    assert d.send("win-01", "recall", {"window": "1"}, "09:01:01")["code"] == "not_serving"
    # what an older hub journaled: the call made with nobody at the desk, then recalled
    d.db.execute("INSERT INTO queue_journal(event, day, at, op, args, result) VALUES (NULL, '2026-11-30', "
                 "'2026-11-30T09:02:00.000+08:00', 'call_next', '{\"window\": \"1\"}', "
                 "'{\"ok\": true, \"ticket\": {\"no\": \"A001\", \"queue\": \"A\"}}')")
    d.db.execute("INSERT INTO queue_journal(event, day, at, op, args, result) VALUES (NULL, '2026-11-30', "
                 "'2026-11-30T09:02:30.000+08:00', 'recall', '{\"window\": \"1\"}', '{\"ok\": true}')")
    with caplog.at_level(logging.INFO, logger="hub.queue"):
        again = DomainDriver(tmp_path / "hub.db")
    window = again.domain.snapshot()["windows"]["1"]
    assert (window["status"], window["ticket"], window["staff"], window["recalls"]) == ("serving", "A001", None, 1)
    assert "could not be replayed" not in caplog.text


def test_a_journal_row_of_an_unknown_operation_is_skipped_and_the_rest_replayed(tmp_path, caplog):
    d = DomainDriver(tmp_path / "hub.db")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    d.db.execute("INSERT INTO queue_journal(event, day, at, op, args, result) "
                 "VALUES (NULL, '2026-11-30', '2026-11-30T09:00:30.000+08:00', 'teleport', '{}', '{\"ok\": true}')")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:01:00")
    with caplog.at_level(logging.INFO, logger="hub.queue"):
        again = DomainDriver(tmp_path / "hub.db")
    assert "unknown queue operation 'teleport'" in caplog.text
    assert again.domain.snapshot() == d.domain.snapshot()
    assert again.domain.snapshot()["lines"]["A"] == ["A001", "A002"]
