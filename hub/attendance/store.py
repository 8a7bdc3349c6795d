"""The attendance tables in the hub database, and reading them back as the rules' records.

`punches` holds every punch as it came from a terminal (one row per event id). `attendance_days` holds the days
the hub has closed, judged by the rules: once a date is closed its rows are what the reports count.
`attendance_dates` says which dates are closed and, for a date still waiting, which terminals have not been heard
from since its evening window. `leave` is approved leave (rows come from `hall attendance leave`, or from a manager
at the console: those name `by`, `reason` and the `event`). `punch_corrections` (补卡) are punches a manager entered
for someone the terminal missed, with `by` and `reason`: the rules count them as punches, and `punches` itself is
never written but by a terminal.

A closed day changes only by being judged again from what is stored (`revise_days`): a punch that arrives after
its day closed, leave entered afterwards. Whatever changes the punches or the leave of a closed date must call it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils

from hub.attendance.rules import AttendanceDay, Leave, Punch, Schedule, WorkCalendar, evaluate

SCHEMA = """
CREATE TABLE IF NOT EXISTS punches (
    event_id TEXT PRIMARY KEY,
    staff TEXT NOT NULL,
    at TEXT NOT NULL,            -- when the finger was on the terminal (its clock), RFC 3339 in hall time
    date TEXT NOT NULL,          -- the hall's local date of `at`
    terminal TEXT NOT NULL,
    score INTEGER,               -- the sensor's match score
    received_at TEXT NOT NULL,   -- the hub's clock
    flag TEXT                    -- unknown_staff: the id is not in the staff list (kept, counted for no one)
);
CREATE INDEX IF NOT EXISTS punches_date ON punches(date, staff);
CREATE INDEX IF NOT EXISTS punches_staff ON punches(staff, date);
CREATE TABLE IF NOT EXISTS attendance_days (
    staff TEXT NOT NULL,
    date TEXT NOT NULL,
    workday INTEGER NOT NULL,
    status TEXT NOT NULL,        -- rest, leave, absent, ok, abnormal
    slots TEXT,                  -- JSON as `hall attendance evaluate` prints it
    overtime TEXT,
    evaluated_at TEXT NOT NULL,
    revised INTEGER NOT NULL DEFAULT 0,   -- judged again after the date closed (a late punch, leave entered later)
    PRIMARY KEY (staff, date)
);
CREATE INDEX IF NOT EXISTS attendance_days_date ON attendance_days(date);
CREATE TABLE IF NOT EXISTS attendance_dates (
    date TEXT PRIMARY KEY,
    final INTEGER NOT NULL,      -- 1: closed; absences stand
    waiting_for TEXT,            -- JSON list of terminals not heard from since the evening window
    warning TEXT,
    closed_at TEXT
);
CREATE TABLE IF NOT EXISTS leave (
    id INTEGER PRIMARY KEY,
    staff TEXT NOT NULL,
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    kind TEXT NOT NULL           -- leave (请假), business (公出), in_lieu (调休)
);
CREATE INDEX IF NOT EXISTS leave_staff ON leave(staff);
CREATE TABLE IF NOT EXISTS punch_corrections (
    id INTEGER PRIMARY KEY,
    event TEXT,                  -- the console's punch_correction event
    staff TEXT NOT NULL,
    at TEXT NOT NULL,            -- the punch the terminal missed, RFC 3339 in hall time
    date TEXT NOT NULL,          -- the hall's local date of `at`
    by TEXT NOT NULL,            -- the console user who entered it
    reason TEXT NOT NULL,
    entered_at TEXT NOT NULL     -- the hub's clock
);
CREATE INDEX IF NOT EXISTS punch_corrections_date ON punch_corrections(date, staff);
"""

# who entered a leave at the console, and why; rows of `hall attendance leave` leave them empty
LEAVE_AUDIT_COLUMNS = (("by", "TEXT"), ("reason", "TEXT"), ("event", "TEXT"), ("entered_at", "TEXT"))


def create_tables(db: sqlite_utils.Database) -> None:
    db.executescript(SCHEMA)
    have = {r[1] for r in db.execute("PRAGMA table_info(leave)")}
    for name, kind in LEAVE_AUDIT_COLUMNS:
        if name not in have:  # journals written before managers entered leave at the console
            db.execute(f"ALTER TABLE leave ADD COLUMN {name} {kind}")


def insert_punch(db, event_id: str, staff: str, at: datetime, terminal: str, score: int | None,
                 received_at: datetime, flag: str | None) -> bool:
    cur = db.execute(
        "INSERT OR IGNORE INTO punches(event_id, staff, at, date, terminal, score, received_at, flag) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (event_id, staff, at.isoformat(timespec="milliseconds"), at.date().isoformat(), terminal, score,
         received_at.isoformat(timespec="milliseconds"), flag))
    return cur.rowcount == 1


def _corrections(db) -> bool:
    return "punch_corrections" in db.table_names()


def punches_between(db, first: date, last: date, tz: ZoneInfo) -> list[Punch]:
    """The punches the rules count: the terminals' and the corrections managers entered."""
    span = (first.isoformat(), last.isoformat())
    sql = "SELECT staff, at FROM punches WHERE date BETWEEN ? AND ? AND flag IS NULL"
    if _corrections(db):
        sql += " UNION ALL SELECT staff, at FROM punch_corrections WHERE date BETWEEN ? AND ?"
        span *= 2
    rows = db.execute(sql, span).fetchall()
    return [Punch(datetime.fromisoformat(at).astimezone(tz), staff) for staff, at in rows]


def punches_on(db, dates: Iterable[date], tz: ZoneInfo) -> list[Punch]:
    """The punches of the given dates only (a report reads no punch of a day already closed)."""
    keys = [d.isoformat() for d in dates]
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    sql = f"SELECT staff, at FROM punches WHERE date IN ({marks}) AND flag IS NULL"
    if _corrections(db):
        sql += f" UNION ALL SELECT staff, at FROM punch_corrections WHERE date IN ({marks})"
        keys *= 2
    rows = db.execute(sql, keys).fetchall()
    return [Punch(datetime.fromisoformat(at).astimezone(tz), staff) for staff, at in rows]


def leave_between(db, first: date, last: date, tz: ZoneInfo) -> list[Leave]:
    if "leave" not in db.table_names():
        return []
    # a leave may start before the period or end after it: compare on the dates only
    rows = db.execute("SELECT staff, start, end, kind FROM leave WHERE substr(start, 1, 10) <= ? AND "
                      "substr(end, 1, 10) >= ?", (last.isoformat(), first.isoformat())).fetchall()
    return [Leave(s, datetime.fromisoformat(a).astimezone(tz), datetime.fromisoformat(b).astimezone(tz), k)
            for s, a, b, k in rows]


def save_days(db, days: list[AttendanceDay], evaluated_at: datetime, *, revised: bool = False) -> None:
    db.conn.executemany(
        "INSERT INTO attendance_days(staff, date, workday, status, slots, overtime, evaluated_at, revised) "
        "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(staff, date) DO UPDATE SET workday=excluded.workday, "
        "status=excluded.status, slots=excluded.slots, overtime=excluded.overtime, "
        "evaluated_at=excluded.evaluated_at, revised=excluded.revised",
        [(d.staff, d.date.isoformat(), int(d.workday), d.status,
          None if d.slots is None else json.dumps(d.to_dict()["slots"]),
          json.dumps([t.isoformat() for t in d.overtime]), evaluated_at.isoformat(timespec="seconds"), int(revised))
         for d in days])


def closed_days(db, first: date, last: date) -> dict[str, dict[date, AttendanceDay]]:
    """The days stored for the closed dates from first to last, by staff then date."""
    out: dict[str, dict[date, AttendanceDay]] = {}
    if not {"attendance_days", "attendance_dates"} <= set(db.table_names()):
        return out
    rows = db.execute(
        "SELECT a.staff, a.date, a.workday, a.status, a.slots, a.overtime FROM attendance_days a "
        "JOIN attendance_dates d ON d.date = a.date AND d.final = 1 WHERE a.date BETWEEN ? AND ?",
        (first.isoformat(), last.isoformat()))
    for staff, day, workday, status, slots, overtime in rows:
        stored = AttendanceDay.from_dict({"staff": staff, "date": day, "workday": bool(workday), "status": status,
                                          "slots": json.loads(slots) if slots else None,
                                          "overtime": json.loads(overtime or "[]")})
        out.setdefault(staff, {})[stored.date] = stored
    return out


def close_date(db, day: date, staff: list[str], *, schedule: Schedule, calendar: WorkCalendar, tz: tzinfo,
               now: datetime) -> list[AttendanceDay]:
    """Judge every person's day and mark the date closed, in the caller's transaction.

    The date is marked first: that write takes the database's write lock, so leave entered at this moment by
    another process either is read here or, waiting for the lock, finds the date closed and revises it."""
    db.execute("INSERT INTO attendance_dates(date, final, waiting_for, warning, closed_at) VALUES (?,1,'[]',NULL,?) "
               "ON CONFLICT(date) DO UPDATE SET final=1, waiting_for='[]', warning=NULL, "
               "closed_at=excluded.closed_at", (day.isoformat(), now.isoformat(timespec="seconds")))
    days = evaluate(punches_between(db, day, day, tz), leave_between(db, day, day, tz), staff=staff, dates=[day],
                    schedule=schedule, calendar=calendar, tz=tz)
    save_days(db, days, now)
    return days


def revise_days(db, staff: Iterable[str], first: date, last: date, *, schedule: Schedule, calendar: WorkCalendar,
                tz: tzinfo, at: datetime) -> list[AttendanceDay]:
    """Judge again, from the punches and leave stored now, the days of `staff` on the closed dates from first to
    last, and store them marked revised. Dates not closed yet are left alone: they are judged when they close."""
    closed = [date.fromisoformat(d) for (d,) in db.execute(
        "SELECT date FROM attendance_dates WHERE final=1 AND date BETWEEN ? AND ? ORDER BY date",
        (first.isoformat(), last.isoformat()))]
    if not closed:
        return []
    days = evaluate(punches_on(db, closed, tz), leave_between(db, closed[0], closed[-1], tz), staff=staff,
                    dates=closed, schedule=schedule, calendar=calendar, tz=tz)
    save_days(db, days, at, revised=True)
    return days


def date_states(db, first: date, last: date) -> dict[date, dict]:
    if "attendance_dates" not in db.table_names():
        return {}
    out = {}
    for d, final, waiting, warning in db.execute(
            "SELECT date, final, waiting_for, warning FROM attendance_dates WHERE date BETWEEN ? AND ?",
            (first.isoformat(), last.isoformat())):
        out[date.fromisoformat(d)] = {"final": bool(final), "waiting_for": json.loads(waiting or "[]"),
                                      "warning": warning}
    return out


def import_leave(hall, data_dir, path, *, now: datetime | None = None) -> tuple[int, list[str]]:
    """Add a leave CSV to the hub's leave table; a row already there (same staff, start, end) is not added twice.
    Days the hub has already closed are judged again with the new leave. Returns the rows added and the staff ids
    not in the staff list (imported all the same)."""
    from hall.clock import now as clock_now
    from hub.attendance.files import read_leave
    from hub.store import open_db

    leaves = read_leave(Path(path), hall.tz)
    db = open_db(Path(data_dir) / "hub.db")  # may be the first to create it: private like the hub makes it
    schedule, calendar = Schedule.from_rules(hall.attendance), WorkCalendar.from_rules(hall.attendance)
    now = now or clock_now(hall.tz)
    try:
        create_tables(db)
        added = 0
        with db.conn:
            # the write lock first: a date the hub is closing right now is then either closed with this leave read,
            # or already closed when this looks (see close_date)
            db.execute("BEGIN IMMEDIATE")
            for lv in leaves:
                start, end = lv.start.isoformat(), lv.end.isoformat()
                if db.execute("SELECT 1 FROM leave WHERE staff=? AND start=? AND end=?", (lv.staff, start, end)).fetchone():
                    continue
                db.execute("INSERT INTO leave(staff, start, end, kind) VALUES (?,?,?,?)", (lv.staff, start, end, lv.kind))
                added += 1
                if hall.staff_member(lv.staff) is not None:
                    revise_days(db, [lv.staff], lv.start.astimezone(hall.tz).date(), lv.end.astimezone(hall.tz).date(),
                                schedule=schedule, calendar=calendar, tz=hall.tz, at=now)
    finally:
        db.close()
    return added, sorted({lv.staff for lv in leaves if hall.staff_member(lv.staff) is None})


# ---------------------------------------------------------------- what managers enter at the console

def add_leave(db, *, staff: str, kind: str, start: datetime, end: datetime, by: str, reason: str,
              event: str | None, entered_at: datetime) -> int | None:
    """A leave entered at the console, in the caller's transaction; None when the same leave (staff, start, end)
    is there already."""
    start_text, end_text = start.isoformat(), end.isoformat()
    if db.execute("SELECT 1 FROM leave WHERE staff=? AND start=? AND end=?", (staff, start_text, end_text)).fetchone():
        return None
    cur = db.execute("INSERT INTO leave(staff, start, end, kind, by, reason, event, entered_at) "
                     "VALUES (?,?,?,?,?,?,?,?)", (staff, start_text, end_text, kind, by, reason, event,
                                                  entered_at.isoformat(timespec="milliseconds")))
    return cur.lastrowid


def add_correction(db, *, staff: str, at: datetime, by: str, reason: str, event: str | None,
                   entered_at: datetime) -> int:
    """A punch correction (补卡), in the caller's transaction. `at` in the hall's time zone."""
    cur = db.execute("INSERT INTO punch_corrections(event, staff, at, date, by, reason, entered_at) "
                     "VALUES (?,?,?,?,?,?,?)", (event, staff, at.isoformat(timespec="milliseconds"),
                                                at.date().isoformat(), by, reason,
                                                entered_at.isoformat(timespec="milliseconds")))
    return cur.lastrowid
