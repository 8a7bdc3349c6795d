"""The hub's MQTT connection, driven by hand from the hub's own thread.

paho's own-loop API (select, read, write) instead of its network thread: sharing the interpreter with a separate
network thread cost more than the hub's work itself, as every publish woke that thread and the two fought over the
GIL through a whole burst of calls. So the hub's thread pumps the socket between its batches, redials when the
broker is gone, sends many small messages in full TCP segments, and sends a stored event's PUBACK only when the
hub says the event is safe on disk (manual acknowledgement).

The session is persistent (fixed client id, clean_session=False), so the broker keeps events for the hub while it
is down, for as long as the broker keeps persistent sessions (`persistent_client_expiration`, 14 days).
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from contextlib import contextmanager

from paho.mqtt.enums import MQTTErrorCode

from hall.credentials import Endpoint
from hall.mqtt import Password, connect, new_client
from hall.protocol import QOS, FromHub, dumps
from hall.settings import HUB_ID

log = logging.getLogger("hub")

# Marks, among the messages read, the moment the connection was (re)made: the hub then announces its state.
CONNECTED = "connected"
SEGMENT = 8           # urgent messages written together before the socket is told to send
# QoS 1 messages the hub has out at once: no limit. The broker acknowledges at once, and paho, with a limit,
# walks every unacknowledged message on every PUBACK, which grows with the square of a burst.
INFLIGHT = 0
# The hub speaks MQTT 3.1.1, whatever its devices speak: paho turns the properties of every v5 PUBLISH and PUBACK
# into objects (a large part of the cost of reading an event), and the hub reads none of them.
HUB_MQTT = 4
RECONNECT_MIN, RECONNECT_MAX = 1.0, 10.0
# what the hub publishes: a message built from its model, or the catalogue (which hall.catalogue reads)
Payload = FromHub | dict


class HubConnection:
    """The hub's one MQTT client. What it reads piles up in `incoming` as (message or CONNECTED, generation); the
    generation counts connections, since a PUBACK belongs to the connection its message came on."""

    def __init__(self, endpoint: Endpoint, password: Password, *, subscriptions: list[str], will: tuple[str, bytes],
                 stop: threading.Event, read_max: int):
        self.endpoint = endpoint
        self._password = password
        self._subscriptions = subscriptions
        self._will = will
        self._stop = stop
        self._read_max = read_max  # messages read in one pump at most: a batch's worth
        self.incoming: list = []
        self.generation = 0
        self.connected = False
        self.client = None
        self._retry_at = 0.0
        self._retry_delay = RECONNECT_MIN

    def open(self) -> None:
        self.client = new_client(HUB_ID, self.endpoint, self._password, manual_ack=True, protocol_version=HUB_MQTT,
                                 will=self._will)
        self.client.max_inflight_messages_set(INFLIGHT)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        connect(self.client, self.endpoint, clean_start=False, background=False)

    # ------------------------------------------------------------ reading

    def pump(self, timeout: float, read: bool = True) -> None:
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
            for _ in range(self._read_max):
                rc = client.loop_read()
                sock = client.socket()
                if rc or sock is None or len(self.incoming) >= self._read_max:
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

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            log.error("broker refused the hub: %s", reason_code)
            self._retry_at = time.monotonic() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, RECONNECT_MAX)
            return
        self.generation += 1
        self._retry_delay = RECONNECT_MIN
        self.connected = True
        if not flags.session_present:
            # On this hub's first connection no session is the normal start (a new hall, a broker started
            # afresh); losing it between two connections means the broker restarted without its store.
            log.log(logging.WARNING if self.generation > 1 else logging.INFO,
                    "the broker had no session for the hub: events sent while it was down come from outboxes")
        client.subscribe([(topic, QOS) for topic in self._subscriptions])
        # state before "online": a device that sees the hub online also sees the state it serves
        self.incoming.append((CONNECTED, self.generation))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        self.connected = False
        self._retry_at = time.monotonic() + self._retry_delay

    def _on_message(self, client, userdata, msg):
        self.incoming.append((msg, self.generation))

    # ------------------------------------------------------------ writing

    @contextmanager
    def corked(self):
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

    def send(self, messages: list[tuple[str, Payload]]) -> None:
        """Messages someone is waiting for, a few at a time in full segments: the screens start on the first calls
        while the rest are written."""
        for i in range(0, len(messages), SEGMENT):
            with self.corked():
                for topic, payload in messages[i:i + SEGMENT]:
                    self.client.publish(topic, dumps(payload), qos=QOS)

    def publish_retained(self, topic: str, payload: Payload):
        return self.client.publish(topic, dumps(payload), qos=QOS, retain=True)

    def release(self, held: dict[str, Payload], pubacks: list[tuple[int, int]]) -> None:
        """Retained state (the latest payload of each topic) and the PUBACKs of stored events, in full segments."""
        with self.corked():
            for topic, payload in held.items():  # paho keeps QoS 1 messages while it is away and sends them after
                self.client.publish(topic, dumps(payload), qos=QOS, retain=True)
            for mid, generation in pubacks:
                # a PUBACK belongs to its connection: after a reconnect the broker sends those events again
                if generation == self.generation and mid and self.connected:
                    self.client.ack(mid, QOS)

    def sign_off(self, topic: str, payload: Payload) -> None:
        """A last retained message (the hub's "offline"), given two seconds to leave, then goodbye."""
        info = self.publish_retained(topic, payload)
        end = time.monotonic() + 2
        while self.connected and not info.is_published() and time.monotonic() < end:
            self.pump(0.05)
        self.client.disconnect()
