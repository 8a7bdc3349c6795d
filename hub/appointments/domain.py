"""Appointments inside the hub: booking requests in, decisions written, answers out, places left kept retained.

Ingest hands every new `booking_request`, `booking_cancel` and `booking_change` (sent by the citizens' site, kind
`web`) to `apply()` inside its transaction. The domain reads what the `bookings` table holds for the slot and the
person, asks the rules (hub/appointments/rules.py) and writes the decision in the same transaction. The hub decides
one event at a time, so however many requests race for the last places of a slot, exactly as many are confirmed
as there are places.

`checkin` (a kiosk's 预约签到) issues a ticket, so it is a queue operation (hub/queue/operations.py) that reads and
writes the same table through hub/appointments/store.py.

The journal never holds an ID number (`redact`: its keyed hash and last 4 characters) nor a full name (masked).
Places left go out as retained state `hub/state/appointments/{queue}` after each burst and when the clock closes a
slot or opens a day; a day that is over turns its bookings never checked in into no-shows.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime

import sqlite_utils

from hall.protocol import Answer, AppointmentsState, BookingInfo, FromHub, SlotDay, SlotPlaces
from hub.appointments import store
from hub.appointments.rules import (
    BOOKED,
    CANCELLED,
    INVALID,
    NOT_FOUND,
    BookingRules,
    Refusal,
    Taken,
    bookable_days,
    check_person,
    check_slot,
    decide_booking,
    id_last4,
    id_number_hash,
    masked_name,
    may_change,
    new_code,
    places_left,
    refuse,
    rules_from_hall,
)
from hub.cases.store import id_key
from hub.domain import Emit, Event

log = logging.getLogger("hub.appointments")

BOOKING_TYPES = frozenset({"booking_request", "booking_cancel", "booking_change"})


def booking_wire(b: store.Booking) -> BookingInfo:
    return BookingInfo.build(code=b.code, queue=b.queue, date=b.date, time=b.time, end=b.end, name=b.name,
                             id_last4=b.id_last4, status=b.status, ticket=b.ticket,
                             **({"on_time": bool(b.on_time)} if b.on_time is not None else {}))


def refusal_answer(r: Refusal) -> Answer:
    return Answer.build(ok=False, code=r.code, error=r.error)


class AppointmentsDomain:
    types = BOOKING_TYPES

    def __init__(self, hall):
        from hub.attendance.rules import WorkCalendar

        self.hall = hall
        self.tz = hall.tz
        self.rules: BookingRules = rules_from_hall(hall)
        self.calendar = WorkCalendar.from_rules(hall.attendance, log.info)
        # every booking checks its day against the bookable days: the statutory calendar asked once a day each
        self.is_workday = functools.lru_cache(maxsize=1024)(self.calendar.is_workday)
        self.key = b""
        self._now: datetime | None = None
        self._minute: datetime | None = None
        self._day: str | None = None
        self._dirty: set[str] = set()
        self._checked_in = -1
        self._published: dict[str, FromHub] = {}

    # ------------------------------------------------------------ Domain

    def setup(self, db: sqlite_utils.Database, emit: Emit) -> None:
        store.create_tables(db)
        self.key = id_key(db)

    def redact(self, event_type: str, data: dict) -> dict:
        """The journal keeps the ID number as its keyed hash and last 4 characters, the name masked."""
        number = data.get("id_number")
        if event_type != "booking_request" or not isinstance(number, str):
            return data
        kept = {k: v for k, v in data.items() if k != "id_number"}
        if isinstance(kept.get("name"), str):
            kept["name"] = masked_name(kept["name"])
        return {**kept, "id_hash": id_number_hash(number, self.key), "id_last4": id_last4(number)}

    def apply(self, db: sqlite_utils.Database, event: Event, emit: Emit) -> Answer:
        now = event.received_at.astimezone(self.tz)
        self._now = now
        d = event.data
        if event.type == "booking_request":
            return self._book(db, event, now)
        b = store.booking(db, d.code)
        if b is None or b.id_last4.upper() != d.id_last4.upper():
            return refusal_answer(refuse(NOT_FOUND, d.code[:2] + "******"))
        closed = may_change(b.status)
        if closed is not None:
            return refusal_answer(closed)
        if event.type == "booking_cancel":
            store.update(db, b.code, status=CANCELLED, cancelled_at=store.iso(now))
            self._dirty.add(b.queue)
            return Answer.build(ok=True, booking=booking_wire(store.booking(db, b.code)))
        # booking_change: another slot of the same queue, under the same limits (its own place does not count)
        where = check_slot(self.rules, b.queue, d.date, d.time, now, self.is_workday)
        if isinstance(where, Refusal):
            return refusal_answer(where)
        day, slot = where
        same = [c for c in store.person_on(db, b.id_hash, day.isoformat(), b.queue) if c.code != b.code]
        in_slot = store.live_in_slot(db, b.queue, day.isoformat(), slot.label)
        if (b.date, b.time) == (day.isoformat(), slot.label):
            in_slot -= 1
        refused = decide_booking(self.rules, slot, now.date(), Taken(in_slot, tuple(c.code for c in same)))
        if refused is not None:
            return refusal_answer(refused)
        store.update(db, b.code, date=day.isoformat(), time=slot.label, end=f"{slot.end:%H:%M}",
                     changed_at=store.iso(now))
        self._dirty.add(b.queue)
        return Answer.build(ok=True, booking=booking_wire(store.booking(db, b.code)))

    def flush(self, db: sqlite_utils.Database, emit: Emit) -> None:
        if self._now is not None:
            # a kiosk's check-in is the queue's operation: it shows here as today's count moving
            checked_in = store.checked_in_on(db, self._now.date().isoformat())
            if checked_in != self._checked_in:
                self._checked_in = checked_in
                self._dirty |= set(self.rules.queues)
        for queue in sorted(self._dirty):
            self._publish(emit, queue, self.state(db, queue))
        self._dirty.clear()

    def tick(self, db: sqlite_utils.Database, now: datetime, emit: Emit) -> None:
        now = now.astimezone(self.tz)
        self._now = now
        minute = now.replace(second=0, microsecond=0)
        if minute == self._minute:
            return
        self._minute = minute
        today = now.date().isoformat()
        if today != self._day:
            marked = store.mark_no_shows(db, today)
            if marked:
                log.info("%d bookings of days gone by were never checked in: no-shows", marked)
            self._day = today
        # a slot that began this minute is no longer bookable; a new day opens a day ahead
        for queue in self.rules.queues:
            self._publish(emit, queue, self.state(db, queue, now))

    # ------------------------------------------------------------ booking

    def _book(self, db: sqlite_utils.Database, event: Event, now: datetime) -> Answer:
        d = event.data
        bad = check_person(self.rules, d.id_number, d.phone)
        if bad is not None:
            return refusal_answer(bad)
        if not d.name.strip():
            return refusal_answer(refuse(INVALID, "不能为空 empty", "name"))
        where = check_slot(self.rules, d.queue, d.date, d.time, now, self.is_workday)
        if isinstance(where, Refusal):
            return refusal_answer(where)
        day, slot = where
        person = id_number_hash(d.id_number, self.key)
        taken = Taken(in_slot=store.live_in_slot(db, d.queue, day.isoformat(), slot.label),
                      person_same_day=tuple(b.code for b in store.person_on(db, person, day.isoformat(), d.queue)),
                      no_shows=tuple(store.no_show_days(db, person, now.date().isoformat())))
        refused = decide_booking(self.rules, slot, now.date(), taken)
        if refused is not None:
            return refusal_answer(refused)
        code = new_code(lambda c: store.code_taken(db, c))
        booked = store.Booking(code=code, queue=d.queue, date=day.isoformat(), time=slot.label,
                               end=f"{slot.end:%H:%M}", name=masked_name(d.name), id_hash=person,
                               id_last4=id_last4(d.id_number), phone=d.phone, status=BOOKED,
                               booked_at=store.iso(now), changed_at=None, cancelled_at=None, checked_in_at=None,
                               ticket=None, on_time=None, device=event.device, event=event.id)
        store.insert(db, booked)
        self._dirty.add(d.queue)
        return Answer.build(ok=True, booking=booking_wire(booked))

    # ------------------------------------------------------------ places left

    def state(self, db: sqlite_utils.Database, queue: str, now: datetime | None = None) -> AppointmentsState:
        """The queue's bookable days with each slot's places left, and today's bookings by status."""
        now = now or self._now or datetime.now(self.tz)
        days = bookable_days(self.rules, now.date(), self.is_workday)
        live = store.live_by_slot(db, queue, [d.isoformat() for d in days])
        dates = []
        for day in days:
            slots = []
            for s in self.rules.slots(queue):
                if day == now.date() and datetime.combine(day, s.start, tzinfo=self.tz) <= now:
                    continue  # begun: no longer bookable
                n = live.get((day.isoformat(), s.label), 0)
                slots.append(SlotPlaces.build(time=s.label, end=f"{s.end:%H:%M}", capacity=s.capacity,
                                              left=places_left(s, n)))
            if slots:
                dates.append(SlotDay.build(date=day.isoformat(), slots=slots))
        today = store.day_counts(db, now.date().isoformat()).get(queue, {})
        return AppointmentsState.build(queue=queue, dates=dates, today=today)

    def _publish(self, emit: Emit, queue: str, payload: AppointmentsState) -> None:
        suffix = f"state/appointments/{queue}"
        if self._published.get(suffix) == payload:
            return
        self._published[suffix] = payload
        emit.hub(suffix, payload)
