"""The ticket page's rules as plain data: people ahead in the queue's order, the wait, the near-turn notice, masks."""

from __future__ import annotations

from datetime import datetime

from hall.settings import load_hall
from public.follow import (
    TicketRow,
    estimate_wait_s,
    mask_name,
    mask_phone,
    needs_notice,
    people_ahead,
    requeue_until,
    ticket_view,
)
from tests.helpers.queueing import TZ


def row(no: str, at: str, **kw) -> TicketRow:
    base = dict(day="2026-11-30", no=no, queue="A", service=None, priority=False,
                issued_at=f"2026-11-30T{at}.000+08:00", status="waiting", window=None, called_at=None, done_at=None,
                no_show_at=None, transfers=0, requeues=0, follow="t" * 22)
    return TicketRow(**{**base, **kw})


def test_people_ahead_follow_the_queues_order():
    a1, a2, a3 = row("A001", "09:00:00"), row("A002", "09:01:00"), row("A003", "09:02:00")
    green = row("A004", "09:03:00", priority=True)
    moved = row("A005", "09:04:00", transfers=1)
    booked = row("A006", "09:05:00", booked="09:30")
    line = [a1, a2, a3, green, moved, booked]
    assert people_ahead(a1, line) == 3  # behind the priority, the transferred and the booked ticket
    assert people_ahead(a3, line) == 5
    assert people_ahead(green, line) == 0
    assert people_ahead(moved, line) == 1
    assert people_ahead(booked, line) == 2


def test_the_wait_is_the_queues_shared_out_per_person_ahead():
    assert estimate_wait_s(2, 4, 960) == 480
    assert estimate_wait_s(0, 4, 960) == 0
    assert estimate_wait_s(3, 0, 0) == 0
    assert estimate_wait_s(3, None, None) is None


def test_a_notice_goes_once_only_where_a_phone_was_left():
    with_phone = row("A001", "09:00:00", phone="13812345678")
    assert needs_notice(with_phone, 3, 3, noticed=False)
    assert not needs_notice(with_phone, 4, 3, noticed=False)
    assert not needs_notice(with_phone, 2, 3, noticed=True)
    assert not needs_notice(row("A002", "09:00:00"), 0, 3, noticed=False)
    assert not needs_notice(row("A003", "09:00:00", phone="13812345678", status="called"), 0, 3, noticed=False)


def test_personal_data_is_masked():
    assert mask_phone("13812345678") == "****5678"
    assert mask_name("张三") == "张*" and mask_name("欧阳娜娜") == "欧***"
    assert mask_phone(None) is None and mask_name("") is None


def test_the_page_of_a_called_missed_and_done_ticket():
    hall = load_hall()
    now = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)
    called = ticket_view(hall, row("A001", "09:00:00", status="called", window="3"), ahead=None, queue_state=None,
                         rated=None, now=now)
    assert (called["status"], called["window"], called["ahead"], called["near"]) == ("called", "3", None, False)
    assert called["status_text"] == "请到窗口办理"
    missed = row("A002", "09:00:00", status="no_show", window="3", no_show_at="2026-11-30T09:40:00.000+08:00")
    assert requeue_until(missed, 30) == "2026-11-30T10:10:00+08:00"
    done = row("A003", "09:00:00", status="done", window="3", done_at="2026-11-30T09:50:00.000+08:00",
               phone="13812345678")
    page = ticket_view(hall, done, ahead=None, queue_state=None, rated=None, now=now)
    assert page["rating"] == {"open": True, "score": None} and page["phone"] == "****5678"
    assert "13812345678" not in str(page)
    late = ticket_view(hall, done, ahead=None, queue_state=None, rated=None,
                       now=datetime(2026, 11, 30, 11, 0, tzinfo=TZ))
    assert late["rating"]["open"] is False  # 30 minutes after the service: the hub would refuse it
    waiting = ticket_view(hall, row("A004", "09:00:00"), ahead=2, queue_state={"waiting": 4, "est_wait_s": 960},
                          rated=None, now=now)
    assert (waiting["ahead"], waiting["est_wait_s"], waiting["near"]) == (2, 480, True)
    assert [w["id"] for w in waiting["windows"]] == hall.catalogue.windows_serving("A")


def test_a_transferred_ticket_shows_the_windows_of_its_new_queue():
    hall = load_hall()
    item = next(s for s in hall.catalogue.services if s.queue == "A")
    moved = row("A001", "09:00:00", service=item.id, queue="B", transfers=1)
    page = ticket_view(hall, moved, ahead=0, queue_state=None, rated=None,
                       now=datetime(2026, 11, 30, 10, 0, tzinfo=TZ))
    assert [w["id"] for w in page["windows"]] == hall.catalogue.windows_serving("B")
    assert page["queue_name"] == hall.catalogue.queue("B").name
