"""The device link every agent uses (kiosk, terminal, display, bus masters): a durable outbox over MQTT.

An event is first written to the device's SQLite outbox (WAL, synchronous=FULL) with its id and seq, then
published at QoS 1. It leaves the outbox only when the hub's retained `ack` says every event up to its seq is
committed. Unacknowledged events are sent again after a reconnect and after a timeout; the hub absorbs the
duplicates by event id. Nothing is sent while the hub's retained status says it is offline, so a day's events wait
on the device's own disk rather than in the broker's memory.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

from hall import __version__
from hall.clock import stamp
from hall.mqtt import connect, login, new_client, resolve_endpoint
from hall.protocol import QOS, device_topic, dumps, envelope, evt_topic, hub_topic, new_event_id

log = logging.getLogger("hall.link")

Callback = Callable[[str, dict], None]


class Outbox:
    """The device's queue of events not yet committed by the hub, on disk."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS outbox (
                seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
                payload BLOB NOT NULL, created_at TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO meta VALUES ('next_seq', 1);
        """)

    def add(self, event_type: str, data: dict, ts: str | None = None) -> tuple[int, str, bytes]:
        """Give the event its id and seq and make it durable before anything is sent."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (seq,) = self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
                event_id = new_event_id()
                payload = dumps(envelope(event_id, seq, data, ts))
                self._db.execute("INSERT INTO outbox VALUES (?,?,?,?,?)", (seq, event_id, event_type, payload, stamp()))
                self._db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (seq + 1,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return seq, event_id, payload

    def next_seq(self) -> int:
        with self._lock:
            return self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0]

    def acknowledge(self, through_seq: int) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM outbox WHERE seq <= ?", (through_seq,)).rowcount

    def pending(self, after_seq: int = 0, limit: int = 1000) -> list[tuple[int, str, str, bytes]]:
        with self._lock:
            return self._db.execute(
                "SELECT seq, id, type, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit)).fetchall()

    def get(self, event_id: str) -> tuple[int, str, bytes] | None:
        with self._lock:
            return self._db.execute("SELECT seq, type, payload FROM outbox WHERE id=?", (event_id,)).fetchone()

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class DeviceLink:
    """A device's connection to the hall: durable events out, acks, answers and hub topics in."""

    RESEND_AFTER = 10.0  # seconds without an ack before an event is published again
    WINDOW = 200         # events in flight at once

    def __init__(self, hall, device_id: str, data_dir: Path | str, *, host: str | None = None,
                 port: int | None = None, password: str | None = None, tls_ca: str | None = None,
                 version: str = __version__):
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
        self._subs: list[tuple[str, Callback]] = []
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
                                 will=(status, dumps(self._status("offline"))))
        self.client.max_inflight_messages_set(100)
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
        """Queue an event durably and return its id; it is delivered whenever the hub can take it."""
        _, event_id, _ = self.outbox.add(event_type, data, ts)
        self._wake.set()
        return event_id

    def request(self, event_type: str, data: dict, timeout: float = 5.0,
                on_sent: Callable[[str], None] | None = None) -> dict | None:
        """Send a request event and wait for the hub's answer on `res`; None if none came in time.

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
        """Every `res` answer: callback(event_id, answer). Runs in the network thread: keep it quick."""
        self._res_listeners.append(callback)

    def on_hub_status(self, callback: Callable[[bool], None]) -> None:
        """callback(online) whenever the hub's retained status changes. Runs in the network thread."""
        self._hub_listeners.append(callback)

    def on_connection(self, callback: Callable[[bool], None]) -> None:
        """callback(connected) whenever the broker connection comes or goes. Runs in the network thread."""
        self._connection_listeners.append(callback)

    def subscribe(self, suffix: str, callback: Callback) -> None:
        """Follow a topic under hall/v1/{hall}/ (e.g. "hub/calls", "hub/state/window/+").

        callback(topic, payload) runs in the network thread: hand work to your own thread or UI loop.
        """
        topic = f"hall/v1/{self.hall.id}/{suffix}"
        self._subs.append((topic, callback))
        if self.connected:
            self.client.subscribe(topic, qos=QOS)

    def pending(self) -> int:
        return self.outbox.count()

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
        topics += [t for t, _ in self._subs]
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
            payload = json.loads(msg.payload) if msg.payload else {}
        except ValueError:
            log.warning("%s: unreadable message on %s", self.id, msg.topic)
            return
        if not isinstance(payload, dict):
            return
        channel = msg.topic.rsplit("/", 1)[-1]
        if msg.topic.endswith("/hub/status"):
            online = payload.get("state") == "online"
            if online != self.hub_online:
                self.hub_online = online
                self._tell(self._hub_listeners, online)
            self._wake.set()
        elif msg.topic.startswith(f"hall/v1/{self.hall.id}/{self.id}/"):
            if channel == "ack":
                self._on_ack(payload)
            elif channel == "res":
                self._on_res(payload)
            elif channel == "err":
                log.warning("%s: hub rejected event %s: %s %s", self.id, payload.get("id"), payload.get("code"),
                            payload.get("error"))
        for topic, cb in self._subs:
            if mqtt.topic_matches_sub(topic, msg.topic):
                try:
                    cb(msg.topic, payload)
                except Exception:  # a listener's bug must not stop the link
                    log.exception("%s: listener for %s failed", self.id, topic)

    def _on_ack(self, payload: dict) -> None:
        through = payload.get("through_seq")
        if not isinstance(through, int):
            return
        # An ack for seqs this outbox never issued is left over from a replaced disk: the hub restarts our
        # watermark when it sees seq 1 again, and a fresh ack follows.
        if through >= self.outbox.next_seq():
            return
        self.outbox.acknowledge(through)
        with self._lock:
            for seq in [s for s in self._inflight if s <= through]:
                del self._inflight[seq]
        self._wake.set()

    def _on_res(self, payload: dict) -> None:
        event_id = payload.get("re")
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
        while not self._stop.is_set():
            # woken by send, ack, connect and hub status; the timeout is the resend clock
            self._wake.wait(1.0)
            self._wake.clear()
            if self._stop.is_set():
                return
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
