"""What ingest writes to the journal, and how it keeps it safe: each event once with its answer, each refused
message with its reason, the log on disk before anything is acknowledged.

hub/store.py opens the journal and declares its tables, for whoever reads them; this module is ingest's side of
it. The events table is looked up by id before an event is stored, so a resend is told apart from a new event
that took an id already taken; a refused message is kept in `rejected` (a prefix of it, within its device's hourly
quota, so that no device can fill the hub's disk with them).

Durability without a disk flush on the way to the screens: the hub's connection commits without waiting for the
disk (synchronous=NORMAL: a commit survives the hub's crash, being in the operating system's hands), and `sync()`
makes it survive a power cut (an fsync of the journal's log) before the hub sends what lets a device forget an
event: the PUBACK and the `ack`. A commit is then cheap enough for a burst to be committed in parts; an event whose
answer went out but whose flush a power cut beat is still in its device's outbox and is sent again.

The statements of every event go straight to the sqlite3 connection: inside the batch's transaction,
sqlite_utils' `execute` would only add a Python call to each.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from pathlib import Path

from hall.clock import now as clock_now
from hall.clock import stamp
from hub.store import open_db

log = logging.getLogger("hub")

# A rejected message is kept for whoever looks into it, but a device must not be able to fill the hub's disk with
# them: a prefix of each, and per device and hour at most so many rows and bytes; past that only a count is kept.
RAW_KEEP = 4096
REJECT_QUOTA_ROWS = 2000
REJECT_QUOTA_BYTES = 2 * 1024 * 1024

# SQLite's primary result codes that mean the storage, not the message, is at fault
_STORAGE_CODES = {5: "database_busy", 6: "database_locked", 8: "read_only", 10: "disk_error", 11: "database_corrupt",
                  13: "disk_full", 14: "cannot_open"}


def storage_cause(err: BaseException) -> str | None:
    """A short name for a failure of the journal's storage, or None when the failure is not the storage's."""
    if isinstance(err, sqlite3.Error):
        return _STORAGE_CODES.get((getattr(err, "sqlite_errorcode", None) or 0) & 0xFF)
    if isinstance(err, OSError):
        return "disk_full" if err.errno in (errno.ENOSPC, errno.EDQUOT) else "disk_error"
    return None


class Journal:
    """The hub's own connection to its journal, opened on the hub's thread, which alone uses it."""

    def __init__(self, path: Path, tz, counts: dict[str, int]):
        self.path = path
        self.db = open_db(path)
        # commits reach the operating system, not yet the disk: sync() does that before any acknowledgement
        self.db.execute("PRAGMA synchronous=NORMAL")
        # the log is copied into the database file by checkpoint(), between bursts, instead of inside whichever
        # commit happens to fill it: that commit would hold up the screens
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        self._execute = self.db.conn.execute
        self._tz = tz
        self._counts = counts  # the hub's tallies: messages dropped past their quota are counted there
        self._quota: dict[tuple[str, str], list[int]] = {}  # (device, hour) → [rows kept, bytes kept]
        self.unsynced = False  # committed, not yet flushed to the disk: nothing may be acknowledged before it is

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ events

    def prior(self, event_id: str) -> tuple | None:
        """What was stored under this id before: ("event", device, type, seq, data, res) or
        ("rejected", device, topic, seq, code, error) for a rejected message whose envelope was valid."""
        row = self._execute(
            "SELECT 'event', device, type, seq, data, res FROM events WHERE id=:id UNION ALL "
            "SELECT 'rejected', device, topic, seq, code, error FROM rejected WHERE event_id=:id AND seq IS NOT NULL "
            "AND code NOT IN ('invalid_json', 'invalid_envelope') LIMIT 1", {"id": event_id}).fetchone()
        return None if row is None else tuple(row)

    def store_event(self, env, device: str, event_type: str, received, data_text: str, res_text: str | None) -> None:
        """An event with its answer, in the transaction that holds what the domain made of it."""
        self._execute(
            "INSERT INTO events(id, device, type, seq, ts, received_at, data, res) VALUES (?,?,?,?,?,?,?,?)",
            (env.id, device, event_type, env.seq, env.ts.isoformat(), received.isoformat(timespec="milliseconds"),
             data_text, res_text))

    # ------------------------------------------------------------ refused messages

    def keep_rejected(self, topic: str, device: str | None, known: bool, raw: bytes, code: str, error: str,
                      event_id: str | None, seq: int | None) -> None:
        """A message that will not be stored as an event, with its reason: its first RAW_KEEP bytes, while its
        device (or "?" for a name the hall does not know) is within its quota for the hour."""
        kept = raw[:RAW_KEEP]
        if self._within_quota(device if known else "?", len(kept)):
            self.db.execute(
                "INSERT INTO rejected(received_at, topic, device, event_id, seq, code, error, raw, size) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (stamp(), topic[:256], device if known else (device or "")[:64], event_id, seq, code, error, kept,
                 len(raw)))
            log.warning("rejected %s from %s: %s (%s)", topic[:256], device, code, error)

    def _within_quota(self, device: str, size: int) -> bool:
        """Count a rejected message against its device's hourly quota; False (and counted as dropped) past it."""
        hour = clock_now(self._tz).strftime("%Y-%m-%dT%H")
        used = self._quota.get((device, hour))
        if used is None:
            self._quota = {k: v for k, v in self._quota.items() if k[1] == hour}  # earlier hours are done
            row = self.db.execute("SELECT kept, kept_bytes FROM rejected_quota WHERE device=? AND hour=?",
                                  (device, hour)).fetchone()
            used = self._quota[(device, hour)] = list(row) if row else [0, 0]
        if used[0] < REJECT_QUOTA_ROWS and used[1] + size <= REJECT_QUOTA_BYTES:
            used[0] += 1
            used[1] += size
            self.db.execute(
                "INSERT INTO rejected_quota(device, hour, kept, kept_bytes) VALUES (?,?,1,?) ON CONFLICT DO UPDATE "
                "SET kept=kept+1, kept_bytes=kept_bytes+excluded.kept_bytes", (device, hour, size))
            return True
        self._counts["rejected_dropped"] += 1
        row = self.db.execute(
            "INSERT INTO rejected_quota(device, hour, dropped, dropped_bytes) VALUES (?,?,1,?) ON CONFLICT DO UPDATE "
            "SET dropped=dropped+1, dropped_bytes=dropped_bytes+excluded.dropped_bytes RETURNING dropped",
            (device, hour, size)).fetchone()
        if row[0] == 1:
            log.warning("device %s passed its quota of rejected messages for %s:00; only counting them now",
                        device, hour)
        return False

    # ------------------------------------------------------------ on disk

    def sync(self) -> None:
        """What was committed, on the disk: the journal's log file flushed as SQLite's FULL mode would flush it
        at every commit, here once for all the commits since the last time."""
        if not self.unsynced:
            return
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            fd = os.open(wal, os.O_RDONLY)
        except FileNotFoundError:  # no log: a checkpoint (which flushes what it copies) has taken it all
            self.unsynced = False
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.unsynced = False

    def checkpoint(self) -> None:
        """The log copied into the database file: called between bursts, never inside one."""
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
