"""The cases' tables in the hub database.

`cases_journal` is what the hub decided, in order: one row per case operation (its inputs, the moment and the
answer given). Replaying its rows through a fresh book rebuilds every case and follow-up exactly. `cases`,
`case_cards` and `followups` are kept current for the console, the alerts and the reports; nothing is rebuilt
from them. No table holds an ID number: only its keyed hash and its last 4 characters.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime
from pathlib import Path

import sqlite_utils

from hall.files import PRIVATE_FILE
from hall.protocol import json_text
from hub.cases.rules import Case, CaseBook, FollowUp

SCHEMA = """
CREATE TABLE IF NOT EXISTS cases_journal (
    id INTEGER PRIMARY KEY,
    event TEXT,                  -- the event that asked for it (null for a follow-up opened by a rating)
    at TEXT NOT NULL,            -- the hub's receive time, hall time zone, milliseconds
    op TEXT NOT NULL,            -- accept, start, suspend, resume, finish, withdraw, open_followup, answer_followup
    args TEXT NOT NULL,
    result TEXT NOT NULL         -- the answer given: {"ok": ...}
);
CREATE TABLE IF NOT EXISTS cases (
    number TEXT PRIMARY KEY,     -- 办件编号: YYYYMMDD and the day's count
    service TEXT,
    department TEXT,
    window TEXT,
    ticket TEXT,
    device TEXT,
    accepted_by TEXT,
    applicant TEXT,              -- masked name
    id_hash TEXT,                -- HMAC-SHA256 of the ID number with the hub's key
    id_last4 TEXT,
    accepted_at TEXT NOT NULL,
    days INTEGER NOT NULL,       -- the promised limit it runs against
    legal_days INTEGER,
    days_reason TEXT,
    status TEXT NOT NULL,        -- accepted, in_progress, suspended, finished, withdrawn
    suspensions TEXT NOT NULL,   -- [[start, end or null], ...]
    finished_at TEXT,
    result TEXT,                 -- approved, refused
    withdrawn_at TEXT,
    deadline TEXT,               -- the day whose closing time is the deadline; null while suspended
    card TEXT,                   -- green, yellow, red as of the hub's last look; null unless open and not suspended
    on_time INTEGER
);
CREATE INDEX IF NOT EXISTS cases_accepted ON cases(accepted_at);
CREATE INDEX IF NOT EXISTS cases_card ON cases(card);
CREATE TABLE IF NOT EXISTS case_cards (
    number TEXT NOT NULL,        -- a case or a follow-up
    card TEXT NOT NULL,          -- yellow or red: each counted once
    at TEXT NOT NULL,
    department TEXT,
    PRIMARY KEY (number, card)
);
CREATE TABLE IF NOT EXISTS followups (
    id TEXT PRIMARY KEY,         -- Z (差评整改) or T (投诉), the date and the day's count
    kind TEXT NOT NULL,          -- rating, complaint
    department TEXT,
    window TEXT,
    ticket TEXT,
    staff TEXT,
    score INTEGER,
    rating INTEGER,              -- the ratings row that opened it
    detail TEXT,
    by TEXT,
    opened_at TEXT NOT NULL,
    due TEXT NOT NULL,           -- the day whose closing time it is due by
    answered_at TEXT,
    answered_by TEXT,
    contact TEXT,
    cause TEXT,
    correction TEXT,
    card TEXT,
    on_time INTEGER
);
"""

KEY_FILE = "case-id.key"


def create_tables(db: sqlite_utils.Database) -> None:
    db.executescript(SCHEMA)


def id_key(db: sqlite_utils.Database) -> bytes:
    """The hub's key for ID number hashes, in the data folder beside hub.db (0600), made on first use."""
    row = db.execute("PRAGMA database_list").fetchone()
    folder = Path(row[2]).parent if row and row[2] else None
    if folder is None:  # an in-memory database (tests of the shell): a key for this run
        return secrets.token_bytes(32)
    path = folder / KEY_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    if path.stat().st_mode & 0o777 != PRIVATE_FILE:
        os.chmod(path, PRIVATE_FILE)
    return bytes.fromhex(path.read_text().strip())


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds") if moment else None


def journal(db: sqlite_utils.Database, *, event: str | None, at: datetime, op: str, args: dict, result) -> int:
    cur = db.execute("INSERT INTO cases_journal(event, at, op, args, result) VALUES (?,?,?,?,?)",
                     (event, iso(at), op, json_text(args), json_text(result)))
    return cur.lastrowid


def last_journal_id(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT coalesce(max(id), 0) FROM cases_journal").fetchone()[0]


def journal_rows(db: sqlite_utils.Database):
    for i, event, at, op, args, result in db.execute(
            "SELECT id, event, at, op, args, result FROM cases_journal ORDER BY id"):
        yield i, event, datetime.fromisoformat(at), op, json.loads(args), json.loads(result)


def suspensions_text(case: Case) -> str:
    return json.dumps([[iso(s), iso(e)] for s, e in case.suspensions])


def save_cases(db: sqlite_utils.Database, book: CaseBook, cases: list[Case], cards: dict[str, str | None],
               who: dict[str, tuple[str | None, str | None]]) -> None:
    rows = []
    for c in cases:
        deadline = book.shown_deadline(c)
        device, by = who.get(c.number, (None, None))
        on_time = book.on_time(c)
        rows.append((c.number, c.service, c.department, c.window, c.ticket, device, by, c.applicant, c.id_hash,
                     c.id_last4, iso(c.accepted_at), c.days, c.legal_days, c.days_reason, c.status,
                     suspensions_text(c), iso(c.finished_at), c.result, iso(c.withdrawn_at),
                     deadline.isoformat() if deadline else None, cards.get(c.number),
                     None if on_time is None else int(on_time)))
    db.conn.executemany(
        """INSERT INTO cases(number, service, department, window, ticket, device, accepted_by, applicant, id_hash,
                             id_last4, accepted_at, days, legal_days, days_reason, status, suspensions, finished_at,
                             result, withdrawn_at, deadline, card, on_time)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
           ON CONFLICT(number) DO UPDATE SET status=excluded.status, suspensions=excluded.suspensions,
               finished_at=excluded.finished_at, result=excluded.result, withdrawn_at=excluded.withdrawn_at,
               deadline=excluded.deadline, card=excluded.card, on_time=excluded.on_time,
               device=coalesce(cases.device, excluded.device),
               accepted_by=coalesce(cases.accepted_by, excluded.accepted_by)""", rows)


def save_cards(db: sqlite_utils.Database, cards: dict[str, str | None]) -> None:
    db.conn.executemany("UPDATE cases SET card=? WHERE number=?", [(card, n) for n, card in cards.items()])


def count_cards(db: sqlite_utils.Database, raised: list[tuple[str, str, datetime, str | None]]) -> None:
    db.conn.executemany("INSERT OR IGNORE INTO case_cards(number, card, at, department) VALUES (?,?,?,?)",
                        [(n, card, iso(at), dept) for n, card, at, dept in raised])


def save_followups(db: sqlite_utils.Database, book: CaseBook, followups: list[FollowUp],
                   cards: dict[str, str | None]) -> None:
    rows = []
    for f in followups:
        on_time = book.followup_on_time(f)
        rows.append((f.id, f.kind, f.department, f.window, f.ticket, f.staff, f.score, f.rating, f.detail, f.by,
                     iso(f.opened_at), book.followup_deadline(f).isoformat(), iso(f.answered_at), f.answered_by,
                     f.contact, f.cause, f.correction, cards.get(f.id), None if on_time is None else int(on_time)))
    db.conn.executemany(
        """INSERT OR REPLACE INTO followups(id, kind, department, window, ticket, staff, score, rating, detail, by,
                                            opened_at, due, answered_at, answered_by, contact, cause, correction,
                                            card, on_time)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", rows)


def poor_ratings_since(db: sqlite_utils.Database, after_id: int, poor_max: int) -> list[tuple]:
    """Ratings rows (from the queue's `ratings`) newer than `after_id` at or below the poor mark."""
    if "ratings" not in db.table_names():
        return []
    return db.execute("SELECT id, at, window, ticket, staff, score FROM ratings WHERE id > ? AND score <= ? "
                      "ORDER BY id", (after_id, poor_max)).fetchall()
