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

What each event asks for, who may ask for it, how it is carried out and answered: one entry per operation in
hub/queue/operations.py. This module is the same for all of them.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

import sqlite_utils

from hall.protocol import Answer, Calls, FromHub
from hub.appointments.rules import rules_from_hall as booking_rules_from_hall
from hub.cases.rules import id_last4, id_number_hash
from hub.cases.store import id_key
from hub.domain import Emit, Event
from hub.queue import store
from hub.queue.engine import Call, Outcome, QueueEngine, Ticket, layout_from_hall, rules_from_hall
from hub.queue.operations import ASKED_BY, OPERATIONS, Operation

log = logging.getLogger("hub.queue")

CALLS_KEPT = 20


class QueueDomain:
    types = frozenset(ASKED_BY)

    def __init__(self, hall):
        self.hall = hall
        self.tz = hall.tz
        self.layout = layout_from_hall(hall)
        self.rules = rules_from_hall(hall)
        self.engine = QueueEngine(self.layout, self.rules)
        self.booking_rules = booking_rules_from_hall(hall)  # when a check-in is on time
        self.key = b""   # for the keyed hash of an ID number (the cases' key: one person, one hash)
        self.db: sqlite_utils.Database | None = None  # during apply(): a check-in reads the bookings table
        self._published: dict[str, FromHub] = {}
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
        self.key = id_key(db)
        self._follow_key = store.follow_key(db)
        self._rebuild(db)
        self._publish_all(emit)

    def redact(self, event_type: str, data: dict) -> dict:
        """The journal never holds an ID number given for a ticket or a check-in: its keyed hash and last 4."""
        number = data.get("id_number")
        if not isinstance(number, str):
            return data
        kept = {k: v for k, v in data.items() if k != "id_number"}
        return {**kept, "id_hash": id_number_hash(number, self.key), "id_last4": id_last4(number)}

    def moment(self, moment: datetime) -> datetime:
        return self._moment(moment)

    def apply(self, db: sqlite_utils.Database, event: Event, emit: Emit) -> Answer | None:
        self.db = db
        self._follow_journal(db, emit)
        try:
            at = self._moment(event.received_at)
            self._open_day(db, at, emit)
            operation = ASKED_BY[event.type]
            args = operation.read(self, event)
            answer = operation.refused(self, event, args)
            outcome = None
            if answer is None:
                outcome, answer = operation.carry_out(self, args, at)
            self._journal_id = store.journal(db, event=event.id, day=self.engine.day, at=at, op=operation.name,
                                             args=args, result=answer)
            if outcome is not None and outcome.ok:
                self._record(db, operation, args, at, outcome, event)
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
            self._publish(emit, "calls", Calls.build(calls=self.engine.recent_calls(CALLS_KEPT)))
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

    # ------------------------------------------------------------ journal and tables

    def _record(self, db, operation: Operation, args: dict, at: datetime, out: Outcome, event: Event | None) -> None:
        day = self.engine.day
        for t in out.tickets:
            self._mark_ticket(day, t, *((event.device, event.id) if operation.issues and event else (None, None)))
        for c in out.calls:
            self._dirty_call_rows[(day, c.n)] = c
        if operation.record is not None:
            operation.record(db, day, at, args, out, event)

    def _write_rows(self, db) -> None:
        """The rows for reports: each ticket and call once, however often it changed since the last write."""
        if self._dirty_tickets:
            store.save_tickets(db, [(day, *row) for (day, _), row in self._dirty_tickets.items()],
                               follow=self.follow_token)
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
        self.db = db
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
                    operation = OPERATIONS.get(op)
                    if operation is None:
                        raise ValueError(f"unknown queue operation {op!r}")
                    _, again = operation.carry_out(self, args, datetime.fromisoformat(at), recorded=result)
                except Exception:
                    log.exception("queue journal row %d (%s) could not be replayed", row_id, op)
                    continue
                if again.model_dump(exclude_unset=True) != result:
                    mismatches += 1
                    log.warning("queue journal row %d (%s) replays as %s, was %s", row_id, op, again, result)
                if operation.issues:
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
        self._publish(emit, "calls", Calls.build(calls=self.engine.recent_calls(CALLS_KEPT)))
        for w in self.engine.windows:
            self._publish(emit, f"state/window/{w}", self.engine.window_state(w))
        for q in self.engine.queues:
            self._publish(emit, f"state/queue/{q}", self.engine.queue_state(q))

    def _publish(self, emit: Emit, suffix: str, payload: FromHub) -> None:
        if self._published.get(suffix) == payload:
            return
        self._published[suffix] = payload
        emit.hub(suffix, payload)

    def follow_token(self, day: date, no: str) -> str | None:
        """The token of the ticket's page on the citizens' site: a keyed hash, so a replay gives the same."""
        key = getattr(self, "_follow_key", None)
        return store.follow_token(key, self.hall.id, day, no) if key else None

    # ------------------------------------------------------------ for tests and tools

    def snapshot(self) -> dict:
        return self.engine.snapshot()
