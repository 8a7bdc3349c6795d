"""Hub ingest: validate, de-duplicate and store every event once, then acknowledge.

One thread does all of it: it drives the hub's MQTT connection itself (paho's own-loop API: select, read,
write), stores what it read in one transaction (events by id, rejections with their reasons, the domains' own
rows), and only after the commit sends what the world may now hear. Sharing the interpreter with a separate
network thread cost more than the work itself: every publish woke that thread, and the two fought over the GIL
through a whole burst of calls.

A burst (34 windows calling in the same moment) is read whole before it is stored, then decided and committed in
parts of a few milliseconds of work. After each commit, what someone is waiting for goes out at once: calls,
answers, errors. What can wait, waits until nothing has come for QUIET (or HOLD_MAX at most): the domains'
derived rows and retained state (window and queue state, the calls list; Domain.flush), the devices' cumulative
`ack` and the MQTT PUBACKs of the stored events. Of a retained topic only its latest value matters, so a burst of
34 calls sends the `calls` list once, and the last call of a burst is not queued behind the state of the first.

Durability without a disk flush on the way to the screens: the journal commits without waiting for the disk
(synchronous=NORMAL: a commit survives the hub's crash, being in the operating system's hands), and the hub makes
it survive a power cut itself (fsync of the journal's log) before it sends what lets a device forget an event:
the PUBACK and the `ack`. A commit costs ~0.3 ms instead of ~2 ms, so a burst can be committed in parts; an event
whose answer went out but whose flush a power cut beat is still in its device's outbox and is sent again.

The hub's session is persistent (fixed client id, clean_session=False, kept 14 days), so the broker keeps events
for it while it is down; the devices' outboxes keep them while the broker is down.
"""

from __future__ import annotations

import errno
import gc
import json
import logging
import os
import re
import select
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from paho.mqtt.enums import MQTTErrorCode

from hall import __version__
from hall.clock import now as clock_now
from hall.clock import parse_stamp, stamp
from hall.mqtt import connect, login, new_client, resolve_endpoint
from hall.protocol import (
    BAD_CHARS,
    INTERNAL,
    INVALID_ENVELOPE,
    INVALID_JSON,
    MAX_INT,
    QOS,
    REQUEST_TYPES,
    UNKNOWN_DEVICE,
    ProtocolError,
    check_bounds,
    decode_event,
    dumps,
    hub_topic,
    json_text,
    parse_json,
    parse_topic,
)
from hall.settings import HUB_ID, Hall
from hub.domain import Emit, Event
from hub.store import open_db

log = logging.getLogger("hub")

BATCH_MAX = 500       # messages read before they are stored
# work on one transaction before committing it, sending what it decided and going on with a new one: a commit
# costs ~0.3 ms (the disk flush waits for _release), and the broker and the screens take the first calls of a
# burst on the other core while the hub decides the rest (34 calls at once: p50 20 → 16 ms)
BATCH_BUDGET = 0.003
# messages closer than this belong to one burst (a queued burst reads at one per 40-90 µs); every burst waits this
# long after its last message before it is decided
GATHER_GAP = 0.0002
GATHER_MAX = 0.005    # ... read for this long at most before storing what came
QUIET = 0.01          # a burst is over when nothing came for this long: then what was held goes out
HOLD_MAX = 0.025      # and at the latest this long after it was first held, however busy the hub is
SEGMENT = 8           # urgent messages written together before the socket is told to send
TICK = 1.0            # the domains' clock work, about once a second
IDLE_WAIT = 0.2       # select timeout when there is nothing to do: how soon a stop or a tick is noticed
# QoS 1 messages the hub has out at once: no limit. The broker acknowledges at once, and paho, with a limit,
# walks every unacknowledged message on every PUBACK (a burst of 160 messages cost it 13,000 steps).
INFLIGHT = 0
# The hub speaks MQTT 3.1.1, whatever its devices speak: paho turns the properties of every v5 PUBLISH and PUBACK
# into objects (half the cost of reading an event, ~45 µs per PUBACK), and the hub reads none of them. Its session
# lives as long as the broker keeps persistent sessions (`persistent_client_expiration`, 14 days).
HUB_MQTT = 4
RECONNECT_MIN, RECONNECT_MAX = 1.0, 10.0
SKEW_LIMIT = 5.0      # seconds between a device's clock and the hub's before the device is flagged
# A rejected message is kept for whoever looks into it, but a device must not be able to fill the hub's disk with
# them: a prefix of each, and per device and hour at most so many rows and bytes; past that only a count is kept.
RAW_KEEP = 4096
REJECT_QUOTA_ROWS = 2000
REJECT_QUOTA_BYTES = 2 * 1024 * 1024
STATUS_MAX = 4096     # bytes of a device status message worth reading
# When the journal cannot be written (a full disk, an I/O error), the hub says so in its status and tries the same
# messages again after a pause that doubles up to BACKOFF_MAX: nothing is acknowledged, so nothing is lost, and a
# disk that stays full costs a retry every half minute, not sixty a second.
BACKOFF_MIN, BACKOFF_MAX = 0.5, 30.0
BACKLOG_MAX = 4 * BATCH_MAX
EVENT_ID = re.compile(r"^[0-9A-Za-z-]{8,64}$")  # the envelope's id, as hall.protocol.Envelope accepts it  # messages read and held while backing off; the broker keeps the rest

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


class Hub:
    def __init__(self, hall: Hall, data_dir: Path | str, *, host: str | None = None, port: int | None = None,
                 password: str | None = None, tls_ca: str | None = None, domains: list | None = None,
                 subscribe_prefix: str = ""):
        self.hall = hall
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / "hub.db"
        self.endpoint = resolve_endpoint(hall, self.data_dir, host, port, tls_ca)
        self._password = login(self.data_dir, HUB_ID, password)
        if domains is None:
            from hub.domains import load_domains
            domains = load_domains(hall)
        self.domains = domains
        self._by_type = {t: d for d in domains for t in d.types}
        self._share = subscribe_prefix  # e.g. "$share/hub/" when several hubs consume one hall
        self._hub_prefix = hub_topic(hall.id, "")
        self._incoming: list = []            # (message or "connected", generation), read and not yet stored
        self._held: dict[str, dict] = {}     # retained topic → its latest payload, sent when the socket is quiet
        self._held_pubacks: list[tuple[int, int]] = []  # (mid, generation) of stored events
        self._answers: list[tuple[str, dict]] = []  # res and err of a burst, sent after its announcements
        self._held_since = 0.0
        self._busy_at = 0.0  # when the last batch was stored
        self._unflushed = False  # events stored whose derived rows and retained state the domains owe
        self._unsynced = False  # committed, not yet flushed to the disk: nothing may be acknowledged before it is
        self._moved: set[str] = set()  # devices whose watermark moved since the devices table was written
        self._generation = 0
        self._retry_at = 0.0
        self._retry_delay = RECONNECT_MIN
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._opened = threading.Event()
        self._failure: BaseException | None = None
        self.connected = False
        self.counts = {"stored": 0, "duplicates": 0, "rejected": 0, "rejected_dropped": 0, "storage_failures": 0}
        self.degraded: str | None = None  # why the journal cannot be written now, e.g. "disk_full"
        self._backoff = BACKOFF_MIN
        self._backoff_until = 0.0
        self._quota: dict[tuple[str, str], list[int]] = {}  # (device, hour) → [rows kept, bytes kept]
        self._skewed: set[str] = set()
        # since the devices table was written: device → (last heard, clock skew)
        self._heard: dict[str, tuple[datetime, float | None]] = {}
        self._thread = threading.Thread(target=self._run, name="hub", daemon=True)
        self.client = None

    # ------------------------------------------------------------ life

    def start(self) -> Hub:
        self.client = new_client(HUB_ID, self.endpoint, self._password, manual_ack=True, protocol_version=HUB_MQTT,
                                 will=(hub_topic(self.hall.id, "status"), dumps(self._status("offline"))))
        self.client.max_inflight_messages_set(INFLIGHT)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        connect(self.client, self.endpoint, clean_start=False, background=False)
        self._thread.start()
        if not self._opened.wait(60):
            raise RuntimeError(f"the hub could not open its journal {self.db_path}")
        if self._failure:
            raise self._failure
        return self

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self._ready.wait(timeout)

    def is_alive(self) -> bool:
        """Still serving: no message, however malformed, can bring the hub's thread down."""
        return self._thread.is_alive()

    def request_stop(self) -> None:
        """Safe from any thread or a signal handler: the hub finishes its batch, says offline and leaves."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def run_forever(self) -> None:
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def _run(self) -> None:
        try:
            self._open()
        except BaseException as err:
            self._failure = err
            self._opened.set()
            return
        self._opened.set()
        try:
            self._serve()
        finally:
            try:
                self._sign_off()
            finally:
                self.db.close()

    def _serve(self) -> None:
        last_tick = 0.0
        while not self._stop.is_set():
            timeout = IDLE_WAIT
            if self._holding():
                timeout = max(0.0, min(self._busy_at + QUIET, self._held_since + HOLD_MAX) - time.monotonic())
            backing_off = time.monotonic() < self._backoff_until
            if backing_off:
                timeout = min(timeout, self._backoff_until - time.monotonic())
            self._pump(timeout, read=not backing_off or len(self._incoming) < BACKLOG_MAX)
            if backing_off:
                continue
            if self._incoming:
                self._gather()
                batch, self._incoming = self._incoming, []
                # the collector's passes wait until the burst is decided and sent (34 calls at once: p99 ~24 → ~22 ms);
                # a batch is BATCH_MAX messages at most, so what piles up meanwhile is bounded
                gc.disable()
                try:
                    while batch:
                        batch = self._process(batch)
                    self._send_answers()
                    self._recovered()
                except Exception as err:
                    # nothing of this part was stored or acknowledged: keep it and try again after a pause
                    self._incoming[:0] = batch
                    self._failed("storing events", err)
                finally:
                    gc.enable()
                self._busy_at = time.monotonic()
            now = time.monotonic()
            if now < self._backoff_until:
                continue
            try:
                if self._holding() and (now >= self._busy_at + QUIET or now >= self._held_since + HOLD_MAX):
                    self._release()
                # the clock's work (closing days, checkpointing the journal) between bursts, never in one
                if now - last_tick >= TICK and (not self._holding() or now - last_tick >= 2 * TICK):
                    last_tick = now
                    self._tick()
            except Exception as err:  # what is held stays held and is tried again after a pause; the hall goes on
                self._failed("writing derived rows", err)
                self._held_since = self._busy_at = time.monotonic()

    def _failed(self, what: str, err: Exception) -> None:
        """The journal could not be written: pause before trying again, and say why in the hub's status."""
        cause = storage_cause(err) or "internal"
        self.counts["storage_failures"] += 1
        self._backoff_until = time.monotonic() + self._backoff
        if cause != self.degraded:
            log.error("hub failed %s (%s); trying again in %.1f s", what, cause, self._backoff, exc_info=err)
            self.degraded = cause
            self._say_status(error=f"{type(err).__name__}: {err}")
        else:
            log.warning("hub still failing %s (%s: %s); again in %.1f s", what, cause, err, self._backoff)
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    def _recovered(self) -> None:
        self._backoff = BACKOFF_MIN
        if self.degraded is not None:
            log.warning("hub is storing events again (was %s)", self.degraded)
            self.degraded = None
            self._say_status()

    def _say_status(self, **extra) -> None:
        if self.connected:
            self.client.publish(hub_topic(self.hall.id, "status"), dumps({**self._status(), **extra}), qos=QOS,
                                retain=True)

    def _gather(self) -> None:
        """A burst arrives over a few milliseconds: read on while it keeps coming (gaps under GATHER_GAP, for
        GATHER_MAX at most) so that it is decided and committed as one batch, not as many."""
        end = time.monotonic() + GATHER_MAX
        while len(self._incoming) < BATCH_MAX and time.monotonic() < end:
            before = len(self._incoming)
            self._pump(GATHER_GAP)
            if len(self._incoming) == before:
                return

    def _sign_off(self) -> None:
        """Stopping: what is held, then "offline" (retained; the last will covers a crash), then goodbye."""
        if not self.connected:
            return
        self._release()
        info = self.client.publish(hub_topic(self.hall.id, "status"), dumps(self._status("offline")), qos=QOS,
                                   retain=True)
        end = time.monotonic() + 2
        while self.connected and not info.is_published() and time.monotonic() < end:
            self._pump(0.05)
        self.client.disconnect()

    def _recover(self) -> None:
        self._incoming.clear()  # not acknowledged: these come again
        try:
            self._release()  # what earlier batches committed
        except Exception:
            log.exception("hub could not send what it held")
        try:
            self.client.reconnect()
        except OSError as err:
            log.warning("hub could not reconnect: %s", err)

    # ------------------------------------------------------------ the connection, driven from this thread

    def _pump(self, timeout: float, read: bool = True) -> None:
        """Wait up to `timeout` for the socket, then read what it holds (up to a batch) and write what is due.
        With read=False (backing off with a full backlog) it only writes and keeps the connection alive."""
        client = self.client
        sock = client.socket()
        if sock is None:
            self._redial(timeout)
            return
        pending = getattr(sock, "pending", None)  # bytes TLS has decrypted already: select cannot see them
        if read and pending and pending():
            timeout = 0.0
        try:
            readable, writable, _ = select.select([sock] if read else [], [sock] if client.want_write() else [], [],
                                                  timeout)
        except (OSError, ValueError, TypeError):
            readable, writable = [sock], []  # a closed socket: reading says so
        rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        if readable or (read and pending and pending()):
            for _ in range(BATCH_MAX):
                rc = client.loop_read()
                sock = client.socket()
                if rc or sock is None or len(self._incoming) >= BATCH_MAX:
                    break
                if not (pending and pending()) and not select.select([sock], [], [], 0)[0]:
                    break
        if not rc and client.socket() is not None and (writable or client.want_write()):
            rc = client.loop_write()
        if not rc and client.socket() is not None:
            rc = client.loop_misc()
        if rc or client.socket() is None:
            self.connected = False  # paho has closed the socket; _redial takes it from here

    def _redial(self, timeout: float) -> None:
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            self._stop.wait(min(wait, max(timeout, 0.01)))
            return
        try:
            self.client.reconnect()
        except OSError as err:
            self._retry_at = time.monotonic() + self._retry_delay
            log.warning("hub cannot reach the broker at %s:%s (%s); again in %.0f s", self.endpoint.host,
                        self.endpoint.port, err, self._retry_delay)
            self._retry_delay = min(self._retry_delay * 2, RECONNECT_MAX)

    def _status(self, state: str | None = None) -> dict:
        """online, offline, or degraded with its cause while the journal cannot be written."""
        if state is None:
            state = "degraded" if self.degraded else "online"
        status = {"state": state, "kind": "hub", "version": __version__, "ts": stamp()}
        if state == "degraded":
            status["cause"] = self.degraded
        return status

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            log.error("broker refused the hub: %s", reason_code)
            self._retry_at = time.monotonic() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, RECONNECT_MAX)
            return
        self._generation += 1
        self._retry_delay = RECONNECT_MIN
        self.connected = True
        if not flags.session_present:
            log.warning("the broker had no session for the hub: events sent while it was down come from outboxes")
        root = f"hall/v1/{self.hall.id}"
        client.subscribe([(f"{self._share}{root}/+/evt/#", QOS), (f"{self._share}{root}/+/status", QOS)])
        # state before "online": a device that sees the hub online also sees the state it serves
        self._incoming.append(("connected", self._generation))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        self.connected = False
        self._retry_at = time.monotonic() + self._retry_delay

    def _on_message(self, client, userdata, msg):
        self._incoming.append((msg, self._generation))

    # ------------------------------------------------------------ storing

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

    def _open(self) -> None:
        """This thread owns the connection: open the journal and let the domains rebuild their state."""
        self.db = open_db(self.db_path)
        # commits reach the operating system, not yet the disk: _sync_journal() does that before any acknowledgement
        self.db.execute("PRAGMA synchronous=NORMAL")
        # the journal is copied into the database file once a second (_tick), between bursts, instead of inside
        # whichever commit happens to fill the log: that one took ~10 ms longer
        self.db.execute("PRAGMA wal_autocheckpoint=0")
        self._cursors = self._load_cursors()
        self._pending_emit = Emit()
        with self.db.atomic():
            for domain in self.domains:
                domain.setup(self.db, self._pending_emit)
                domain.flush(self.db, self._pending_emit)

    def _tick(self) -> None:
        emit = Emit()
        moment = clock_now(self.hall.tz)
        with self.db.atomic():
            for domain in self.domains:
                domain.tick(self.db, moment, emit)
        self._publish(emit)
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _process(self, batch: list) -> list:
        """Store a batch in one transaction, then send its announcements (its answers follow the burst's last
        announcement, its acknowledgements a quiet moment). Returns what it left for the next transaction: after
        BATCH_BUDGET of work it commits what it has, so the first calls of a burst are announced while the hub
        decides the rest.

        Each event message is stored or rejected within a savepoint of its own: whatever goes wrong with one
        message (a bug, a value the journal will not take) rolls back that message alone, which is then kept in
        `rejected` as `internal`. Only a failure of the storage itself (a full disk) fails the batch."""
        started = time.perf_counter()
        rest: list = []
        emit = self._pending_emit
        pending = len(emit.messages)  # the domains' state from setup, before the first batch
        self._pending_emit = Emit()
        acks: list[tuple[int, int]] = []       # (mid, generation) to PUBACK after the commit
        handled: list[tuple[str, int | None, str | None]] = []  # (device, seq, event id) whose seq now counts
        announce = False
        before: dict[str, DeviceCursor | None] = {}
        try:
            with self.db.atomic():
                seen_now: dict[str, tuple] = {}
                for i, (item, generation) in enumerate(batch):
                    if i and time.perf_counter() - started > BATCH_BUDGET:
                        rest = batch[i:]
                        break
                    if item == "connected":
                        announce = True
                        continue
                    msg = item
                    acks.append((msg.mid, generation))
                    topic = parse_topic(msg.topic)
                    if topic is None or topic.hall != self.hall.id:
                        continue
                    if topic.channel == "status":
                        self._store_status(topic.device, msg.payload, msg.retain)
                    elif topic.channel == "evt":
                        mark = len(emit.messages)
                        self.db.execute("SAVEPOINT msg")
                        try:
                            step = self._ingest_event(topic, msg.topic, msg.payload, emit, seen_now)
                        except Exception as err:
                            if storage_cause(err):
                                raise
                            self.db.execute("ROLLBACK TO msg")
                            del emit.messages[mark:]
                            log.exception("storing %s failed; kept as rejected", msg.topic)
                            step = self._reject(msg.topic, topic.device, msg.payload, INTERNAL,
                                                f"the hub could not store this message: {type(err).__name__}",
                                                *_peek_id_seq(msg.payload), emit=emit)
                        self.db.execute("RELEASE msg")
                        if step is not None:
                            handled.append(step)
                # the watermarks move with the transaction: a batch rolled back must not acknowledge anything
                for device, seq, event_id in handled:
                    if device not in before:
                        cursor = self._cursors.get(device)
                        before[device] = DeviceCursor(cursor.watermark, set(cursor.above)) if cursor else None
                    self._commit_seq(device, seq, event_id)
        except BaseException:
            for device, cursor in before.items():
                if cursor is None:
                    self._cursors.pop(device, None)
                else:
                    self._cursors[device] = cursor
            del emit.messages[pending:]
            self._pending_emit = emit
            raise
        touched = set(before)
        # committed: now the world may hear of it
        for dev in touched:
            emit.device(dev, "ack", {"through_seq": self._cursors[dev].watermark}, retain=True)
        if announce:
            self._announce(emit)
        self._publish(emit, answers=False)  # the burst's answers follow its last announcement (_serve)
        if not self._holding():
            self._held_since = time.monotonic()
        self._held_pubacks += acks
        self._moved |= touched
        self._unflushed = True
        self._unsynced = True
        if announce:
            self._release()
            self._ready.set()
        return rest

    def _announce(self, emit: Emit) -> None:
        """After (re)connecting: the catalogue and the domains' retained state, then "online"."""
        emit.hub("catalogue", self.hall.catalogue.wire())
        emit.hub("status", self._status())

    def _publish(self, emit: Emit, *, answers: bool = True) -> None:
        """What someone is waiting for goes out now: announcements to every screen first, then answers and errors
        to their devices. A burst committed in parts (answers=False) keeps its answers until its last announcement
        is out, as when it was committed whole: the hall's screens and voices before one clerk's caller, whose
        answer comes a few milliseconds later. Retained topics are held."""
        announcements: list[tuple[str, dict]] = []
        for parts, payload, retain in emit.drain():
            topic = "/".join(("hall/v1", self.hall.id, *parts))
            if retain:
                if not self._holding():
                    self._held_since = time.monotonic()
                self._held[topic] = payload
            elif topic.startswith(self._hub_prefix):
                announcements.append((topic, payload))
            else:
                self._answers.append((topic, payload))
        self._send(announcements)
        if answers:
            self._send_answers()

    def _send_answers(self) -> None:
        answers, self._answers = self._answers, []
        self._send(answers)

    def _send(self, messages: list[tuple[str, dict]]) -> None:
        # a few at a time in full segments: the screens start on the first calls while the rest are written
        for i in range(0, len(messages), SEGMENT):
            with self._corked():
                for topic, payload in messages[i:i + SEGMENT]:
                    self.client.publish(topic, dumps(payload), qos=QOS)

    def _holding(self) -> bool:
        return bool(self._held or self._held_pubacks or self._unflushed)

    def _release(self) -> None:
        """The burst is over (or HOLD_MAX has passed): let the domains write what derives from it and say what
        state it changed, then send the held retained state (latest of each topic) and the PUBACKs."""
        self._send_answers()  # of a burst cut short by a failure: what was committed is answered
        if self._unflushed:
            self._unflushed = False
            emit = Emit()
            try:
                with self.db.atomic():
                    for domain in self.domains:
                        domain.flush(self.db, emit)
                    # a watermark on disk may lag: at start the cursors fold in every stored seq above it
                    self._save_devices(self._moved)
                self._moved = set()
                self._unsynced = True
            except Exception:
                # the events are committed all the same: acknowledge them; the domains try again next time
                log.exception("hub could not write what derives from the last events")
                emit.drain()
            self._publish(emit)
        if self._held_pubacks or self._held:
            self._sync_journal()  # the acks are among the held topics
        held, self._held = self._held, {}
        pubacks, self._held_pubacks = self._held_pubacks, []
        with self._corked():
            for topic, payload in held.items():  # paho keeps QoS 1 messages while it is away and sends them after
                self.client.publish(topic, dumps(payload), qos=QOS, retain=True)
            for mid, generation in pubacks:
                # a PUBACK belongs to its connection: after a reconnect the broker sends those events again
                if generation == self._generation and mid and self.connected:
                    self.client.ack(mid, QOS)

    def _sync_journal(self) -> None:
        """What was committed, on the disk: the journal's log file flushed as SQLite's FULL mode would flush it
        at every commit, here once for all the commits since the last time."""
        if not self._unsynced:
            return
        wal = self.db_path.with_name(self.db_path.name + "-wal")
        try:
            fd = os.open(wal, os.O_RDONLY)
        except FileNotFoundError:  # no log: a checkpoint (which flushes what it copies) has taken it all
            self._unsynced = False
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._unsynced = False

    @contextmanager
    def _corked(self):
        """Many small messages in a row leave in full TCP segments (TCP_CORK), not one segment each: fewer
        wake-ups for the broker and for the hub. Uncorking sends what is left at once."""
        sock = self.client.socket() if self.client is not None else None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        except (AttributeError, OSError):  # no socket now, not Linux, not TCP
            yield
            return
        try:
            yield
        finally:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            except OSError:
                pass

    def _store_status(self, device: str, payload: bytes, retained: bool) -> None:
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
        self._ensure_device(device)
        ts = None
        if not retained and status.get("state") == "online" and isinstance(status.get("ts"), str):
            try:
                ts = parse_stamp(status["ts"])
            except ValueError:
                ts = None
        self._seen(device, received, ts, live=ts is not None)

    def _reject(self, topic: str, device: str | None, raw: bytes, code: str, error: str, event_id=None, seq=None,
                emit: Emit | None = None) -> tuple[str, int | None, str | None] | None:
        """Keep a message that will not be stored, with its reason, and answer the device on `err`. Returns the
        device and seq it handled: a rejected event is accounted for, so the device's acknowledgements pass it."""
        self.counts["rejected"] += 1
        known = device is not None and self.hall.device(device) is not None
        error = BAD_CHARS.sub("\ufffd", error)[:500]
        kept = raw[:RAW_KEEP]
        if self._within_quota(device if known else "?", len(kept)):
            self.db.execute(
                "INSERT INTO rejected(received_at, topic, device, event_id, seq, code, error, raw, size) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (stamp(), topic[:256], device if known else (device or "")[:64], event_id, seq, code, error, kept,
                 len(raw)))
            log.warning("rejected %s from %s: %s (%s)", topic[:256], device, code, error)
        if emit is not None and known:
            emit.device(device, "err", {"id": event_id, "code": code, "error": error})
        return (device, seq, None) if known else None

    def _within_quota(self, device: str, size: int) -> bool:
        """Count a rejected message against its device's hourly quota; False (and counted as dropped) past it."""
        hour = clock_now(self.hall.tz).strftime("%Y-%m-%dT%H")
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
        self.counts["rejected_dropped"] += 1
        row = self.db.execute(
            "INSERT INTO rejected_quota(device, hour, dropped, dropped_bytes) VALUES (?,?,1,?) ON CONFLICT DO UPDATE "
            "SET dropped=dropped+1, dropped_bytes=dropped_bytes+excluded.dropped_bytes RETURNING dropped",
            (device, hour, size)).fetchone()
        if row[0] == 1:
            log.warning("device %s passed its quota of rejected messages for %s:00; only counting them now",
                        device, hour)
        return False

    def _ingest_event(self, topic, topic_str: str, payload: bytes, emit: Emit,
                      seen_now: dict[str, tuple]) -> tuple[str, int | None, str | None] | None:
        """Store one event message, or reject it. Returns the (device, seq, event id) it accounts for, if any."""
        device = self.hall.device(topic.device)
        received = clock_now(self.hall.tz)
        if device is None:
            return self._reject(topic_str, topic.device, payload, UNKNOWN_DEVICE,
                                f"device {topic.device[:64]!r} is not in the hall config")
        try:
            env, data = decode_event(topic, payload, device.kind, now=received)
        except ProtocolError as err:
            env_id, env_seq = _peek_id_seq(payload)
            if err.code not in (INVALID_JSON, INVALID_ENVELOPE) and env_id is not None:
                # a valid envelope with an id seen before: a resend of the same rejected message is a duplicate
                prior = seen_now.get(env_id) or self._prior(env_id)
                if prior is not None and prior[:3] == ("rejected", device.id, topic_str) and prior[3] == env_seq:
                    return self._duplicate(device.id, None, emit, env_seq, refused=(env_id, *prior[4:6]))
            step = self._reject(topic_str, device.id, payload, err.code, str(err), env_id, env_seq, emit)
            if env_id is not None and env_seq is not None:
                seen_now[env_id] = ("rejected", device.id, topic_str, env_seq, err.code, str(err))
            return step
        event_type = topic.event_type
        data_text = json_text(env.data)  # before anything is decided: what cannot be written is refused here
        prior = seen_now.get(env.id) or self._prior(env.id)
        if prior is not None:
            if prior[0] == "event" and prior[1:4] == (device.id, event_type, env.seq) and prior[4] == data_text:
                return self._duplicate(device.id, prior[5], emit, env.seq)
            if prior[0] == "rejected" and prior[1:4] == (device.id, topic_str, env.seq):
                return self._duplicate(device.id, None, emit, env.seq, refused=(env.id, *prior[4:6]))
            whose = "this device's" if prior[1] == device.id else "another device's"
            return self._reject(topic_str, device.id, payload, INVALID_ENVELOPE,
                                f"id: {env.id} is already taken by {whose} event; a new event needs a new id",
                                env.id, env.seq, emit)
        seen_now[env.id] = ("event", device.id, event_type, env.seq, data_text, None)
        self._seen(device.id, received, env.ts)
        event = Event(id=env.id, device=device.id, kind=device.kind, type=event_type, seq=env.seq, ts=env.ts,
                      received_at=received, data=data, raw=env.data)
        res = None
        domain = self._by_type.get(event_type)
        if domain is not None:
            mark = len(emit.messages)
            try:
                res = domain.apply(self.db, event, emit)
            except Exception as err:  # a domain bug must not stop the hall
                if storage_cause(err):
                    raise
                # its rows and announcements go; the event stays with the error as its answer
                self.db.execute("ROLLBACK TO msg")
                del emit.messages[mark:]
                log.exception("handling %s %s failed", event_type, env.id)
                res = {"ok": False, "code": "internal", "error": f"{type(err).__name__}: {err}"[:300]}
        if event_type in REQUEST_TYPES and res is None:
            res = {"ok": False, "code": "unavailable", "error": f"this hub does not handle {event_type!r}"}
        if res is not None:
            res = {"re": env.id, **res}
            emit.device(device.id, "res", res)
        res_text = json_text(res) if res is not None else None
        # stored with its answer, in the transaction that holds what the domain made of it
        self.db.execute(
            "INSERT INTO events(id, device, type, seq, ts, received_at, data, res) VALUES (?,?,?,?,?,?,?,?)",
            (env.id, device.id, event_type, env.seq, env.ts.isoformat(), received.isoformat(timespec="milliseconds"),
             data_text, res_text))
        seen_now[env.id] = ("event", device.id, event_type, env.seq, data_text, res_text)
        self.counts["stored"] += 1
        return device.id, env.seq, env.id

    def _prior(self, event_id: str) -> tuple | None:
        """What was stored under this id before: ("event", device, type, seq, data, res) or
        ("rejected", device, topic, seq, code, error) for a rejected message whose envelope was valid."""
        row = self.db.execute(
            "SELECT 'event', device, type, seq, data, res FROM events WHERE id=:id UNION ALL "
            "SELECT 'rejected', device, topic, seq, code, error FROM rejected WHERE event_id=:id AND seq IS NOT NULL "
            "AND code NOT IN ('invalid_json', 'invalid_envelope') LIMIT 1", {"id": event_id}).fetchone()
        return None if row is None else tuple(row)

    def _duplicate(self, device: str, res: str | None, emit: Emit, seq: int | None,
                   refused: tuple[str, str, str] | None = None) -> tuple[str, int | None, None]:
        """A resend: store nothing, answer again as before (`res`, or `err` for a message refused before: the
        device may have missed it), and acknowledge again."""
        self.counts["duplicates"] += 1
        if res:
            emit.device(device, "res", json.loads(res))
        if refused:
            event_id, code, error = refused
            emit.device(device, "err", {"id": event_id, "code": code, "error": error})
        return device, seq, None

    def _ensure_device(self, device: str) -> DeviceCursor:
        cursor = self._cursors.get(device)
        if cursor is None:
            cursor = self._cursors[device] = DeviceCursor()
            self.db.execute("INSERT OR IGNORE INTO devices(id, kind) VALUES (?,?)",
                            (device, self.hall.device(device).kind))
        return cursor

    def _commit_seq(self, device: str, seq: int | None, event_id: str | None = None) -> None:
        cursor = self._ensure_device(device)
        if seq is None:
            return
        if seq == 1 and cursor.watermark >= 1 and event_id is not None:
            # a new event numbered 1 again: the device lost its disk and counts afresh
            log.warning("device %s restarted its sequence at 1 (was at %d)", device, cursor.watermark)
            self.db.execute("UPDATE devices SET seq_restarts = seq_restarts + 1, watermark = 0 WHERE id=?", (device,))
            cursor.watermark, cursor.above = 0, set()
        cursor.commit(seq)

    def _seen(self, device: str, received: datetime, ts: datetime | None = None, live: bool = False) -> None:
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

    def _save_devices(self, touched: set[str]) -> None:
        """Once a burst is stored, a row per device: its watermark, when it was last heard, whether its clock is
        off."""
        for device in touched | self._heard.keys():
            self._ensure_device(device)
            sets, params = [], []
            if device in touched:
                sets.append("watermark=?")
                params.append(self._cursors[device].watermark)
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


def _peek_id_seq(payload: bytes) -> tuple[str | None, int | None]:
    """Best effort id and seq of a message that failed validation, so its seq still counts as handled (the device
    moves it out of its outbox when it hears why) and a resend of it is recognised."""
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None, None
    if not isinstance(raw, dict):
        return None, None
    event_id = raw.get("id") if isinstance(raw.get("id"), str) and EVENT_ID.match(raw["id"]) else None
    seq = raw.get("seq") if type(raw.get("seq")) is int else None
    if seq is not None and not (1 <= seq <= MAX_INT):
        seq = None
    return event_id, seq
