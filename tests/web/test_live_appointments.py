"""The console's live page shows each bookable queue's appointments today (预约签到: checked in / booked), from the
hub's retained `hub/state/appointments/{queue}`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hall.settings import load_hall
from web.live import LiveHall

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_the_queue_row_counts_todays_bookings_and_check_ins():
    live = LiveHall.of(load_hall())
    changes = live.apply("hall/v1/miluo/hub/state/appointments/A",
                         {"queue": "A", "dates": [], "today": {"booked": 3, "checked_in": 2, "cancelled": 1}}, NOW)
    [(kind, row)] = changes
    assert kind == "queue" and (row["id"], row["booked_today"], row["checked_in_today"]) == ("A", 5, 2)
    snap = {q["id"]: q for q in live.snapshot(NOW)["queues"]}
    assert snap["A"]["booked_today"] == 5 and snap["C"]["booked_today"] is None  # C takes no bookings
    assert live.apply("hall/v1/miluo/hub/state/appointments/Z", {"queue": "Z", "dates": [], "today": {}}, NOW) == []


def test_the_live_page_shows_checked_in_over_booked_per_bookable_queue(console_hall):
    from fastapi.testclient import TestClient

    from tests.helpers.rig import wait_for
    from tests.helpers.web import login

    with TestClient(console_hall.app()) as c:
        assert login(c, "reader").status_code == 303
        # the hub's retained places left reach the console: bookable queues count from 0, the others show —
        queues = wait_for(lambda: (q := {x["id"]: x for x in c.get("/api/live").json()["queues"]})["A"]
                          ["booked_today"] is not None and q, 10, "queue A's appointments on /api/live")
        assert queues["A"]["checked_in_today"] == 0 and queues["C"]["booked_today"] is None
        page = c.get("/").text
    assert "预约签到" in page and 'data-f="booked">0/0<' in page
