"""Helpers shared by the alert and manager action tests: a hub clock the test moves, and devices that stamp their
events with it."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from hall.clock import stamp
from tests.helpers.queueing import MosquittoTools


class HallClock:
    """The hub's clock in a test: it runs from `start` at the real pace, and `advance` jumps it forward.

    `install(monkeypatch)` makes it the clock of the hub's thread (ingest's receive times and ticks, the devices'
    last-heard times), so half an hour of a hall day passes in a second of the test."""

    def __init__(self, start: datetime):
        self.start = start
        self._t0 = time.monotonic()
        self._offset = timedelta(0)

    def __call__(self, tz=None) -> datetime:
        moment = self.start + self._offset + timedelta(seconds=time.monotonic() - self._t0)
        return moment.astimezone(tz) if tz else moment

    def advance(self, **delta) -> datetime:
        self._offset += timedelta(**delta)
        return self()

    def install(self, monkeypatch) -> HallClock:
        import hub.devices
        import hub.ingest

        monkeypatch.setattr(hub.ingest, "clock_now", self)
        monkeypatch.setattr(hub.devices, "clock_now", self)
        return self


class ClockedTools(MosquittoTools):
    """Mosquitto's clients as the hall's devices, their clocks agreeing with the hub's test clock."""

    def __init__(self, rig, clock: HallClock):
        super().__init__(rig)
        self.clock = clock

    def _envelope(self, device: str, data: dict) -> tuple[str, str]:
        import json

        from hall.protocol import envelope, new_event_id

        self._seq[device] = self._seq.get(device, 0) + 1
        event_id = new_event_id()
        body = envelope(event_id, self._seq[device], data, ts=stamp(self.clock(), self.rig.hall.tz))
        return event_id, json.dumps(body, ensure_ascii=False)

    def alerts(self, until=None, timeout: float = 8.0) -> list[dict]:
        """The retained `hub/alerts` list, as the console reads it."""
        return self.retained("alerts", reader="console-01", until=until, timeout=timeout)["alerts"]
