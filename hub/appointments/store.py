"""The appointments' table in the hub database.

`bookings` is the state itself, written in the transaction of the event that decided it (booking_request,
booking_cancel, booking_change, a kiosk's checkin), so it commits with the journaled event or not at all; the
events journal keeps each request (its ID number redacted) with the answer given. The queue's own journal keeps the
check-in's ticket, so a replayed day calls it where it was called.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlite_utils

SCHEMA = """
CREATE TABLE IF NOT EXISTS bookings (
    code TEXT PRIMARY KEY,       -- 8 digits, typed at the kiosk
    queue TEXT NOT NULL,
    date TEXT NOT NULL,          -- the hall's local date
    time TEXT NOT NULL,          -- the slot's start, HH:MM
    end TEXT NOT NULL,           -- the slot's end, HH:MM
    name TEXT NOT NULL,          -- masked: 张*
    id_hash TEXT NOT NULL,       -- keyed hash of the ID number (the cases' key)
    id_last4 TEXT NOT NULL,
    phone TEXT,
    status TEXT NOT NULL,        -- booked, cancelled, checked_in, no_show
    booked_at TEXT NOT NULL,
    changed_at TEXT,
    cancelled_at TEXT,
    checked_in_at TEXT,
    ticket TEXT,                 -- the ticket its check-in gave
    on_time INTEGER,             -- checked in within its window (1) or late (0)
    device TEXT,                 -- who asked: the citizens' site's login
    event TEXT
);
CREATE INDEX IF NOT EXISTS bookings_slot ON bookings(queue, date, time, status);
-- a person's bookings of a day (person_on names it: left to itself, SQLite walks every booking of the queue's day
-- by bookings_slot for the order by time); an earlier version indexed only (id_hash, date)
DROP INDEX IF EXISTS bookings_person;
CREATE INDEX IF NOT EXISTS bookings_person_day ON bookings(id_hash, date, queue);
"""

COLUMNS = ("code", "queue", "date", "time", "end", "name", "id_hash", "id_last4", "phone", "status", "booked_at",
           "changed_at", "cancelled_at", "checked_in_at", "ticket", "on_time", "device", "event")


@dataclass(frozen=True)
class Booking:
    code: str
    queue: str
    date: str
    time: str
    end: str
    name: str
    id_hash: str
    id_last4: str
    phone: str | None
    status: str
    booked_at: str
    changed_at: str | None
    cancelled_at: str | None
    checked_in_at: str | None
    ticket: str | None
    on_time: int | None
    device: str | None
    event: str | None

    @property
    def day(self) -> date:
        return date.fromisoformat(self.date)


def create_tables(db: sqlite_utils.Database) -> None:
    db.executescript(SCHEMA)


def _rows(cursor) -> list[Booking]:
    return [Booking(*row) for row in cursor.fetchall()]


_SELECT = f"SELECT {', '.join(COLUMNS)} FROM bookings"


def booking(db: sqlite_utils.Database, code: str) -> Booking | None:
    rows = _rows(db.execute(f"{_SELECT} WHERE code = ?", (code,)))
    return rows[0] if rows else None


def code_taken(db: sqlite_utils.Database, code: str) -> bool:
    return db.execute("SELECT 1 FROM bookings WHERE code = ?", (code,)).fetchone() is not None


def live_in_slot(db: sqlite_utils.Database, queue: str, day: str, start: str) -> int:
    return db.execute("SELECT count(*) FROM bookings WHERE queue = ? AND date = ? AND time = ? "
                      "AND status IN ('booked', 'checked_in')", (queue, day, start)).fetchone()[0]


def live_by_slot(db: sqlite_utils.Database, queue: str, days: list[str]) -> dict[tuple[str, str], int]:
    """(date, time) → live bookings, for the slots a citizen is shown."""
    if not days:
        return {}
    marks = ",".join("?" * len(days))
    rows = db.execute(f"SELECT date, time, count(*) FROM bookings WHERE queue = ? AND date IN ({marks}) "
                      "AND status IN ('booked', 'checked_in') GROUP BY date, time", (queue, *days))
    return {(d, t): n for d, t, n in rows.fetchall()}


def person_on(db: sqlite_utils.Database, id_hash: str, day: str, queue: str | None = None,
              statuses: tuple[str, ...] = ("booked", "checked_in")) -> list[Booking]:
    marks = ",".join("?" * len(statuses))
    sql = f"{_SELECT} INDEXED BY bookings_person_day WHERE id_hash = ? AND date = ? AND status IN ({marks})"
    args: tuple = (id_hash, day, *statuses)
    if queue is not None:
        sql += " AND queue = ?"
        args += (queue,)
    return _rows(db.execute(sql + " ORDER BY time, code", args))


def no_show_days(db: sqlite_utils.Database, id_hash: str, today: str) -> list[date]:
    """The days of a person's no-shows: marked so, or booked for a day already over (before the clock marked it)."""
    rows = db.execute("SELECT date FROM bookings WHERE id_hash = ? AND (status = 'no_show' OR "
                      "(status = 'booked' AND date < ?))", (id_hash, today)).fetchall()
    return [date.fromisoformat(d) for (d,) in rows]


def insert(db: sqlite_utils.Database, b: Booking) -> None:
    db.execute(_INSERT, tuple(getattr(b, name) for name in COLUMNS))


_INSERT = f"INSERT INTO bookings({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def update(db: sqlite_utils.Database, code: str, **changes) -> None:
    sets = ", ".join(f"{k} = ?" for k in changes)
    db.execute(f"UPDATE bookings SET {sets} WHERE code = ?", (*changes.values(), code))


def mark_no_shows(db: sqlite_utils.Database, today: str) -> int:
    """Bookings of a day that is over, never checked in: no-shows."""
    return db.execute("UPDATE bookings SET status = 'no_show' WHERE status = 'booked' AND date < ?",
                      (today,)).rowcount


def day_counts(db: sqlite_utils.Database, day: str) -> dict[str, dict[str, int]]:
    """queue → status → count, for the console's live page."""
    out: dict[str, dict[str, int]] = {}
    for queue, status, n in db.execute("SELECT queue, status, count(*) FROM bookings WHERE date = ? "
                                       "GROUP BY queue, status", (day,)).fetchall():
        out.setdefault(queue, {})[status] = n
    return out


def checked_in_on(db: sqlite_utils.Database, day: str) -> int:
    return db.execute("SELECT count(*) FROM bookings WHERE date = ? AND status = 'checked_in'", (day,)).fetchone()[0]


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")
