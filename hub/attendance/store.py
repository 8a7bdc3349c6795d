"""The attendance tables in the hub database, and reading them back as the rules' records.

`punches` holds every punch as it came from a terminal (one row per event id). `attendance_days` holds the days
the hub has closed, evaluated by the rules; `attendance_dates` says which dates are closed and, for a date still
waiting, which terminals have not been heard from since its evening window. `leave` is approved leave, which the
reports apply (rows come from `hall attendance leave import`).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlite_utils

from hub.attendance.rules import AttendanceDay, Leave, Punch

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
    revised INTEGER NOT NULL DEFAULT 0,   -- punches arrived after the day was closed
    PRIMARY KEY (staff, date)
);
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
"""


def create_tables(db: sqlite_utils.Database) -> None:
    db.executescript(SCHEMA)


def insert_punch(db, event_id: str, staff: str, at: datetime, terminal: str, score: int | None,
                 received_at: datetime, flag: str | None) -> bool:
    cur = db.execute(
        "INSERT OR IGNORE INTO punches(event_id, staff, at, date, terminal, score, received_at, flag) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (event_id, staff, at.isoformat(timespec="milliseconds"), at.date().isoformat(), terminal, score,
         received_at.isoformat(timespec="milliseconds"), flag))
    return cur.rowcount == 1


def punches_between(db, first: date, last: date, tz: ZoneInfo) -> list[Punch]:
    rows = db.execute("SELECT staff, at FROM punches WHERE date BETWEEN ? AND ? AND flag IS NULL",
                      (first.isoformat(), last.isoformat())).fetchall()
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


def import_leave(hall, data_dir, path) -> tuple[int, list[str]]:
    """Add a leave CSV to the hub's leave table; a row already there (same staff, start, end) is not added twice.
    Returns the rows added and the staff ids not in the staff list (imported all the same)."""
    from pathlib import Path

    from hub.attendance.files import read_leave

    leaves = read_leave(Path(path), hall.tz)
    db_path = Path(data_dir) / "hub.db"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(db_path)
    try:
        create_tables(db)
        added = 0
        with db.atomic():
            for lv in leaves:
                start, end = lv.start.isoformat(), lv.end.isoformat()
                if db.execute("SELECT 1 FROM leave WHERE staff=? AND start=? AND end=?", (lv.staff, start, end)).fetchone():
                    continue
                db.execute("INSERT INTO leave(staff, start, end, kind) VALUES (?,?,?,?)", (lv.staff, start, end, lv.kind))
                added += 1
    finally:
        db.close()
    return added, sorted({lv.staff for lv in leaves if hall.staff_member(lv.staff) is None})
