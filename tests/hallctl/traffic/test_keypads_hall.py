"""Keypad clerks in a real hall (Mosquitto, the hub, the caller agent on a simulated bus): they follow the waiting
count their keypad shows, calling soon after someone takes a ticket and not against an empty queue."""

from __future__ import annotations

import time
from datetime import datetime

from devices.bus.master import BusMaster, open_port
from devices.bus.simulator import BusSimulator
from devices.caller import CallerAgent, CallerLayout
from hallctl.traffic.keypads import ClerkHabits, Traffic
from tests.helpers.queueing import all_day_hall

WINDOWS = {"1": "1", "2": "6", "3": "11"}  # window → the staff number its clerk keys in (queue A's windows)


def test_idle_keypad_clerks_call_when_their_display_counts_someone_not_again_and_again(make_rig, tmp_path):
    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    rig.start_hub()
    layout = CallerLayout.for_windows(list(WINDOWS))
    sim = BusSimulator.for_callers(layout.keypads.values(), layout.rating_pads.values()).start()
    master = BusMaster(open_port(sim.port))
    agent = CallerAgent(rig.hall, "caller-01", master, rig.link("caller-01"), layout, key_poll_s=0.05,
                        rating_poll_s=0.1)
    agent.start()
    kiosk = rig.link("kiosk-01")
    assert kiosk.wait_connected(10)
    for window, staff in WINDOWS.items():
        sim.press(layout.keypads[window], "login", staff, "enter")
    # at hall up's speed; a blind call for the backup queues only once a hall hour, so every other call is one the
    # display asked for
    habits = ClerkHabits(serve_s=(30, 60), gap_s=(10, 30), retry_empty_s=3600, recall_p=0, no_show_p=0, rate_p=0)
    traffic = Traffic(sim, keypads={a: None for a in layout.keypads.values()}, speed=60, seed=4, habits=habits)
    try:
        traffic.start()
        time.sleep(3)  # the first look at each window finds nobody (an hour before the next blind call)
        issued = []
        for _ in range(12):
            issued.append(kiosk.request("ticket_request", {"queue": "A"})["ticket"]["no"])
            time.sleep(1.0)  # a citizen a hall minute
        time.sleep(3)
    finally:
        traffic.stop()
        agent.stop()
        master.close()
        sim.stop()
    with rig.db() as db:
        waits = {no: (datetime.fromisoformat(called) - datetime.fromisoformat(at)).total_seconds()
                 for no, at, called in db.execute("SELECT no, issued_at, called_at FROM tickets WHERE queue='A'")}
        calls = db.execute("SELECT count(*) FROM events WHERE device='caller-01' AND type='call_next'").fetchone()[0]
    assert sorted(waits) == sorted(issued)
    # each ticket called within a few hall minutes of its issue, not an hour on at the next blind call
    assert all(w is not None and w < 4.0 for w in waits.values()), waits
    # a call per ticket, the first look at each window, and a few that found the ticket taken by a neighbour who
    # pressed a moment sooner (at 60x a hall second is 17 ms: about the time the display takes to count one less)
    assert traffic.calls == calls
    assert calls <= len(issued) + 3 * len(WINDOWS), (calls, len(issued))
