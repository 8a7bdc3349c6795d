"""The device link every agent uses (kiosk, terminal, display, bus masters): a durable outbox over MQTT.

An event is first written to the device's SQLite outbox (WAL, synchronous=FULL) with its id and seq, then
published at QoS 1. It leaves the outbox only when the hub's retained `ack` says every event up to its seq is
committed. Unacknowledged events are sent again after a reconnect and after a timeout; the hub absorbs the
duplicates by event id. Nothing is sent while the hub's retained status says it is offline, so a day's events wait
on the device's own disk rather than in the broker's memory.

Dead letters. An event the hub refuses for good (bad data, a type this kind may not send…) is kept in the hub's
`rejected` table, answered on the device's `err` topic and acknowledged like any other. The link moves it from
the outbox into the outbox's `dead_letter` table with the hub's code and reason, and logs them, so it is neither
sent again forever nor lost without a word; `DeviceLink.dead_letters()` reads them. The hub sends the `err` before
the `ack` that covers the event; an `err` for an event the outbox does not hold changes nothing.

A full disk. `send` and `request` raise `OutboxFull` ("设备存储已满 outbox disk full: <path>: <cause>") when the
event cannot be made durable, so the caller knows it was not queued; the link itself keeps running. Clearing the
outbox must still work on a full disk, or events the hub has committed would stay pending: a reserve file
(`outbox.db-reserve`, 256 KiB) is given up to make room for the delete, which then goes a little at a time with the log
checkpointed away between parts. A delete the disk still refuses is owed, not forgotten: it is tried again on the
next ack and every second, and acknowledged events are not sent again meanwhile. The log is truncated to nothing
soon after the outbox empties (every few seconds while it does not), and otherwise checkpointed every
`WAL_PAGES` pages and cut back to `WAL_LIMIT`, so the outbox does not fill a small disk by itself. No sqlite
error ends the link's threads: they log it and carry on.

Personal data. The outbox files (the database, its -wal and -shm) are readable by their owner only (0600) in a
folder only the owner may enter (0700), whatever the umask; wider modes left by older versions are tightened on
open.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, TypeVar

from hall import __version__
from hall.clock import stamp
from hall.files import PRIVATE_FILE, private_folder, private_sqlite_file
from hall.mqtt import connect, login, new_client, resolve_endpoint
from hall.protocol import (
    QOS,
    Ack,
    Answer,
    HubStatus,
    Rejection,
    device_topic,
    dumps,
    envelope,
    evt_topic,
    hub_topic,
    new_event_id,
    read_or_ignore,
)

log = logging.getLogger("hall.link")

Callback = Callable[[str, dict], None]
T = TypeVar("T")

SQLITE_FULL = 13


def topic_matches(filter_levels: tuple[str, ...], topic_levels: list[str]) -> bool:
    """Whether a topic (split at "/") matches a subscription filter (split alike), "+" and "#" as MQTT has them.
    paho's own `topic_matches_sub` builds a matcher tree for every call, a tenth of a busy link's time."""
    for i, wanted in enumerate(filter_levels):
        if wanted == "#":
            return True  # this level and all below it, or none ("a/#" matches "a")
        if i >= len(topic_levels) or (wanted != "+" and wanted != topic_levels[i]):
            return False
    return len(topic_levels) == len(filter_levels)


# ---------------------------------------------------------------- the outbox

class OutboxError(Exception):
    """The outbox could not do what was asked: for `send`, the event was not queued."""

    headline = "设备存储出错 outbox error"

    def __init__(self, path: Path, cause: BaseException):
        self.path = path
        self.cause = cause
        super().__init__(f"{self.headline}: {path}: {cause}")


class OutboxFull(OutboxError):
    """The disk under the outbox is full."""

    headline = "设备存储已满 outbox disk full"


def _is_full(err: BaseException) -> bool:
    if isinstance(err, sqlite3.Error):
        return (getattr(err, "sqlite_errorcode", 0) or 0) & 0xFF == SQLITE_FULL
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)


def _outbox_error(path: Path, err: BaseException) -> OutboxError:
    return (OutboxFull if _is_full(err) else OutboxError)(path, err)


class DeadLetter(NamedTuple):
    """An event the hub refused for good, with its reason, kept on the device."""

    seq: int
    id: str
    type: str
    payload: bytes
    created_at: str   # when the device made the event
    code: str         # the hub's code: invalid_data, forbidden, …
    error: str        # the hub's reason
    rejected_at: str  # when the device heard of it


class _Adding:
    """One event waiting to be written by the next group commit, and what became of it."""

    __slots__ = ("event_type", "data", "ts", "done", "result", "error")

    def __init__(self, event_type: str, data: dict, ts: str | None):
        self.event_type, self.data, self.ts = event_type, data, ts
        self.done = threading.Event()
        self.result: tuple[int, str, bytes] | None = None
        self.error: BaseException | None = None


class Outbox:
    """The device's queue of events not yet committed by the hub, on disk, and the events the hub refused."""

    RESERVE_BYTES = 256 * 1024  # given up to clear acknowledged events when the disk is full
    CLEAR_CHUNK = 100           # rows deleted per transaction when the disk is full (≈ 60 KiB of log)
    WAL_LIMIT = 256 * 1024      # the log is cut back to this after a checkpoint
    WAL_PAGES = 128             # a checkpoint once the log holds this many pages (512 KiB)
    TRUNCATE_EMPTY = 1.0        # seconds between truncations of the log while the outbox keeps emptying
    TRUNCATE_BUSY = 5.0         # … while it holds events
    RESERVE_RETRY = 5.0         # seconds after a failed attempt to take the reserve back before the next

    def __init__(self, path: Path):
        self.path = path
        self._reserve = path.with_name(path.name + "-reserve")
        self._lock = threading.Lock()
        self._adding_lock = threading.Lock()  # guards `_adding`, the events waiting for the next group commit
        self._adding: list[_Adding] = []
        self._acked_through = 0     # the hub has committed every seq up to here; rows at or below are owed a delete
        self._refused: dict[str, tuple[str, str, str]] = {}  # id → (code, error, when): owed a dead-letter row
        self._owed = False          # a delete the disk refused, to try again
        self._logged = False        # the log holds frames since it was last truncated
        self._truncated_at = time.monotonic()
        self._reserve_failed_at = -self.RESERVE_RETRY
        try:
            private_folder(path.parent)
            private_sqlite_file(path)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(f"PRAGMA journal_size_limit={self.WAL_LIMIT}")
            self._db.execute(f"PRAGMA wal_autocheckpoint={self.WAL_PAGES}")
            self._db.executescript("""
                CREATE TABLE IF NOT EXISTS outbox (
                    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
                    payload BLOB NOT NULL, created_at TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT OR IGNORE INTO meta VALUES ('next_seq', 1);
                CREATE TABLE IF NOT EXISTS dead_letter (
                    seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, payload BLOB NOT NULL,
                    created_at TEXT NOT NULL, code TEXT NOT NULL, error TEXT NOT NULL, rejected_at TEXT NOT NULL);
            """)
            # only this outbox writes it: kept in memory too, so the network thread reads it without the disk
            self._next_seq = self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0]
        except (sqlite3.Error, OSError) as err:
            raise _outbox_error(path, err) from err
        self._keep_reserve()

    def add(self, event_type: str, data: dict, ts: str | None = None) -> tuple[int, str, bytes]:
        """Give the event its id and seq and make it durable before anything is sent.

        Events added at the same moment from several threads (the citizens' site, many bookings at once) share one
        transaction and so one sync of the disk: each caller queues its event, and whoever holds the write lock
        next writes every event queued by then (group commit). Each caller still returns only once its own event
        is durable, in the order of the seqs given.

        Raises OutboxFull when the disk is full, OutboxError for any other failure: the event is not queued."""
        mine = _Adding(event_type, data, ts)
        with self._adding_lock:
            self._adding.append(mine)
        with self._lock:
            if not mine.done.is_set():
                with self._adding_lock:
                    batch, self._adding = self._adding, []
                self._add_batch(batch)
        if mine.error is not None:
            raise mine.error
        return mine.result

    def add_many(self, events: list[tuple[str, dict]]) -> list[tuple[int, str, bytes]]:
        """Several events in one transaction, seqs in the order given: for a caller that gathers its own group
        (the citizens' site's one writer thread). All or none: raises OutboxFull or OutboxError and queues none."""
        batch = [_Adding(event_type, data, None) for event_type, data in events]
        if not batch:
            return []
        with self._lock:
            self._add_batch(batch)
        if batch[0].error is not None:
            raise batch[0].error
        return [item.result for item in batch]

    def _add_batch(self, batch: list[_Adding]) -> None:
        def work():
            (seq,) = self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
            rows = []
            for item in batch:
                event_id = new_event_id()
                payload = dumps(envelope(event_id, seq, item.data, item.ts))
                rows.append((seq, event_id, item.event_type, payload, stamp()))
                item.result = (seq, event_id, payload)
                seq += 1
            self._db.executemany("INSERT INTO outbox VALUES (?,?,?,?,?)", rows)
            self._db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (seq,))
            return seq

        try:
            self._next_seq = self._write(work, reserve=False)  # the reserve is for clearing, never for new events
        except BaseException as err:
            failed = _outbox_error(self.path, err) if isinstance(err, sqlite3.Error) else err
            for item in batch:
                item.result, item.error = None, failed
        finally:
            for item in batch:
                item.done.set()

    def next_seq(self) -> int:
        """The seq the next event will take (every lower one is on disk)."""
        return self._next_seq

    def note_acknowledged(self, through_seq: int) -> None:
        """The hub has committed every event up to `through_seq`: none of them is sent again, and the delete is
        owed, for `settle` (the relay's upkeep) to make. For the network thread, which must not wait for the disk
        while answers queue up behind it."""
        with self._lock:
            if through_seq > self._acked_through:
                self._acked_through = through_seq
                self._owed = True

    def acknowledge(self, through_seq: int) -> int:
        """The hub has committed every event up to `through_seq`: they leave the outbox. Returns how many left.

        Raises OutboxError if the disk refuses even with the reserve spent; the delete is then owed and `settle`
        makes it later."""
        with self._lock:
            self._acked_through = max(self._acked_through, through_seq)
            return self._settle()

    def refuse(self, event_id: str, code: str, error: str) -> DeadLetter | None:
        """The hub refused this event for good: it moves to the dead letters. None if the outbox does not hold it.

        Raises OutboxError if the disk refuses; the move is then owed (the event is not cleared meanwhile) and
        `settle` makes it later."""
        with self._lock:
            row = self._db.execute("SELECT seq, id, type, payload, created_at FROM outbox WHERE id=?",
                                   (event_id,)).fetchone()
            if row is None:
                return None
            reason = self._refused[event_id] = (code, error, stamp())
            self._settle()
            return DeadLetter(*row, *reason)

    def settle(self) -> int:
        """Make what is owed: dead letters written, acknowledged events deleted; keep the log small. Returns how
        many events left the outbox. Raises OutboxError while the disk still refuses."""
        with self._lock:
            return self._settle()

    def pending(self, after_seq: int = 0, limit: int = 1000) -> list[tuple[int, str, str, bytes]]:
        """Events the hub has not acknowledged, from after `after_seq`, oldest first."""
        with self._lock:
            return self._db.execute(
                "SELECT seq, id, type, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (max(after_seq, self._acked_through), limit)).fetchall()

    def get(self, event_id: str) -> tuple[int, str, bytes] | None:
        """The event if the hub has not acknowledged it yet."""
        with self._lock:
            return self._db.execute("SELECT seq, type, payload FROM outbox WHERE id=? AND seq > ?",
                                    (event_id, self._acked_through)).fetchone()

    def count(self) -> int:
        """Events on disk in the outbox (acknowledged ones whose delete is owed included)."""
        with self._lock:
            return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def dead_letters(self) -> list[DeadLetter]:
        with self._lock:
            rows = self._db.execute("SELECT seq, id, type, payload, created_at, code, error, rejected_at "
                                    "FROM dead_letter ORDER BY seq").fetchall()
        return [DeadLetter(*row) for row in rows]

    def owes(self) -> bool:
        """Is a dead letter or a delete waiting for the disk?"""
        with self._lock:
            return bool(self._refused) or self._owed

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------ writing on a disk that may be full

    def _settle(self) -> int:
        self._owed = True
        try:
            self._bury()
            cleared = self._clear()
        except sqlite3.Error as err:
            raise _outbox_error(self.path, err) from err
        self._owed = False
        self._tidy()
        return cleared

    def _bury(self) -> None:
        """Move the refused events into the dead letters, in one transaction."""
        if not self._refused:
            return

        def work():
            for event_id, (code, error, at) in self._refused.items():
                self._db.execute(
                    "INSERT INTO dead_letter SELECT seq, id, type, payload, created_at, ?, ?, ? FROM outbox "
                    "WHERE id=?", (code, error, at, event_id))
                self._db.execute("DELETE FROM outbox WHERE id=?", (event_id,))

        self._write(work)
        self._refused.clear()

    def _clear(self) -> int:
        """Delete the acknowledged events, but not one owed a dead-letter row."""
        keep = list(self._refused)
        which = "seq <= ?" + (f" AND id NOT IN ({','.join('?' * len(keep))})" if keep else "")
        params = (self._acked_through, *keep)
        try:
            return self._write(lambda: self._db.execute(f"DELETE FROM outbox WHERE {which}", params).rowcount)
        except sqlite3.Error as err:
            if not _is_full(err):
                raise
        # the disk is full: a little at a time, each part's log checkpointed away to make room for the next
        cleared = 0
        while True:
            part = self._write(lambda: self._db.execute(
                f"DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE {which} ORDER BY seq LIMIT ?)",
                (*params, self.CLEAR_CHUNK)).rowcount)
            cleared += part
            self._checkpoint()
            if part < self.CLEAR_CHUNK:
                return cleared

    def _write(self, work: Callable[[], T], reserve: bool = True) -> T:
        """One write transaction. When the disk is full: checkpoint the log away and try again, then (for
        clearing only) give up the reserve and try a last time."""
        tries = [self._checkpoint] + ([self._spend_reserve] if reserve else [])
        while True:
            try:
                return self._transaction(work)
            except sqlite3.Error as err:
                if not (_is_full(err) and tries):
                    raise
                tries.pop(0)()

    def _transaction(self, work: Callable[[], T]) -> T:
        changes = self._db.total_changes
        self._db.execute("BEGIN IMMEDIATE")
        try:
            result = work()
            self._db.execute("COMMIT")
        except BaseException:
            # a failed COMMIT on a full disk has already rolled back: a ROLLBACK then would hide the real error
            if self._db.in_transaction:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    log.debug("rollback after a failed write failed too", exc_info=True)
            raise
        self._logged = self._logged or self._db.total_changes != changes
        return result

    def _checkpoint(self) -> bool:
        """Copy the log into the database and cut it to nothing, giving its space back. False if it could not."""
        try:
            busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error as err:
            log.debug("outbox checkpoint failed: %s", err)
            return False
        if not busy:
            self._logged = False
            self._truncated_at = time.monotonic()
        return not busy

    def _tidy(self) -> None:
        """Truncate the log when it is due: soon after the outbox empties, now and then while it does not."""
        if not self._logged:
            return
        since = time.monotonic() - self._truncated_at
        if since < self.TRUNCATE_EMPTY:
            return
        empty = self._db.execute("SELECT 1 FROM outbox LIMIT 1").fetchone() is None
        if (empty or since >= self.TRUNCATE_BUSY) and self._checkpoint():
            self._keep_reserve()

    def _keep_reserve(self) -> None:
        """Hold RESERVE_BYTES of disk aside for clearing the outbox, if the disk has them."""
        if self._reserve.exists() or time.monotonic() - self._reserve_failed_at < self.RESERVE_RETRY:
            return
        part = self._reserve.with_name(self._reserve.name + ".part")
        try:
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
            try:
                block = bytes(64 * 1024)  # written out, not sparse: the blocks are really taken
                for _ in range(self.RESERVE_BYTES // len(block)):
                    view = memoryview(block)
                    while view:
                        view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(part, self._reserve)
        except OSError as err:
            self._reserve_failed_at = time.monotonic()
            part.unlink(missing_ok=True)
            log.debug("outbox reserve not kept: %s", err)

    def _spend_reserve(self) -> None:
        if self._reserve.exists():
            log.warning("%s: 设备存储已满，动用预留空间 disk full: spending the reserve to clear acknowledged events",
                        self.path)
            self._reserve.unlink(missing_ok=True)
        self._checkpoint()

    def maintain(self) -> None:
        """Now and then (the link's relay does it every second): make what is owed, truncate the log when due,
        take the reserve back once the disk has room. Raises OutboxError while the disk refuses what is owed."""
        with self._lock:
            if self._refused or self._owed:
                self._settle()
            else:
                self._tidy()
            self._keep_reserve()


class DeviceLink:
    """A device's connection to the hall: durable events out, acks, answers and hub topics in."""

    RESEND_AFTER = 10.0  # seconds without an ack before an event is published again
    WINDOW = 200         # events in flight at once

    def __init__(self, hall, device_id: str, data_dir: Path | str, *, host: str | None = None,
                 port: int | None = None, password: str | None = None, tls_ca: str | None = None,
                 version: str = __version__, protocol_version: int | None = None):
        """`protocol_version` 4 speaks MQTT 3.1.1 whatever the broker offers: for a link that reads many
        messages (the citizens' site), since paho turns the properties of every v5 PUBLISH and PUBACK into objects
        and the link reads none of them."""
        device = hall.device(device_id)
        if device is None:
            raise ValueError(f"device {device_id!r} is not in the hall config {hall.path}")
        self.hall = hall
        self.device = device
        self.id = device_id
        self.data_dir = Path(data_dir)
        self.endpoint = resolve_endpoint(hall, self.data_dir, host, port, tls_ca)
        self.outbox = Outbox(self.data_dir / "devices" / device_id / "outbox.db")
        self._version = version
        self._subs: list[tuple[str, tuple[str, ...], Callback]] = []  # (filter, its levels, callback)
        self._res_waiters: dict[str, tuple[threading.Event, list]] = {}
        self._res_listeners: list[Callback] = []
        self._inflight: dict[int, float] = {}  # seq → when it was published, until acknowledged
        self._sent_through = 0                  # the highest seq published since connecting
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.connected = False
        self.hub_online = False
        self._hub_listeners: list[Callable[[bool], None]] = []
        self._connection_listeners: list[Callable[[bool], None]] = []
        status = device_topic(hall.id, device_id, "status")
        self._status_topic = status
        self.client = new_client(device_id, self.endpoint, login(self.data_dir, device_id, password),
                                 will=(status, dumps(self._status("offline"))), protocol_version=protocol_version)
        # no limit in paho: the relay's WINDOW bounds the events in flight, and paho, with a limit, walks every
        # unacknowledged message on every PUBACK
        self.client.max_inflight_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._relay = threading.Thread(target=self._run_relay, name=f"outbox-{device_id}", daemon=True)

    # ------------------------------------------------------------ public API

    def start(self) -> DeviceLink:
        connect(self.client, self.endpoint, clean_start=True)
        self._relay.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Say offline and disconnect. Unacknowledged events stay in the outbox for next time."""
        self._stop.set()
        self._wake.set()
        if self.connected:
            try:
                self.client.publish(self._status_topic, dumps(self._status("offline")), qos=QOS,
                                    retain=True).wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()
        if self._relay.is_alive():
            self._relay.join(timeout)
        self.outbox.close()

    def send(self, event_type: str, data: dict, ts: str | None = None) -> str:
        """Queue an event durably and return its id; it is delivered whenever the hub can take it.

        Raises OutboxFull (disk full) or OutboxError when the event could not be queued; the link keeps running."""
        _, event_id, _ = self.outbox.add(event_type, data, ts)
        self._wake.set()
        return event_id

    def send_many(self, events: list[tuple[str, dict]]) -> list[str]:
        """Queue several events in one durable write (one sync of the disk) and return their ids, in order.
        Raises OutboxFull or OutboxError when they could not be queued: then none is."""
        ids = [event_id for _, event_id, _ in self.outbox.add_many(events)]
        self._wake.set()
        return ids

    def request(self, event_type: str, data: dict, timeout: float = 5.0,
                on_sent: Callable[[str], None] | None = None) -> dict | None:
        """Send a request event and wait for the hub's answer on `res` (a JSON object that fits
        `hall.protocol.Answer`, which the caller reads it with); None if none came in time.

        Raises OutboxFull or OutboxError, as `send` does, when the event could not be queued.
        The event stays queued either way, and a late answer still reaches `on_answer` listeners (`on_sent` is
        told the event's id as soon as it is queued, to recognise that answer). If the answer
        was lost after the hub committed the event, the same event is published again: the hub answers a resent
        id with the answer it already gave.
        """
        waiter: tuple[threading.Event, list] = (threading.Event(), [])
        _, event_id, payload = self.outbox.add(event_type, data)
        with self._lock:
            self._res_waiters[event_id] = waiter
        if on_sent is not None:  # the caller learns the id at once, to match a late answer from on_answer
            on_sent(event_id)
        self._wake.set()
        deadline = time.monotonic() + timeout
        try:
            while not waiter[0].wait(min(2.0, max(0.0, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    return None
                if self.connected and self.hub_online and self.outbox.get(event_id) is None:
                    self.client.publish(evt_topic(self.hall.id, self.id, event_type), payload, qos=QOS)
            return waiter[1][0]
        finally:
            with self._lock:
                self._res_waiters.pop(event_id, None)

    def on_answer(self, callback: Callback) -> None:
        """Every `res` answer: callback(event_id, answer), the answer a JSON object that fits
        `hall.protocol.Answer`. Runs in the network thread: keep it quick."""
        self._res_listeners.append(callback)

    def on_hub_status(self, callback: Callable[[bool], None]) -> None:
        """callback(online) whenever the hub's retained status changes. Runs in the network thread."""
        self._hub_listeners.append(callback)

    def on_connection(self, callback: Callable[[bool], None]) -> None:
        """callback(connected) whenever the broker connection comes or goes. Runs in the network thread."""
        self._connection_listeners.append(callback)

    def subscribe(self, suffix: str, callback: Callback) -> None:
        """Follow a topic under hall/v1/{hall}/ (e.g. "hub/calls", "hub/state/window/+").

        callback(topic, payload) runs in the network thread: hand work to your own thread or UI loop. The payload
        is the JSON object as it came ({} for a retained message cleared); read it with the model of its topic
        (`hall.protocol.hub_message_model`, `read_or_ignore`).
        """
        topic = f"hall/v1/{self.hall.id}/{suffix}"
        self._subs.append((topic, tuple(topic.split("/")), callback))
        if self.connected:
            self.client.subscribe(topic, qos=QOS)

    def pending(self) -> int:
        return self.outbox.count()

    def dead_letters(self) -> list[DeadLetter]:
        """The events the hub refused for good, with its code and reason, oldest first."""
        return self.outbox.dead_letters()

    def wait_drained(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.count() == 0:
                return True
            time.sleep(0.05)
        return self.outbox.count() == 0

    def wait_connected(self, timeout: float = 10.0, hub: bool = True) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected and (self.hub_online or not hub):
                return True
            time.sleep(0.02)
        return False

    # ------------------------------------------------------------ paho callbacks (network thread)

    def _status(self, state: str) -> dict:
        return {"state": state, "kind": self.device.kind, "version": self._version, "ts": stamp()}

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            log.warning("%s: broker refused the connection: %s", self.id, reason_code)
            return
        self.connected = True
        with self._lock:
            self._inflight.clear()  # whatever was in flight before is sent again
            self._sent_through = 0
        client.publish(self._status_topic, dumps(self._status("online")), qos=QOS, retain=True)
        topics = [hub_topic(self.hall.id, "status"), device_topic(self.hall.id, self.id, "ack"),
                  device_topic(self.hall.id, self.id, "res"), device_topic(self.hall.id, self.id, "err")]
        topics += [t for t, _levels, _cb in self._subs]
        client.subscribe([(t, QOS) for t in dict.fromkeys(topics)])
        self._wake.set()
        self._tell(self._connection_listeners, True)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        self.connected = False
        # without the broker nothing says the hub is online: wait for its retained status again
        if self.hub_online:
            self.hub_online = False
            self._tell(self._hub_listeners, False)
        self._tell(self._connection_listeners, False)

    def _tell(self, listeners: list, value: bool) -> None:
        for cb in listeners:
            try:
                cb(value)
            except Exception:  # a listener's bug must not stop the link
                log.exception("%s: listener failed", self.id)

    def _on_message(self, client, userdata, msg):
        try:
            self._take(msg)
        except Exception:  # nothing may end paho's thread: the link would stop hearing acks for good
            log.exception("%s: handling a message on %s failed", self.id, msg.topic)

    def _take(self, msg) -> None:
        try:
            payload = json.loads(msg.payload) if msg.payload else {}
        except ValueError:
            log.warning("%s: unreadable message on %s", self.id, msg.topic)
            return
        if not isinstance(payload, dict):
            return
        channel = msg.topic.rsplit("/", 1)[-1]
        if msg.topic.endswith("/hub/status"):
            self._on_hub_status(msg.topic, payload if msg.payload else None)
        elif not msg.payload:
            pass  # a retained acknowledgement cleared: nothing said
        elif msg.topic.startswith(f"hall/v1/{self.hall.id}/{self.id}/"):
            if channel == "ack":
                ack = read_or_ignore(Ack, msg.topic, payload, log)
                if ack is not None:
                    self._on_ack(ack)
            elif channel == "res":
                if read_or_ignore(Answer, msg.topic, payload, log) is not None:
                    self._on_res(payload)
            elif channel == "err":
                rejection = read_or_ignore(Rejection, msg.topic, payload, log)
                if rejection is not None:
                    self._on_err(rejection)
        levels = msg.topic.split("/")
        for topic, wanted, cb in self._subs:
            if topic_matches(wanted, levels):
                try:
                    cb(msg.topic, payload)
                except Exception:  # a listener's bug must not stop the link
                    log.exception("%s: listener for %s failed", self.id, topic)

    def _on_hub_status(self, topic: str, payload: dict | None) -> None:
        if payload is None:  # cleared from the broker: nothing says the hub is online
            online = False
        else:
            status = read_or_ignore(HubStatus, topic, payload, log)
            if status is None:
                return
            online = status.state == "online"
        if online != self.hub_online:
            self.hub_online = online
            self._tell(self._hub_listeners, online)
        self._wake.set()

    def _on_ack(self, ack: Ack) -> None:
        through = ack.through_seq
        # An ack for seqs this outbox never issued is left over from a replaced disk: the hub restarts our
        # watermark when it sees seq 1 again, and a fresh ack follows.
        if through >= self.outbox.next_seq():
            return
        with self._lock:
            for seq in [s for s in self._inflight if s <= through]:
                del self._inflight[seq]
        # the relay deletes them (its upkeep): a synced delete here would hold up the answers behind this ack
        self.outbox.note_acknowledged(through)
        self._wake.set()

    def _on_err(self, rejection: Rejection) -> None:
        """The hub refused one of our events for good: keep it as a dead letter, with the hub's reason, logged."""
        event_id, code, error = rejection.id, rejection.code, rejection.error
        outcome = "not in the outbox"
        if event_id is not None:
            try:
                if self.outbox.refuse(event_id, code, error) is not None:
                    outcome = "kept as a dead letter"
            except OutboxError as err:
                outcome = f"to be kept as a dead letter once the disk lets it ({err})"
        log.warning("%s: 中心拒收事件 hub rejected event %s: %s: %s — %s", self.id, event_id, code, error, outcome)

    def _on_res(self, payload: dict) -> None:
        event_id = payload["re"]
        with self._lock:
            waiter = self._res_waiters.get(event_id)
        if waiter:
            waiter[1].append(payload)
            waiter[0].set()
        for cb in self._res_listeners:
            try:
                cb(event_id, payload)
            except Exception:
                log.exception("%s: answer listener failed", self.id)

    # ------------------------------------------------------------ the relay thread

    def _run_relay(self) -> None:
        refused = None  # what the disk last refused, logged once until it recovers
        while not self._stop.is_set():
            # woken by send, ack, connect and hub status; the timeout is the resend clock
            self._wake.wait(1.0)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.outbox.maintain()
                if refused is not None:
                    log.warning("%s: outbox cleared what it owed", self.id)
                refused = None
            except Exception as err:  # a full disk must not end the relay: it tries again next time
                if str(err) != refused:
                    log.warning("%s: outbox upkeep failed, will retry: %s", self.id, err)
                refused = str(err)
            if not (self.connected and self.hub_online):
                continue
            try:
                self._publish_due()
            except Exception:
                log.exception("%s: outbox relay failed; will retry", self.id)
                time.sleep(0.5)

    def _publish_due(self) -> None:
        """Publish what is due: events not yet sent, and again from the oldest one left unacknowledged too long."""
        now = time.monotonic()
        with self._lock:
            expired = [s for s, t in self._inflight.items() if now - t > self.RESEND_AFTER]
            if expired:
                # rewind to the oldest overdue event: what came after it was most likely lost with it
                self._sent_through = min(self._sent_through, min(expired) - 1)
            for s in [s for s in self._inflight if s > self._sent_through]:
                del self._inflight[s]
            room = self.WINDOW - len(self._inflight)
            after = self._sent_through
        if room <= 0:
            return
        rows = self.outbox.pending(after, room)
        for seq, _event_id, event_type, payload in rows:
            if not self.connected:
                return
            self.client.publish(evt_topic(self.hall.id, self.id, event_type), payload, qos=QOS)
            with self._lock:
                self._inflight[seq] = time.monotonic()
                self._sent_through = max(self._sent_through, seq)
        if len(rows) == room:
            self._wake.set()  # perhaps more waiting: come back (acks make room)
