"""Two devices under one login (a real kiosk started with a simulated kiosk's login): the broker's own word.

A device's id is its broker login and its client id, so a second connection with it makes Mosquitto close the
first ("Client kiosk-01 already connected, closing old connection."); both reconnect and take the login from each
other every second or so, and each sees its answers lost. The hub's view of the device (online, offline, online …)
looks like a flaky network; the broker's log names it exactly. One takeover can be a device that rebooted before
the broker noticed its old connection was gone; several within `WITHIN` are two devices.
"""

from __future__ import annotations

import re
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path

TAKEOVER = re.compile(rb"^(\d+): Client (\S+) already connected, closing old connection\.", re.M)
TAKEOVERS = 3                  # this many within WITHIN: two connections share the login
WITHIN = timedelta(minutes=2)


def takeovers_in(text: bytes, tz) -> list[tuple[str, datetime]]:
    """(device, when) of every takeover in a piece of Mosquitto's log (`log_type notice`, epoch timestamps)."""
    return [(m.group(2).decode("utf-8", "replace"), datetime.fromtimestamp(int(m.group(1)), tz))
            for m in TAKEOVER.finditer(text)]


class TakeoverWatch:
    """Follows the broker's log file from where it was read last (a log cut short or replaced starts over)."""

    def __init__(self, path: Path | str, tz):
        self.path = Path(path)
        self.tz = tz
        self.offset = 0
        self.seen: dict[str, deque[datetime]] = {}

    def read(self) -> None:
        try:
            with open(self.path, "rb") as f:
                size = f.seek(0, 2)
                if size < self.offset:
                    self.offset = 0
                f.seek(self.offset)
                chunk = f.read(min(size - self.offset, 4 << 20))
        except OSError:
            return
        end = chunk.rfind(b"\n") + 1  # a line being written is read next time
        self.offset += end
        for device, at in takeovers_in(chunk[:end], self.tz):
            self.seen.setdefault(device, deque(maxlen=TAKEOVERS * 4)).append(at)

    def shared(self, now: datetime) -> dict[str, int]:
        """Devices whose login is taken over and over: device → takeovers within WITHIN of now."""
        out = {}
        for device, times in self.seen.items():
            recent = sum(1 for t in times if now - t <= WITHIN)
            if recent >= TAKEOVERS:
                out[device] = recent
        return out
