"""The appointments domain over a real SQLite file, fed events as ingest feeds them: no-shows marked when a day
is over, three of them blocking booking, a change that keeps to the limits, the places left it publishes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from hall.protocol import EVENT_MODELS
from hall.settings import load_hall
from hub.appointments.domain import AppointmentsDomain
from hub.domain import Emit, Event
from tests.helpers.appointments import id_number

TZ = ZoneInfo("Asia/Shanghai")


class Driver:
    def __init__(self, path):
        self.hall = load_hall()
        self.db = sqlite_utils.Database(path)
        self.domain = AppointmentsDomain(self.hall)
        self.emit = Emit()
        with self.db.atomic():
            self.domain.setup(self.db, self.emit)
        self.n = 0

    def send(self, event_type: str, data: dict, at: datetime) -> dict:
        self.n += 1
        event = Event(id=f"evt-{self.n:06d}", device="web-01", kind="web", type=event_type, seq=self.n, ts=at,
                      received_at=at, data=EVENT_MODELS[event_type].model_validate(data), raw=data)
        with self.db.atomic():
            answer = self.domain.apply(self.db, event, self.emit)
            self.domain.flush(self.db, self.emit)
        return answer.model_dump(exclude_unset=True)

    def tick(self, at: datetime) -> None:
        with self.db.atomic():
            self.domain.tick(self.db, at, self.emit)

    def book(self, person: int, day: date, at: datetime, slot: str = "09:00") -> dict:
        return self.send("booking_request", {"queue": "A", "date": day.isoformat(), "time": slot, "name": "张三",
                                             "id_number": id_number(person), "phone": "13800138000"}, at)

    def published(self) -> dict[str, dict]:
        out = {}
        for parts, payload, _ in self.emit.drain():
            out["/".join(parts[1:])] = payload.model_dump(exclude_unset=True)
        return out


def morning(day: date) -> datetime:
    return datetime.combine(day, time(8, 0), tzinfo=TZ)


def workdays_from(day: date, n: int) -> list[date]:
    out = []
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def test_three_no_shows_within_30_days_block_booking(tmp_path):
    d = Driver(tmp_path / "hub.db")
    days = workdays_from(date(2026, 11, 2), 12)  # November 2026: no statutory holiday
    for day in days[:3]:  # booked for the day itself, never checked in
        assert d.book(1, day, morning(day))["ok"]
        d.tick(morning(day) + timedelta(days=1))  # the next morning: yesterday's booking was a no-show
    rows = d.db.execute("SELECT status FROM bookings ORDER BY date").fetchall()
    assert [r[0] for r in rows] == ["no_show"] * 3
    later = days[5]
    refused = d.book(1, later, morning(later))
    assert refused["code"] == "blocked" and "2026-12-04" in refused["error"]  # 30 days from the third no-show
    assert d.book(2, later, morning(later))["ok"]  # somebody else books as ever


def test_a_change_keeps_to_the_slot_and_the_person_limits_and_places_left_follow(tmp_path):
    d = Driver(tmp_path / "hub.db")
    monday = date(2026, 11, 30)
    at = morning(monday)
    first = d.book(1, date(2026, 12, 1), at)["booking"]
    for person in (2, 3, 4, 5):
        d.book(person, date(2026, 12, 1), at, "10:00")  # 10:00 full (4 places)
    state = d.published()["state/appointments/A"]
    tuesday = next(x for x in state["dates"] if x["date"] == "2026-12-01")["slots"]
    assert [(s["time"], s["left"]) for s in tuesday[:2]] == [("09:00", 3), ("10:00", 0)]
    full = d.send("booking_change", {"code": first["code"], "id_last4": id_number(1)[-4:], "date": "2026-12-01",
                                     "time": "10:00"}, at)
    assert full["code"] == "slot_full"
    same = d.send("booking_change", {"code": first["code"], "id_last4": id_number(1)[-4:], "date": "2026-12-01",
                                     "time": "09:00"}, at)
    assert same["ok"]  # its own place does not count against it
    d.book(1, date(2026, 12, 2), at)
    twice = d.send("booking_change", {"code": first["code"], "id_last4": id_number(1)[-4:], "date": "2026-12-02",
                                      "time": "14:00"}, at)
    assert twice["code"] == "already_booked"


def test_the_journal_keeps_no_id_number_and_no_full_name(tmp_path):
    d = Driver(tmp_path / "hub.db")
    kept = d.domain.redact("booking_request", {"queue": "A", "date": "2026-12-01", "time": "09:00",
                                               "name": "欧阳娜娜", "id_number": id_number(1), "phone": "13800138000"})
    assert "id_number" not in kept and kept["name"] == "欧**娜" and kept["id_last4"] == id_number(1)[-4:]
    assert len(kept["id_hash"]) == 64
