"""LED window screens and strips (`hall led`): calls, idle and paused texts, service guides scrolling all day.

Three layers, as in luma (serial interface → device → canvas):

- `LedController` is the pure part: hub messages in (a call, a window's state, the catalogue), what every screen
  should show out (`Desired`: an idle text and a message). No clock of its own, no I/O.
- Drivers put a screen's desired state on the glass: `BusDriver` speaks the hall bus (devices/bus) to controller
  cards, `LumaDriver` draws on MAX7219 panels wired to the Pi's SPI (luma.led_matrix), or on luma's `dummy` device
  in tests. Both draw the same text: devices/bus/render.py.
- `LedAgent` is the shell: the device link's callbacks note what changed, one thread applies it screen by screen,
  calls first; a screen that stops answering is asked again every few seconds and reported in `health` events.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from devices.bus.codec import (
    MAX_PAYLOAD,
    Brightness,
    Clear,
    Colour,
    Command,
    Effect,
    Encoding,
    SetTime,
    ShowText,
)
from hall.errors import ConfigError, describe_validation, load_toml

log = logging.getLogger("hall.led")

DEFAULT_LED = Path(__file__).resolve().parents[2] / "config" / "led.toml"
CALL_DEBOUNCE_S = 5.0   # the same call announced twice within this is one call (a resent message)
RECHECK_S = 10.0        # a screen that stopped answering is tried again this often
TIME_SYNC_S = 3600.0    # screens keep their own clock; set it again every hour
SUMMARY_S = 300.0       # the bus's retry figures go into a health event this often, when they changed


# ---------------------------------------------------------------- config

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScreenConfig(_Model):
    address: int = Field(ge=1, le=247)
    kind: Literal["window", "strip"]
    window: str | None = Field(default=None, description="the window a window screen hangs above")
    windows: list[str] = Field(default=[], description="a strip's windows, whose guides it scrolls (empty: all)")
    encoding: Literal["gb18030", "utf-8"] = "gb18030"
    width: int = Field(default=10, ge=2, le=128, description="full-width characters (16 dots each)")
    name: str = ""
    colour: Literal["red", "green", "yellow"] = "red"
    max_text_bytes: int = Field(default=MAX_PAYLOAD - ShowText.HEADER, ge=16, le=MAX_PAYLOAD - ShowText.HEADER)
    backend: Literal["bus", "max7219"] = "bus"
    spi_port: int = 0
    spi_device: int = 0
    block_orientation: Literal[0, 90, -90, 180] = -90
    rotate: Literal[0, 1, 2, 3] = 0

    @field_validator("encoding", mode="before")
    @classmethod
    def _encoding(cls, value):
        if isinstance(value, str):
            try:
                return {Encoding.UTF8: "utf-8", Encoding.GB18030: "gb18030"}[Encoding.named(value)]
            except ValueError:
                raise ValueError("'gb18030' or 'utf-8'") from None
        return value

    @model_validator(mode="after")
    def _kind_fits(self):
        if self.kind == "window" and not self.window:
            raise ValueError("a window screen names its window (window = \"3\")")
        if self.kind == "strip" and self.window:
            raise ValueError("a strip lists windows = [...], not one window")
        return self

    @property
    def wire_encoding(self) -> Encoding:
        return Encoding.named(self.encoding)

    @property
    def wire_colour(self) -> Colour:
        return Colour[self.colour.upper()]

    @property
    def label(self) -> str:
        return f"screen {self.address}"


class BusConfig(_Model):
    baudrate: int = Field(default=9600, ge=1200, le=921600)
    rs485: bool = False
    margin_ms: int = Field(default=100, ge=10, le=5000)


class TextConfig(_Model):
    call: str = "{ticket} 请到{window}号窗口"
    call_flash_s: int = Field(default=3, ge=0, le=600)
    idle: str = "欢迎光临"
    paused: str = "暂停服务"
    closed: str = "暂停服务"
    brightness: int = Field(default=80, ge=0, le=100)
    strip_speed: int = Field(default=4, ge=1, le=9)

    @field_validator("call")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            value.format(ticket="A001", window="1")
        except (KeyError, IndexError, ValueError):
            raise ValueError("a text with {ticket} and {window} and no other {…} fields") from None
        return value


class LedFile(_Model):
    screens: list[ScreenConfig]
    bus: BusConfig = BusConfig()
    text: TextConfig = TextConfig()


@dataclass(frozen=True)
class LedConfig:
    path: Path
    screens: list[ScreenConfig]
    bus: BusConfig
    text: TextConfig

    def screen(self, address: int) -> ScreenConfig | None:
        return next((s for s in self.screens if s.address == address), None)

    def of_backend(self, backend: str) -> list[ScreenConfig]:
        return [s for s in self.screens if s.backend == backend]


def load_led_config(path: Path | str | None = None, hall=None) -> LedConfig:
    """Read config/led.toml (or another file); with a hall, check every window it names exists."""
    path = Path(path) if path else DEFAULT_LED
    data = load_toml(path)
    try:
        file = LedFile.model_validate(data)
    except ValidationError as err:
        raise ConfigError(path, describe_validation(err, data, LedFile)) from None
    problems = []
    seen: dict[tuple[str, int], int] = {}
    windows = {w.id for w in hall.catalogue.windows} if hall else None
    for i, s in enumerate(file.screens):
        where = f"screens[{i}](address={s.address})"
        key = (s.backend, s.address if s.backend == "bus" else s.spi_port * 256 + s.spi_device)
        if key in seen:
            what = "bus address" if s.backend == "bus" else "SPI port and device"
            problems.append(f"{where}: {what} already used by screens[{seen[key]}]")
        seen[key] = i
        if windows is not None:
            for w in ([s.window] if s.window else []) + s.windows:
                if w not in windows:
                    problems.append(f"{where}.window: unknown window {w!r}")
    if problems:
        raise ConfigError(path, problems)
    return LedConfig(path.resolve(), file.screens, file.bus, file.text)


# ---------------------------------------------------------------- what the screens say (pure)

def fit_bytes(text: str, encoding: Encoding, limit: int) -> str:
    """Cut a text so that it fits `limit` bytes in the encoding, ending with … when cut."""
    if len(text.encode(encoding.codec)) <= limit:
        return text
    ellipsis = "…"
    while text and len((text + ellipsis).encode(encoding.codec)) > limit:
        text = text[:-max(1, (len((text + ellipsis).encode(encoding.codec)) - limit) // 4)]
    return text + ellipsis


def guide_text(service, window_names: list[str] | None = None) -> str:
    """One service's one-time notice (一次性告知) as a line for a strip."""
    parts = [f"【{service.name}】"]
    if service.windows:
        parts.append(f"办理窗口：{'、'.join(service.windows)}号窗口")
    if service.promised_days == 0:
        parts.append("承诺时限：即办")
    elif service.promised_days:
        parts.append(f"承诺时限：{service.promised_days}个工作日")
    elif service.time_limit_days:
        parts.append(f"法定时限：{service.time_limit_days}个工作日")
    if service.fee:
        parts.append(f"收费：{service.fee}")
    if service.materials:
        parts.append("所需材料：" + " ".join(f"{i}.{m}" for i, m in enumerate(service.materials, 1)))
    if service.conditions:
        parts.append(f"申请条件：{service.conditions}")
    return parts[0] + " · ".join(parts[1:])


def directory_text(hall_name: str, catalogue, windows: list[str]) -> str:
    """The hall's welcome and which department sits at which window."""
    depts = {d.id: d.name for d in catalogue.departments}
    shown = [w for w in catalogue.windows if not windows or w.id in windows]
    items = [f"{w.id}号窗口 {depts.get(w.department, w.name)}" for w in shown]
    return f"欢迎光临{hall_name} · " + " · ".join(items)


def strip_texts(hall_name: str, catalogue, screen: ScreenConfig) -> list[str]:
    """What a strip scrolls, in turn: the window directory, then each guide of the services at its windows."""
    windows = set(screen.windows)
    texts = [directory_text(hall_name, catalogue, screen.windows)]
    for service in catalogue.services:
        at = set(service.windows) or set(catalogue.windows_serving(service.queue))
        if not windows or at & windows:
            texts.append(guide_text(service))
    return [fit_bytes(t, screen.wire_encoding, screen.max_text_bytes) for t in texts]


def dots_wide(text: str) -> int:
    """Width of a text in dots without a font: 16 for a full-width character, 8 for a half-width one."""
    return sum(8 if ord(c) < 0x2E80 else 16 for c in text)


@dataclass
class Desired:
    """What one screen should show: its idle text and the message over it (None: the idle text shows)."""
    idle: ShowText | None = None
    message: ShowText | None = None
    message_id: int = 0          # bumps on every new message, so a recall of the same text is sent again
    flash_until: float = 0.0     # a call put on the glass after this shows steady: it is no longer news
    is_call: bool = False
    about: str | None = None     # the ticket the message calls


class LedController:
    """Hub messages → what each screen shows. Pure: every method takes `now` (monotonic seconds) when it needs one."""

    def __init__(self, config: LedConfig, catalogue, hall_name: str):
        self.config = config
        self.hall_name = hall_name
        self.desired: dict[int, Desired] = {s.address: Desired() for s in config.screens}
        self.by_window: dict[str, list[ScreenConfig]] = {}
        for s in config.screens:
            if s.kind == "window":
                self.by_window.setdefault(s.window, []).append(s)
        self.strips = [s for s in config.screens if s.kind == "strip"]
        self._guides: dict[int, list[str]] = {}
        self._guide_at: dict[int, int] = {s.address: -1 for s in self.strips}
        self._strip_next: dict[int, float] = {s.address: 0.0 for s in self.strips}
        self._last_call: dict[str, tuple[tuple, float]] = {}
        self._next_id = 0
        self.set_catalogue(catalogue)
        text = config.text
        for s in config.screens:
            if s.kind == "window":
                self.desired[s.address].idle = self._text(s, text.idle, Effect.STATIC)

    def _text(self, screen: ScreenConfig, text: str, effect: Effect, duration_s: int = 0, speed: int = 0) -> ShowText:
        return ShowText(fit_bytes(text, screen.wire_encoding, screen.max_text_bytes), 0, effect, speed,
                        screen.wire_colour, duration_s, screen.wire_encoding)

    def _message(self, address: int, message: ShowText | None, *, call: bool = False, about: str | None = None,
                 flash_until: float = 0.0) -> None:
        d = self.desired[address]
        self._next_id += 1
        d.message, d.message_id, d.is_call, d.about, d.flash_until = message, self._next_id, call, about, flash_until

    # ------------------------------------------------------------ inputs

    def set_catalogue(self, catalogue) -> None:
        self.catalogue = catalogue
        for s in self.strips:
            self._guides[s.address] = strip_texts(self.hall_name, catalogue, s)
            self._strip_next[s.address] = 0.0  # show the new guides from the next tick

    def on_call(self, call: dict, now: float) -> list[int]:
        """A call from hub/call: the window's screens flash it, then keep it. Returns the screens changed."""
        window, ticket = str(call.get("window") or ""), call.get("ticket")
        if not window or not ticket or window not in self.by_window:
            return []
        key = (ticket, call.get("recall", 0), call.get("at"))
        last = self._last_call.get(window)
        if last and last[0] == key and now - last[1] < CALL_DEBOUNCE_S:
            return []
        self._last_call[window] = (key, now)
        text = self.config.text
        changed = []
        for s in self.by_window[window]:
            flash = Effect.FLASH if text.call_flash_s else Effect.STATIC
            shown = self._text(s, text.call.format(ticket=ticket, window=window), flash, text.call_flash_s)
            self._message(s.address, shown, call=True, about=ticket, flash_until=now + text.call_flash_s)
            changed.append(s.address)
        return changed

    def on_window_state(self, state: dict, now: float) -> list[int]:
        """A window's retained state: idle text by status; the ticket being served stays up."""
        window = str(state.get("window") or "")
        if window not in self.by_window:
            return []
        status, ticket = state.get("status"), state.get("ticket")
        text = self.config.text
        idle_text = {"paused": text.paused, "closed": text.closed}.get(status, text.idle)
        changed = []
        for s in self.by_window[window]:
            d = self.desired[s.address]
            idle = self._text(s, idle_text, Effect.STATIC)
            touched = idle != d.idle
            d.idle = idle
            if status == "serving" and ticket:
                if d.about != ticket:  # we missed the call (started later): show it steady, not as news
                    shown = self._text(s, text.call.format(ticket=ticket, window=window), Effect.STATIC)
                    self._message(s.address, shown, call=True, about=ticket)
                    touched = True
            elif d.message is not None:
                self._message(s.address, None)
                touched = True
            if touched:
                changed.append(s.address)
        return changed

    def tick(self, now: float) -> list[int]:
        """Move every strip whose guide has scrolled through on to the next one."""
        changed = []
        for s in self.strips:
            if now < self._strip_next[s.address]:
                continue
            guides = self._guides[s.address]
            if not guides:
                continue
            i = self._guide_at[s.address] = (self._guide_at[s.address] + 1) % len(guides)
            speed = self.config.text.strip_speed
            shown = self._text(s, guides[i], Effect.SCROLL, 0, speed)
            self._message(s.address, shown)
            # one full pass: the text enters at the right edge and leaves at the left
            self._strip_next[s.address] = now + (dots_wide(shown.text) + s.width * 16) / (8.0 * speed)
            changed.append(s.address)
        return changed

    def next_tick(self) -> float:
        return min(self._strip_next.values(), default=float("inf"))

    def guides(self, address: int) -> list[str]:
        return list(self._guides.get(address, []))


# ---------------------------------------------------------------- drivers

class BusDriver:
    """Screens behind controller cards on the hall bus."""

    def __init__(self, master):
        self.master = master

    def apply(self, screen: ScreenConfig, cmd: Command, body) -> None:
        self.master.transact(screen.address, cmd, body)

    def ping(self, screen: ScreenConfig) -> None:
        self.master.ping(screen.address)

    def broadcast(self, cmd: Command, body) -> None:
        self.master.broadcast(cmd, body)

    def close(self) -> None:
        self.master.close()


class LumaScreen:
    """A screen the Pi draws itself on a luma device (MAX7219 panels, or `dummy` in tests).

    It keeps the same state a controller card keeps (idle text, message, when it arrived) and draws a frame for
    a moment in time; `tick()` pushes a frame only when it differs from the last, so a still screen costs nothing.
    """

    def __init__(self, device, clock=time.monotonic):
        self.device = device
        self.clock = clock
        self.idle: ShowText | None = None
        self.message: ShowText | None = None
        self.shown_at = 0.0
        self._last: bytes | None = None

    def apply(self, cmd: Command, body) -> None:
        if cmd == Command.SHOW_TEXT:
            self.message, self.shown_at = body, self.clock()
        elif cmd == Command.SET_IDLE_TEXT:
            self.idle = body
        elif cmd == Command.CLEAR:
            self.message = None
        elif cmd == Command.BRIGHTNESS:
            contrast = getattr(self.device, "contrast", None)
            if contrast:
                contrast(round(body.level * 255 / 100))
        self.tick()

    def look(self):
        from devices.bus.render import Look

        shown = self.message or self.idle
        if shown is None:
            return Look()
        return Look(shown.text, shown.effect, shown.speed, shown.colour,
                    shown.duration_s if shown is self.message else 0)

    @property
    def animating(self) -> bool:
        from devices.bus.render import text_bitmap

        look = self.look()
        if not look.text:
            return False
        elapsed = self.clock() - self.shown_at if self.message else 0.0
        return look.effect_after(elapsed) is not Effect.STATIC or text_bitmap(look.text).width > self.device.width

    def frame(self, now: float | None = None):
        from PIL import Image

        from devices.bus.render import frame_at

        now = self.clock() if now is None else now
        look = self.look()
        elapsed = now - self.shown_at if self.message else now
        line = frame_at(look, self.device.width, elapsed)
        image = Image.new(self.device.mode, self.device.size)
        image.paste(line.convert(self.device.mode), (0, max(0, (self.device.height - line.height) // 2)))
        return image

    def tick(self, now: float | None = None) -> bool:
        image = self.frame(now)
        data = image.tobytes()
        if data == self._last:
            return False
        self._last = data
        self.device.display(image)
        return True


def max7219_device(screen: ScreenConfig):
    """MAX7219 8×8 modules chained on the Pi's SPI, two rows of them for a 16-dot line."""
    from luma.core.interface.serial import noop, spi
    from luma.led_matrix.device import max7219

    return max7219(spi(port=screen.spi_port, device=screen.spi_device, gpio=noop()), width=screen.width * 16,
                   height=16, block_orientation=screen.block_orientation, rotate=screen.rotate)


class LumaDriver:
    """Screens the Pi draws itself; `make_device(screen)` builds each luma device (max7219 by default)."""

    def __init__(self, screens: list[ScreenConfig], make_device=max7219_device):
        self.screens = {s.address: LumaScreen(make_device(s)) for s in screens}

    def apply(self, screen: ScreenConfig, cmd: Command, body) -> None:
        self.screens[screen.address].apply(cmd, body)

    def ping(self, screen: ScreenConfig) -> None:
        pass

    def broadcast(self, cmd: Command, body) -> None:
        if cmd == Command.BRIGHTNESS:
            for s in self.screens.values():
                s.apply(cmd, body)

    @property
    def animating(self) -> bool:
        return any(s.animating for s in self.screens.values())

    def tick(self) -> None:
        for s in self.screens.values():
            s.tick()

    def close(self) -> None:
        for s in self.screens.values():
            cleanup = getattr(s.device, "cleanup", None)
            if cleanup:
                cleanup()


# ---------------------------------------------------------------- the agent (shell)

UNKNOWN = object()  # what a screen shows after it stopped answering: everything must be sent again


@dataclass
class Slot:
    screen: ScreenConfig
    driver: object
    idle: object = UNKNOWN
    message_id: object = UNKNOWN
    retry_at: float = 0.0
    health: str = "ok"


@dataclass
class LedStats:
    applied: int = 0
    failures: int = 0
    calls: int = 0
    health_events: list = field(default_factory=list)


class LedAgent:
    """Follows hub/call, hub/state/window/+ and hub/catalogue; keeps every screen showing what it should."""

    def __init__(self, hall, device_id: str, link, config: LedConfig, drivers: dict[str, object], *,
                 recheck_s: float = RECHECK_S, summary_s: float = SUMMARY_S, clock=time.monotonic):
        device = hall.device(device_id)
        if device is None or device.kind != "led":
            raise ValueError(f"{device_id!r} is not an led device in {hall.path}")
        self.hall = hall
        self.device_id = device_id
        self.link = link
        self.config = config
        self.drivers = drivers
        self.recheck_s = recheck_s
        self.clock = clock
        self.controller = LedController(config, hall.catalogue, hall.info.name)
        self.slots = {s.address: Slot(s, drivers[s.backend]) for s in config.screens}
        self.stats = LedStats()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._time_synced = -TIME_SYNC_S
        self.summary_s = summary_s
        self._summary_at = clock() + summary_s
        self._summary_sent: dict | None = None

    def start(self) -> LedAgent:
        self.link.subscribe("hub/call", self._on_call)
        self.link.subscribe("hub/state/window/+", self._on_window_state)
        self.link.subscribe("hub/catalogue", self._on_catalogue)
        self._thread = threading.Thread(target=self._run, name=f"led-{self.device_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    # ------------------------------------------------------------ link callbacks (network thread)

    def _on_call(self, topic: str, payload: dict) -> None:
        with self._lock:
            if self.controller.on_call(payload, self.clock()):
                self.stats.calls += 1
        self._wake.set()

    def _on_window_state(self, topic: str, payload: dict) -> None:
        with self._lock:
            self.controller.on_window_state(payload, self.clock())
        self._wake.set()

    def _on_catalogue(self, topic: str, payload: dict) -> None:
        from hall.catalogue import parse_catalogue

        body = {k: v for k, v in payload.items() if k != "sha256"}
        try:
            catalogue = parse_catalogue(body, topic)
        except ConfigError as err:
            log.warning("%s: catalogue on %s not used: %s", self.device_id, topic, err)
            return
        with self._lock:
            self.controller.set_catalogue(catalogue)
        self._wake.set()

    # ------------------------------------------------------------ the screen thread

    def _run(self) -> None:
        self._broadcast_settings()
        while not self._stop.is_set():
            now = self.clock()
            with self._lock:
                self.controller.tick(now)
            if now - self._time_synced >= TIME_SYNC_S:
                self._time_synced = now
                self._broadcast(Command.SET_TIME, self._time_now())
            for slot in self._due(now):
                if self._stop.is_set():
                    return
                self._apply(slot)
            if now >= self._summary_at:
                self._summary_at = now + self.summary_s
                self._send_summary()
            luma = [d for d in self.drivers.values() if isinstance(d, LumaDriver)]
            for d in luma:
                d.tick()
            with self._lock:
                wait = self.controller.next_tick() - self.clock()
            wait = min(max(0.0, wait), 1.0)
            if any(d.animating for d in luma):
                wait = min(wait, 0.05)  # 20 frames a second while something flashes or scrolls
            if not self._due(self.clock()):
                self._wake.wait(wait)
                self._wake.clear()

    def _time_now(self) -> SetTime:
        from hall.clock import now as clock_now

        moment = clock_now(self.hall.tz)
        return SetTime(int(moment.timestamp()), int(moment.utcoffset().total_seconds() // 60))

    def _broadcast_settings(self) -> None:
        self._broadcast(Command.BRIGHTNESS, Brightness(self.config.text.brightness))

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
                    rank = 0 if d.is_call and slot.message_id != d.message_id else 1 if slot.screen.kind == "window" else 2
                    out.append((rank, slot.screen.address, slot))
            return [s for _, _, s in sorted(out, key=lambda t: t[:2])]

    def _apply(self, slot: Slot) -> None:
        from devices.bus.master import BusError, NoAnswer, Refused

        screen = slot.screen
        with self._lock:
            d = self.controller.desired[screen.address]
            idle, message, message_id, flash_until = d.idle, d.message, d.message_id, d.flash_until
        try:
            if slot.health == "no_answer":
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
            self._report(slot, "ok")
        except NoAnswer as err:
            self.stats.failures += 1
            slot.idle = slot.message_id = UNKNOWN  # it may come back blank: send it everything
            slot.retry_at = self.clock() + self.recheck_s
            if hasattr(slot.driver, "master"):
                slot.driver.master.forget(screen.address)
            self._report(slot, "no_answer", err)
        except Refused as err:
            # the screen cannot show this (wrong encoding, too long): retrying will not help; say so and move on
            self.stats.failures += 1
            slot.idle, slot.message_id = idle, message_id
            self._report(slot, err.reason, err)
        except BusError as err:
            self.stats.failures += 1
            slot.retry_at = self.clock() + self.recheck_s
            self._report(slot, "error", err)

    def _report(self, slot: Slot, status: str, err: Exception | None = None) -> None:
        if slot.health == status:
            return
        slot.health = status
        if err:
            log.warning("%s: %s: %s", self.device_id, slot.screen.label, err)
        else:
            log.info("%s: %s answers again", self.device_id, slot.screen.label)
        data = {"led": {slot.screen.label: status}}
        self.stats.health_events.append(data)
        self.link.send("health", data)

    def _send_summary(self) -> None:
        bus = self.drivers.get("bus")
        if bus is None:
            return
        summary = bus.master.stats.summary()
        trouble = {k: v for k, v in summary.items() if k != "requests"}
        if trouble == self._summary_sent:
            return
        self._summary_sent = trouble
        if any(trouble.values()):  # a bus that never needed a retry has nothing to report
            self.link.send("health", {"led": {"bus": summary}})

    def health(self) -> dict[str, str]:
        return {slot.screen.label: slot.health for slot in self.slots.values()}


def make_drivers(config: LedConfig, serial_port: str | None, *, luma_device=max7219_device) -> dict[str, object]:
    """The drivers a config needs: the bus when any screen is on it, luma when any is wired to the Pi."""
    drivers: dict[str, object] = {}
    if config.of_backend("bus"):
        if not serial_port:
            raise ValueError("screens on the bus need --port (the RS-485 adapter, e.g. /dev/ttyUSB0)")
        from devices.bus.master import BusMaster, open_port

        port = open_port(serial_port, config.bus.baudrate, rs485=config.bus.rs485)
        drivers["bus"] = BusDriver(BusMaster(port, baudrate=config.bus.baudrate,
                                             margin_s=config.bus.margin_ms / 1000))
    if config.of_backend("max7219"):
        drivers["max7219"] = LumaDriver(config.of_backend("max7219"), luma_device)
    return drivers


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
