"""The uplink: a hall's journal sent to the central JetStream cluster, in order, from a durable cursor.

    hub.db (read-only)  ──rows after the cursor──▶  JetStream `hall.<hall>.<type>`  ──ack──▶  cursor moves on

It reads the hub's `events` table in rowid order, its queue decisions (`queue_journal`) and its alerts' changes
(`alerts_journal`) in id order, each from
its own cursor in a small SQLite file of its own beside hub.db (`uplink.db`). Every row is published with its id
(prefixed with the hall) as `Nats-Msg-Id`, so JetStream drops a resend inside its duplicate window and the central consumer drops one after
it. The cursor moves only over rows JetStream has acknowledged, in order: a row not acknowledged is sent again,
never skipped. While the cluster is away nothing moves; when it returns the backlog goes out in batches, oldest
first. The hub is never written to nor locked: the journal is opened read-only and each batch is one short read
(WAL readers do not block the hub's writer; no read transaction is held between looks). The uplink looks every
50 ms; a look that finds nothing committed since the last one (`PRAGMA data_version`) reads nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from central import subject

log = logging.getLogger("hall.uplink")

CURSOR_FILE = "uplink.db"
BATCH = 500
ACK_WAIT_S = 10.0


@dataclass
class Sent:
    """What one uplink has done since it started."""
    events: int = 0
    decisions: int = 0
    alerts: int = 0
    duplicates: int = 0      # acknowledged by JetStream as already stored
    retries: int = 0         # batches sent again after a missing acknowledgement
    batches: int = 0
    last_error: str | None = None
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict:
        return {"events": self.events, "decisions": self.decisions, "alerts": self.alerts, "duplicates": self.duplicates,
                "retries": self.retries, "batches": self.batches, "last_error": self.last_error}


class Cursor:
    """The last row of each source that JetStream has acknowledged, in the uplink's own SQLite file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS cursor (source TEXT PRIMARY KEY, last INTEGER NOT NULL)")
        self.db.commit()

    def get(self, source: str) -> int:
        row = self.db.execute("SELECT last FROM cursor WHERE source=?", (source,)).fetchone()
        return row[0] if row else 0

    def advance(self, source: str, last: int) -> None:
        with self.db:
            self.db.execute("INSERT INTO cursor(source, last) VALUES (?, ?) "
                            "ON CONFLICT(source) DO UPDATE SET last=max(last, excluded.last)", (source, last))

    def close(self) -> None:
        self.db.close()


@dataclass
class Row:
    """One journal row as it goes up: its place in its source, its message id, subject and body."""
    source: str
    n: int
    msg_id: str
    subject: str
    body: bytes


def read_journal(journal: Path) -> sqlite3.Connection:
    """hub.db opened read-only: the uplink can neither write to it nor hold a write lock on it."""
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
    db.execute("PRAGMA query_only=1")
    return db


def has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def event_rows(db: sqlite3.Connection, hall: str, after: int, limit: int) -> list[Row]:
    rows = db.execute("SELECT rowid, id, device, type, seq, ts, received_at, data, res FROM events WHERE rowid > ? "
                      "ORDER BY rowid LIMIT ?", (after, limit)).fetchall()
    out = []
    for rowid, event_id, device, event_type, seq, ts, received_at, data, res in rows:
        # the hub's answer goes up too: a case's verdict (on time or not) is the hub's, by the hall's calendar
        body = {"hall": hall, "kind": "event", "n": rowid, "id": event_id, "device": device, "type": event_type,
                "seq": seq, "ts": ts, "received_at": received_at, "data": _json_or_text(data),
                "res": _json_or_text(res)}
        # the message id carries the hall: one hall cannot shadow another's event in JetStream's duplicate window
        out.append(Row("events", rowid, f"{hall}.{event_id}", subject(hall, event_type), _dump(body)))
    return out


def decision_rows(db: sqlite3.Connection, hall: str, after: int, limit: int) -> list[Row]:
    if not has_table(db, "queue_journal"):
        return []
    rows = db.execute("SELECT id, event, day, at, op, args, result FROM queue_journal WHERE id > ? ORDER BY id "
                      "LIMIT ?", (after, limit)).fetchall()
    out = []
    for n, event_id, day, at, op, args, result in rows:
        body = {"hall": hall, "kind": "decision", "n": n, "id": f"{hall}.q.{n}", "event": event_id, "day": day,
                "at": at, "op": op, "args": _json_or_text(args), "result": _json_or_text(result)}
        out.append(Row("queue_journal", n, body["id"], subject(hall, f"decision.{op}"), _dump(body)))
    return out


def alert_rows(db: sqlite3.Connection, hall: str, after: int, limit: int) -> list[Row]:
    """The hub's alerts journal (raised, acknowledged, cleared): the centre's live view counts the open ones."""
    if not has_table(db, "alerts_journal"):
        return []
    rows = db.execute("SELECT id, at, alert, rule, subject, department, change, data FROM alerts_journal "
                      "WHERE id > ? ORDER BY id LIMIT ?", (after, limit)).fetchall()
    out = []
    for n, at, alert, rule, subj, department, change, data in rows:
        body = {"hall": hall, "kind": "alert", "n": n, "id": f"{hall}.a.{n}", "at": at, "alert": alert,
                "rule": rule, "subject": subj, "department": department, "change": change,
                "data": _json_or_text(data)}
        out.append(Row("alerts_journal", n, body["id"], subject(hall, f"alert.{change}"), _dump(body)))
    return out


SOURCES = ("events", "queue_journal", "alerts_journal")


def _json_or_text(text: str | None):
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return text


def _dump(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class Uplink:
    """Sends one hall's journal up. `run()` until `stop()`; `drain()` until the cursor reaches the journal's end."""

    def __init__(self, hall: str, journal: Path, connect: dict, *, cursor: Path | None = None, batch: int = BATCH,
                 idle_s: float = 0.05, ack_wait_s: float = ACK_WAIT_S):
        self.hall = hall
        self.journal = Path(journal)
        self.connect_options = connect
        self.cursor_path = Path(cursor) if cursor else self.journal.parent / CURSOR_FILE
        self.batch = batch
        self.idle_s = idle_s
        self._db: sqlite3.Connection | None = None   # hub.db, read-only, kept open between looks
        self._quiet_at: int | None = None            # the journal's data_version when a look found nothing new
        self.ack_wait_s = ack_wait_s
        self.sent = Sent()
        self._stopping = asyncio.Event()
        self.nc = None

    async def _connect(self):
        import nats

        async def quiet(err):  # reconnects are the normal life of an uplink; the reason is kept, not raised
            self.sent.last_error = str(err) or type(err).__name__

        options = {"max_reconnect_attempts": -1, "reconnect_time_wait": 0.5, "connect_timeout": 2,
                   "allow_reconnect": True, "error_cb": quiet, **self.connect_options}
        while not self._stopping.is_set():
            try:
                self.nc = await nats.connect(**options)
                return self.nc.jetstream()
            except Exception as err:  # the cluster is away: the hall keeps working, the uplink waits
                self.sent.last_error = f"connect: {err}"
                await self._pause(1.0)
        return None

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, until_drained: bool = False) -> Sent:
        js = await self._connect()
        cursor = Cursor(self.cursor_path)
        wait = 0.5
        try:
            while js is not None and not self._stopping.is_set():
                try:
                    moved = await self._send_batch(js, cursor)
                    wait = 0.5
                except Exception as err:
                    self.sent.retries += 1
                    self.sent.last_error = f"{type(err).__name__}: {err}"
                    log.warning("uplink %s: %s; sending again in %.1fs", self.hall, self.sent.last_error, wait)
                    await self._pause(wait)
                    wait = min(wait * 2, 5.0)
                    continue
                if not moved:
                    if until_drained:
                        break
                    await self._pause(self.idle_s)
        finally:
            cursor.close()
            self._close_journal()
            if self.nc is not None:
                try:
                    await self.nc.close()
                except Exception:
                    pass
        return self.sent

    async def drain(self) -> Sent:
        return await self.run(until_drained=True)

    def _read(self, cursor: Cursor) -> list[Row]:
        """The rows after the cursors, or none at once when nothing was committed to the journal since the last look
        found it all sent (`PRAGMA data_version`: one cheap question, so the uplink can look often)."""
        if self._db is None:
            self._db = read_journal(self.journal)
            self._quiet_at = None
        db = self._db
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._quiet_at:
            return []
        if not has_table(db, "events"):
            return []
        rows = (event_rows(db, self.hall, cursor.get("events"), self.batch)
                + decision_rows(db, self.hall, cursor.get("queue_journal"), self.batch)
                + alert_rows(db, self.hall, cursor.get("alerts_journal"), self.batch))
        self._quiet_at = None if rows else version
        return rows

    def _close_journal(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def _send_batch(self, js, cursor: Cursor) -> int:
        """One batch of each source, published in order; each cursor moves over the acknowledged prefix."""
        try:
            rows = self._read(cursor)
        except sqlite3.Error:
            self._close_journal()  # opened again on the next look (the hub's file replaced, say)
            raise
        if not rows:
            return 0
        futures = []
        for row in rows:
            futures.append(await js.publish_async(row.subject, row.body, headers={"Nats-Msg-Id": row.msg_id}))
        done, _ = await asyncio.wait(futures, timeout=self.ack_wait_s)
        self.sent.batches += 1
        failure = None
        for source in SOURCES:
            last = None
            for row, future in zip(rows, futures, strict=True):
                if row.source != source:
                    continue
                if future not in done or future.exception() is not None:
                    failure = failure or (future.exception() if future in done else TimeoutError("no ack"))
                    break
                if future.result().duplicate:
                    self.sent.duplicates += 1
                if source == "events":
                    self.sent.events += 1
                elif source == "queue_journal":
                    self.sent.decisions += 1
                else:
                    self.sent.alerts += 1
                last = row.n
            if last is not None:
                cursor.advance(source, last)
        for future in futures:
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved: the first failure is raised below, the rest are the same
        if failure is not None:
            raise failure if isinstance(failure, BaseException) else RuntimeError(str(failure))
        return len(rows)


def backlog(journal: Path, cursor_path: Path | None = None) -> dict[str, int]:
    """Rows of each source not yet acknowledged by the cluster."""
    cursor = Cursor(cursor_path or Path(journal).parent / CURSOR_FILE)
    db = read_journal(Path(journal))
    try:
        out = {"events": db.execute("SELECT count(*) FROM events WHERE rowid > ?",
                                    (cursor.get("events"),)).fetchone()[0]}
        for source in SOURCES[1:]:
            out[source] = (db.execute(f"SELECT count(*) FROM {source} WHERE id > ?",  # noqa: S608 (our names)
                                      (cursor.get(source),)).fetchone()[0] if has_table(db, source) else 0)
        return out
    finally:
        db.close()
        cursor.close()
