"""The clerk traffic helper for `hall up`: keys pressed the way window staff press them."""

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


def test_nobody_waiting_means_the_clerk_tries_again_later():
    sim = BusSimulator().add_keypad(5)
    traffic = Traffic(sim, speed=100_000, seed=1).start()
    try:
        sim.wait(lambda: list(sim.keypad(5).keys).count(Key.NEXT) >= 3)
    finally:
        traffic.stop()
    assert set(sim.keypad(5).keys) == {Key.NEXT}
