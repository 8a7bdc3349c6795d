"""The queue rules of DESIGN.md, one by one, through the scenario runner (pure: no broker, no database)."""

from __future__ import annotations

import pytest

from tests.helpers.queueing import HALL, Script

# ---------------------------------------------------------------- numbering

def test_tickets_are_numbered_per_queue_from_one_three_digits_wide():
    s = Script().issue("A").issue("B").issue("A").issue("B").issue("B")
    assert [r["ticket"] for r in s.run()] == ["A001", "B001", "A002", "B002", "B003"]


def test_numbers_widen_past_999():
    s = Script(start="08:00:00")
    for _ in range(1001):
        s.issue("A")
    out = s.run()
    assert [r["ticket"] for r in out[-3:]] == ["A999", "A1000", "A1001"]


def test_two_letter_prefixes():
    hall = {"queues": [{"id": "cz", "prefix": "CZ"}], "windows": [{"id": "1", "queues": ["cz"]}]}
    assert Script(hall).issue("cz").run()[0]["ticket"] == "CZ001"


# ---------------------------------------------------------------- which ticket a window calls

def test_a_window_calls_the_earliest_issued_ticket_of_its_own_queues():
    s = Script().issue("B").issue("A").issue("B").call("3").call("3").call("3")
    assert s.tickets() == ["B001", "A001", "B002"]


def test_backup_queues_are_served_only_when_own_queues_are_empty():
    s = Script().issue("B").issue("A").call("1").call("1").call("1")
    assert s.tickets() == ["A001", "B001", None]


def test_a_window_never_calls_a_queue_it_does_not_serve():
    s = Script().issue("A").call("2")
    assert s.tickets() == [None]


def test_priority_tickets_are_called_before_all_others_in_issue_order():
    s = (Script().issue("A").issue("A").issue("A", priority=True).issue("A", priority=True)
         .call().call().call().call())
    assert s.tickets() == ["A003", "A004", "A001", "A002"]


def test_a_priority_ticket_in_another_own_queue_goes_first():
    s = Script().issue("A").issue("B", priority=True).call("3").call("3")
    assert s.tickets() == ["B001", "A001"]


def test_an_empty_hall_gives_ticket_null():
    out = Script().call("1").run()
    assert out == [{"op": "call_next", "ok": True, "ticket": None}]


# ---------------------------------------------------------------- calling next, recall, skip

def test_calling_next_while_serving_completes_the_current_ticket():
    s = Script().issue("A").issue("A").call().call().complete().complete()
    out = s.run()
    assert [r.get("ticket") for r in out[2:]] == ["A001", "A002", "A002", None]
    assert out[-1] == {"op": "complete", "ok": False, "code": "not_serving"}
    # A001 was finished by the second call, so it is no no-show to requeue
    assert Script().issue("A").call().call().requeue("A001").run()[-1]["code"] == "unknown_ticket"


def test_recall_at_most_three_times_then_recall_limit():
    s = Script().issue("A").call().recall().recall().recall().recall()
    assert [r["ok"] for r in s.run()[2:]] == [True, True, True, False]
    assert s.run()[-1] == {"op": "recall", "ok": False, "code": "recall_limit"}


def test_the_recall_count_belongs_to_one_call():
    s = Script().issue("A").issue("A").call().recall().recall().recall().call().recall()
    out = s.run()
    assert out[-1] == {"op": "recall", "ok": True, "ticket": "A002"}


def test_recall_skip_complete_need_a_serving_ticket():
    out = Script().recall().skip().complete().transfer("B").run()
    assert [r["code"] for r in out] == ["not_serving"] * 4


def test_skip_marks_a_no_show_and_the_window_goes_idle():
    out = Script().issue("A").call().skip().recall().run()
    assert out[2] == {"op": "skip", "ok": True, "ticket": "A001"}
    assert out[3]["code"] == "not_serving"


# ---------------------------------------------------------------- no-show requeue

def _with_waiting(n: int, queue: str = "A") -> Script:
    s = Script().issue(queue).call()
    for _ in range(n):
        s.issue(queue)
    return s.skip()


def test_a_requeued_no_show_goes_in_after_the_next_three_waiting():
    s = _with_waiting(5).requeue("A001")
    assert s.run()[-1] == {"op": "requeue", "ok": True, "ticket": "A001", "ahead": 3}
    for _ in range(6):
        s.call()
    assert s.tickets()[1:] == ["A002", "A003", "A004", "A001", "A005", "A006"]


def test_a_requeued_no_show_with_fewer_than_three_waiting_goes_last():
    s = _with_waiting(2).requeue("A001").call().call().call().call()
    assert s.run()[5]["ahead"] == 2
    assert s.tickets()[1:] == ["A002", "A003", "A001", None]


def test_requeue_within_thirty_minutes_but_not_later():
    base = Script().issue("A", at="09:00:00").call(at="09:01:00").skip(at="09:02:00")
    assert base.requeue("A001", at="09:32:00").run()[-1]["ok"] is True  # exactly 30 minutes still counts
    late = Script().issue("A", at="09:00:00").call(at="09:01:00").skip(at="09:02:00").requeue("A001", at="09:32:01")
    assert late.run()[-1] == {"op": "requeue", "ok": False, "code": "expired"}


def test_only_a_no_show_can_be_requeued():
    out = Script().issue("A").requeue("A001").requeue("A009").run()
    assert [r["code"] for r in out[1:]] == ["unknown_ticket", "unknown_ticket"]


def test_a_requeued_ordinary_ticket_never_jumps_priority_tickets():
    s = Script().issue("A").call()
    for _ in range(4):
        s.issue("A", priority=True)
    s.skip().requeue("A001")
    assert s.run()[-1]["ahead"] == 4


def test_a_requeued_ticket_can_miss_again_and_come_back_again():
    s = _with_waiting(1).requeue("A001").call().call().skip().requeue("A001").call()
    assert s.tickets() == ["A001", "A002", "A001", "A001"]


# ---------------------------------------------------------------- transfer

def test_a_transferred_ticket_keeps_its_number_and_goes_to_the_front_behind_priority():
    s = (Script().issue("A").issue("B").issue("B").issue("B", priority=True)
         .call("1").transfer("B", window="1")
         .call("2").call("2").call("2").call("2").call("2"))
    out = s.run()
    assert out[5] == {"op": "transfer", "ok": True, "ticket": "A001"}
    assert s.tickets() == ["A001", "B003", "A001", "B001", "B002", None]


def test_tickets_transferred_in_keep_the_order_they_came_in():
    s = (Script().issue("A").issue("A").issue("B")
         .call("1").transfer("B").call("1").transfer("B")
         .call("2").call("2").call("2"))
    assert s.tickets() == ["A001", "A002", "A001", "A002", "B001"]


def test_transfer_to_an_unknown_queue_is_refused_and_changes_nothing():
    s = Script().issue("A").call().transfer("Z").recall()
    out = s.run()
    assert out[2] == {"op": "transfer", "ok": False, "code": "unknown_queue"}
    assert out[3] == {"op": "recall", "ok": True, "ticket": "A001"}


# ---------------------------------------------------------------- pause

def test_a_paused_window_calls_nothing():
    s = Script().issue("A").issue("A").call().pause().call().recall().complete().resume().call()
    out = s.run()
    assert [r.get("code") for r in out[4:6]] == ["paused", "paused"]
    assert out[6] == {"op": "complete", "ok": True, "ticket": "A001"}  # a paused clerk may finish the citizen at the desk
    assert out[-1] == {"op": "call_next", "ok": True, "ticket": "A002"}


def test_a_paused_window_leaves_the_ticket_to_another_window():
    s = Script().issue("A").pause("1").call("1").call("3")
    assert s.tickets() == [None, "A001"]


# ---------------------------------------------------------------- issuing hours and caps

def test_tickets_are_issued_only_in_issuing_hours_start_inclusive_end_exclusive():
    hall = dict(HALL, issuing=[["08:30", "11:30"], ["12:50", "16:45"]])
    s = Script(hall)
    for clock in ("08:29:59", "08:30:00", "11:29:59", "11:30:00", "12:00:00", "12:50:00", "16:45:00"):
        s.issue("A", at=clock)
    assert [r.get("code", r.get("ticket")) for r in s.run()] == [
        "closed", "A001", "A002", "closed", "closed", "A003", "closed"]


def test_a_scenario_without_issuing_hours_issues_all_day():
    out = Script().issue("A", at="00:00:00").issue("A", at="23:59:59").run()
    assert [r["ok"] for r in out] == [True, True]


def test_a_queue_cap_counts_every_ticket_of_the_day():
    hall = {"queues": [{"id": "A", "prefix": "A", "cap": 2}, {"id": "B", "prefix": "B"}],
            "windows": [{"id": "1", "queues": ["A", "B"]}]}
    out = Script(hall).issue("A").issue("A", priority=True).issue("A").issue("B").run()
    assert [r.get("code", r.get("ticket")) for r in out] == ["A001", "A002", "cap_reached", "B001"]


def test_a_refused_ticket_takes_no_number():
    hall = dict(HALL, issuing=[["09:00", "10:00"]])
    out = Script(hall).issue("A", at="08:00:00").issue("A", at="09:00:00").run()
    assert out[1]["ticket"] == "A001"


# ---------------------------------------------------------------- people ahead

def test_people_ahead_counts_the_tickets_of_the_queue_called_before_this_one():
    out = (Script().issue("A").issue("A").issue("B").issue("A", priority=True).issue("A").issue("A", priority=True)
           .run())
    assert [r["ahead"] for r in out] == [0, 1, 0, 0, 3, 1]


def test_people_ahead_drop_as_tickets_are_called():
    out = Script().issue("A").issue("A").call().issue("A").run()
    assert out[-1]["ahead"] == 1


# ---------------------------------------------------------------- bad input

def test_unknown_window_and_queue_are_refused_with_their_codes():
    out = Script().issue("Z").call("9").pause("9").run()
    assert [r["code"] for r in out] == ["unknown_queue", "unknown_window", "unknown_window"]


@pytest.mark.parametrize("step, words", [
    ({"at": "09:00", "op": "fly", "window": "1"}, "steps[0].op"),
    ({"at": "09:00", "op": "transfer", "window": "1"}, "needs queue"),
    ({"at": "9 o'clock", "op": "call_next", "window": "1"}, "steps[0].at"),
])
def test_a_bad_scenario_names_the_step_and_what_was_expected(step, words):
    from hall.errors import ConfigError
    from hub.queue.scenario import parse_scenario

    with pytest.raises(ConfigError) as err:
        parse_scenario({"date": "2026-11-30", "hall": HALL, "steps": [step]})
    assert words in str(err.value)


def test_the_default_hall_is_used_when_the_scenario_has_none():
    s = Script(hall={}).issue("A", at="08:00:00").issue("A", at="09:00:00").call("1")
    s._add("login", window="1", staff="s001")._add("login", window="3", staff="s011")
    out = s.call("1").call("3").run()
    assert out[0]["code"] == "closed"  # config/hall.toml issues from 08:30
    assert out[2]["code"] == "not_logged_in"  # the hall's rule: a call belongs to someone
    assert [r.get("ticket") for r in out[5:]] == ["A001", None]
