"""The queue's tables in the hub database.

`queue_journal` is what the hub decided, in order: one row per queue operation (its inputs, the moment and the
answer given; an `issue` also names the device that asked), plus an `open_day` row where each day begins. Replaying a day's rows through the engine rebuilds
the day exactly. `tickets`, `calls` and `ratings` are the day's facts kept current for reports; nothing is
rebuilt from them.
"""

from __future__ import annotations

import functools
import json
from datetime import date, datetime

import sqlite_utils

from hall.protocol import Answer, json_text
from hub.queue.engine import Call, Ticket

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_journal (
    id INTEGER PRIMARY KEY,
    event TEXT,                  -- the event that asked for it (null for a day opened by the clock)
    day TEXT NOT NULL,           -- the hall's local date
    at TEXT NOT NULL,            -- the hub's receive time, hall time zone, milliseconds
    op TEXT NOT NULL,            -- open_day, issue, call_next, recall, skip, complete, transfer, requeue, pause, ...
    args TEXT NOT NULL,
    result TEXT NOT NULL         -- the answer given: {"ok": ...}
);
CREATE INDEX IF NOT EXISTS queue_journal_day ON queue_journal(op, day);
CREATE TABLE IF NOT EXISTS tickets (
    day TEXT NOT NULL,
    no TEXT NOT NULL,
    queue TEXT NOT NULL,         -- where it is now (after transfers)
    origin TEXT NOT NULL,        -- where it was issued
    service TEXT,
    priority INTEGER NOT NULL,
    channel TEXT,
    device TEXT,
    event TEXT,
    issued_at TEXT NOT NULL,
    status TEXT NOT NULL,        -- waiting, called, done, no_show
    window TEXT,                 -- the window that called it last
    called_at TEXT,              -- its first call: the citizen's wait ends here
    done_at TEXT,
    no_show_at TEXT,
    transfers INTEGER NOT NULL DEFAULT 0,
    requeues INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, no)
);
CREATE TABLE IF NOT EXISTS calls (
    day TEXT NOT NULL,
    n INTEGER NOT NULL,          -- call number of the day, hall-wide
    ticket TEXT NOT NULL,
    queue TEXT NOT NULL,
    window TEXT NOT NULL,
    staff TEXT,
    called_at TEXT NOT NULL,
    recalls INTEGER NOT NULL DEFAULT 0,
    ended_at TEXT,
    outcome TEXT,                -- done, no_show, transferred
    PRIMARY KEY (day, n)
);
CREATE INDEX IF NOT EXISTS calls_window ON calls(day, window);
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY,
    event TEXT,
    device TEXT,
    day TEXT NOT NULL,
    at TEXT NOT NULL,
    window TEXT NOT NULL,
    ticket TEXT,
    staff TEXT,                  -- who was logged in at the window
    score INTEGER NOT NULL,      -- 好差评 1-5
    good INTEGER NOT NULL        -- 3 and above count as good
);
CREATE INDEX IF NOT EXISTS ratings_day ON ratings(day, window);
"""


def create_tables(db: sqlite_utils.Database) -> None:
    db.executescript(SCHEMA)


@functools.lru_cache(maxsize=4096)
def iso(moment: datetime | None) -> str | None:
    """Milliseconds, as journaled. Cached: the same moments (a call, the issue of a ticket) are written out
    several times over an event's answer, journal row and announcement."""
    return moment.isoformat(timespec="milliseconds") if moment else None


def journal(db: sqlite_utils.Database, *, event: str | None, day: date, at: datetime, op: str, args: dict,
            result: Answer | dict) -> int:
    cur = db.execute(
        "INSERT INTO queue_journal(event, day, at, op, args, result) VALUES (?,?,?,?,?,?)",
        (event, day.isoformat(), iso(at), op, json_text(args), json_text(result)))
    return cur.lastrowid


def last_journal_id(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT coalesce(max(id), 0) FROM queue_journal").fetchone()[0]


def journal_of_last_day(db: sqlite_utils.Database) -> list[tuple[int, str | None, str, str, str, dict, dict]]:
    """The rows since the latest `open_day`: (id, event, day, at, op, args, result)."""
    start = db.execute("SELECT max(id) FROM queue_journal WHERE op='open_day'").fetchone()[0]
    if start is None:
        return []
    rows = db.execute("SELECT id, event, day, at, op, args, result FROM queue_journal WHERE id >= ? ORDER BY id",
                      (start,))
    return [(i, e, d, a, op, json.loads(args), json.loads(res)) for i, e, d, a, op, args, res in rows.fetchall()]


def save_tickets(db: sqlite_utils.Database, rows: list[tuple[date, Ticket, str | None, str | None]]) -> None:
    """Each ticket as it is now, with the device and event that asked for it where known (at issue)."""
    db.conn.executemany(
        """INSERT INTO tickets(day, no, queue, origin, service, priority, channel, device, event, issued_at, status,
                               window, called_at, done_at, no_show_at, transfers, requeues)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
           ON CONFLICT(day, no) DO UPDATE SET device=coalesce(tickets.device, excluded.device),
               event=coalesce(tickets.event, excluded.event), queue=excluded.queue, status=excluded.status,
               window=excluded.window,
               called_at=excluded.called_at, done_at=excluded.done_at, no_show_at=excluded.no_show_at,
               transfers=excluded.transfers, requeues=excluded.requeues""",
        [(day.isoformat(), t.no, t.queue, t.origin, t.service, int(t.priority), t.channel, device, event,
          iso(t.issued_at), t.status, t.window, iso(t.called_at), iso(t.done_at), iso(t.no_show_at), t.transfers,
          t.requeues) for day, t, device, event in rows])


def save_calls(db: sqlite_utils.Database, calls: list[tuple[date, Call]]) -> None:
    db.conn.executemany(
        """INSERT INTO calls(day, n, ticket, queue, window, staff, called_at, recalls, ended_at, outcome)
           VALUES (?,?,?,?,?,?,?,?,?,?)
           ON CONFLICT(day, n) DO UPDATE SET recalls=excluded.recalls, ended_at=excluded.ended_at,
               outcome=excluded.outcome""",
        [(day.isoformat(), c.n, c.ticket, c.queue, c.window, c.staff, iso(c.called_at), c.recalls, iso(c.ended_at),
          c.outcome) for day, c in calls])


def save_rating(db: sqlite_utils.Database, *, day: date, at: datetime, window: str, ticket: str | None,
                staff: str | None, score: int, event: str | None, device: str | None) -> None:
    db.execute(
        "INSERT INTO ratings(event, device, day, at, window, ticket, staff, score, good) VALUES (?,?,?,?,?,?,?,?,?)",
        (event, device, day.isoformat(), iso(at), window, ticket, staff, score, int(score >= 3)))
