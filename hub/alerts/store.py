"""The alerts' tables in the hub database.

`alerts_journal` is every step of every alert's life, in order: raised (by the hub, from a rule), acknowledged (by
whom, with the note and the console's event), cleared. The alerts on `hub/alerts` are those raised and not cleared;
replaying the journal gives them back after a restart. `device_health` keeps, per device, its latest `health`
report and the latest `outbox` and `printer` any report gave (a kiosk reports its printer only when it changes).

`manager_actions` is a view over the journal's events: every acknowledgement, leave entry and punch correction a
console sent, with who, why, and the hub's answer (refusals included). It is the one query for "who did what".
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlite_utils

from hall.protocol import json_text
from hub.alerts.rules import Change

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts_journal (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,            -- the hub's clock, hall time zone, milliseconds
    alert TEXT NOT NULL,         -- the alert's id, as on hub/alerts
    key TEXT NOT NULL,           -- rule:subject[:occurrence]: the same for as long as a condition holds
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    department TEXT,
    change TEXT NOT NULL,        -- raised, acknowledged, cleared
    by TEXT,                     -- acknowledged: the console user
    note TEXT,                   -- acknowledged: their note
    event TEXT,                  -- acknowledged: the console's alert_ack event
    data TEXT NOT NULL           -- the alert after this change, as on hub/alerts
);
CREATE INDEX IF NOT EXISTS alerts_journal_alert ON alerts_journal(alert);
CREATE INDEX IF NOT EXISTS alerts_journal_at ON alerts_journal(at);
CREATE TABLE IF NOT EXISTS device_health (
    device TEXT PRIMARY KEY,
    at TEXT NOT NULL,            -- the hub's receive time of the latest report
    data TEXT NOT NULL,          -- the latest report as sent
    outbox INTEGER,              -- events waiting in the device's outbox, from the latest report that said
    printer TEXT                 -- ok, paper_low, paper_out, ... from the latest report that said
);
CREATE VIEW IF NOT EXISTS manager_actions AS
    SELECT e.received_at AS at, e.device, e.type AS action,
           json_extract(e.data, '$.by') AS by,
           json_extract(e.data, '$.staff') AS staff,
           json_extract(e.data, '$.alert') AS alert,
           coalesce(json_extract(e.data, '$.reason'), json_extract(e.data, '$.note')) AS reason,
           json_extract(e.res, '$.ok') AS ok,
           json_extract(e.res, '$.code') AS code,
           e.data, e.res, e.id AS event
    FROM events e WHERE e.type IN ('alert_ack', 'leave', 'punch_correction');
"""


def create_tables(db: sqlite_utils.Database) -> None:
    db.executescript(SCHEMA)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds") if moment else None


def journal(db: sqlite_utils.Database, change: Change, *, event: str | None = None) -> int:
    a = change.alert
    by = a.acknowledged_by if change.change == "acknowledged" else None
    note = a.note if change.change == "acknowledged" else None
    cur = db.execute(
        "INSERT INTO alerts_journal(at, alert, key, rule, subject, department, change, by, note, event, data) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (iso(change.at), a.id, a.key, a.rule, a.subject, a.department, change.change, by, note, event,
         json_text(a.wire())))
    return cur.lastrowid


def last_journal_id(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT coalesce(max(id), 0) FROM alerts_journal").fetchone()[0]


def last_change_at(db: sqlite_utils.Database) -> datetime | None:
    row = db.execute("SELECT at FROM alerts_journal ORDER BY id DESC LIMIT 1").fetchone()
    return datetime.fromisoformat(row[0]) if row else None


def journal_to_replay(db: sqlite_utils.Database, since: datetime | None) -> list[tuple[str, str, dict, datetime]]:
    """(change, key, alert, at) of every alert not cleared, and of every alert raised since `since` (so that an
    occurrence already raised is known and not raised again), in journal order."""
    if since is None:
        return []
    rows = db.execute(
        "SELECT change, key, data, at FROM alerts_journal WHERE alert IN ("
        "  SELECT alert FROM alerts_journal WHERE change='raised' AND (at >= ? OR alert NOT IN ("
        "    SELECT alert FROM alerts_journal WHERE change='cleared'))"
        ") ORDER BY id", (iso(since),))
    return [(c, k, json.loads(d), datetime.fromisoformat(at)) for c, k, d, at in rows.fetchall()]


def note_health(db: sqlite_utils.Database, device: str, at: datetime, report: dict) -> None:
    """A device's health report: kept whole, with the figures the rules read carried over until a report says
    otherwise."""
    outbox = report.get("outbox")
    outbox = outbox if type(outbox) is int else None
    printer = report.get("printer")
    printer = printer[:32] if isinstance(printer, str) else None
    db.execute(
        "INSERT INTO device_health(device, at, data, outbox, printer) VALUES (?,?,?,?,?) "
        "ON CONFLICT(device) DO UPDATE SET at=excluded.at, data=excluded.data, "
        "outbox=coalesce(excluded.outbox, device_health.outbox), "
        "printer=coalesce(excluded.printer, device_health.printer)",
        (device, iso(at), json_text(report), outbox, printer))
