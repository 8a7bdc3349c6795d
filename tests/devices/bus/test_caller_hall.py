"""End to end: keys pressed on simulated keypads reach the hub's journal through a real broker, and the queue
engine's retained state comes back onto the keypad display."""

from __future__ import annotations

import json

import pytest

from devices.bus.codec import KeypadState, KeypadView
from devices.bus.master import BusMaster, open_port
from devices.bus.simulator import BusSimulator
from devices.caller import CallerAgent, CallerLayout
from tests.helpers.rig import wait_for


@pytest.fixture
def hall_bus(rig):
    rig.hall.file.hours.__dict__["issuing"] = []  # tickets all day, whatever the hour the test runs at
    rig.start_hub()
    layout = CallerLayout.for_windows(["3", "4"])
    sim = BusSimulator.for_callers(layout.keypads.values(), layout.rating_pads.values()).start()
    master = BusMaster(open_port(sim.port))
    link = rig.link("caller-01")
    agent = CallerAgent(rig.hall, "caller-01", master, link, layout, key_poll_s=0.05, rating_poll_s=0.1)
    agent.start()
    yield rig, sim, agent
    agent.stop()
    master.close()
    sim.stop()


def events(rig, event_type):
    with rig.db() as db:
        rows = db.execute("SELECT data FROM events WHERE device='caller-01' AND type=? ORDER BY seq",
                          (event_type,)).fetchall()
    return [json.loads(r[0]) for r in rows]


def test_keys_reach_the_hub_and_its_state_reaches_the_keypad(hall_bus):
    rig, sim, agent = hall_bus
    kiosk = rig.link("kiosk-01")
    assert kiosk.wait_connected()
    for _ in range(3):
        assert kiosk.request("ticket_request", {"queue": "A"})["ok"]

    sim.press(3, "login", "11", "enter", "next")
    # the engine called A001 to window 3; two still wait in A (window 3 also serves U as backup)
    sim.wait(lambda: sim.keypad(3).view == KeypadView("A001", 2, KeypadState.SERVING))
    assert events(rig, "login") == [{"window": "3", "staff": "s011"}]
    assert events(rig, "call_next") == [{"window": "3"}]

    sim.press(3, "complete")
    sim.wait(lambda: sim.keypad(3).view.state == KeypadState.IDLE)
    sim.rate(103, 5)
    wait_for(lambda: events(rig, "rating"), message="rating stored")
    assert events(rig, "rating") == [{"window": "3", "score": 5, "ticket": "A001"}]
    with rig.db() as db:
        assert db.execute("SELECT ticket, staff, score FROM ratings").fetchall() == [("A001", "s011", 5)]

    sim.press(3, "pause")
    sim.wait(lambda: sim.keypad(3).view.state == KeypadState.PAUSED)
    sim.press(3, "pause")  # pressed again while paused: resume
    sim.wait(lambda: sim.keypad(3).view.state == KeypadState.IDLE)
    assert [len(events(rig, t)) for t in ("pause", "resume")] == [1, 1]
