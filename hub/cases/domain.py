"""Cases inside the hub: case events in, the book's decisions journaled, answers out, the tables the console, the
alerts and the reports read kept current.

Ingest hands every new event of the cases' types to `apply()` inside its transaction: a window PC's or a
back-office clerk's `case_accept`, `case_start`, `case_suspend`, `case_resume`, `case_finish`, `case_withdraw`; the
console's `complaint` and `followup_answer`; a kiosk's `case_lookup` (answered with the service, state and deadline
only, never with personal data). Each operation is journaled with its answer (`cases_journal`); a refusal too.

The clock's work (`tick`, about once a second, acting once a minute): poor ratings stored by the queue
(`ratings`, score 1–2) open their follow-ups, journaled like the rest; every open case's and follow-up's card is
judged at the moment, kept in `cases.card` / `followups.card` for the alerts (case_yellow, case_red) and each
yellow and red card counted once in `case_cards`.

After a restart `setup()` replays the whole journal through a fresh book: numbers, limits and moments as decided
back then, never decided again.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlite_utils

from hall.protocol import Answer, CaseInfo, FollowUpInfo
from hub.cases import store
from hub.cases.rules import (
    COMPLAINT,
    FORBIDDEN,
    INVALID_ID,
    RATING,
    RED,
    YELLOW,
    Case,
    CaseBook,
    FollowUp,
    Outcome,
    clock_from_hall,
    id_last4,
    id_number_hash,
    id_number_valid,
    masked_name,
    services_from_hall,
)
from hub.domain import Emit, Event

log = logging.getLogger("hub.cases")

CASE_OPS = {"case_accept": "accept", "case_start": "start", "case_suspend": "suspend", "case_resume": "resume",
            "case_finish": "finish", "case_withdraw": "withdraw", "complaint": "open_followup",
            "followup_answer": "answer_followup"}


class CasesDomain:
    types = frozenset({*CASE_OPS, "case_lookup"})

    def __init__(self, hall):
        self.hall = hall
        self.tz = hall.tz
        # deadlines reach into a year the statutory calendar does not know yet every December, before that year's
        # holidays are published: a note here; the attendance domain warns when such a year's days are judged
        self.clock = clock_from_hall(hall, warn=log.info)
        self.services = services_from_hall(hall)
        self.poor_max = hall.alerts.poor_rating_max
        self.windows = {w.id: w for w in hall.catalogue.windows}
        self.book = CaseBook(self.clock, self.services)
        self.key = b""
        self._journal_id = 0
        self._minute: datetime | None = None
        self._cards: dict[str, str | None] = {}
        self._who: dict[str, tuple[str | None, str | None]] = {}  # case → (device, console user) that accepted it
        self._dirty_cases: dict[str, Case] = {}
        self._dirty_followups: dict[str, FollowUp] = {}

    # ------------------------------------------------------------ Domain

    def setup(self, db: sqlite_utils.Database, emit: Emit) -> None:
        store.create_tables(db)
        self.key = store.id_key(db)
        self._rebuild(db)
        self._write_rows(db)

    def apply(self, db: sqlite_utils.Database, event: Event, emit: Emit) -> Answer:
        self._follow_journal(db)
        at = self._moment(event.received_at)
        if event.type == "case_lookup":
            out = self.book.lookup(event.data.case, event.data.id_last4)
            if not out.ok:
                return self._refusal(out)
            c = out.case
            deadline = self.book.shown_deadline(c)
            return Answer.build(ok=True, case=CaseInfo.build(case=c.number, service=c.service, status=c.status,
                                                             deadline=deadline.isoformat() if deadline else None))
        op = CASE_OPS[event.type]
        try:
            args, out = self._carry_out(op, event, at)
            answer = self._answer(out)
            self._journal_id = store.journal(db, event=event.id, at=at, op=op, args=args,
                                             result=answer.model_dump(exclude_unset=True, mode="json"))
        except BaseException:
            self._journal_id = -1  # the book moved and its rows roll back: replay the journal next time
            raise
        if out.ok:
            self._minute = None  # its card is judged at the next tick, not a minute later
            if out.case is not None:
                self._dirty_cases[out.case.number] = out.case
                if op == "accept":
                    self._who[out.case.number] = (event.device, args.get("by"))
            if out.followup is not None:
                self._dirty_followups[out.followup.id] = out.followup
        return answer

    def flush(self, db: sqlite_utils.Database, emit: Emit) -> None:
        self._follow_journal(db)
        self._write_rows(db)

    def tick(self, db: sqlite_utils.Database, now: datetime, emit: Emit) -> None:
        self._follow_journal(db)
        now = self._moment(now)
        minute = now.replace(second=0, microsecond=0)
        if minute == self._minute:
            return
        try:
            self._open_followups(db, now)
            self._judge_cards(db, now)
        except BaseException:
            self._journal_id = -1
            raise
        self._minute = minute

    # ------------------------------------------------------------ operations

    def redact(self, event_type: str, data: dict) -> dict:
        """The journal never holds an applicant's ID number: only its keyed hash and last 4 characters."""
        number = data.get("id_number")
        if event_type != "case_accept" or not isinstance(number, str):
            return data
        kept = {k: v for k, v in data.items() if k != "id_number"}
        return {**kept, "id_hash": id_number_hash(number, self.key), "id_last4": id_last4(number)}

    def _carry_out(self, op: str, event: Event, at: datetime) -> tuple[dict, Outcome]:
        d = event.data
        by = getattr(d, "by", None)
        if op == "accept":
            window = d.window
            if event.kind == "window":
                mine = self.hall.device(event.device).windows
                if window is None and len(mine) == 1:
                    window = mine[0]
                if window is not None and window not in mine:
                    return {"device": event.device, "window": window}, Outcome.refuse(FORBIDDEN, f"{event.device} → {window}")
            if not id_number_valid(d.id_number):
                return {"device": event.device, "service": d.service}, Outcome.refuse(INVALID_ID)
            args = {"service": d.service, "days": d.days, "reason": d.reason, "ticket": d.ticket, "window": window,
                    "applicant": masked_name(d.applicant_name), "id_hash": id_number_hash(d.id_number, self.key),
                    "id_last4": id_last4(d.id_number), "device": event.device, "by": by}
            out = self._replay_op(op, args, at, enforce=True)
            if out.ok:
                args["days"] = out.case.days  # the limit decided: a replay takes it whatever the catalogue says
            return args, out
        if op == "open_followup":  # a complaint entered by the supervision office
            args = {"kind": COMPLAINT, "department": d.department, "window": d.window, "ticket": d.ticket,
                    "detail": d.detail, "by": by}
        elif op == "answer_followup":
            args = {"followup": d.followup, "by": by, "contact": d.contact, "cause": d.cause,
                    "correction": d.correction}
        else:
            args = {"case": d.case, "by": by, "device": event.device}
            if op == "suspend":
                args["reason"] = d.reason
            elif op == "withdraw":
                args["reason"] = d.reason
            elif op == "finish":
                args["result"] = d.result
        return args, self._replay_op(op, args, at, enforce=True)

    def _replay_op(self, op: str, args: dict, at: datetime, *, enforce: bool = False,
                   recorded: dict | None = None) -> Outcome:
        """One operation on the book: as asked (`enforce`), or again from the journal with what was decided."""
        b = self.book
        if op == "accept":
            number = recorded["case"]["case"] if recorded else None
            return b.accept(at, days=args["days"], service=args["service"], reason=args.get("reason"),
                            ticket=args.get("ticket"), window=args.get("window"), applicant=args.get("applicant", ""),
                            id_hash=args.get("id_hash"), id_last4=args.get("id_last4"), number=number, enforce=enforce)
        if op == "start":
            return b.start(args["case"], at)
        if op == "suspend":
            return b.suspend(args["case"], at, args.get("reason", ""))
        if op == "resume":
            return b.resume(args["case"], at)
        if op == "finish":
            return b.finish(args["case"], at, args["result"])
        if op == "withdraw":
            return b.withdraw(args["case"], at, args.get("reason", ""))
        if op == "open_followup":
            number = recorded["followup"]["id"] if recorded else None
            return b.open_followup(args["kind"], at, department=args.get("department"), window=args.get("window"),
                                   ticket=args.get("ticket"), staff=args.get("staff"), score=args.get("score"),
                                   rating=args.get("rating"), detail=args.get("detail", ""), by=args.get("by"),
                                   number=number)
        if op == "answer_followup":
            return b.answer_followup(args["followup"], at, by=args["by"], contact=args["contact"],
                                     cause=args["cause"], correction=args["correction"])
        raise ValueError(f"unknown case operation {op!r}")

    def _answer(self, out: Outcome) -> Answer:
        if not out.ok:
            return self._refusal(out)
        fields = {}
        if out.case is not None:
            c = out.case
            deadline = self.book.shown_deadline(c)
            fields["case"] = CaseInfo.build(case=c.number, service=c.service, status=c.status,
                                            deadline=deadline.isoformat() if deadline else None, days=c.days,
                                            result=c.result, on_time=self.book.on_time(c))
        if out.followup is not None:
            f = out.followup
            fields["followup"] = FollowUpInfo.build(id=f.id, kind=f.kind, department=f.department,
                                                    due=self.book.followup_deadline(f).isoformat(),
                                                    answered_at=store.iso(f.answered_at), answered_by=f.answered_by)
        return Answer.build(ok=True, **fields)

    @staticmethod
    def _refusal(out: Outcome) -> Answer:
        return Answer.build(ok=False, code=out.code, error=out.error)

    # ------------------------------------------------------------ the clock's work

    def _open_followups(self, db, now: datetime) -> None:
        last = max((f.rating for f in self.book.followups.values() if f.rating is not None), default=0)
        for rid, at, window, ticket, staff, score in store.poor_ratings_since(db, last, self.poor_max):
            w = self.windows.get(window)
            args = {"kind": RATING, "rating": rid, "window": window, "ticket": ticket, "staff": staff, "score": score,
                    "department": (w.department or None) if w else None}
            moment = datetime.fromisoformat(at)
            out = self._replay_op("open_followup", args, moment)
            if out.followup is None:
                continue
            answer = self._answer(out)
            self._journal_id = store.journal(db, event=None, at=moment, op="open_followup", args=args,
                                             result=answer.model_dump(exclude_unset=True, mode="json"))
            self._dirty_followups[out.followup.id] = out.followup
        self._write_rows(db)

    def _judge_cards(self, db, now: datetime) -> None:
        cards = self.book.cards(now)
        today = now.date()
        next_workday = self.clock.workdays.next_after(today)
        for f in self.book.followups.values():
            if f.open:
                cards[f.id] = self.book.followup_card(f, now, today, next_workday)
        changed = {n: c for n, c in cards.items() if self._cards.get(n) != c}
        gone = {n: None for n in self._cards if n not in cards}  # finished, withdrawn, suspended, answered
        if not changed and not gone:
            return
        case_cards = {n: c for n, c in {**changed, **gone}.items() if n in self.book.cases}
        store.save_cards(db, case_cards)
        followup_cards = {n: c for n, c in {**changed, **gone}.items() if n in self.book.followups}
        if followup_cards:
            db.conn.executemany("UPDATE followups SET card=? WHERE id=?",
                                [(c, n) for n, c in followup_cards.items()])
        raised = []
        for n, c in changed.items():
            if c in (YELLOW, RED):
                item = self.book.cases.get(n) or self.book.followups.get(n)
                raised.append((n, c, now, item.department))
        store.count_cards(db, raised)
        self._cards = cards

    # ------------------------------------------------------------ journal and tables

    def _write_rows(self, db) -> None:
        if self._dirty_cases:
            store.save_cases(db, self.book, list(self._dirty_cases.values()), self._cards, self._who)
            self._dirty_cases.clear()
        if self._dirty_followups:
            store.save_followups(db, self.book, list(self._dirty_followups.values()), self._cards)
            self._dirty_followups.clear()

    def _rebuild(self, db) -> None:
        self.book = CaseBook(self.clock, self.services)
        self._who, self._cards, self._minute = {}, {}, None
        mismatches = 0
        for row_id, _, at, op, args, result in store.journal_rows(db):
            if not result.get("ok"):
                continue  # a refusal changed nothing
            try:
                out = self._replay_op(op, args, at, recorded=result)
            except Exception:
                log.exception("cases journal row %d (%s) could not be replayed", row_id, op)
                continue
            if not out.ok:
                mismatches += 1
                log.warning("cases journal row %d (%s) replays as %s, was %s", row_id, op, out.code, result)
            if op == "accept" and out.case is not None:
                self._who[out.case.number] = (args.get("device"), args.get("by"))
        # every row again from the rebuilt book: they heal if a crash cut them short
        self._dirty_cases = dict(self.book.cases)
        self._dirty_followups = dict(self.book.followups)
        self._journal_id = store.last_journal_id(db)
        if self.book.cases or mismatches:
            log.info("cases rebuilt from the journal: %d cases, %d follow-ups (%d differ)", len(self.book.cases),
                     len(self.book.followups), mismatches)

    def _follow_journal(self, db) -> None:
        """If a batch this domain took part in was rolled back, its decisions never happened: forget them too."""
        if store.last_journal_id(db) != self._journal_id:
            log.warning("cases journal moved under the book (a rolled-back batch): replaying it")
            self._rebuild(db)

    def _moment(self, moment: datetime) -> datetime:
        moment = moment.astimezone(self.tz)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    # ------------------------------------------------------------ for tests and tools

    def snapshot(self) -> dict:
        return {n: (c.status, c.days, c.suspensions, c.finished_at, c.result, self.book.shown_deadline(c))
                for n, c in self.book.cases.items()} | \
               {f.id: (f.kind, f.rating, f.answered_at, f.answered_by) for f in self.book.followups.values()}
