"""The engine's views (people ahead, wait estimates, screens' state), the day boundary and its invariants."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.queue.engine import (
    PRIORITY_CLASS,
    WAITING,
    Layout,
    QueueEngine,
    QueueSpec,
    Rules,
    WindowSpec,
)
from tests.helpers.queueing import at


def small_hall(**rules) -> QueueEngine:
    layout = Layout(
        queues={"A": QueueSpec("A", "A", standard_minutes=10), "B": QueueSpec("B", "B", standard_minutes=4)},
        windows={"1": WindowSpec("1", ("A",), ("B",)), "2": WindowSpec("2", ("A",)), "3": WindowSpec("3", ("B",))},
    )
    return QueueEngine(layout, Rules(**rules), date(2026, 11, 30))


def test_wait_estimate_uses_the_standard_until_enough_are_done():
    e = small_hall(average_after=2)
    for _ in range(4):
        e.issue_ticket("A", at("09:00"))
    # nobody at a desk yet: the estimate assumes the windows the hall staffs for A (1 and 2)
    assert e.queue_state("A").model_dump() == {"queue": "A", "waiting": 4, "est_wait_s": 4 * 600 // 2, "last_called": None}
    e.call_next("1", at("09:01"))
    e.complete("1", at("09:03"))        # 2 minutes
    e.call_next("1", at("09:03"))
    e.complete("1", at("09:07"))        # 4 minutes: average 3 minutes from now on
    assert e.average_handling_s("A") == 180
    # only window 1 is open: 2 waiting × 180 s ÷ 1
    assert e.queue_state("A").est_wait_s == 360
    e.login("2", "s004", at("09:08"))
    assert e.queue_state("A").est_wait_s == 180
    e.pause("2", at("09:09"))
    assert e.queue_state("A").est_wait_s == 360


def test_issue_answers_people_ahead_and_their_wait():
    e = small_hall()
    e.issue_ticket("B", at("09:00"))
    out = e.issue_ticket("B", at("09:00:10"))
    assert (out.ahead, out.est_wait_s) == (1, 240)  # window 3 is the only own window of B
    assert e.ahead_of("B002") == 1


def test_no_show_and_transfer_do_not_count_as_handled():
    e = small_hall(average_after=1)
    e.issue_ticket("A", at("09:00"))
    e.issue_ticket("A", at("09:00"))
    e.call_next("1", at("09:01"))
    e.skip("1", at("09:02"))
    e.call_next("1", at("09:03"))
    e.transfer("1", "B", at("09:30"))
    assert e.queues["A"].done == 0
    assert e.average_handling_s("A") == 600


def test_window_state_follows_the_desk():
    e = small_hall()
    assert e.window_state("1").model_dump() == {"window": "1", "status": "closed", "ticket": None, "staff": None, "queues": ["A"]}
    e.login("1", "s001", at("08:55"))
    assert e.window_state("1").status == "idle"
    e.issue_ticket("A", at("09:00"))
    e.call_next("1", at("09:01"))
    assert e.window_state("1").model_dump() == {"window": "1", "status": "serving", "ticket": "A001", "staff": "s001",
                                   "queues": ["A"]}
    e.pause("1", at("09:02"))
    assert e.window_state("1").status == "paused"
    e.resume("1", at("09:03"))
    e.complete("1", at("09:04"))
    e.logout("1", "s999", at("09:05"))  # not who is at the desk: nothing changes
    assert e.window_state("1").staff == "s001"
    e.logout("1", "s001", at("09:06"))
    assert e.window_state("1").status == "closed"


def test_recent_calls_newest_first_and_a_recall_moves_to_the_top():
    e = small_hall()
    for _ in range(3):
        e.issue_ticket("A", at("09:00"))
    e.call_next("1", at("09:01"))
    e.call_next("2", at("09:02"))
    e.recall("1", at("09:03"))
    calls = e.recent_calls()
    assert [(c.ticket, c.window, c.recall) for c in calls] == [("A001", "1", 1), ("A002", "2", 0)]
    assert calls[0].at == "2026-11-30T09:03:00.000+08:00"


def test_a_new_day_restarts_numbering_and_keeps_who_is_logged_in():
    e = small_hall()
    e.login("1", "s001", at("08:55"))
    e.pause("1", at("09:00"))
    e.issue_ticket("A", at("09:00"))
    e.issue_ticket("A", at("09:00"))
    tomorrow = e.next_day(date(2026, 12, 1))
    assert tomorrow.issue_ticket("A", at("09:00") + timedelta(days=1)).ticket.no == "A001"
    assert tomorrow.window_state("1").model_dump() == {"window": "1", "status": "idle", "ticket": None, "staff": "s001",
                                          "queues": ["A"]}


def test_replaying_with_the_decisions_taken_gives_the_same_day():
    e = small_hall()
    for i in range(5):
        e.issue_ticket("A" if i % 2 else "B", at("09:00"), priority=i == 3)
    picked = [e.call_next(w, at("09:05")).ticket for w in ("1", "2", "3")]
    again = small_hall()
    for i in range(5):
        again.issue_ticket("A" if i % 2 else "B", at("09:00"), priority=i == 3)
    for w, t in zip(("1", "2", "3"), picked, strict=True):
        again.call_next(w, at("09:05"), pick=t.no if t else None)
    assert again.snapshot() == e.snapshot()


# ---------------------------------------------------------------- invariants over random days

OPS = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from("AB"), st.booleans()),
    st.tuples(st.sampled_from(["call_next", "recall", "skip", "complete", "pause", "resume"]),
              st.sampled_from("123")),
    st.tuples(st.just("transfer"), st.sampled_from("123"), st.sampled_from("AB")),
    st.tuples(st.just("requeue"), st.integers(1, 6), st.sampled_from("AB")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=60))
def test_random_days_keep_the_lines_sound(ops):
    e = small_hall()
    clock = at("09:00")
    called_once: dict[str, int] = {}
    for op in ops:
        clock += timedelta(seconds=37)
        match op:
            case ("issue", q, prio):
                e.issue_ticket(q, clock, priority=prio)
            case ("transfer", w, q):
                e.transfer(w, q, clock)
            case ("requeue", n, q):
                e.requeue(f"{q}{n:03d}", clock)
            case (name, w):
                out = getattr(e, name)(w, clock)
                if name == "call_next" and out.ok and out.ticket:
                    called_once[out.ticket.no] = called_once.get(out.ticket.no, 0) + 1
        waiting = [t for q in e.queues.values() for t in q.line]
        # every waiting ticket is in exactly one line, and the lines hold nothing else
        assert len(waiting) == len({t.no for t in waiting})
        assert {t.no for t in waiting} == {no for no, t in e.tickets.items() if t.status == WAITING}
        for q in e.queues.values():
            assert [t.klass for t in q.line] == sorted(t.klass for t in q.line)
            assert all(t.queue == q.spec.id for t in q.line)
            # only green-channel tickets ever take the first class
            assert all(t.priority for t in q.line if t.klass == PRIORITY_CLASS)
        serving = [d.call.ticket for d in e.windows.values() if d.call]
        assert len(serving) == len(set(serving))
    # a ticket is called again only after it came back (requeue or transfer)
    for no, n in called_once.items():
        t = e.tickets[no]
        assert n <= 1 + t.requeues + t.transfers
