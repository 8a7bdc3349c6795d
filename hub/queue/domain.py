"""The queue inside the hub: events in, engine decisions journaled, answers out, retained state kept current.

Ingest hands every new event of the queue's types to `apply()` inside its transaction. The domain checks that the
device may act for the window, runs the operation on the pure engine, journals the operation with its answer
(`queue_journal`), keeps `tickets`, `calls` and `ratings` current for reports, and emits the `call` announcement,
the retained `calls` list and every `state/window/…` and `state/queue/…` that changed.

After a crash `setup()` replays the current day's journal through a fresh engine. Decisions are replayed, not
re-decided: an issued ticket is issued again even if the config has changed its hours since, and a call calls the
ticket that was called back then. So the day comes back exactly, numbering continues without gap or repeat.

The day is the hall's local date of the hub's receive time: the first event (or clock tick) of a new day opens it,
with fresh numbering and empty lines; staff logged in stay logged in.

Who may say what, beyond the kind of device (checked by ingest): a caller, rater or window PC acts only for the
windows hall.toml lists for it. A rating (好差评) comes only from the window's rating pad (a `rater`, or the
`caller` bus master that polls it) or from a citizen's own channel (`web`, `phone`, which must name the ticket),
never from the window PC, whose clerk is the one rated; the engine then allows one rating per ticket served at
that window, within `rating_within_minutes` (30) of the end of its service there. A login puts a staff member
only at the window staff.csv assigns them, whichever device sends it. A refused rating or login is stored with
its refusal (the event with its answer, the journal row) and changes nothing: reports and rankings read only the
`ratings` table, which holds credited ratings alone.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

import sqlite_utils

from hub.domain import Emit, Event
from hub.queue import store
from hub.queue.engine import (
    DECIDE,
    FORBIDDEN,
    NOT_ASSIGNED,
    NOTHING_TO_RATE,
    RATING_FORBIDDEN,
    UNKNOWN_QUEUE,
    UNKNOWN_STAFF,
    UNKNOWN_WINDOW,
    Call,
    Outcome,
    QueueEngine,
    Ticket,
    layout_from_hall,
    rules_from_hall,
)

log = logging.getLogger("hub.queue")

WINDOW_OPS = ("call_next", "recall", "skip", "complete", "transfer", "pause", "resume", "login", "logout", "rating")
CALLS_KEPT = 20
# device kinds bound to the windows listed in their config; a fingerprint terminal serves every window
WINDOW_BOUND_KINDS = ("caller", "window", "rater")
# who may rate: the window's rating pad, on its own or polled by the caller bus master, and the citizen's own
# channels (citizens' site, phone line: no such devices yet); never a window PC, run by the clerk being rated
RATING_PAD_KINDS = ("rater", "caller")
CITIZEN_KINDS = ("web", "phone")


def ticket_wire(t: Ticket) -> dict:
    return {"no": t.no, "queue": t.queue, "service": t.service, "priority": t.priority, "status": t.status,
            "issued_at": store.iso(t.issued_at), "window": t.window}


def refusal(code: str, detail: str = "") -> dict:
    out = Outcome.refuse(code, detail)
    return {"ok": False, "code": out.code, "error": out.error}


class QueueDomain:
    types = frozenset({"ticket_request", *WINDOW_OPS, "requeue"})

    def __init__(self, hall):
        self.hall = hall
        self.tz = hall.tz
        self.layout = layout_from_hall(hall)
        self.rules = rules_from_hall(hall)
        self.engine = QueueEngine(self.layout, self.rules)
        self._published: dict[str, dict] = {}
        self._journal_id = 0
        # what events changed since the last flush(), written and published there once
        self._dirty_windows: set[str] = set()
        self._dirty_queues: set[str] = set()
        self._dirty_calls = False
        # (day, no) → (ticket, device, event); (day, n) → call
        self._dirty_tickets: dict[tuple[date, str], tuple[Ticket, str | None, str | None]] = {}
        self._dirty_call_rows: dict[tuple[date, int], Call] = {}

    # ------------------------------------------------------------ Domain

    def setup(self, db: sqlite_utils.Database, emit: Emit) -> None:
        store.create_tables(db)
        self._rebuild(db)
        self._publish_all(emit)

    def apply(self, db: sqlite_utils.Database, event: Event, emit: Emit) -> dict | None:
        self._follow_journal(db, emit)
        try:
            at = self._moment(event.received_at)
            self._open_day(db, at, emit)
            op, args = self._operation(event)
            answer = self._check(event, op, args)
            outcome = None
            if answer is None:
                outcome, answer = self._perform(op, args, at)
            self._journal_id = store.journal(db, event=event.id, day=self.engine.day, at=at, op=op, args=args,
                                             result=answer)
            if outcome is not None and outcome.ok:
                self._record(db, op, args, at, outcome, event)
                self._emit(emit, outcome)
        except BaseException:
            # ingest rolls our rows back; the engine may have moved already, so rebuild it from the journal
            self._journal_id = -1
            raise
        return answer

    def flush(self, db: sqlite_utils.Database, emit: Emit) -> None:
        self._follow_journal(db, emit)  # what a rolled-back batch decided must not reach the report rows
        self._write_rows(db)
        if self._dirty_calls:
            self._publish(emit, "calls", {"calls": self.engine.recent_calls(CALLS_KEPT)})
        for w in sorted(self._dirty_windows):
            self._publish(emit, f"state/window/{w}", self.engine.window_state(w))
        for q in sorted(self._dirty_queues):
            self._publish(emit, f"state/queue/{q}", self.engine.queue_state(q))
        self._dirty_windows.clear()
        self._dirty_queues.clear()
        self._dirty_calls = False

    def tick(self, db: sqlite_utils.Database, now: datetime, emit: Emit) -> None:
        self._follow_journal(db, emit)
        try:
            self._open_day(db, self._moment(now), emit)
        except BaseException:
            self._journal_id = -1
            raise

    # ------------------------------------------------------------ events to operations

    def _operation(self, event: Event) -> tuple[str, dict]:
        d = event.data
        match event.type:
            case "ticket_request":
                queue = d.queue
                service = None
                if d.service is not None:
                    item = self.hall.catalogue.service(d.service)
                    service = d.service
                    queue = item.queue if item else None
                # the device in the journal too: a ticket row rebuilt after a crash names who asked for it
                return "issue", {"queue": queue, "service": service, "priority": d.priority, "channel": d.channel,
                                 "device": event.device}
            case "transfer":
                return "transfer", {"window": d.window, "queue": d.queue}
            case "requeue":
                return "requeue", {"ticket": d.ticket}
            case "login" | "logout":
                window = d.window
                if window is None:  # a fingerprint login names the person; their window comes from the staff list
                    member = self.hall.staff_member(d.staff)
                    window = member.window if member else None
                return event.type, {"window": window, "staff": d.staff}
            case "rating":
                return "rating", {"window": d.window, "ticket": d.ticket, "score": d.score}
            case _:
                return event.type, {"window": d.window}

    def _check(self, event: Event, op: str, args: dict) -> dict | None:
        """Refusals that depend on who asks rather than on the day's state."""
        if op == "issue":
            if args["queue"] is None:
                return refusal(UNKNOWN_QUEUE, f"service {args['service']!r}")
            return None
        if "window" not in args:
            return None
        if op == "rating" and event.kind not in (*RATING_PAD_KINDS, *CITIZEN_KINDS):
            return refusal(RATING_FORBIDDEN, f"{event.device} ({event.kind})")
        if op == "rating" and event.kind in CITIZEN_KINDS and args["ticket"] is None:
            return refusal(NOTHING_TO_RATE, f"{event.device}: 请写明票号 name the ticket")
        if op in ("login", "logout") and args["window"] is None:  # a terminal's login of someone with no window
            member = self.hall.staff_member(args["staff"])
            return refusal(NOT_ASSIGNED if member else UNKNOWN_STAFF, repr(args["staff"]))
        window = args["window"]
        if window is None or window not in self.layout.windows:
            return refusal(UNKNOWN_WINDOW, repr(window))
        device = self.hall.device(event.device)
        if device is not None and device.kind in WINDOW_BOUND_KINDS and window not in device.windows:
            return refusal(FORBIDDEN, f"{event.device} → {window}")
        return None

    def _perform(self, op: str, args: dict, at: datetime, recorded: dict | None = None) -> tuple[Outcome, dict]:
        """One operation on the engine and the answer for the device. `recorded` replays an earlier answer."""
        e = self.engine
        match op:
            case "issue":
                out = e.issue_ticket(args["queue"], at, priority=args["priority"], service=args.get("service"),
                                     channel=args.get("channel"), enforce=recorded is None)
            case "call_next":
                pick = DECIDE
                if recorded is not None:
                    pick = (recorded.get("ticket") or {}).get("no")
                out = e.call_next(args["window"], at, pick=pick)
            case "transfer":
                out = e.transfer(args["window"], args["queue"], at)
            case "requeue":
                out = e.requeue(args["ticket"], at)
            case "login":
                out = e.login(args["window"], args["staff"], at, enforce=recorded is None)
            case "logout":
                out = e.logout(args["window"], args["staff"], at)
            case "rating":
                ticket = args["ticket"] if recorded is None else recorded["rating"]["ticket"]
                out = e.rate(args["window"], ticket, at, enforce=recorded is None)
            case "recall" | "skip" | "complete" | "pause" | "resume":
                out = getattr(e, op)(args["window"], at)
            case _:
                raise ValueError(f"unknown queue operation {op!r}")
        return out, self._answer(op, args, out)

    def _answer(self, op: str, args: dict, out: Outcome) -> dict:
        if not out.ok:
            return {"ok": False, "code": out.code, "error": out.error}
        e = self.engine
        if op == "issue":
            t = out.ticket
            item = self.hall.catalogue.service(t.service) if t.service else None
            windows = list(item.windows) if item and item.windows else self.layout.windows_serving(t.queue)
            return {"ok": True, "ticket": ticket_wire(t) | {"windows": windows, "ahead": out.ahead,
                                                            "est_wait_s": out.est_wait_s}}
        if op in ("call_next", "recall"):
            ticket = None
            if out.ticket is not None:
                ticket = ticket_wire(out.ticket) | {"called_at": store.iso(out.call.called_at),
                                                    "recall": out.call.recalls}
            answer = {"ok": True, "ticket": ticket, "waiting": e.waiting_for(args["window"])}
            if op == "call_next":
                answer["completed"] = out.completed.no if out.completed else None
            return answer
        if op in ("transfer", "requeue"):
            return {"ok": True, "ticket": ticket_wire(out.ticket) | {"ahead": out.ahead}}
        if op in ("skip", "complete"):
            return {"ok": True, "ticket": ticket_wire(out.ticket), "waiting": e.waiting_for(args["window"])}
        if op == "rating":
            return {"ok": True, "rating": {"window": args["window"], "ticket": out.ticket.no, "staff": out.staff,
                                           "score": args["score"], "good": args["score"] >= 3}}
        return {"ok": True, "window": e.window_state(args["window"])}

    # ------------------------------------------------------------ journal and tables

    def _record(self, db, op: str, args: dict, at: datetime, out: Outcome, event: Event | None) -> None:
        day = self.engine.day
        for t in out.tickets:
            self._mark_ticket(day, t, *((event.device, event.id) if op == "issue" and event else (None, None)))
        for c in out.calls:
            self._dirty_call_rows[(day, c.n)] = c
        if op == "rating":
            store.save_rating(db, day=day, at=at, window=args["window"], ticket=out.ticket.no, staff=out.staff,
                              score=args["score"], event=event.id if event else None,
                              device=event.device if event else None)

    def _write_rows(self, db) -> None:
        """The rows for reports: each ticket and call once, however often it changed since the last write."""
        if self._dirty_tickets:
            store.save_tickets(db, [(day, *row) for (day, _), row in self._dirty_tickets.items()])
            self._dirty_tickets.clear()
        if self._dirty_call_rows:
            store.save_calls(db, [(day, call) for (day, _), call in self._dirty_call_rows.items()])
            self._dirty_call_rows.clear()

    def _mark_ticket(self, day: date, t: Ticket, device: str | None = None, event: str | None = None) -> None:
        earlier = self._dirty_tickets.get((day, t.no))
        if earlier is not None and earlier[1] is not None:  # issued earlier in this transaction: keep who asked
            device, event = earlier[1], earlier[2]
        self._dirty_tickets[(day, t.no)] = (t, device, event)

    def _open_day(self, db, at: datetime, emit: Emit) -> None:
        day = at.date()
        if self.engine.day is not None and day <= self.engine.day:
            return
        # the closing day's last rows go with the opening of the next: a rebuild only heals the latest day
        self._write_rows(db)
        self.engine = self.engine.next_day(day)
        staff = {w: d.staff for w, d in self.engine.windows.items() if d.staff}
        self._journal_id = store.journal(db, event=None, day=day, at=at, op="open_day", args={"staff": staff},
                                         result={"ok": True})
        self._publish_all(emit)

    def _rebuild(self, db) -> None:
        """The current day from the journal: its `open_day` row, then every operation that was carried out."""
        self.engine = QueueEngine(self.layout, self.rules)
        issued_by: dict[str, tuple[str | None, str | None]] = {}  # ticket → the device and event that asked
        rows = store.journal_of_last_day(db)
        if rows:
            _, _, day, _, _, args, _ = rows[0]
            self.engine = QueueEngine(self.layout, self.rules, date.fromisoformat(day))
            for window, staff in args.get("staff", {}).items():
                if window in self.engine.windows:
                    self.engine.windows[window].staff = staff
                    self.engine.windows[window].open = True
            mismatches = 0
            for row_id, event, _, at, op, args, result in rows[1:]:
                if not result.get("ok"):
                    continue  # a refusal changed nothing
                try:
                    _, again = self._perform(op, args, datetime.fromisoformat(at), recorded=result)
                except Exception:
                    log.exception("queue journal row %d (%s) could not be replayed", row_id, op)
                    continue
                if again != result:
                    mismatches += 1
                    log.warning("queue journal row %d (%s) replays as %s, was %s", row_id, op, again, result)
                if op == "issue":
                    issued_by[result["ticket"]["no"]] = (args.get("device"), event)
            log.info("queue day %s rebuilt from %d journal rows (%d differ)", day, len(rows), mismatches)
        # the day's report rows are written again from the rebuilt day: they heal if a crash cut them short
        self._dirty_tickets, self._dirty_call_rows = {}, {}
        if self.engine.day is not None:
            for t in self.engine.tickets.values():
                self._mark_ticket(self.engine.day, t, *issued_by.get(t.no, (None, None)))
            for c in self.engine.calls:
                self._dirty_call_rows[(self.engine.day, c.n)] = c
        self._journal_id = store.last_journal_id(db)

    def _follow_journal(self, db, emit: Emit) -> None:
        """If a batch this domain took part in was rolled back, its decisions never happened: forget them too."""
        if store.last_journal_id(db) != self._journal_id:
            log.warning("queue journal moved under the engine (a rolled-back batch): rebuilding the day")
            self._rebuild(db)
            self._published.clear()
            self._publish_all(emit)

    def _moment(self, moment: datetime) -> datetime:
        # milliseconds, as journaled, so that a replay computes the very same durations and estimates
        moment = moment.astimezone(self.tz)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    # ------------------------------------------------------------ retained state

    def _emit(self, emit: Emit, out: Outcome) -> None:
        if out.announce is not None:
            # the announcement now: screens and voices react to it; the state it changed follows in flush()
            emit.hub("call", out.announce.wire(), retain=False)
            self._dirty_calls = True
        self._dirty_windows |= out.windows
        self._dirty_queues |= out.queues

    def _publish_all(self, emit: Emit) -> None:
        self._publish(emit, "calls", {"calls": self.engine.recent_calls(CALLS_KEPT)})
        for w in self.engine.windows:
            self._publish(emit, f"state/window/{w}", self.engine.window_state(w))
        for q in self.engine.queues:
            self._publish(emit, f"state/queue/{q}", self.engine.queue_state(q))

    def _publish(self, emit: Emit, suffix: str, payload: dict) -> None:
        if self._published.get(suffix) == payload:
            return
        self._published[suffix] = payload
        emit.hub(suffix, payload)

    # ------------------------------------------------------------ for tests and tools

    def snapshot(self) -> dict:
        return self.engine.snapshot()
