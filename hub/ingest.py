"""Hub ingest: validate, de-duplicate and store every event once, then acknowledge.

Threads: paho's network thread only queues messages; one writer thread owns SQLite. It takes a batch, stores it in
one transaction (events by id, rejections with their reasons, the domains' own rows), and only after the commit
sends the MQTT PUBACKs (manual acknowledgement), the devices' cumulative `ack` and whatever the domains emitted.
The hub's session is persistent (fixed client id, clean_start=False, a week's expiry), so the broker keeps events
for it while it is down; the devices' outboxes keep them while the broker is down.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from datetime import datetime
from pathlib import Path

from hall import __version__
from hall.clock import now as clock_now
from hall.clock import parse_stamp, stamp
from hall.mqtt import connect, login, new_client, resolve_endpoint
from hall.protocol import (
    INVALID_ENVELOPE,
    INVALID_JSON,
    QOS,
    REQUEST_TYPES,
    UNKNOWN_DEVICE,
    ProtocolError,
    decode_event,
    dumps,
    hub_topic,
    parse_topic,
)
from hall.settings import HUB_ID, Hall
from hub.domain import Emit, Event
from hub.store import open_db

log = logging.getLogger("hub")

SESSION_EXPIRY = 7 * 24 * 3600
BATCH_MAX = 500
BATCH_WAIT = 0.001   # after the first message, how long to gather more before committing
BATCH_BUDGET = 0.005  # work on one transaction before committing it and going on with a new one
SKEW_LIMIT = 5.0     # seconds between a device's clock and the hub's before the device is flagged
RAW_KEEP = 2 * 1024 * 1024


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
        self._inbox: queue.Queue = queue.Queue()
        self._generation = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._opened = threading.Event()
        self._failure: BaseException | None = None
        self.connected = False
        self.counts = {"stored": 0, "duplicates": 0, "rejected": 0}
        self._skewed: set[str] = set()
        self._heard: dict[str, tuple[datetime, float | None]] = {}  # this batch: device → (last heard, clock skew)
        self._writer = threading.Thread(target=self._run_writer, name="hub-writer", daemon=True)
        self.client = None

    # ------------------------------------------------------------ life

    def start(self) -> Hub:
        self.client = new_client(HUB_ID, self.endpoint, self._password, manual_ack=True,
                                 will=(hub_topic(self.hall.id, "status"), dumps(self._status("offline"))))
        self.client.max_inflight_messages_set(100)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._writer.start()
        if not self._opened.wait(60):
            raise RuntimeError(f"the hub could not open its journal {self.db_path}")
        if self._failure:
            raise self._failure
        connect(self.client, self.endpoint, clean_start=False, session_expiry=SESSION_EXPIRY)
        return self

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self._ready.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._inbox.put(None)
        self._writer.join(10)
        if self.client is not None:
            if self.connected:
                try:
                    self.client.publish(hub_topic(self.hall.id, "status"), dumps(self._status("offline")),
                                        qos=QOS, retain=True).wait_for_publish(2)
                except (RuntimeError, ValueError):
                    pass
            self.client.disconnect()
            self.client.loop_stop()

    def run_forever(self) -> None:
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    # ------------------------------------------------------------ network thread

    def _status(self, state: str) -> dict:
        return {"state": state, "kind": "hub", "version": __version__, "ts": stamp()}

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            log.error("broker refused the hub: %s", reason_code)
            return
        self._generation += 1
        self.connected = True
        if not flags.session_present:
            log.warning("the broker had no session for the hub: events sent while it was down come from outboxes")
        root = f"hall/v1/{self.hall.id}"
        client.subscribe([(f"{self._share}{root}/+/evt/#", QOS), (f"{self._share}{root}/+/status", QOS)])
        # state before "online": a device that sees the hub online also sees the state it serves
        self._inbox.put(("connected", self._generation))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        self.connected = False

    def _on_message(self, client, userdata, msg):
        # never block here: the writer does the work and acknowledges after its commit
        self._inbox.put((msg, self._generation))

    # ------------------------------------------------------------ writer thread

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
        """The writer thread owns the connection: open the journal and let the domains rebuild their state."""
        self.db = open_db(self.db_path)
        self._cursors = self._load_cursors()
        self._pending_emit = Emit()
        with self.db.atomic():
            for domain in self.domains:
                domain.setup(self.db, self._pending_emit)

    def _run_writer(self) -> None:
        try:
            self._open()
        except BaseException as err:
            self._failure = err
            self._opened.set()
            return
        self._opened.set()
        try:
            self._write_loop()
        finally:
            self.db.close()

    def _write_loop(self) -> None:
        last_tick = 0.0
        while True:
            try:
                item = self._inbox.get(timeout=0.5)
            except queue.Empty:
                item = False
            if item is None or self._stop.is_set():
                return
            batch = [item] if item else []
            deadline = time.monotonic() + BATCH_WAIT
            while batch and len(batch) < BATCH_MAX:
                try:
                    nxt = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    self._stop.set()
                    break
                batch.append(nxt)
            try:
                while batch:
                    batch = self._process(batch)
                if time.monotonic() - last_tick >= 1.0:
                    last_tick = time.monotonic()
                    self._tick()
            except Exception:
                # nothing was acknowledged: the broker redelivers the batch after a reconnect
                log.exception("hub writer failed on a batch of %d; reconnecting for redelivery", len(batch))
                self.client.reconnect()
            if self._stop.is_set():
                return

    def _tick(self) -> None:
        emit = Emit()
        moment = clock_now(self.hall.tz)
        with self.db.atomic():
            for domain in self.domains:
                domain.tick(self.db, moment, emit)
        self._publish(emit)

    def _process(self, batch: list) -> list:
        """Store a batch in one transaction, then publish and acknowledge. Returns what it left for the next
        transaction: after BATCH_BUDGET of work it commits what it has, so the first calls of a burst are
        announced without waiting for the last."""
        started = time.perf_counter()
        rest: list = []
        emit = self._pending_emit
        self._pending_emit = Emit()
        acks: list[tuple[int, int]] = []       # (mid, generation) to PUBACK after the commit
        touched: set[str] = set()               # devices whose cumulative ack is to be re-published
        announce = False
        with self.db.atomic():
            seen_now: set[str] = set()
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
                    dev = self._ingest_event(topic, msg.topic, msg.payload, emit, seen_now)
                    if dev:
                        touched.add(dev)
            for dev in touched:
                self.db.execute("UPDATE devices SET watermark=? WHERE id=?", (self._cursors[dev].watermark, dev))
            self._flush_heard()
        # committed: now the world may hear of it
        if announce:
            self._announce(emit)
        for dev in touched:
            emit.device(dev, "ack", {"through_seq": self._cursors[dev].watermark}, retain=True)
        self._publish(emit)
        for mid, generation in acks:
            if generation == self._generation and mid:
                self.client.ack(mid, QOS)
        return rest

    def _announce(self, emit: Emit) -> None:
        """After (re)connecting: the catalogue and the domains' retained state, then "online"."""
        emit.hub("catalogue", self.hall.catalogue.wire())
        emit.hub("status", self._status("online"))
        self._ready.set()

    def _publish(self, emit: Emit) -> None:
        # what someone is waiting for first (calls, answers, errors), retained state after it; in order otherwise
        for parts, payload, retain in sorted(emit.drain(), key=lambda m: m[2]):
            topic = "/".join(("hall/v1", self.hall.id, *parts))
            self.client.publish(topic, dumps(payload), qos=QOS, retain=retain)

    def _store_status(self, device: str, payload: bytes, retained: bool) -> None:
        try:
            status = json.loads(payload) if payload else {}
        except ValueError:
            return
        if not isinstance(status, dict) or self.hall.device(device) is None:
            return
        received = clock_now(self.hall.tz)
        self.db.execute(
            "INSERT INTO devices(id, kind, status, version, last_seen) VALUES (?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET status=excluded.status, version=excluded.version",
            (device, self.hall.device(device).kind, str(status.get("state")), str(status.get("version")),
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
                emit: Emit | None = None) -> None:
        self.counts["rejected"] += 1
        self.db.execute(
            "INSERT INTO rejected(received_at, topic, device, event_id, seq, code, error, raw) VALUES (?,?,?,?,?,?,?,?)",
            (stamp(), topic, device, event_id, seq, code, error, raw[:RAW_KEEP]))
        log.warning("rejected %s from %s: %s (%s)", topic, device, code, error)
        if emit is not None and device and self.hall.device(device) is not None:
            emit.device(device, "err", {"id": event_id, "code": code, "error": error})

    def _ingest_event(self, topic, topic_str: str, payload: bytes, emit: Emit, seen_now: set[str]) -> str | None:
        """Store one event message. Returns the device whose watermark it touched, if any."""
        device = self.hall.device(topic.device)
        received = clock_now(self.hall.tz)
        if device is None:
            self._reject(topic_str, topic.device, payload, UNKNOWN_DEVICE,
                         f"device {topic.device!r} is not in the hall config")
            return None
        try:
            env, data = decode_event(topic, payload, device.kind)
        except ProtocolError as err:
            env_id, env_seq = _peek_id_seq(payload)
            if err.code in (INVALID_JSON, INVALID_ENVELOPE):
                # only a valid envelope's id and seq are trusted: to recognise a resend, to move the watermark
                env_seq = None
            elif self._already(env_id, seen_now):
                return self._duplicate(device.id, env_id, env_seq, emit)
            self._reject(topic_str, device.id, payload, err.code, str(err), env_id, env_seq, emit)
            if env_seq is not None:
                seen_now.add(env_id)
            return self._commit_seq(device.id, env_seq)
        event_type = topic.event_type
        if env.id in seen_now:
            return self._duplicate(device.id, env.id, env.seq, emit)
        # storing first is also the duplicate check: a resend finds its id taken
        stored = self.db.execute(
            "INSERT OR IGNORE INTO events(id, device, type, seq, ts, received_at, data) VALUES (?,?,?,?,?,?,?)",
            (env.id, device.id, event_type, env.seq, env.ts.isoformat(), received.isoformat(timespec="milliseconds"),
             json.dumps(env.data, ensure_ascii=False))).rowcount
        if not stored:
            return self._duplicate(device.id, env.id, env.seq, emit)
        seen_now.add(env.id)
        self._seen(device.id, received, env.ts)
        event = Event(id=env.id, device=device.id, kind=device.kind, type=event_type, seq=env.seq, ts=env.ts,
                      received_at=received, data=data, raw=env.data)
        res = None
        domain = self._by_type.get(event_type)
        if domain is not None:
            # a savepoint around the domain: its rows go if it fails, the event stays with the error as answer
            self.db.execute("SAVEPOINT domain")
            try:
                res = domain.apply(self.db, event, emit)
            except Exception as err:  # a domain bug must not stop the hall
                self.db.execute("ROLLBACK TO domain")
                log.exception("handling %s %s failed", event_type, env.id)
                res = {"ok": False, "code": "internal", "error": f"{type(err).__name__}: {err}"}
            self.db.execute("RELEASE domain")
        if event_type in REQUEST_TYPES and res is None:
            res = {"ok": False, "code": "unavailable", "error": f"this hub does not handle {event_type!r}"}
        if res is not None:
            res = {"re": env.id, **res}
            emit.device(device.id, "res", res)
            self.db.execute("UPDATE events SET res=? WHERE id=?", (json.dumps(res, ensure_ascii=False), env.id))
        self.counts["stored"] += 1
        return self._commit_seq(device.id, env.seq, event_id=env.id)

    def _already(self, event_id: str, seen_now: set[str]) -> bool:
        """Was this id stored, or rejected with a valid envelope, before?"""
        if event_id in seen_now:
            return True
        return self.db.execute(
            "SELECT 1 FROM events WHERE id=? UNION ALL SELECT 1 FROM rejected WHERE event_id=? AND seq IS NOT NULL "
            "LIMIT 1", (event_id, event_id)).fetchone() is not None

    def _duplicate(self, device: str, event_id: str, seq: int | None, emit: Emit) -> str:
        """A resend: store nothing, answer again as before, and acknowledge again."""
        self.counts["duplicates"] += 1
        row = self.db.execute("SELECT res FROM events WHERE id=?", (event_id,)).fetchone()
        if row and row[0]:
            emit.device(device, "res", json.loads(row[0]))
        self._ensure_device(device)
        return device

    def _ensure_device(self, device: str) -> DeviceCursor:
        cursor = self._cursors.get(device)
        if cursor is None:
            cursor = self._cursors[device] = DeviceCursor()
            self.db.execute("INSERT OR IGNORE INTO devices(id, kind) VALUES (?,?)",
                            (device, self.hall.device(device).kind))
        return cursor

    def _commit_seq(self, device: str, seq: int | None, event_id: str | None = None) -> str:
        cursor = self._ensure_device(device)
        if seq is None:
            return device
        if seq == 1 and cursor.watermark >= 1 and event_id is not None:
            # a new event numbered 1 again: the device lost its disk and counts afresh
            log.warning("device %s restarted its sequence at 1 (was at %d)", device, cursor.watermark)
            self.db.execute("UPDATE devices SET seq_restarts = seq_restarts + 1 WHERE id=?", (device,))
            cursor.watermark, cursor.above = 0, set()
        cursor.commit(seq)
        return device

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

    def _flush_heard(self) -> None:
        """Once per batch: when each device was last heard from, and whether its clock is off."""
        for device, (last, skew) in self._heard.items():
            self._ensure_device(device)
            if skew is None:
                self.db.execute("UPDATE devices SET last_seen=? WHERE id=?",
                                (last.isoformat(timespec="milliseconds"), device))
                continue
            flagged = abs(skew) > SKEW_LIMIT
            if flagged != (device in self._skewed):  # say it when it starts and when it ends, not per event
                if flagged:
                    self._skewed.add(device)
                    log.warning("device %s clock is off by %.1f s (a Pi without network time?)", device, skew)
                else:
                    self._skewed.discard(device)
                    log.info("device %s clock is back within %.0f s", device, SKEW_LIMIT)
            self.db.execute("UPDATE devices SET clock_skew_s=?, skew_flagged=?, last_seen=? WHERE id=?",
                            (round(skew, 3), int(flagged), last.isoformat(timespec="milliseconds"), device))
        self._heard.clear()


def _peek_id_seq(payload: bytes) -> tuple[str | None, int | None]:
    """Best effort id and seq of a message that failed validation, so its seq still counts as handled."""
    try:
        raw = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, None
    if not isinstance(raw, dict):
        return None, None
    event_id = raw.get("id") if isinstance(raw.get("id"), str) and 0 < len(raw.get("id")) <= 64 else None
    seq = raw.get("seq") if isinstance(raw.get("seq"), int) and not isinstance(raw.get("seq"), bool) else None
    if seq is not None and not (1 <= seq < 2**62):
        seq = None
    return event_id, seq
