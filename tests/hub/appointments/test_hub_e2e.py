"""Appointments end to end: a real Mosquitto and the real hub on a clock the test moves; the citizens' site (kind
`web`) and a kiosk as MQTT clients with their own logins."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hall.protocol import Answer, AppointmentsState, envelope, new_event_id, read_from_hub
from tests.helpers.appointments import booking_hall, id_number
from tests.helpers.rig import wait_for
from tests.helpers.timeline import ClockedTools, HallClock

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)


@pytest.fixture
def hall(make_rig, tmp_path, monkeypatch):
    rig = make_rig(config=booking_hall(tmp_path / "config"))
    clock = HallClock(MONDAY_10).install(monkeypatch)
    hub = rig.start_hub()
    return rig, ClockedTools(rig, clock), clock, hub


def book(tools, n: int = 1, **extra) -> dict:
    return tools.request("web-01", "booking_request", {"queue": "A", "date": "2026-12-01", "time": "09:00",
                                                       "name": "张三丰", "id_number": id_number(n),
                                                       "phone": "13800138000", **extra})


def test_book_cancel_change_and_the_places_left_retained(hall):
    rig, tools, clock, hub = hall
    answer = book(tools)
    read_from_hub(Answer, {"re": "x", **answer})
    b = answer["booking"]
    assert answer["ok"] and len(b["code"]) == 8 and b["name"] == "张*丰" and b["status"] == "booked"
    assert (b["date"], b["time"], b["end"]) == ("2026-12-01", "09:00", "10:00")
    assert book(tools)["code"] == "already_booked"
    bad = book(tools, id_number="110105194912310021")
    assert bad["code"] == "invalid" and "身份证号码" in bad["error"]
    assert book(tools, 2, time="09:30")["code"] == "invalid"

    state = tools.retained("state/appointments/A", reader="web-01",
                           until=lambda s: s["dates"][1]["slots"][0]["left"] == 3)
    read_from_hub(AppointmentsState, state)
    assert state["dates"][1] == {"date": "2026-12-01", "slots": state["dates"][1]["slots"]}
    assert state["dates"][1]["slots"][0] == {"time": "09:00", "end": "10:00", "capacity": 4, "left": 3}
    assert state["dates"][0]["date"] == "2026-11-30" and state["dates"][0]["slots"][0]["time"] == "11:00"

    last4 = id_number(1)[-4:]
    assert tools.request("web-01", "booking_cancel", {"code": b["code"], "id_last4": "0000"})["code"] == "not_found"
    moved = tools.request("web-01", "booking_change", {"code": b["code"], "id_last4": last4, "date": "2026-12-02",
                                                       "time": "14:00"})
    assert moved["booking"]["date"] == "2026-12-02" and moved["booking"]["time"] == "14:00"
    gone = tools.request("web-01", "booking_cancel", {"code": b["code"], "id_last4": last4})
    assert gone["booking"]["status"] == "cancelled"
    assert tools.request("web-01", "booking_cancel", {"code": b["code"], "id_last4": last4})["code"] == \
        "booking_closed"

    # only the keyed hash and the last 4 were stored, the name masked, and a kiosk may not book
    with rig.db() as conn:
        stored = " ".join(r[0] for r in conn.execute("SELECT data FROM events WHERE type = 'booking_request'"))
        row = conn.execute("SELECT name, id_hash, id_last4 FROM bookings").fetchone()
    assert id_number(1) not in stored and "张三丰" not in stored and "id_hash" in stored
    assert row[0] == "张*丰" and len(row[1]) == 64 and row[2] == last4
    tools.publish("kiosk-01", "booking_request", {"queue": "A", "date": "2026-12-01", "time": "09:00",
                                                  "name": "李四", "id_number": id_number(3), "phone": "13800138000"})
    wait_for(lambda: rig.count("SELECT count(*) FROM rejected WHERE code = 'forbidden'"), 5, "the kiosk refused")


def test_200_simultaneous_requests_for_the_last_places_confirm_exactly_those_places(hall):
    rig, tools, clock, hub = hall
    for n in (1, 2):
        assert book(tools, n)["ok"]  # 2 of the slot's 4 places are taken: 2 are left
    answers: list[dict] = []
    done = threading.Event()

    def on_message(client, userdata, message):
        answers.append(json.loads(message.payload))
        if len(answers) == 200:
            done.set()

    client, _ = rig.listen("web-01", "web-01/res")
    client.on_message = on_message
    topic = f"hall/v1/{rig.hall.id}/web-01/evt/booking_request"
    # fresh sequence numbers after the two requests above
    bodies = [json.dumps(envelope(new_event_id(), 100 + i, {
        "queue": "A", "date": "2026-12-01", "time": "09:00", "name": "王五", "id_number": id_number(100 + i),
        "phone": "13900139000"})) for i in range(200)]
    infos = [client.publish(topic, body, qos=1) for body in bodies]  # as fast as the socket takes them
    for info in infos:
        info.wait_for_publish(10)
    assert done.wait(30), f"{len(answers)} answers of 200"
    confirmed = [a for a in answers if a["ok"]]
    assert len(confirmed) == 2
    assert {a["code"] for a in answers if not a["ok"]} == {"slot_full"}
    assert rig.count("SELECT count(*) FROM bookings WHERE date='2026-12-01' AND time='09:00' AND status='booked'") \
        == 4


def test_check_in_at_a_kiosk_gives_a_ticket_called_ahead_of_walk_ins(hall):
    rig, tools, clock, hub = hall
    code = tools.request("web-01", "booking_request", {"queue": "A", "date": "2026-11-30", "time": "11:00",
                                                       "name": "张三", "id_number": id_number(1),
                                                       "phone": "13800138000"})["booking"]["code"]
    late_code = tools.request("web-01", "booking_request", {"queue": "A", "date": "2026-11-30", "time": "11:00",
                                                            "name": "李四", "id_number": id_number(2),
                                                            "phone": "13800138001"})["booking"]["code"]
    walk_ins = [tools.request("kiosk-01", "ticket_request", {"queue": "A"})["ticket"]["no"] for _ in range(2)]
    early = tools.request("kiosk-01", "checkin", {"code": code})
    assert early["code"] == "too_early" and "10:30" in early["error"]
    clock.advance(minutes=35)  # 10:35: within 30 minutes of the 11:00 slot
    answer = tools.request("kiosk-01", "checkin", {"id_number": id_number(1)})
    read_from_hub(Answer, {"re": "x", **answer})
    ticket = answer["ticket"]
    assert ticket["booked"] == "11:00" and ticket["ahead"] == 0 and answer["booking"]["on_time"] is True
    assert tools.request("kiosk-01", "checkin", {"code": code})["code"] == "already_checked_in"
    # the console's count of today's bookings follows the check-in
    tools.retained("state/appointments/A", reader="console-01",
                   until=lambda st: st["today"] == {"booked": 1, "checked_in": 1})
    assert tools.retained("state/appointments/A", reader="console-01")["today"] == {"booked": 1, "checked_in": 1}
    # the same person's walk-in ticket for that queue: one a day
    assert tools.request("kiosk-01", "ticket_request", {"queue": "A", "id_number": id_number(1)})["code"] == \
        "id_limit"

    tools.request("win-01", "login", {"window": "1", "staff": "s001"})
    called = tools.request("win-01", "call_next", {"window": "1"})["ticket"]["no"]
    assert called == ticket["no"]
    assert tools.request("win-01", "call_next", {"window": "1"})["ticket"]["no"] == walk_ins[0]

    clock.advance(hours=1, minutes=10)  # 11:45: the slot (11:00-11:40) is over: a late check-in, an ordinary ticket
    late = tools.request("kiosk-01", "checkin", {"code": late_code})
    assert late["ok"] and late["ticket"].get("booked") is None and late["booking"]["on_time"] is False, late
    with rig.db() as conn:
        rows = dict(conn.execute("SELECT code, status || ':' || on_time || ':' || ticket FROM bookings"))
    assert rows[code] == f"checked_in:1:{ticket['no']}" and rows[late_code].startswith("checked_in:0:")

    # a hub restarted mid-day replays the check-in: the booked ticket keeps its place
    rig.stop_hub(hub)
    hub = rig.start_hub()
    assert tools.request("kiosk-01", "checkin", {"code": late_code})["code"] == "already_checked_in"


def test_a_walk_in_ticket_with_an_id_and_a_phone(hall):
    rig, tools, clock, hub = hall
    assert tools.request("kiosk-01", "ticket_request", {"queue": "H"})["code"] == "id_required"
    bad = tools.request("kiosk-01", "ticket_request", {"queue": "H", "id_number": "110105194912310021"})
    assert bad["code"] == "invalid_id_number"
    ok = tools.request("kiosk-01", "ticket_request", {"queue": "H", "id_number": id_number(5),
                                                      "phone": "13912345678"})
    assert ok["ok"]
    assert tools.request("kiosk-01", "ticket_request", {"queue": "H", "id_number": id_number(5)})["code"] == \
        "id_limit"
    wait_for(lambda: rig.count("SELECT count(*) FROM tickets WHERE phone = '13912345678'") == 1, 5, "ticket row")
    with rig.db() as conn:
        stored = " ".join(r[0] for r in conn.execute("SELECT data FROM events WHERE type = 'ticket_request'"))
        journal = " ".join(r[0] for r in conn.execute("SELECT args FROM queue_journal"))
    assert id_number(5) not in stored and id_number(5) not in journal
    state = tools.retained("state/queue/H")
    assert "13912345678" not in json.dumps(state)
