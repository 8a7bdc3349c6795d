"""The booking traffic of `hall up`: citizens book through the citizens' site's own API and check in at a kiosk;
the hub (on a Monday morning, whatever the hour of the test) confirms them and calls their tickets first."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hallctl.traffic.bookings import BookingTraffic, simulated_id
from hub.cases.rules import id_number_valid
from tests.helpers.rig import wait_for
from tests.helpers.timeline import HallClock
from tests.helpers.web import served
from tests.helpers.web_public import PublicHall

MONDAY_0940 = datetime(2026, 11, 30, 9, 40, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_simulated_id_numbers_pass_their_check_digit():
    import random

    rand = random.Random(1)
    assert all(id_number_valid(simulated_id(rand)) for _ in range(200))


def test_citizens_book_on_the_site_and_check_in_at_the_kiosk(tmp_path, monkeypatch):
    clock = HallClock(MONDAY_0940).install(monkeypatch)
    hall = PublicHall(tmp_path)
    try:
        with served(hall.app()) as url:
            traffic = BookingTraffic(hall.hall, site_url=url, kiosk=hall.link("kiosk-01"), speed=3600,
                                     per_hour=20, no_show=0.0, seed=7, clock=lambda: clock(hall.hall.tz)).start()
            try:
                wait_for(lambda: traffic.stats["checked_in"] >= 2, 30, "two check-ins")
            finally:
                traffic.stop()
        assert traffic.stats["booked"] >= 2 and traffic.stats["refused"] == 0
        booked = hall.rig.count("SELECT count(*) FROM tickets WHERE booked IS NOT NULL")
        assert booked >= 2
    finally:
        hall.close()
