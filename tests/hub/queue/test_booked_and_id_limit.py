"""The queue rules of appointments (预约) and the walk-in ID limit, one by one, through the scenario runner (pure: no
broker, no database)."""

from __future__ import annotations

from tests.helpers.queueing import Script

# ---------------------------------------------------------------- booked tickets in the line


def test_a_booked_ticket_is_called_ahead_of_walk_ins_that_came_before_it():
    s = Script().issue("A").issue("A").issue("A", booked="09:00").call().call().call()
    assert s.tickets() == ["A003", "A001", "A002"]


def test_a_booked_ticket_is_called_behind_priority_tickets():
    s = (Script().issue("A", priority=True).issue("A", booked="09:00").issue("A", priority=True)
         .call().call().call())
    assert s.tickets() == ["A001", "A003", "A002"]


def test_booked_tickets_go_by_their_slot_then_by_check_in():
    # the 10:00 booking checks in first (early), the two 09:30 bookings after it: their slot comes first
    s = (Script().issue("A").issue("A", booked="10:00").issue("A", booked="09:30").issue("A", booked="09:30")
         .call().call().call().call())
    assert s.tickets() == ["A003", "A004", "A002", "A001"]


def test_people_ahead_of_a_booked_ticket_counts_priority_and_booked_before_it_only():
    out = (Script().issue("A").issue("A").issue("A", priority=True).issue("A", booked="09:00")
           .issue("A", booked="09:30").run())
    assert [r["ahead"] for r in out] == [0, 1, 0, 1, 2]


def test_a_walk_in_issued_after_a_booked_ticket_waits_behind_it():
    s = Script().issue("A", booked="09:00").issue("A").call().call()
    assert s.tickets() == ["A001", "A002"]


def test_a_ticket_transferred_in_goes_ahead_of_booked_tickets():
    s = (Script().issue("B").issue("A", booked="09:00").call("2").transfer("A", window="2").call("1").call("1"))
    assert s.tickets() == ["B001", "B001", "A001"]


def test_a_booked_ticket_is_issued_outside_issuing_hours_and_past_the_cap():
    hall = {"queues": [{"id": "A", "prefix": "A", "cap": 1}], "windows": [{"id": "1", "queues": ["A"]}],
            "issuing": [["08:30", "11:30"]]}
    out = (Script(hall, start="09:00:00").issue("A").issue("A").issue("A", booked="09:00")
           .issue("A", at="11:45:00").issue("A", booked="11:00", at="11:45:01").run())
    assert [r.get("code") or r["ticket"] for r in out] == ["A001", "cap_reached", "A002", "closed", "A003"]


def test_a_requeued_no_show_never_goes_ahead_of_a_booked_ticket():
    s = (Script().issue("A").issue("A", booked="09:00").issue("A").call().skip()  # A002 called, skipped
         .issue("A", booked="09:00").requeue("A002").call().call().call())
    # A004 (booked) first; the requeued booked no-show waits as an ordinary ticket would, after the next 3
    assert s.tickets() == ["A002", "A004", "A001", "A003"]


# ---------------------------------------------------------------- the walk-in limit


def test_one_ticket_per_person_per_queue_per_day():
    out = (Script().issue("A", person="p1").issue("A", person="p1").issue("B", person="p1")
           .issue("A", person="p2").issue("A").issue("A").run())
    assert [r.get("code") or r["ticket"] for r in out] == ["A001", "id_limit", "B001", "A002", "A003", "A004"]


def test_a_booked_ticket_counts_for_the_limit():
    out = Script().issue("A", booked="09:00", person="p1").issue("A", person="p1").run()
    assert [r.get("code") or r["ticket"] for r in out] == ["A001", "id_limit"]


def test_a_queue_that_requires_an_id_refuses_a_walk_in_without_one():
    hall = {"queues": [{"id": "H", "prefix": "H", "id_required": True}, {"id": "A", "prefix": "A"}],
            "windows": [{"id": "1", "queues": ["H", "A"]}]}
    out = Script(hall).issue("H").issue("H", person="p1").issue("A").issue("H", booked="09:00").run()
    assert [r.get("code") or r["ticket"] for r in out] == ["id_required", "H001", "A001", "H002"]


def test_the_limit_is_per_day(tmp_path):
    from datetime import date, datetime, time
    from zoneinfo import ZoneInfo

    from hub.queue.engine import Layout, QueueEngine, QueueSpec, Rules, WindowSpec

    tz = ZoneInfo("Asia/Shanghai")
    engine = QueueEngine(Layout({"A": QueueSpec("A", "A")}, {"1": WindowSpec("1", ("A",))}), Rules(),
                         date(2026, 11, 30))
    monday = datetime.combine(date(2026, 11, 30), time(9), tzinfo=tz)
    assert engine.issue_ticket("A", monday, person="p1").ok
    assert engine.issue_ticket("A", monday, person="p1").code == "id_limit"
    tuesday = engine.next_day(date(2026, 12, 1))
    assert tuesday.issue_ticket("A", monday.replace(day=1, month=12), person="p1").ok
