"""Drivers that put a screen's text on the glass, all of one shape so the agent cannot tell them apart.

As in luma (serial interface → device → canvas): `BusDriver` speaks the hall bus (devices/bus) to controller cards
that keep their own idle text and draw their own effects; `LumaDriver` draws on MAX7219 panels wired to the Pi's SPI
(luma.led_matrix), or on luma's `dummy` device in tests, keeping the state a card would keep. Both draw the same
dots: devices/bus/render.py.

The shape: `apply(screen, command, body)`, `ping(screen)`, `forget(screen)` (it may have been power-cycled),
`broadcast(command, body)`, `animating`, `tick()` (push the next frame, for screens the Pi draws) and `close()`.
"""

from __future__ import annotations

import time

from devices.bus.codec import Command, Effect, ShowText
from devices.led.config import LedConfig, ScreenConfig


class BusDriver:
    """Screens behind controller cards on the hall bus; the cards flash and scroll by themselves."""

    animating = False

    def __init__(self, master):
        self.master = master

    def apply(self, screen: ScreenConfig, cmd: Command, body) -> None:
        self.master.transact(screen.address, cmd, body)

    def ping(self, screen: ScreenConfig) -> None:
        self.master.ping(screen.address)

    def forget(self, screen: ScreenConfig) -> None:
        self.master.forget(screen.address)  # a card that comes back power-cycled is greeted again

    def broadcast(self, cmd: Command, body) -> None:
        self.master.broadcast(cmd, body)

    def tick(self) -> None:
        pass

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

    def forget(self, screen: ScreenConfig) -> None:
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
