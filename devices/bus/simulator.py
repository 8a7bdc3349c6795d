"""A hall bus on a pseudo-terminal: keypads, rating pads and LED screens that speak the real bytes.

The code under test opens `sim.port` (the pty's slave path) with pyserial exactly as it opens /dev/ttyUSB0;
the simulator reads and writes the pty's master side. Faults are injected per address: frames dropped or garbled
on the way in, replies garbled on the way out, a busy device, a device that stops answering.

    sim = BusSimulator().add_keypad(3).add_rating_pad(103).add_window_screen(3).start()
    sim.press(3, "next"); sim.rate(103, 5)
    sim.screen(3).render_png("screen-3.png")
    sim.stop()
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from devices.bus.codec import (
    BROADCAST,
    Brightness,
    Clear,
    Command,
    DeviceKind,
    Effect,
    Encoding,
    Frame,
    FrameParser,
    KeypadView,
    KeysReply,
    PayloadError,
    PingReply,
    RatingReply,
    SetTime,
    ShowText,
    Status,
    StatusReply,
    crc16_modbus,
    key_code,
)
from devices.bus.render import CELL, ROWS, Look, dots, frame_at, led_font, text_bitmap

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- devices

class SimDevice:
    """What every bus device does: PING, STATUS, SET_TIME, BRIGHTNESS, and the repeat rule."""

    kind: DeviceKind
    model = "HK-SIM"

    def __init__(self, addr: int):
        if not 1 <= addr <= 247:
            raise ValueError(f"bus address {addr} is outside 1–247")
        self.addr = addr
        self.brightness = 100
        self.time_set: SetTime | None = None
        self.started = time.monotonic()
        self.last_seq: int | None = None
        self.last_reply: bytes | None = None
        self.last_broadcast_seq: int | None = None
        self.executed: list[Frame] = []  # requests acted on, repeats not included

    def handle(self, frame: Frame) -> tuple[Status, bytes]:
        cmd = frame.cmd
        try:
            if cmd == Command.PING:
                return Status.OK, PingReply(self.kind, (1, 0), self.model).encode()
            if cmd == Command.STATUS:
                return Status.OK, StatusReply(int(time.monotonic() - self.started), self.brightness, 0,
                                              self.shown_crc()).encode()
            if cmd == Command.SET_TIME:
                self.time_set = SetTime.decode(frame.payload)
                return Status.OK, b""
            if cmd == Command.BRIGHTNESS:
                self.brightness = Brightness.decode(frame.payload).level
                return Status.OK, b""
            return self.command(frame)
        except PayloadError as err:
            log.debug("address %d refuses %s: %s", self.addr, frame.describe(), err)
            return err.status, b""

    def command(self, frame: Frame) -> tuple[Status, bytes]:
        return Status.UNKNOWN_COMMAND, b""

    def shown_crc(self) -> int:
        return 0


class SimScreen(SimDevice):
    """An LED window screen or strip: one region of `width` full-width characters, 16 dots high."""

    def __init__(self, addr: int, kind: DeviceKind = DeviceKind.WINDOW_SCREEN, width: int = 10,
                 encodings: Iterable[Encoding] = (Encoding.UTF8, Encoding.GB18030), max_text_bytes: int = 1017,
                 name: str = ""):
        super().__init__(addr)
        self.kind = kind
        self.width = width
        self.encodings = frozenset(encodings)
        self.max_text_bytes = max_text_bytes
        self.name = name
        self.text: ShowText | None = None
        self.shown_at = 0.0
        self.idle: ShowText | None = None
        self.history: list[ShowText] = []  # every SHOW_TEXT acted on, oldest first

    @property
    def dots_wide(self) -> int:
        return self.width * CELL

    def command(self, frame: Frame) -> tuple[Status, bytes]:
        if frame.cmd in (Command.SHOW_TEXT, Command.SET_IDLE_TEXT):
            text = ShowText.decode(frame.payload)
            if text.region != 0:
                return Status.BAD_PARAMETER, b""
            if text.encoding not in self.encodings:
                return Status.ENCODING_NOT_SUPPORTED, b""
            if len(frame.payload) - ShowText.HEADER > self.max_text_bytes:
                return Status.TEXT_TOO_LONG, b""
            if frame.cmd == Command.SHOW_TEXT:
                self.text, self.shown_at = text, time.monotonic()
                self.history.append(text)
            else:
                self.idle = text
            return Status.OK, b""
        if frame.cmd == Command.CLEAR:
            region = Clear.decode(frame.payload).region
            if region not in (0, 0xFF):
                return Status.BAD_PARAMETER, b""
            self.text = None
            return Status.OK, b""
        return Status.UNKNOWN_COMMAND, b""

    # what it shows

    @property
    def showing(self) -> ShowText | None:
        """The message if one is up, else the idle text."""
        return self.text or self.idle

    @property
    def shown_text(self) -> str:
        return self.showing.text if self.showing else ""

    def look(self) -> Look:
        shown = self.showing
        if shown is None:
            return Look()
        return Look(shown.text, shown.effect, shown.speed, shown.colour,
                    shown.duration_s if shown is self.text else 0)

    def effect_now(self, now: float | None = None) -> Effect:
        """The effect running at `now` (monotonic): a timed flash has settled to static after its duration."""
        if self.showing is None:
            return Effect.STATIC
        elapsed = (now if now is not None else time.monotonic()) - self.shown_at
        return self.look().effect_after(elapsed if self.showing is self.text else 0)

    def shown_crc(self) -> int:
        return crc16_modbus(self.shown_text.encode()) if self.showing else 0

    def render(self, elapsed: float | None = None, pitch: int = 5) -> Image.Image:
        """The screen as LED dots on black, with a caption noting the effect (a PNG cannot blink)."""
        look = self.look()
        panel = dots(frame_at(look, self.dots_wide, elapsed), look.colour, pitch)
        effect = self.effect_now()
        caption = {Effect.STATIC: "静止 static", Effect.SCROLL: "滚动 scroll ←", Effect.FLASH: "闪烁 flash"}[effect]
        if look.duration_s and effect is not Effect.STATIC:
            caption += f" {look.duration_s} s"
        if look.text and effect is Effect.STATIC and text_bitmap(look.text).width > self.dots_wide:
            caption = "滚动 scroll ← (长文本 long text)"
        kind = "窗口屏 window" if self.kind == DeviceKind.WINDOW_SCREEN else "条屏 strip"
        source = "空闲 idle" if self.showing is self.idle and self.idle is not None else "消息 message"
        label = f"#{self.addr} {kind} · {source} · {caption}"
        out = Image.new("RGB", (max(panel.width, 360), panel.height + 22), (0, 0, 0))
        out.paste(panel, (0, 0))
        ImageDraw.Draw(out).text((4, panel.height + 4), label, font=led_font(12), fill=(150, 150, 150))
        return out

    def render_png(self, path: str | Path, elapsed: float | None = None) -> Path:
        path = Path(path)
        self.render(elapsed).save(path)
        return path

    def snapshot(self) -> dict:
        return {"addr": self.addr, "text": self.text.text if self.text else None,
                "effect": self.effect_now().name.lower(), "idle": self.idle.text if self.idle else None,
                "brightness": self.brightness}


class SimKeypad(SimDevice):
    """A window caller keypad: keys queue until polled; a small display shows the ticket and the waiting count."""

    kind = DeviceKind.KEYPAD
    BUFFER = 64  # a real keypad's buffer; presses beyond it are lost, as on the hardware

    def __init__(self, addr: int):
        super().__init__(addr)
        self.keys: deque[int] = deque(maxlen=self.BUFFER)
        self.view = KeypadView()
        self.views: list[KeypadView] = []

    def press(self, key) -> None:
        self.keys.append(key_code(key))

    def command(self, frame: Frame) -> tuple[Status, bytes]:
        if frame.cmd == Command.POLL_KEYS:
            if frame.payload:
                return Status.BAD_PARAMETER, b""
            keys = []
            while self.keys and len(keys) < KeysReply.MAX_KEYS:
                keys.append(self.keys.popleft())
            return Status.OK, KeysReply(tuple(keys)).encode()
        if frame.cmd == Command.SHOW_ON_KEYPAD:
            self.view = KeypadView.decode(frame.payload)
            self.views.append(self.view)
            return Status.OK, b""
        return Status.UNKNOWN_COMMAND, b""


class SimRatingPad(SimDevice):
    """A rating pad (评价器): five buttons; the last score given waits for the next poll."""

    kind = DeviceKind.RATING_PAD

    def __init__(self, addr: int):
        super().__init__(addr)
        self.score: int | None = None

    def rate(self, score: int) -> None:
        if not 1 <= int(score) <= 5:
            raise ValueError(f"score {score} is outside 1–5")
        self.score = int(score)

    def command(self, frame: Frame) -> tuple[Status, bytes]:
        if frame.cmd == Command.POLL_RATING:
            if frame.payload:
                return Status.BAD_PARAMETER, b""
            score, self.score = self.score, None
            return Status.OK, RatingReply(score).encode()
        return Status.UNKNOWN_COMMAND, b""


# ---------------------------------------------------------------- the bus

@dataclass
class Faults:
    drop: int = 0            # the next N frames vanish: no reply, as if the device missed them
    garble_in: int = 0       # the next N frames arrive with a bad CRC: no reply
    garble_out: int = 0      # the next N replies leave with a bad CRC: the master must ignore them
    busy: int = 0            # the next N frames are answered "busy" and not acted on
    silent: bool = False     # the device stopped answering (unplugged, broken)


@dataclass
class SimStats:
    frames: int = 0
    bad_frames: int = 0
    repeats: int = 0
    dropped: int = 0
    garbled: int = 0
    replies: int = 0
    broadcasts: int = 0
    unknown_address: int = 0
    log: deque = field(default_factory=lambda: deque(maxlen=2000))  # (addr, seq, cmd, outcome)


class BusSimulator:
    """Several bus devices behind one pseudo-terminal. Thread-safe: tests and `hall up` press keys while the
    bus thread answers the master."""

    def __init__(self):
        self.devices: dict[int, SimDevice] = {}
        self.faults: dict[int, Faults] = {}
        self.stats = SimStats()
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._fds: tuple[int, int] | None = None
        self._wake: tuple[int, int] | None = None
        self._stopping = False
        self.port: str | None = None

    # ------------------------------------------------------------ building

    def add(self, device: SimDevice) -> BusSimulator:
        with self._lock:
            if device.addr in self.devices:
                raise ValueError(f"bus address {device.addr} is taken by a {self.devices[device.addr].kind.name}")
            self.devices[device.addr] = device
        return self

    def add_keypad(self, addr: int) -> BusSimulator:
        return self.add(SimKeypad(addr))

    def add_rating_pad(self, addr: int) -> BusSimulator:
        return self.add(SimRatingPad(addr))

    def add_window_screen(self, addr: int, width: int = 10, encodings=(Encoding.UTF8, Encoding.GB18030),
                          **kw) -> BusSimulator:
        return self.add(SimScreen(addr, DeviceKind.WINDOW_SCREEN, width, encodings, **kw))

    def add_strip(self, addr: int, width: int = 24, encodings=(Encoding.UTF8, Encoding.GB18030),
                  **kw) -> BusSimulator:
        return self.add(SimScreen(addr, DeviceKind.STRIP_SCREEN, width, encodings, **kw))

    @classmethod
    def for_screens(cls, screens: Iterable) -> BusSimulator:
        """A bus of LED screens as a screens config lists them (devices/led/config.py `load_led_config()`): each has
        `address`, `kind` ("window"/"strip"), `width` and `encoding`. Each simulated screen reads only its
        configured encoding, as a card with a font ROM would."""
        sim = cls()
        for s in screens:
            enc = Encoding.named(s.encoding) if isinstance(s.encoding, str) else Encoding(s.encoding)
            kind = DeviceKind.STRIP_SCREEN if s.kind == "strip" else DeviceKind.WINDOW_SCREEN
            sim.add(SimScreen(s.address, kind, s.width, (enc,), name=getattr(s, "name", "")))
        return sim

    @classmethod
    def for_caller(cls, hall, device_id: str, raters: bool = True) -> BusSimulator:
        """The keypads and rating pads of one caller bus of the hall, at their default addresses."""
        from devices.caller import CallerLayout

        device = hall.device(device_id)
        if device is None or device.kind != "caller":
            raise ValueError(f"{device_id!r} is not a caller device of hall {hall.id}")
        layout = CallerLayout.for_windows(device.windows, raters=raters)
        return cls.for_callers(layout.keypads.values(), layout.rating_pads.values())

    @classmethod
    def for_callers(cls, keypads: Iterable[int], rating_pads: Iterable[int] = ()) -> BusSimulator:
        sim = cls()
        for a in keypads:
            sim.add_keypad(a)
        for a in rating_pads:
            sim.add_rating_pad(a)
        return sim

    # ------------------------------------------------------------ running

    def start(self) -> BusSimulator:
        if self._thread:
            return self
        master, slave = os.openpty()
        # raw before anyone opens the slave: no echo, no CR/LF translation, every byte passes as it is
        tty.setraw(slave)
        self._fds = (master, slave)  # the slave stays open here, so the master side never reads EIO between users
        self._wake = os.pipe()
        self.port = os.ttyname(slave)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"bus-sim {self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if not self._thread:
            return
        self._stopping = True
        os.write(self._wake[1], b"x")
        self._thread.join(timeout=5)
        self._thread = None
        for fd in (*self._fds, *self._wake):
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = self._wake = None

    def __enter__(self) -> BusSimulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        master = self._fds[0]
        parser = FrameParser()
        while not self._stopping:
            ready, _, _ = select.select([master, self._wake[0]], [], [])
            if self._wake[0] in ready:
                break
            try:
                data = os.read(master, 4096)
            except OSError:  # nobody holds the slave; cannot happen while we keep it open, but never spin
                time.sleep(0.05)
                continue
            bad = parser.bad_frames
            frames = parser.feed(data)
            with self._lock:
                self.stats.bad_frames += parser.bad_frames - bad
                for frame in frames:
                    reply = self._on_frame(frame)
                    if reply:
                        os.write(master, reply)

    def _on_frame(self, frame: Frame) -> bytes | None:
        self.stats.frames += 1
        if frame.is_reply:  # a master never sends these; ignore, like a device hearing another device
            return None
        if frame.addr == BROADCAST:
            self.stats.broadcasts += 1
            for device in self.devices.values():
                if self.faults.get(device.addr, Faults()).silent:
                    continue
                if frame.seq and frame.seq == device.last_broadcast_seq:
                    continue
                device.last_broadcast_seq = frame.seq or None
                device.executed.append(frame)
                device.handle(frame)
            self._note(frame, "broadcast")
            return None
        device = self.devices.get(frame.addr)
        if device is None:
            self.stats.unknown_address += 1
            self._note(frame, "nobody")
            return None
        fault = self.faults.setdefault(frame.addr, Faults())
        if fault.silent:
            self._note(frame, "silent")
            return None
        if fault.drop:
            fault.drop -= 1
            self.stats.dropped += 1
            self._note(frame, "dropped")
            return None
        if fault.garble_in:
            fault.garble_in -= 1
            self.stats.bad_frames += 1  # what a device sees of a frame hit by noise: a CRC that does not match
            self._note(frame, "bad_crc")
            return None
        if frame.seq and frame.seq == device.last_seq and device.last_reply is not None:
            # a retry of a request already acted on: the reply was lost, so send it again, do not act twice
            self.stats.repeats += 1
            self._note(frame, "repeat")
            return self._send(device.last_reply, fault)
        if frame.seq == 0:
            device.last_seq = device.last_reply = None  # SEQ 0: a master greeting us; forget the last SEQ
        if fault.busy:
            fault.busy -= 1
            self._note(frame, "busy")
            return self._send(frame.reply(Status.BUSY).encode(), fault)
        status, body = device.handle(frame)
        device.executed.append(frame)
        reply = frame.reply(status, body).encode()
        if frame.seq:
            device.last_seq, device.last_reply = frame.seq, reply
        self._note(frame, Status(status).name.lower())
        return self._send(reply, fault)

    def _send(self, reply: bytes, fault: Faults) -> bytes:
        self.stats.replies += 1
        if fault.garble_out:
            fault.garble_out -= 1
            self.stats.garbled += 1
            return reply[:-1] + bytes([reply[-1] ^ 0xFF])
        return reply

    def _note(self, frame: Frame, outcome: str) -> None:
        self.stats.log.append((frame.addr, frame.seq, frame.cmd, outcome))

    # ------------------------------------------------------------ using

    def device(self, addr: int) -> SimDevice:
        try:
            return self.devices[addr]
        except KeyError:
            raise KeyError(f"no simulated device at bus address {addr}") from None

    def _typed(self, addr: int, cls: type):
        device = self.device(addr)
        if not isinstance(device, cls):
            raise TypeError(f"bus address {addr} is a {device.kind.name}, not a {cls.__name__}")
        return device

    def screen(self, addr: int) -> SimScreen:
        return self._typed(addr, SimScreen)

    def keypad(self, addr: int) -> SimKeypad:
        return self._typed(addr, SimKeypad)

    def rating_pad(self, addr: int) -> SimRatingPad:
        return self._typed(addr, SimRatingPad)

    def press(self, addr: int, *keys) -> None:
        """Press keys on a keypad: codes, names ('next', 'login', 'enter') or digit strings ('023' is three)."""
        with self._lock:
            pad = self.keypad(addr)
            for key in keys:
                if isinstance(key, str) and key.isdigit() and len(key) > 1:
                    for digit in key:
                        pad.press(digit)
                else:
                    pad.press(key)

    def rate(self, addr: int, score: int) -> None:
        with self._lock:
            self.rating_pad(addr).rate(score)

    def fault(self, addr: int, **changes) -> Faults:
        """Inject faults: fault(12, silent=True), fault(3, drop=2), fault(3, garble_in=4), fault(3, busy=1)."""
        with self._lock:
            fault = self.faults.setdefault(addr, Faults())
            for key, value in changes.items():
                if not hasattr(fault, key):
                    raise TypeError(f"unknown fault {key!r}: expected one of {list(Faults.__dataclass_fields__)}")
                setattr(fault, key, value)
            return fault

    def drop(self, addr: int, n: int) -> None:
        self.fault(addr, drop=n)

    def silence(self, addr: int, silent: bool = True) -> None:
        self.fault(addr, silent=silent)

    def wait(self, predicate: Callable[[], object], timeout: float = 10.0, every: float = 0.02):
        """Poll a condition on the simulated devices until it holds; returns its value or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"bus simulator: condition not met within {timeout} s")
            time.sleep(every)

    def render_all(self, directory: str | Path) -> list[Path]:
        """Every screen's PNG into a directory, named screen-<addr>.png."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            return [d.render_png(directory / f"screen-{a:03d}.png") for a, d in sorted(self.devices.items())
                    if isinstance(d, SimScreen)]


__all__ = ["BusSimulator", "Faults", "SimDevice", "SimKeypad", "SimRatingPad", "SimScreen", "ROWS"]
