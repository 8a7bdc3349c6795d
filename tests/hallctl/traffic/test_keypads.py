"""The clerk traffic helper for `hall up`: keys pressed the way window staff press them."""

import time

from devices.bus.codec import Key, KeypadState, KeypadView
from devices.bus.simulator import BusSimulator
from hall.settings import load_hall
from hallctl.traffic.keypads import ClerkHabits, Traffic


def test_clerks_call_serve_complete_and_citizens_rate():
    sim = BusSimulator.for_caller(load_hall(), "caller-01")  # not started: the clerks press, nobody polls
    assert len(sim.devices) == 34
    for addr in range(1, 18):
        sim.keypad(addr).view = KeypadView("A001", 3, KeypadState.SERVING)  # someone always comes
    habits = ClerkHabits(serve_s=(60, 120), gap_s=(5, 10), recall_p=0.2, no_show_p=0.1, rate_p=1.0)
    traffic = Traffic(sim, speed=100_000, seed=7, habits=habits).start()
    try:
        sim.wait(lambda: traffic.ratings >= 20)
    finally:
        traffic.stop()
    keys = [k for addr in range(1, 18) for k in sim.keypad(addr).keys]
    assert {Key.NEXT, Key.COMPLETE, Key.RECALL, Key.SKIP} <= set(keys)
    assert keys.count(Key.COMPLETE) >= 20
    assert sum(1 for a in range(101, 118) if sim.rating_pad(a).score) >= 1
    assert traffic.keypads[3] == 103


def test_nobody_waiting_on_the_display_means_the_clerk_only_looks():
    """A first look calls once; then, with nobody shown waiting, no key until the display counts someone (or the
    rare call for the backup queues, `retry_empty_s` on)."""
    sim = BusSimulator().add_keypad(5)
    habits = ClerkHabits(retry_empty_s=3600.0, gap_s=(5, 10), serve_s=(60, 60), recall_p=0, no_show_p=0)
    traffic = Traffic(sim, speed=1000, seed=1, habits=habits).start()  # a hall hour in 3.6 s
    try:
        sim.wait(lambda: list(sim.keypad(5).keys) == [Key.NEXT], timeout=5)
        time.sleep(1.0)  # 1,000 hall seconds of an empty queue
        assert list(sim.keypad(5).keys) == [Key.NEXT]
        sim.keypad(5).view = KeypadView(None, 2, KeypadState.IDLE)  # two wait now
        sim.wait(lambda: list(sim.keypad(5).keys).count(Key.NEXT) == 2, timeout=2)
    finally:
        traffic.stop()
    assert traffic.calls == 2


def test_a_paused_keypad_is_resumed_and_an_offline_one_left_alone():
    sim = BusSimulator().add_keypad(5).add_keypad(6)
    sim.keypad(5).view = KeypadView(None, 3, KeypadState.PAUSED)
    sim.keypad(6).view = KeypadView(None, 3, KeypadState.OFFLINE)  # the hub is away: nothing to call with
    traffic = Traffic(sim, speed=1000, seed=1).start()
    try:
        sim.wait(lambda: Key.NEXT in sim.keypad(5).keys)
        time.sleep(0.2)  # 200 hall seconds
    finally:
        traffic.stop()
    assert list(sim.keypad(5).keys)[:2] == [Key.RESUME, Key.NEXT]
    assert list(sim.keypad(6).keys) == []


def test_calls_with_nobody_shown_grow_rarer_while_they_find_nobody(monkeypatch):
    """For the backup queues a clerk calls now and then with nobody counted; each such call that finds nobody
    makes the next one wait twice as long (here 13 hall hours of an empty hall: 7 calls, not 83 every 10 min)."""
    from hallctl.traffic import keypads

    monkeypatch.setattr(keypads, "LOOK_REAL_S", 0.001)  # glances every 100 hall s at this speed
    sim = BusSimulator().add_keypad(5)
    traffic = Traffic(sim, speed=100_000, seed=2, habits=ClerkHabits(retry_empty_s=600.0)).start()
    try:
        time.sleep(0.5)  # 50,000 hall seconds
    finally:
        traffic.stop()
    assert 4 <= traffic.calls <= 9, traffic.calls
    assert traffic._blind_every[5] == keypads.BLIND_MAX_S
