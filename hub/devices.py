"""What the hub knows of each device (the `devices` table): which of its events are in, what it last said of
itself, when it was last heard, and whether its clock is off.

A device numbers its events (`seq`) and forgets one only when the hub's cumulative `ack` covers it, so the hub
keeps, per device, the watermark below which every seq is committed and the seqs committed above it. The
watermarks move with the transaction that stored the events: a batch rolled back must acknowledge nothing. A
device that lost its disk counts from 1 again, and its watermark starts over.

The time a device was last heard and its clock's skew are noted in memory for every event and written once a
burst is stored, a row per device, not a row per event.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlite_utils

from hall.clock import now as clock_now
from hall.clock import parse_stamp
from hall.protocol import check_bounds, parse_json
from hall.settings import Hall

log = logging.getLogger("hub")

SKEW_LIMIT = 5.0      # seconds between a device's clock and the hub's before the device is flagged
STATUS_MAX = 4096     # bytes of a device status message worth reading


class DeviceCursor:
    """Which of a device's seqs are committed: the cumulative watermark and the ones above it."""

    def __init__(self, watermark: int = 0, above: set[int] | None = None):
        self.watermark = watermark
        self.above = above or set()

    def commit(self, seq: int) -> None:
        if seq > self.watermark:
            self.above.add(seq)
            while self.watermark + 1 in self.above:
                self.watermark += 1
                self.above.discard(self.watermark)


class Devices:
    """The devices table as the hub's thread keeps it, on the hub's connection to the journal."""

    def __init__(self, db: sqlite_utils.Database, hall: Hall):
        self.db = db
        self.hall = hall
        self.cursors = self._load_cursors()
        self.moved: set[str] = set()  # devices whose watermark moved since the devices table was written
        self._skewed: set[str] = set()
        # since the devices table was written: device → (last heard, clock skew)
        self._heard: dict[str, tuple[datetime, float | None]] = {}

    def _load_cursors(self) -> dict[str, DeviceCursor]:
        cursors = {}
        for device, watermark in self.db.execute("SELECT id, watermark FROM devices").fetchall():
            above = {r[0] for r in self.db.execute(
                "SELECT seq FROM events WHERE device=? AND seq>? UNION SELECT seq FROM rejected "
                "WHERE device=? AND seq>? AND seq IS NOT NULL", (device, watermark, device, watermark))}
            cursor = DeviceCursor(watermark, above)
            cursor.commit(watermark)  # fold in anything contiguous
            cursors[device] = cursor
        return cursors

    def _ensure(self, device: str) -> DeviceCursor:
        cursor = self.cursors.get(device)
        if cursor is None:
            cursor = self.cursors[device] = DeviceCursor()
            self.db.execute("INSERT OR IGNORE INTO devices(id, kind) VALUES (?,?)",
                            (device, self.hall.device(device).kind))
        return cursor

    # ------------------------------------------------------------ seqs

    def commit(self, handled: list[tuple[str, int | None, str | None]],
               before: dict[str, DeviceCursor | None]) -> None:
        """Count the seqs of what a batch stored or rejected, in its transaction. `before` gets each touched
        device's cursor as it was (None: new), for `restore` if the transaction fails."""
        for device, seq, event_id in handled:
            if device not in before:
                cursor = self.cursors.get(device)
                before[device] = DeviceCursor(cursor.watermark, set(cursor.above)) if cursor else None
            self._commit_seq(device, seq, event_id)

    def restore(self, before: dict[str, DeviceCursor | None]) -> None:
        """A batch rolled back: its devices' cursors as they were."""
        for device, cursor in before.items():
            if cursor is None:
                self.cursors.pop(device, None)
            else:
                self.cursors[device] = cursor

    def _commit_seq(self, device: str, seq: int | None, event_id: str | None = None) -> None:
        cursor = self._ensure(device)
        if seq is None:
            return
        if seq == 1 and cursor.watermark >= 1 and event_id is not None:
            # a new event numbered 1 again: the device lost its disk and counts afresh
            log.warning("device %s restarted its sequence at 1 (was at %d)", device, cursor.watermark)
            self.db.execute("UPDATE devices SET seq_restarts = seq_restarts + 1, watermark = 0 WHERE id=?", (device,))
            cursor.watermark, cursor.above = 0, set()
        cursor.commit(seq)

    # ------------------------------------------------------------ heard from

    def note_status(self, device: str, payload: bytes, retained: bool) -> None:
        """What a device says of itself on its `status` topic (online or offline, its version), and, from the
        status it publishes the moment it connects, how far its clock is off."""
        if self.hall.device(device) is None or len(payload) > STATUS_MAX:
            return
        try:
            status = parse_json(payload.decode("utf-8")) if payload else {}
            check_bounds(status, "status")
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return
        if not isinstance(status, dict):
            return
        received = clock_now(self.hall.tz)
        self.db.execute(
            "INSERT INTO devices(id, kind, status, version, last_seen) VALUES (?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET status=excluded.status, version=excluded.version",
            (device, self.hall.device(device).kind, str(status.get("state"))[:16], str(status.get("version"))[:64],
             received.isoformat(timespec="milliseconds")))
        self._ensure(device)
        ts = None
        if not retained and status.get("state") == "online" and isinstance(status.get("ts"), str):
            try:
                ts = parse_stamp(status["ts"])
            except ValueError:
                ts = None
        self.seen(device, received, ts, live=ts is not None)

    def seen(self, device: str, received: datetime, ts: datetime | None = None, live: bool = False) -> None:
        """Note a device heard from, and what its clock says.

        An event's time lags the hub's by however long it waited in an outbox, so only a clock *ahead* of the
        hub can be told from events; a clock behind is measured from the status a device publishes the moment
        it connects (`live`)."""
        last, skew = received, None
        if ts is not None:
            diff = (ts - received).total_seconds()
            if live or diff > SKEW_LIMIT:
                skew = diff
        prev = self._heard.get(device)
        if skew is None and prev is not None:
            skew = prev[1]
        self._heard[device] = (last, skew)

    # ------------------------------------------------------------ the table

    def save(self) -> None:
        """Once a burst is stored, a row per device: its watermark, when it was last heard, whether its clock is
        off. The caller clears `moved` once this has committed."""
        touched = self.moved
        for device in touched | self._heard.keys():
            self._ensure(device)
            sets, params = [], []
            if device in touched:
                sets.append("watermark=?")
                params.append(self.cursors[device].watermark)
            if device in self._heard:
                last, skew = self._heard[device]
                sets.append("last_seen=?")
                params.append(last.isoformat(timespec="milliseconds"))
                if skew is not None:
                    flagged = abs(skew) > SKEW_LIMIT
                    self._note_skew(device, skew, flagged)
                    sets.append("clock_skew_s=?, skew_flagged=?")
                    params += [round(skew, 3), int(flagged)]
            self.db.execute(f"UPDATE devices SET {', '.join(sets)} WHERE id=?", (*params, device))
        self._heard.clear()

    def _note_skew(self, device: str, skew: float, flagged: bool) -> None:
        if flagged != (device in self._skewed):  # say it when it starts and when it ends, not per event
            if flagged:
                self._skewed.add(device)
                log.warning("device %s clock is off by %.1f s (a Pi without network time?)", device, skew)
            else:
                self._skewed.discard(device)
                log.info("device %s clock is back within %.0f s", device, SKEW_LIMIT)
