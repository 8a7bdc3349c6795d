"""The hub's SQLite journal: every event stored once by id, every rejected message with its reason.

The journal is the hall's source of truth; queue and attendance state are derived from it.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from hall.files import private_folder, private_sqlite_file


def open_db(path: Path) -> sqlite_utils.Database:
    # staff punches and citizens' requests are personal data: the owner's alone (0700 folder, 0600 files)
    private_folder(path.parent)
    private_sqlite_file(path)
    db = sqlite_utils.Database(path)
    db.enable_wal()
    # an acknowledged event must survive a power cut: FULL, each commit on disk. The hub's own connection commits
    # with NORMAL and flushes the log itself before it acknowledges (hub/journal.py)
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=5000")
    create_schema(db)
    return db


def create_schema(db: sqlite_utils.Database) -> None:
    db.executescript("""
        CREATE TABLE IF NOT EXISTS events (
            id TEXT PRIMARY KEY,
            device TEXT NOT NULL,
            type TEXT NOT NULL,
            seq INTEGER NOT NULL,
            ts TEXT NOT NULL,            -- the device's clock
            received_at TEXT NOT NULL,   -- the hub's clock
            data TEXT NOT NULL,
            res TEXT                     -- the answer given, re-sent for a resent request
        );
        CREATE INDEX IF NOT EXISTS events_device_seq ON events(device, seq);
        DROP INDEX IF EXISTS events_type;  -- paid on every insert, used by nothing
        CREATE TABLE IF NOT EXISTS rejected (
            rowid INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            topic TEXT NOT NULL,
            device TEXT,
            event_id TEXT,
            seq INTEGER,
            code TEXT NOT NULL,
            error TEXT NOT NULL,
            raw BLOB,                    -- the first bytes of the message (hub/journal.py RAW_KEEP)
            size INTEGER                 -- its whole length
        );
        CREATE INDEX IF NOT EXISTS rejected_event ON rejected(event_id);
        -- rejected messages per device and hour: kept up to a quota, only counted past it
        CREATE TABLE IF NOT EXISTS rejected_quota (
            device TEXT NOT NULL,
            hour TEXT NOT NULL,                    -- YYYY-MM-DDTHH, the hall's time
            kept INTEGER NOT NULL DEFAULT 0,
            kept_bytes INTEGER NOT NULL DEFAULT 0,
            dropped INTEGER NOT NULL DEFAULT 0,
            dropped_bytes INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (device, hour)
        );
        CREATE TABLE IF NOT EXISTS devices (
            id TEXT PRIMARY KEY,
            kind TEXT,
            watermark INTEGER NOT NULL DEFAULT 0,  -- every seq up to here is committed
            last_seen TEXT,
            status TEXT,
            version TEXT,
            clock_skew_s REAL,                     -- device clock minus hub clock, last event
            skew_flagged INTEGER NOT NULL DEFAULT 0,
            seq_restarts INTEGER NOT NULL DEFAULT 0
        );
    """)
    # journals written before rejected messages were cut to a prefix
    if "size" not in {r[1] for r in db.execute("PRAGMA table_info(rejected)")}:
        db.execute("ALTER TABLE rejected ADD COLUMN size INTEGER")


def stats(db: sqlite_utils.Database) -> dict:
    """What is stored: events per type and device, rejected messages, devices last seen."""
    q = db.execute
    return {
        "events": q("SELECT count(*) FROM events").fetchone()[0],
        "by_type": dict(q("SELECT type, count(*) FROM events GROUP BY type ORDER BY type").fetchall()),
        "by_device": dict(q("SELECT device, count(*) FROM events GROUP BY device ORDER BY device").fetchall()),
        "rejected": q("SELECT count(*) FROM rejected").fetchone()[0],
        "rejected_by_code": dict(q("SELECT code, count(*) FROM rejected GROUP BY code ORDER BY code").fetchall()),
        "rejected_dropped": q("SELECT coalesce(sum(dropped), 0) FROM rejected_quota").fetchone()[0],
        "devices": [
            {"id": r[0], "kind": r[1], "status": r[2], "last_seen": r[3], "clock_skew_s": r[4],
             "skew_flagged": bool(r[5])}
            for r in q("SELECT id, kind, status, last_seen, clock_skew_s, skew_flagged FROM devices ORDER BY id")
        ],
    }
