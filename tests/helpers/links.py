"""A stand-in for the device link, for tests about what an agent does with its bus or its traffic; the end-to-end
tests use the real link against a real broker."""

from __future__ import annotations

import threading
import time

from paho.mqtt.client import topic_matches_sub


class FakeLink:
    """Records what an agent sends and lets a test deliver hub topics, as hall.link.DeviceLink would.

    Used where the test is about the bus; the end-to-end tests use the real link against a real broker.
    """

    def __init__(self, hall_id: str = "miluo", device=None):
        self.hall_id = hall_id
        self.device = device  # the hall config's Device, for code that asks which windows a link speaks for
        self.sent: list[tuple[str, dict]] = []
        self.subs: list[tuple[str, object]] = []
        self.hub_listeners: list = []
        self.answer_listeners: list = []
        self.hub_online = True
        self.connected = True
        self._lock = threading.Lock()

    def subscribe(self, suffix: str, callback) -> None:
        self.subs.append((f"hall/v1/{self.hall_id}/{suffix}", callback))

    def on_hub_status(self, callback) -> None:
        self.hub_listeners.append(callback)

    def on_answer(self, callback) -> None:
        self.answer_listeners.append(callback)

    def send(self, event_type: str, data: dict) -> str:
        with self._lock:
            self.sent.append((event_type, data))
            return f"evt-{len(self.sent)}"

    def deliver(self, suffix: str, payload: dict) -> None:
        topic = f"hall/v1/{self.hall_id}/{suffix}"
        for pattern, callback in self.subs:
            if topic_matches_sub(pattern, topic):
                callback(topic, payload)

    def set_hub_online(self, online: bool) -> None:
        self.hub_online = online
        for callback in self.hub_listeners:
            callback(online)

    def events(self, event_type: str | None = None) -> list:
        with self._lock:
            return [(t, d) for t, d in self.sent if event_type is None or t == event_type]

    def wait_events(self, count: int, event_type: str | None = None, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while True:
            got = self.events(event_type)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} {event_type or ''} events expected, got {got}")
            time.sleep(0.02)
