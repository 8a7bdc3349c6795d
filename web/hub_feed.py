"""The console's one connection to the hall: its own device login (kind `console`) over the core's device link.

The link follows `hub/#` (retained window and queue state, calls, alerts, the hub's status) into the pure
`LiveHall`, and sends what a manager does (`alert_ack`…) as events through its outbox, answered on `res`. What
the hub's messages do not carry is read from the journal when the message that changes it arrives, never by
polling: the oldest waiting ticket when a queue changes, when a pause began for a window seen paused.

Each change is handed to the `Fanout`, which gives every open push stream its own bounded asyncio queue: a
stream that falls behind is told to start over from a snapshot, so no browser holds the others back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from hall.clock import now as clock_now
from hall.link import DeviceLink
from web.journal import Journal
from web.live import LiveHall

log = logging.getLogger("web.hub")

Change = tuple[str, dict]


class Fanout:
    """Changes from the network thread to every open stream on the event loop."""

    QUEUE_SIZE = 256

    def __init__(self):
        self.loop: asyncio.AbstractEventLoop | None = None
        self._streams: set[asyncio.Queue] = set()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def open(self) -> asyncio.Queue:
        stream: asyncio.Queue = asyncio.Queue(self.QUEUE_SIZE)
        self._streams.add(stream)
        return stream

    def close(self, stream: asyncio.Queue) -> None:
        self._streams.discard(stream)

    @property
    def streams(self) -> int:
        return len(self._streams)

    def publish(self, changes: list[Change]) -> None:
        """From any thread."""
        if changes and self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._deliver, changes)

    def _deliver(self, changes: list[Change]) -> None:
        for stream in list(self._streams):
            try:
                for change in changes:
                    stream.put_nowait(change)
            except asyncio.QueueFull:
                # this browser is behind: drop what it has not read and have it start over from a snapshot
                while not stream.empty():
                    stream.get_nowait()
                stream.put_nowait(("resync", {}))


class HubFeed:
    def __init__(self, hall, data_dir: Path | str, *, device_id: str | None = None, host: str | None = None,
                 port: int | None = None, password: str | None = None,
                 clock: Callable[[], datetime] | None = None):
        consoles = [d.id for d in hall.devices_of("console")]
        self.device_id = device_id or (consoles[0] if consoles else None)
        if self.device_id is None:
            raise ValueError(f"no device of kind console in {hall.path}: the console needs its own login")
        self.hall = hall
        self.clock = clock or (lambda: clock_now(hall.tz))
        self.live = LiveHall.of(hall)
        self.journal = Journal(data_dir)
        self.fanout = Fanout()
        self._lock = threading.Lock()
        self.link = DeviceLink(hall, self.device_id, data_dir, host=host, port=port, password=password)
        self.link.subscribe("hub/#", self._on_message)
        self.link.on_connection(self._on_connection)

    def start(self) -> HubFeed:
        self.link.start()
        return self

    def stop(self) -> None:
        self.link.stop()

    @property
    def connected(self) -> bool:
        return self.link.connected

    def snapshot(self) -> dict:
        with self._lock:
            snap = self.live.snapshot(self.clock())
        snap["connected"] = self.link.connected
        return snap

    def alerts(self) -> list[dict] | None:
        with self._lock:
            return None if self.live.alerts is None else list(self.live.alerts)

    def request(self, event_type: str, data: dict, timeout: float = 5.0) -> dict | None:
        """Send a manager's event through the outbox and wait for the hub's answer (None: none in time)."""
        return self.link.request(event_type, data, timeout=timeout)

    # ------------------------------------------------------------ network thread

    def _on_connection(self, connected: bool) -> None:
        self.fanout.publish([("link", {"connected": connected})])

    def _on_message(self, topic: str, payload: dict) -> None:
        now = self.clock()
        with self._lock:
            changes = self.live.apply(topic, payload, now)
            for kind, item in list(changes):
                if kind == "queue" and item["waiting"]:
                    oldest = self.journal.oldest_waiting(now.date(), [item["id"]]).get(item["id"])
                    changes += self.live.set_oldest(item["id"], oldest, now)
                elif kind == "window" and item["status"] == "paused" and not item["paused_since"]:
                    since = self.journal.paused_since(now.date(), item["id"])
                    changes += self.live.set_paused_since(item["id"], since, now)
        self.fanout.publish(_latest(changes))


def _latest(changes: list[Change]) -> list[Change]:
    """One change per window or queue: the last one (the journal's addition replaces the hub's bare state)."""
    out: dict[tuple, Change] = {}
    for i, (kind, item) in enumerate(changes):
        key = (kind, item.get("id")) if kind in ("window", "queue") else (kind, i)
        out.pop(key, None)
        out[key] = (kind, item)
    return list(out.values())
