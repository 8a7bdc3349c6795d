"""Every queue operation the hub carries out, one entry each in OPERATIONS: which event asks for it, how its
inputs are read from the event, who may ask for it, how the engine carries it out, what the device is answered,
and what it adds to the report rows. A new operation is a new entry; QueueDomain routes every event through here.

The journal (`queue_journal`) keeps each operation by its name with the inputs `read` made of the event and the
answer given. A replay runs `perform` again with that answer (`recorded`): a decision is repeated, not made again,
so the names and the inputs here are the journal's format and stay as they are.

Who may say what, beyond the kind of device (checked by ingest): a caller, rater or window PC acts only for the
windows hall.toml lists for it. A rating (好差评) comes only from the window's rating pad (a `rater`, or the
`caller` bus master that polls it) or from a citizen's own channel (`web`, `phone`, which must name the ticket),
never from the window PC, whose clerk is the one rated; the engine then allows one rating per ticket served at
that window, within `rating_within_minutes` (30) of the end of its service there. A login puts a staff member
only at the window staff.csv assigns them, whichever device sends it. A refused rating or login is stored with
its refusal (the event with its answer, the journal row) and changes nothing: reports and rankings read only the
`ratings` table, which holds credited ratings alone.

A ticket request may give an ID number (required for the queues of `[appointments] id_required`): it is checked
(GB 11643) and the engine is given only its keyed hash, for the limit of one ticket per person per queue per day;
the journal keeps the hash, never the number. A phone number given is kept with the ticket for the near-turn text.

`checkin` (预约签到 at a kiosk) finds today's booking by its code or the ID number in the `bookings` table
(hub/appointments/store.py): on time (from 30 minutes before its slot to its end) it issues a booked ticket, called
ahead of walk-ins; later the same day an ordinary one. What it found is journaled with the operation, so a replay
issues the same ticket without reading the table again.

Calls (`call_next`, `call_ticket`, `recall`) are refused with `not_logged_in` at a window nobody is logged in at,
whichever device asks: the clerk's PC and the caller keypads alike. A replay does not ask again: a call journaled
as made is made, whatever the rules say now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING

import sqlite_utils

from hall.protocol import Answer, BookingInfo, RatingInfo, TicketInfo
from hub.appointments import rules as booking_rules
from hub.appointments import store as bookings
from hub.cases.rules import id_number_hash, id_number_valid
from hub.domain import Event
from hub.queue import store
from hub.queue.engine import (
    DECIDE,
    FORBIDDEN,
    INVALID_ID,
    NOT_ASSIGNED,
    NOTHING_TO_RATE,
    RATING_FORBIDDEN,
    UNKNOWN_QUEUE,
    UNKNOWN_STAFF,
    UNKNOWN_WINDOW,
    Outcome,
    QueueEngine,
    Ticket,
)

if TYPE_CHECKING:
    from hub.queue.domain import QueueDomain

# device kinds bound to the windows listed in their config; a fingerprint terminal serves every window
WINDOW_BOUND_KINDS = ("caller", "window", "rater")
# who may rate: the window's rating pad, on its own or polled by the caller bus master, and the citizen's own
# channels (citizens' site, phone line: no such devices yet); never a window PC, run by the clerk being rated
RATING_PAD_KINDS = ("rater", "caller")
CITIZEN_KINDS = ("web", "phone")


def ticket_wire(t: Ticket, **more) -> TicketInfo:
    """The ticket in an answer, with what that answer adds (`more`: the windows, the people ahead, …)."""
    if t.booked is not None:
        more["booked"] = f"{t.booked:%H:%M}"
    return TicketInfo.build(no=t.no, queue=t.queue, service=t.service, priority=t.priority,
                            status=t.status, issued_at=store.iso(t.issued_at), window=t.window, **more)


def refused(out: Outcome) -> Answer:
    return Answer.build(ok=False, code=out.code, error=out.error)


def refusal(code: str, detail: str = "") -> Answer:
    return refused(Outcome.refuse(code, detail))


@dataclass(frozen=True)
class Operation:
    name: str    # as journaled
    event: str   # the event type that asks for it
    # the event's payload → the operation's inputs, as journaled
    read: Callable[[QueueDomain, Event], dict]
    # carried out on the engine at a moment; `recorded` is the answer journaled, when replaying
    perform: Callable[[QueueEngine, dict, datetime, dict | None], Outcome]
    # what the device is answered when the engine did it (a refusal is answered alike for all)
    answer: Callable[[QueueDomain, dict, Outcome], Answer]
    # refusals that depend on who asks, before those of the window
    check: Callable[[QueueDomain, Event, dict], Answer | None] | None = None
    at_window: bool = True  # acts for a window: it must exist, and a device bound to windows must be bound to it
    issues: bool = False    # its tickets were asked for by the event's device: their rows name it
    # rows of its own for reports, beyond the tickets and calls it touched: (db, day, at, args, outcome, event)
    record: Callable[[sqlite_utils.Database, date, datetime, dict, Outcome, Event | None], None] | None = None

    def refused(self, domain: QueueDomain, event: Event, args: dict) -> Answer | None:
        """The answer when who asks may not ask for this; None when they may."""
        if self.check is not None:
            answer = self.check(domain, event, args)
            if answer is not None:
                return answer
        if not self.at_window:
            return None
        window = args["window"]
        if window is None or window not in domain.layout.windows:
            return refusal(UNKNOWN_WINDOW, repr(window))
        device = domain.hall.device(event.device)
        if device is not None and device.kind in WINDOW_BOUND_KINDS and window not in device.windows:
            return refusal(FORBIDDEN, f"{event.device} → {window}")
        return None

    def carry_out(self, domain: QueueDomain, args: dict, at: datetime,
                  recorded: dict | None = None) -> tuple[Outcome, Answer]:
        """On the domain's engine, with the answer for the device. `recorded` replays an earlier answer, as the
        journal holds it."""
        out = self.perform(domain.engine, args, at, recorded)
        if not out.ok:
            return out, refused(out)
        return out, self.answer(domain, args, out)


# ------------------------------------------------------------ reading the event

def _ticket_request(domain: QueueDomain, event: Event) -> dict:
    d = event.data
    queue = d.queue
    service = None
    if d.service is not None:
        item = domain.hall.catalogue.service(d.service)
        service = d.service
        queue = item.queue if item else None
    # the device in the journal too: a ticket row rebuilt after a crash names who asked for it
    args = {"queue": queue, "service": service, "priority": d.priority, "channel": d.channel, "device": event.device}
    if d.id_number is not None:
        # the keyed hash only; a number failing its check digit is refused in _known_queue
        args["person"] = id_number_hash(d.id_number, domain.key) if id_number_valid(d.id_number) else None
        args["id_invalid"] = not id_number_valid(d.id_number)
    if d.phone is not None:
        args["phone"] = d.phone
    return args


def _checkin(domain: QueueDomain, event: Event) -> dict:
    """Today's booking this check-in names, and what it gives: a booked ticket on time, an ordinary one late. A
    refusal is journaled as found (`refusal`), a ticket with everything a replay needs."""
    d = event.data
    db, now = domain.db, domain.moment(event.received_at)
    today = now.date().isoformat()
    if d.code is not None:
        found = bookings.booking(db, d.code)
        if found is None:
            return {"refusal": (booking_rules.NO_BOOKING, d.code[:2] + "******")}
        candidates = [found]
    else:
        if not id_number_valid(d.id_number):
            return {"refusal": (booking_rules.INVALID, "校验不通过 fails its check digit", "id_number")}
        person = id_number_hash(d.id_number, domain.key)
        candidates = bookings.person_on(db, person, today, statuses=("booked", "no_show", "checked_in"))
        if not candidates:
            return {"refusal": (booking_rules.NO_BOOKING, f"****{d.id_number[-4:]}")}
        # the booking whose window is open now, else the earliest still to come, else the latest gone
        waiting = [b for b in candidates if b.status != booking_rules.CHECKED_IN] or candidates
        rank = {booking_rules.ON_TIME: 0, booking_rules.EARLY: 1, booking_rules.LATE: 2}
        candidates = sorted(waiting, key=lambda b: (rank[_timing(domain, b, now)], b.time))
    b = candidates[0]
    if b.status == booking_rules.CHECKED_IN:
        return {"refusal": (booking_rules.ALREADY_CHECKED_IN, b.ticket or "")}
    if b.status == booking_rules.CANCELLED:
        return {"refusal": (booking_rules.BOOKING_CLOSED, "已取消 cancelled")}
    if b.date != today:
        return {"refusal": (booking_rules.NOT_TODAY, b.date)}
    timing = _timing(domain, b, now)
    if timing == booking_rules.EARLY:
        opens = booking_rules.checkin_opens(domain.booking_rules, b.day, _slot_of(b), domain.tz)
        return {"refusal": (booking_rules.TOO_EARLY, f"{opens:%H:%M} 起可签到 check-in opens at {opens:%H:%M}")}
    return {"queue": b.queue, "booking": b.code, "slot": b.time if timing == booking_rules.ON_TIME else None,
            "person": b.id_hash, "phone": b.phone, "channel": "kiosk", "device": event.device}


def _slot_of(b) -> booking_rules.Slot:
    return booking_rules.Slot(time.fromisoformat(b.time), time.fromisoformat(b.end), 0)


def _timing(domain: QueueDomain, b, now: datetime) -> str:
    return booking_rules.checkin_timing(domain.booking_rules, b.day, _slot_of(b), now)


def _window(domain: QueueDomain, event: Event) -> dict:
    return {"window": event.data.window}


def _window_and_queue(domain: QueueDomain, event: Event) -> dict:
    return {"window": event.data.window, "queue": event.data.queue}


def _ticket(domain: QueueDomain, event: Event) -> dict:
    return {"ticket": event.data.ticket}


def _window_and_ticket(domain: QueueDomain, event: Event) -> dict:
    return {"window": event.data.window, "ticket": event.data.ticket}


def _window_and_reason(domain: QueueDomain, event: Event) -> dict:
    return {"window": event.data.window, "reason": event.data.reason}


def _staff_at_window(domain: QueueDomain, event: Event) -> dict:
    d = event.data
    window = d.window
    if window is None:  # a fingerprint login names the person; their window comes from the staff list
        member = domain.hall.staff_member(d.staff)
        window = member.window if member else None
    return {"window": window, "staff": d.staff}


def _rating(domain: QueueDomain, event: Event) -> dict:
    d = event.data
    return {"window": d.window, "ticket": d.ticket, "score": d.score}


# ------------------------------------------------------------ who may ask

def _known_queue(domain: QueueDomain, event: Event, args: dict) -> Answer | None:
    if args["queue"] is None:
        return refusal(UNKNOWN_QUEUE, f"service {args['service']!r}")
    if args.get("id_invalid"):
        return refusal(INVALID_ID, "GB 11643")
    return None


def _booking_found(domain: QueueDomain, event: Event, args: dict) -> Answer | None:
    if "refusal" in args:
        r = booking_rules.refuse(*args["refusal"])
        return Answer.build(ok=False, code=r.code, error=r.error)
    return None


def _assigned_window(domain: QueueDomain, event: Event, args: dict) -> Answer | None:
    if args["window"] is None:  # a terminal's login of someone with no window
        member = domain.hall.staff_member(args["staff"])
        return refusal(NOT_ASSIGNED if member else UNKNOWN_STAFF, repr(args["staff"]))
    return None


def _may_rate(domain: QueueDomain, event: Event, args: dict) -> Answer | None:
    if event.kind not in (*RATING_PAD_KINDS, *CITIZEN_KINDS):
        return refusal(RATING_FORBIDDEN, f"{event.device} ({event.kind})")
    if event.kind in CITIZEN_KINDS and args["ticket"] is None:
        return refusal(NOTHING_TO_RATE, f"{event.device}: 请写明票号 name the ticket")
    return None


# ------------------------------------------------------------ on the engine

def _issue(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
    return engine.issue_ticket(args["queue"], at, priority=args["priority"], service=args.get("service"),
                               channel=args.get("channel"), person=args.get("person"), phone=args.get("phone"),
                               enforce=recorded is None)


def _check_in(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
    slot = time.fromisoformat(args["slot"]) if args.get("slot") else None
    return engine.issue_ticket(args["queue"], at, channel=args.get("channel"), booked=slot, person=args.get("person"),
                               phone=args.get("phone"), enforce=recorded is None)


def _call_next(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
    pick = DECIDE
    if recorded is not None:
        pick = (recorded.get("ticket") or {}).get("no")
    return engine.call_next(args["window"], at, pick=pick, enforce=recorded is None)


def _call_ticket(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
    return engine.call_ticket(args["window"], args["ticket"], at, enforce=recorded is None)


def _recall(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
    return engine.recall(args["window"], at, enforce=recorded is None)


def _pause(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
    # journaled before pauses had reasons: no reason
    return engine.pause(args["window"], at, args.get("reason"), enforce=recorded is None)


def _transfer(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
    return engine.transfer(args["window"], args["queue"], at)


def _requeue(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
    return engine.requeue(args["ticket"], at)


def _login(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
    return engine.login(args["window"], args["staff"], at, enforce=recorded is None)


def _logout(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
    return engine.logout(args["window"], args["staff"], at)


def _rate(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
    ticket = args["ticket"] if recorded is None else recorded["rating"]["ticket"]
    return engine.rate(args["window"], ticket, at, enforce=recorded is None)


def _at_window(action: Callable[[QueueEngine, str, datetime], Outcome]):
    """skip, complete, resume: the window and the moment are all they take."""
    def perform(engine: QueueEngine, args: dict, at: datetime, recorded: dict | None) -> Outcome:
        return action(engine, args["window"], at)
    return perform


# ------------------------------------------------------------ answers

def _ticket_issued(domain: QueueDomain, args: dict, out: Outcome) -> Answer:
    t = out.ticket
    item = domain.hall.catalogue.service(t.service) if t.service else None
    windows = list(item.windows) if item and item.windows else domain.layout.windows_serving(t.queue)
    return Answer.build(ok=True, ticket=ticket_wire(t, windows=windows, ahead=out.ahead,
                                                              est_wait_s=out.est_wait_s,
                                                              follow=domain.follow_token(domain.engine.day, t.no)))


def _checked_in(domain: QueueDomain, args: dict, out: Outcome) -> Answer:
    t = out.ticket
    b = bookings.booking(domain.db, args["booking"]) if domain.db is not None else None
    booking = None
    if b is not None:
        booking = BookingInfo.build(code=b.code, queue=b.queue, date=b.date, time=b.time, end=b.end, name=b.name,
                                    status=booking_rules.CHECKED_IN, ticket=t.no, on_time=args.get("slot") is not None)
    return Answer.build(ok=True, ticket=ticket_wire(t, windows=domain.layout.windows_serving(t.queue),
                                                    ahead=out.ahead, est_wait_s=out.est_wait_s),
                        booking=booking)


def _ticket_called(domain: QueueDomain, args: dict, out: Outcome, **more) -> Answer:
    ticket = None
    if out.ticket is not None:
        ticket = ticket_wire(out.ticket, called_at=store.iso(out.call.called_at), recall=out.call.recalls)
    return Answer.build(ok=True, ticket=ticket, waiting=domain.engine.waiting_for(args["window"]), **more)


def _next_called(domain: QueueDomain, args: dict, out: Outcome) -> Answer:
    return _ticket_called(domain, args, out, completed=out.completed.no if out.completed else None)


def _ticket_moved(domain: QueueDomain, args: dict, out: Outcome) -> Answer:
    return Answer.build(ok=True, ticket=ticket_wire(out.ticket, ahead=out.ahead))


def _ticket_ended(domain: QueueDomain, args: dict, out: Outcome) -> Answer:
    return Answer.build(ok=True, ticket=ticket_wire(out.ticket),
                        waiting=domain.engine.waiting_for(args["window"]))


def _window_state(domain: QueueDomain, args: dict, out: Outcome) -> Answer:
    return Answer.build(ok=True, window=domain.engine.window_state(args["window"]))


def _rated(domain: QueueDomain, args: dict, out: Outcome) -> Answer:
    return Answer.build(ok=True, rating=RatingInfo.build(
        window=args["window"], ticket=out.ticket.no, staff=out.staff, score=args["score"], good=args["score"] >= 3))


# ------------------------------------------------------------ rows of their own

def _save_rating(db: sqlite_utils.Database, day: date, at: datetime, args: dict, out: Outcome,
                 event: Event | None) -> None:
    store.save_rating(db, day=day, at=at, window=args["window"], ticket=out.ticket.no, staff=out.staff,
                      score=args["score"], event=event.id if event else None, device=event.device if event else None)


def _save_checkin(db: sqlite_utils.Database, day: date, at: datetime, args: dict, out: Outcome,
                  event: Event | None) -> None:
    if event is None:
        return  # a replay: the booking row committed with the check-in
    bookings.update(db, args["booking"], status=booking_rules.CHECKED_IN, checked_in_at=store.iso(at),
                    ticket=out.ticket.no, on_time=int(args.get("slot") is not None))


OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    Operation("issue", "ticket_request", _ticket_request, _issue, _ticket_issued, check=_known_queue,
              at_window=False, issues=True),
    Operation("call_next", "call_next", _window, _call_next, _next_called),
    Operation("call_ticket", "call_ticket", _window_and_ticket, _call_ticket, _next_called),
    Operation("recall", "recall", _window, _recall, _ticket_called),
    Operation("skip", "skip", _window, _at_window(QueueEngine.skip), _ticket_ended),
    Operation("complete", "complete", _window, _at_window(QueueEngine.complete), _ticket_ended),
    Operation("transfer", "transfer", _window_and_queue, _transfer, _ticket_moved),
    Operation("requeue", "requeue", _ticket, _requeue, _ticket_moved, at_window=False),
    Operation("pause", "pause", _window_and_reason, _pause, _window_state),
    Operation("resume", "resume", _window, _at_window(QueueEngine.resume), _window_state),
    Operation("login", "login", _staff_at_window, _login, _window_state, check=_assigned_window),
    Operation("logout", "logout", _staff_at_window, _logout, _window_state, check=_assigned_window),
    Operation("rating", "rating", _rating, _rate, _rated, check=_may_rate, record=_save_rating),
    Operation("checkin", "checkin", _checkin, _check_in, _checked_in, check=_booking_found, at_window=False,
              issues=True, record=_save_checkin),
)}
ASKED_BY: dict[str, Operation] = {op.event: op for op in OPERATIONS.values()}
