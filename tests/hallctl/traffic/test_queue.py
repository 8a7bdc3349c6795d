"""Simulated traffic through a real broker and hub: tickets issued, called, served, rated; nothing called twice."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from hall.settings import load_hall
from hallctl.traffic.queue import HallTraffic
from tests.helpers.links import FakeLink
from tests.helpers.queueing import all_day_hall
from tests.helpers.rig import wait_for


def _link(hall, device_id: str) -> FakeLink:
    return FakeLink(hall.id, hall.device(device_id))


def test_the_day_has_a_shape_and_every_window_a_clerk():
    hall = load_hall()
    links = [_link(hall, "win-03"), _link(hall, "caller-01"), _link(hall, "caller-02")]
    traffic = HallTraffic(hall, [_link(hall, "kiosk-01")], links, speed=60, seed=1)
    assert set(traffic.clerks) == {w.id for w in hall.catalogue.windows}
    assert traffic.clerks["3"].link is links[0] and traffic.clerks["4"].link is links[1]
    assert traffic.clerks["1"].staff == "s001"
    # citizens rate on the window's rating pad, never through the clerk's own PC
    assert traffic.clerks["4"].rater is links[1] and traffic.clerks["3"].rater is None
    pads = _link(hall, "caller-01")
    assert HallTraffic(hall, [_link(hall, "kiosk-01")], links, raters=[pads]).clerks["3"].rater is pads
    day = datetime(2026, 11, 30, tzinfo=hall.tz)
    assert traffic.intensity(day.replace(hour=9)) == 1.4
    assert traffic.intensity(day.replace(hour=11, minute=10)) == 0.6
    assert traffic.intensity(day.replace(hour=12)) == 0.0
    assert traffic.intensity(day.replace(hour=15)) == 1.0
    # about 500 tickets in a day's issuing hours, most in the busy queues
    assert sum(traffic._per_second.values()) * traffic._issuing_seconds() == pytest.approx(500)
    assert traffic._per_second["A"] > traffic._per_second["K"]


def test_traffic_plays_a_busy_hall_through_the_hub(make_rig, tmp_path):
    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    rig.start_hub()
    kiosk = rig.link("kiosk-01")
    # window 18 from its window PC, rated on its pad behind caller-02; the others from the keypad bus masters
    callers = [rig.link("win-18"), rig.link("caller-01"), rig.link("caller-02")]
    for link in (kiosk, *callers):
        assert link.wait_connected(10)
    traffic = HallTraffic(rig.hall, [kiosk], callers, raters=[callers[2]], speed=900, seed=7, no_show=0.2,
                          rating=0.8).start()
    try:
        wait_for(lambda: traffic.stats["served"] >= 15 and traffic.stats["no_show"] >= 2, 60, "a busy hall")
    finally:
        traffic.stop()
    for link in (kiosk, *callers):
        assert link.wait_drained(20)
    assert traffic.stats["issued"] >= 15 and traffic.stats["refused"] == 0
    assert rig.count("SELECT count(*) FROM tickets") == traffic.stats["requested"]  # all day, no caps: all issued
    assert rig.count("SELECT count(*) FROM calls WHERE outcome='done'") >= 15
    # a ticket is called again only after it came back (requeued or transferred)
    assert rig.count("SELECT count(*) FROM (SELECT count(*) times, t.requeues + t.transfers back FROM calls c "
                     "JOIN tickets t ON t.day = c.day AND t.no = c.ticket GROUP BY c.day, c.ticket "
                     "HAVING times > 1 + back)") == 0
    assert rig.count("SELECT count(*) FROM ratings WHERE staff IS NOT NULL") == traffic.stats["ratings"] > 0
    # the clerks log in where they work and citizens rate as the hall allows: nothing the simulation sends is refused
    assert rig.count("SELECT count(*) FROM events WHERE type IN ('login', 'rating') "
                     "AND json_extract(res, '$.ok') = 0") == 0
    assert rig.count("SELECT count(*) FROM events WHERE type='rating' AND device='win-18'") == 0
    assert rig.count("SELECT count(DISTINCT staff) FROM calls") > 3


def test_idle_clerks_wait_for_someone_on_their_screen_instead_of_calling_again_and_again(make_rig, tmp_path):
    """At `hall up`'s speed a clerk with nobody waiting watches the queues, as a person would: the calls stay near
    the tickets issued, not thousands against an empty hall."""
    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    rig.start_hub()
    kiosk = rig.link("kiosk-01")
    callers = [rig.link("caller-01"), rig.link("caller-02")]
    for link in (kiosk, *callers):
        assert link.wait_connected(10)
    traffic = HallTraffic(rig.hall, [kiosk], callers, speed=60, seed=3, manual=["1", "2"]).start()
    try:
        time.sleep(25)
    finally:
        traffic.stop()
    clerks = len(traffic.clerks)
    assert clerks == 32 and "1" not in traffic.clerks  # windows left to people have no simulated clerk
    issued, calls = traffic.stats["issued"], traffic.stats["call_next"]
    assert issued >= 10
    # a first look at each window, then a call per ticket and a few looks more (a ticket taken by another window)
    assert calls <= issued + 2 * clerks, traffic.stats
    assert rig.count("SELECT count(*) FROM events WHERE type='call_next' AND json_extract(data, '$.window') "
                     "IN ('1', '2')") == 0
