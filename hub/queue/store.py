"""The queue's tables in the hub database.

`queue_journal` is what the hub decided, in order: one row per queue operation (its inputs, the moment and the
answer given; an `issue` also names the device that asked), plus an `open_day` row where each day begins. Replaying a day's rows through the engine rebuilds
the day exactly. `tickets`, `calls` and `ratings` are the day's facts kept current for reports; nothing is
rebuilt from them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import secrets
from datetime import date, datetime
from pathlib import Path

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
    follow TEXT,                 -- the token of its page on the citizens' site (/t/<token>), valid for its day
    phone TEXT,                  -- given at the kiosk for a text before its turn (never published)
    booked TEXT,                 -- a booking checked in on time: its slot (HH:MM), called ahead of walk-ins
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
    # a journal made before the citizens' site: its tickets had no page to follow
    if "follow" not in {c[1] for c in db.execute("PRAGMA table_info(tickets)").fetchall()}:
        db.execute("ALTER TABLE tickets ADD COLUMN follow TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS tickets_follow ON tickets(follow)")
    # a journal made before appointments and the near-turn text
    for column in ("phone", "booked"):
        if column not in {c[1] for c in db.execute("PRAGMA table_info(tickets)").fetchall()}:
            db.execute(f"ALTER TABLE tickets ADD COLUMN {column} TEXT")


FOLLOW_KEY_FILE = "ticket-follow.key"
FOLLOW_BYTES = 16  # 128 bits: nobody finds another citizen's ticket page by trying tokens


def follow_key(db: sqlite_utils.Database) -> bytes:
    """The hub's key for the tokens of ticket pages, in the data folder beside hub.db (0600), made on first use.
    A token is a keyed hash of the hall, day and number: the same on a replay, unguessable without the key."""
    row = db.execute("PRAGMA database_list").fetchone()
    folder = Path(row[2]).parent if row and row[2] else None
    if folder is None:  # an in-memory database (tests of the shell): a key for this run
        return secrets.token_bytes(32)
    path = folder / FOLLOW_KEY_FILE
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
    if path.stat().st_mode & 0o777 != 0o600:
        os.chmod(path, 0o600)
    return bytes.fromhex(path.read_text().strip())


def follow_token(key: bytes, hall: str, day: date, no: str) -> str:
    digest = hmac.new(key, f"{hall}/{day.isoformat()}/{no}".encode(), hashlib.sha256).digest()[:FOLLOW_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


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


def save_tickets(db: sqlite_utils.Database, rows: list[tuple[date, Ticket, str | None, str | None]],
                 follow=None) -> None:
    """Each ticket as it is now, with the device and event that asked for it where known (at issue) and the token
    of its page (`follow(day, no)`)."""
    db.conn.executemany(
        """INSERT INTO tickets(day, no, queue, origin, service, priority, channel, device, event, issued_at, status,
                               window, called_at, done_at, no_show_at, transfers, requeues, follow, phone, booked)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
           ON CONFLICT(day, no) DO UPDATE SET device=coalesce(tickets.device, excluded.device),
               follow=coalesce(tickets.follow, excluded.follow),
               event=coalesce(tickets.event, excluded.event), queue=excluded.queue, status=excluded.status,
               window=excluded.window,
               called_at=excluded.called_at, done_at=excluded.done_at, no_show_at=excluded.no_show_at,
               transfers=excluded.transfers, requeues=excluded.requeues""",
        [(day.isoformat(), t.no, t.queue, t.origin, t.service, int(t.priority), t.channel, device, event,
          iso(t.issued_at), t.status, t.window, iso(t.called_at), iso(t.done_at), iso(t.no_show_at), t.transfers,
          t.requeues, follow(day, t.no) if follow else None, t.phone,
          t.booked.strftime("%H:%M") if t.booked else None) for day, t, device, event in rows])


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
