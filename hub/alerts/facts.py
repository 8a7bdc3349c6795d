"""What the alert rules are told about the hall, read from what the other parts of the hub keep in the journal.

The alerts see no event of the queue or attendance types (a domain gets only its own); they read what those
domains stored, about once a second:

- queues: the `tickets` rows of the day still waiting, with the moment each began waiting (its issue, or its
  return to a line: the no-show requeued, the ticket transferred after its call);
- windows: folded from `queue_journal` (`WindowWatch`): each window's status and since when, as the engine
  decides it (pause, resume, login, logout, calls, and the day's opening with whoever stayed logged in);
- ratings: the day's `ratings` rows at or below the poor mark;
- devices: the `devices` table the hub keeps (status, last heard, clock skew flag) with `device_health`;
- terminals: `attendance_dates` rows still waiting for a terminal and warned about;
- cases: the `cases` and `followups` rows the cases domain judged yellow or red;
- logins: not the journal but the broker's own log (`<data>/broker/mosquitto.log`), followed from where it was read
  last: a device's login taken over and over by a second connection (hub/alerts/logins.py).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import sqlite_utils

from hub.alerts.logins import TakeoverWatch
from hub.alerts.rules import CaseFact, DeviceFact, LoginFact, QueueFact, RatingFact, TerminalFact, WindowFact

# the broker's log already there when the hub starts is read from this far before its end: older takeovers are
# long past the window that counts
LOG_TAIL = 256 * 1024

# window status as the queue engine names it (hub/queue/engine.py)
SERVING, IDLE, PAUSED, CLOSED = "serving", "idle", "paused", "closed"


class WindowWatch:
    """Each window's status and since when, folded from the queue journal's rows in order.

    Only what was carried out counts (a refusal changed nothing). The answers of pause, resume, login and logout
    carry the window's state as the engine left it; a call makes the window serve (or stand idle when none waited),
    the end of a ticket leaves it idle; a new day opens every window afresh, open where someone stayed logged in.
    """

    def __init__(self, windows: list[str]):
        self.windows = list(windows)
        self.status: dict[str, str] = {}
        self.since: dict[str, datetime] = {}
        self.last_id = 0

    def fold(self, row_id: int, op: str, args: dict, result: dict, at: datetime) -> None:
        self.last_id = max(self.last_id, row_id)
        if op == "open_day":
            staffed = args.get("staff", {})
            self.status, self.since = {}, {}
            for w in self.windows:
                self._set(w, IDLE if staffed.get(w) else CLOSED, at)
            return
        if not result.get("ok"):
            return
        window = args.get("window")
        if window not in self.since:
            return
        if isinstance(result.get("window"), dict) and result["window"].get("status"):
            self._set(window, result["window"]["status"], at)
        elif op == "call_next":
            self._set(window, SERVING if result.get("ticket") else IDLE, at)
        elif op in ("complete", "skip", "transfer"):
            self._set(window, IDLE, at)

    def _set(self, window: str, status: str, at: datetime) -> None:
        if self.status.get(window) != status:
            self.status[window] = status
            self.since[window] = at


class HallFacts:
    """Reads the facts of one moment from the journal, named and placed in departments from the hall config."""

    def __init__(self, hall):
        self.hall = hall
        self.tz = hall.tz
        cat = hall.catalogue
        self.queues = {q.id: q for q in cat.queues}
        self.windows = {w.id: w for w in cat.windows}
        self.watch = WindowWatch(list(self.windows))
        self.takeovers: TakeoverWatch | None = None

    # ------------------------------------------------------------ windows, from the queue journal

    def follow_queue_journal(self, db: sqlite_utils.Database) -> None:
        """Fold the queue journal's new rows; from the day's `open_day` row the first time."""
        if "queue_journal" not in db.table_names():
            return
        start = self.watch.last_id + 1
        if self.watch.last_id == 0:
            start = db.execute("SELECT max(id) FROM queue_journal WHERE op='open_day'").fetchone()[0] or 1
        rows = db.execute("SELECT id, op, args, result, at FROM queue_journal WHERE id >= ? ORDER BY id", (start,))
        for row_id, op, args, result, at in rows.fetchall():
            self.watch.fold(row_id, op, json.loads(args), json.loads(result), datetime.fromisoformat(at))

    def reset(self) -> None:
        self.watch = WindowWatch(list(self.windows))

    def window_facts(self) -> tuple[WindowFact, ...]:
        out = []
        for wid, status in self.watch.status.items():
            w = self.windows[wid]
            out.append(WindowFact(wid, status, self.watch.since.get(wid), tuple(w.queues), w.department or None,
                                  w.name or f"{wid}号窗口", w.name_en or f"window {wid}"))
        return tuple(out)

    # ------------------------------------------------------------ the rest, read as it is now

    def queue_facts(self, db: sqlite_utils.Database, day: date) -> tuple[QueueFact, ...]:
        if "tickets" not in db.table_names():
            return ()
        # a ticket back in a line (a requeued no-show, a transfer) waits again from its return, not its issue
        rows = db.execute(
            "SELECT queue, count(*), min(coalesce(no_show_at, called_at, issued_at)) FROM tickets "
            "WHERE day=? AND status='waiting' GROUP BY queue", (day.isoformat(),)).fetchall()
        out = []
        for qid, waiting, oldest in rows:
            q = self.queues.get(qid)
            out.append(QueueFact(qid, waiting, datetime.fromisoformat(oldest) if oldest else None,
                                 q.department if q else None, q.name if q else "", q.name_en if q else ""))
        return tuple(out)

    def rating_facts(self, db: sqlite_utils.Database, day: date, poor_max: int) -> tuple[RatingFact, ...]:
        if "ratings" not in db.table_names():
            return ()
        rows = db.execute("SELECT id, window, score, at, ticket, staff FROM ratings WHERE day=? AND score<=? "
                          "ORDER BY id", (day.isoformat(), poor_max)).fetchall()
        out = []
        for rid, wid, score, at, ticket, staff in rows:
            w = self.windows.get(wid)
            out.append(RatingFact(rid, wid, score, datetime.fromisoformat(at), ticket, staff,
                                  (w.department or None) if w else None, (w.name if w else "") or f"{wid}号窗口"))
        return tuple(out)

    def device_facts(self, db: sqlite_utils.Database) -> tuple[DeviceFact, ...]:
        health = {}
        if "device_health" in db.table_names():
            health = {d: (o, p) for d, o, p in db.execute("SELECT device, outbox, printer FROM device_health")}
        out = []
        for dev, kind, status, last_seen, skew, flagged in db.execute(
                "SELECT id, kind, status, last_seen, clock_skew_s, skew_flagged FROM devices ORDER BY id"):
            configured = self.hall.device(dev)
            if configured is None:
                continue  # a device removed from the hall config says nothing any more
            outbox, printer = health.pop(dev, (None, None))
            out.append(DeviceFact(dev, kind, status, datetime.fromisoformat(last_seen) if last_seen else None,
                                  bool(flagged), skew, outbox, printer, configured.name))
        for dev, (outbox, printer) in health.items():  # reported health before its row was written
            configured = self.hall.device(dev)
            if configured is not None:
                out.append(DeviceFact(dev, configured.kind, backlog=outbox, printer=printer, name=configured.name))
        return tuple(out)

    def terminal_facts(self, db: sqlite_utils.Database) -> tuple[TerminalFact, ...]:
        if "attendance_dates" not in db.table_names():
            return ()
        out = []
        for day, waiting in db.execute("SELECT date, waiting_for FROM attendance_dates WHERE final=0 AND "
                                       "warning IS NOT NULL ORDER BY date"):
            for terminal in json.loads(waiting or "[]"):
                configured = self.hall.device(terminal)
                out.append(TerminalFact(terminal, date.fromisoformat(day), configured.name if configured else ""))
        return tuple(out)

    def case_facts(self, db: sqlite_utils.Database) -> tuple[CaseFact, ...]:
        if "cases" not in db.table_names():
            return ()
        out = []
        for number, card, deadline, dept, service in db.execute(
                "SELECT number, card, deadline, department, service FROM cases WHERE card IN ('yellow', 'red') "
                "AND status IN ('accepted', 'in_progress') ORDER BY number"):
            item = self.hall.catalogue.service(service) if service else None
            out.append(CaseFact(number, card, date.fromisoformat(deadline) if deadline else None, dept, "case",
                                item.name if item else "", item.name_en if item else ""))
        for fid, card, due, dept, kind in db.execute(
                "SELECT id, card, due, department, kind FROM followups WHERE card IN ('yellow', 'red') "
                "AND answered_at IS NULL ORDER BY id"):
            out.append(CaseFact(fid, card, date.fromisoformat(due), dept, kind))
        return tuple(out)

    # ------------------------------------------------------------ logins, from the broker's log

    def follow_broker_log(self, log: Path) -> None:
        """Read the broker's log from now on (from its last LOG_TAIL bytes when it is there already)."""
        self.takeovers = TakeoverWatch(log, self.tz)
        try:
            self.takeovers.offset = max(0, Path(log).stat().st_size - LOG_TAIL)
        except OSError:
            pass  # not written yet: read from its start once it is

    def login_facts(self, now: datetime) -> tuple[LoginFact, ...]:
        if self.takeovers is None:
            return ()
        self.takeovers.read()
        out = []
        for login, times in sorted(self.takeovers.shared(now).items()):
            configured = self.hall.device(login)
            out.append(LoginFact(login, times, max(self.takeovers.seen[login]),
                                 configured.name if configured else ""))
        return tuple(out)
