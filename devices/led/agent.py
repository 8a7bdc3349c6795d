"""The LED bus master (`hall led`): window screens and strips show calls, idle and paused texts, and the service
guides scrolling all day.

Three layers, as in luma (serial interface → device → canvas): `LedController` (controller.py) decides from the
hub's messages what every screen should show; the drivers (drivers.py) put it on the glass, over the hall bus or on
panels wired to the Pi; `LedAgent` here is the shell between them and the device link. The link's callbacks note
what changed (devices/bus/agent.py reads each message with the core's models), one thread applies it screen by
screen, calls first; a screen that stops answering is asked again every few seconds and reported in `health`
events.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace

from devices.bus.agent import BusAgent
from devices.bus.codec import Brightness, Clear, Command, Effect, SetTime
from devices.led.config import LedConfig, ScreenConfig, load_led_config
from devices.led.controller import LedController
from devices.led.drivers import make_drivers
from hall.protocol import Call, WindowState

log = logging.getLogger("hall.led")

RECHECK_S = 10.0        # a screen that stopped answering is tried again this often
TIME_SYNC_S = 3600.0    # screens keep their own clock; set it again every hour
SUMMARY_S = 300.0       # the bus's retry figures go into a health event this often, when they changed
FRAME_S = 0.05          # 20 frames a second while a screen the Pi draws flashes or scrolls

UNKNOWN = object()  # what a screen shows after it stopped answering: everything must be sent again


def read_catalogue(payload: dict):
    """The retained hub/catalogue, read as hall.catalogue reads every catalogue (raises ConfigError)."""
    from hall.catalogue import parse_catalogue

    return parse_catalogue({k: v for k, v in payload.items() if k != "sha256"}, "hub/catalogue")


@dataclass
class Slot:
    """One screen as the master last left it: what its glass shows, and when to try a silent one again."""
    screen: ScreenConfig
    driver: object
    idle: object = UNKNOWN
    message_id: object = UNKNOWN
    retry_at: float = 0.0


@dataclass
class LedStats:
    applied: int = 0
    failures: int = 0
    calls: int = 0


class LedAgent(BusAgent):
    """Follows hub/call, hub/state/window/+ and hub/catalogue; keeps every screen showing what it should."""

    kind = "led"
    described = "an led device"

    def __init__(self, hall, device_id: str, link, config: LedConfig, drivers: dict[str, object], *,
                 recheck_s: float = RECHECK_S, summary_s: float = SUMMARY_S, clock=time.monotonic):
        super().__init__(hall, device_id, link, summary_s=summary_s, clock=clock)
        self.config = config
        self.drivers = drivers
        self.master = getattr(drivers.get("bus"), "master", None)
        self.recheck_s = recheck_s
        self.controller = LedController(config, hall.catalogue, hall.info.name)
        self.slots = {s.address: Slot(s, drivers[s.backend]) for s in config.screens}
        self.health.update({s.label: "ok" for s in config.screens})
        self.stats = LedStats()
        self._time_synced = -TIME_SYNC_S

    def follows(self):
        return [("hub/call", Call, self._on_call),
                ("hub/state/window/+", WindowState, self._on_window_state),
                ("hub/catalogue", read_catalogue, self._on_catalogue)]

    # ------------------------------------------------------------ link callbacks (network thread)

    def _on_call(self, topic: str, call: Call) -> None:
        with self._lock:
            if self.controller.on_call(call, self.clock()):
                self.stats.calls += 1
        self.wake()

    def _on_window_state(self, topic: str, state: WindowState) -> None:
        with self._lock:
            self.controller.on_window_state(state, self.clock())
        self.wake()

    def _on_catalogue(self, topic: str, catalogue) -> None:
        with self._lock:
            self.controller.set_catalogue(catalogue)
        self.wake()

    # ------------------------------------------------------------ the screen thread

    def run(self) -> None:
        self._broadcast(Command.BRIGHTNESS, Brightness(self.config.text.brightness))
        while not self.stopping:
            now = self.clock()
            with self._lock:
                self.controller.tick(now)
            if now - self._time_synced >= TIME_SYNC_S:
                self._time_synced = now
                self._broadcast(Command.SET_TIME, self._time_now())
            for slot in self._due(now):
                if self.stopping:
                    return
                self._apply(slot)
            self.send_summary_when_due(now)
            for d in self.drivers.values():
                d.tick()
            with self._lock:
                wait = self.controller.next_tick() - self.clock()
            wait = min(max(0.0, wait), 1.0)
            if any(d.animating for d in self.drivers.values()):
                wait = min(wait, FRAME_S)
            if not self._due(self.clock()):
                self.rest(wait)

    def _time_now(self) -> SetTime:
        from hall.clock import now as clock_now

        moment = clock_now(self.hall.tz)
        return SetTime(int(moment.timestamp()), int(moment.utcoffset().total_seconds() // 60))

    def _broadcast(self, cmd: Command, body) -> None:
        for driver in self.drivers.values():
            try:
                driver.broadcast(cmd, body)
            except Exception:  # a broadcast is a courtesy; screens get their text one by one anyway
                log.warning("%s: broadcast %s failed", self.device_id, Command(cmd).name, exc_info=True)

    def _due(self, now: float) -> list[Slot]:
        """Screens whose glass lags what they should show, calls first, then windows, then strips."""
        with self._lock:
            out = []
            for slot in self.slots.values():
                d = self.controller.desired[slot.screen.address]
                if now < slot.retry_at:
                    continue
                if slot.idle != d.idle or slot.message_id != d.message_id:
                    if d.is_call and slot.message_id != d.message_id:
                        rank = 0
                    else:
                        rank = 1 if slot.screen.kind == "window" else 2
                    out.append((rank, slot.screen.address, slot))
            return [s for _, _, s in sorted(out, key=lambda t: t[:2])]

    def _apply(self, slot: Slot) -> None:
        from devices.bus.master import BusError, NoAnswer, Refused

        screen = slot.screen
        with self._lock:
            d = self.controller.desired[screen.address]
            idle, message, message_id, flash_until = d.idle, d.message, d.message_id, d.flash_until
        try:
            if self.health[screen.label] == "no_answer":
                slot.driver.ping(screen)
            if slot.idle != idle:
                if idle is not None:
                    slot.driver.apply(screen, Command.SET_IDLE_TEXT, idle)
                slot.idle = idle
            if slot.message_id != message_id:
                if message is None:
                    slot.driver.apply(screen, Command.CLEAR, Clear(0xFF))
                else:
                    if message.effect == Effect.FLASH and self.clock() > flash_until:
                        message = replace(message, effect=Effect.STATIC, duration_s=0)  # old news: steady
                    slot.driver.apply(screen, Command.SHOW_TEXT, message)
                slot.message_id = message_id
            self.stats.applied += 1
            self.report(screen.label, "ok")
        except NoAnswer as err:
            self.stats.failures += 1
            slot.idle = slot.message_id = UNKNOWN  # it may come back blank: send it everything
            slot.retry_at = self.clock() + self.recheck_s
            slot.driver.forget(screen)
            self.report(screen.label, "no_answer", err)
        except Refused as err:
            # the screen cannot show this (wrong encoding, too long): retrying will not help; say so and move on
            self.stats.failures += 1
            slot.idle, slot.message_id = idle, message_id
            self.report(screen.label, err.reason, err)
        except BusError as err:
            self.stats.failures += 1
            slot.retry_at = self.clock() + self.recheck_s
            self.report(screen.label, "error", err)


def run_led(hall, device_id: str, data_dir, serial_port: str | None, *, config_path=None, host=None,
            broker_port=None, stop: threading.Event | None = None) -> int:
    """`hall led`: open the bus (and SPI panels), the link, and run until stopped."""
    from hall.link import DeviceLink

    config = load_led_config(config_path, hall)
    drivers = make_drivers(config, serial_port)
    link = DeviceLink(hall, device_id, data_dir, host=host, port=broker_port).start()
    agent = LedAgent(hall, device_id, link, config, drivers).start()
    windows = sum(1 for s in config.screens if s.kind == "window")
    print(f"led {device_id}: {windows} window screens, {len(config.screens) - windows} strips "
          f"({config.path}); bus {serial_port or '-'}; broker {link.endpoint.host}:{link.endpoint.port}", flush=True)
    stop = stop or threading.Event()
    try:
        stop.wait()
    finally:
        agent.stop()
        link.stop()
        for d in drivers.values():
            d.close()
    return 0
