"""Logins at windows: a staff member only at the window staff.csv assigns them, whichever device sends it."""

from __future__ import annotations

from datetime import date

from hub.queue.engine import Layout, QueueEngine, QueueSpec, Rules, WindowSpec
from tests.helpers.queueing import DomainDriver, at

STAFF = {"s001": "1", "s002": "2", "s150": None}  # s150 works in the office, at no window


def small_hall(staff=STAFF) -> QueueEngine:
    layout = Layout(queues={"A": QueueSpec("A", "A")},
                    windows={"1": WindowSpec("1", ("A",)), "2": WindowSpec("2", ("A",))}, staff=staff)
    return QueueEngine(layout, Rules(), date(2026, 11, 30))


def test_a_staff_member_logs_in_only_at_their_own_window():
    e = small_hall()
    assert e.login("1", "s001", at("08:55")).ok
    elsewhere = e.login("2", "s001", at("08:56"))
    assert (elsewhere.ok, elsewhere.code) == (False, "not_assigned")
    assert elsewhere.error.startswith("该工作人员不在此窗口 · the staff member is not assigned to this window")
    assert e.login("1", "s150", at("08:57")).code == "not_assigned"
    assert e.login("1", "s999", at("08:58")).code == "unknown_staff"
    assert e.window_state("1").staff == "s001" and e.window_state("2").status == "closed"


def test_a_replay_logs_in_whoever_was_logged_in_and_a_scenario_hall_checks_nothing():
    assert small_hall().login("2", "s001", at("08:55"), enforce=False).ok
    assert small_hall(staff=None).login("2", "anyone", at("08:55")).ok


def test_no_device_logs_anyone_in_at_a_window_they_are_not_assigned_to(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    # s001 works at window 1, s011 at window 3 (config/staff.csv); s150 in the office
    assert d.send("fp-01", "login", {"window": "5", "staff": "s001"})["code"] == "not_assigned"
    assert d.send("fp-01", "login", {"staff": "s150"})["code"] == "not_assigned"
    assert d.send("fp-01", "login", {"staff": "s999"})["code"] == "unknown_staff"
    assert d.send("win-05", "login", {"window": "5", "staff": "s001"})["code"] == "not_assigned"
    assert d.send("caller-01", "login", {"window": "3", "staff": "s001"})["code"] == "not_assigned"
    assert all(d.domain.engine.windows[w].staff is None for w in ("1", "3", "5"))
    assert d.send("caller-01", "login", {"window": "3", "staff": "s011"})["window"]["staff"] == "s011"
    assert d.send("fp-01", "login", {"staff": "s001"})["window"]["window"] == "1"
    # s011 moves to window 4 overnight: a restart replays the logins that were made, refusals stay refusals
    hall = d.hall
    s011 = hall.staff_member("s011")
    hall.staff[hall.staff.index(s011)] = s011.model_copy(update={"window": "4"})
    again = DomainDriver(tmp_path / "hub.db", hall)
    assert again.domain.snapshot() == d.domain.snapshot()
    assert [again.domain.engine.windows[w].staff for w in ("1", "3", "5")] == ["s001", "s011", None]

