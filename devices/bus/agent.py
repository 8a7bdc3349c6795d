"""The shell every hall-bus master shares (`hall caller`, `hall led`): the device link on one side, one thread that
owns the bus on the other.

A master follows a few of the hub's topics. The link's callbacks run in its network thread, so they only note what
changed, under the master's lock, and wake the bus thread, which does the slow serial work. What the hub sends is
read with the core's models (hall.protocol, "what the hub sends"): a malformed message is logged with its topic and
the reason and ignored, so one bad message can neither stop a bus nor put nonsense on a keypad or a screen.

A device on the bus that stops answering (or refuses, or answers again) is reported once per change in a `health`
event, and the bus's retry figures every few minutes when they changed; both under the master's device kind:
`{"caller": {"keypad 3": "no_answer"}}`, `{"led": {"bus": {"requests": …, "retries": …}}}`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

from hall.protocol import FromHub, read_from_hub

# what a followed topic's payload is read with: a model of hall.protocol, or a function (the catalogue has its own
# reader in hall.catalogue) that raises a ValueError naming what is wrong
Reader = type[FromHub] | Callable[[dict], Any]
Handler = Callable[[str, Any], None]


class BusAgent:
    """A hall-bus master's link side and thread. A subclass names its `kind`, lists the topics it `follows()` and
    runs its bus in `run()`, resting between rounds with `rest()`."""

    kind: ClassVar[str]        # its device kind in hall.toml, and the key of its health events
    described: ClassVar[str]   # "a caller device": said when the device id names something else

    def __init__(self, hall, device_id: str, link, *, summary_s: float, clock=time.monotonic):
        device = hall.device(device_id)
        if device is None or device.kind != self.kind:
            raise ValueError(f"{device_id!r} is not {self.described} in {hall.path}")
        self.hall = hall
        self.device = device
        self.device_id = device_id
        self.link = link
        self.log = logging.getLogger(f"hall.{self.kind}")
        self.clock = clock
        self.master = None                 # the bus master whose retry figures are reported, when there is a bus
        self.health: dict[str, str] = {}   # "keypad 3", "screen 12" → ok / no_answer / a refusal's reason / error
        self.summary_s = summary_s
        self._summary_at = clock() + summary_s
        self._summary_sent: dict | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ what a master fills in

    def follows(self) -> list[tuple[str, Reader, Handler]]:
        """(topic under hall/v1/{hall}/, what reads its payload, handler(topic, message)), each handler called in
        the network thread with a message already read."""
        raise NotImplementedError

    def run(self) -> None:
        """The bus thread: rounds until `stopping`."""
        raise NotImplementedError

    def on_hub_status(self, online: bool) -> None:
        """The hub came back or went away: by default the bus thread just takes another look."""
        self.wake()

    # ------------------------------------------------------------ lifecycle

    def start(self):
        for suffix, reader, handler in self.follows():
            self.link.subscribe(suffix, self._reading(reader, handler))
        on_hub = getattr(self.link, "on_hub_status", None)
        if on_hub:
            on_hub(self.on_hub_status)
        self._thread = threading.Thread(target=self.run, name=f"{self.kind}-{self.device_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wake(self) -> None:
        """Have the bus thread look again now (something changed, or the clock a test holds moved on)."""
        self._wake.set()

    def rest(self, seconds: float) -> None:
        """Wait before the next round, at most `seconds`: a hub message or stop() ends the wait early."""
        if seconds > 0:
            self._wake.wait(seconds)
            self._wake.clear()

    def _reading(self, reader: Reader, handler: Handler) -> Callable[[str, Any], None]:
        read = (lambda payload: read_from_hub(reader, payload)) if isinstance(reader, type) else reader

        def on_message(topic: str, payload) -> None:
            try:
                message = read(payload)
            except ValueError as err:  # ProtocolError and ConfigError both say which field is wrong and why
                self.log.warning("%s: malformed message on %s ignored: %s (payload %.200r)", self.device_id, topic, err,
                            payload)
                return
            handler(topic, message)

        return on_message

    # ------------------------------------------------------------ health

    def report(self, label: str, status: str, err: Exception | None = None) -> None:
        """Note how a device on the bus is doing; a change (and only a change) goes into a health event."""
        if self.health.get(label, "ok") == status:
            self.health[label] = status
            return
        self.health[label] = status
        if err:
            self.log.warning("%s: %s: %s", self.device_id, label, err)
        else:
            self.log.info("%s: %s answers again", self.device_id, label)
        self.link.send("health", {self.kind: {label: status}})

    def send_summary_when_due(self, now: float) -> None:
        if now >= self._summary_at:
            self._summary_at = now + self.summary_s
            self.send_summary()

    def send_summary(self) -> None:
        """The bus's retry figures, when they changed since the last report and something needed a retry."""
        if self.master is None:
            return
        summary = self.master.stats.summary()
        trouble = {k: v for k, v in summary.items() if k != "requests"}
        if trouble == self._summary_sent:
            return
        self._summary_sent = trouble
        if any(trouble.values()):  # a bus that never needed a retry has nothing to report
            self.link.send("health", {self.kind: {"bus": summary}})
