"""Screens the Pi draws itself (MAX7219 panels through luma.led_matrix), rendered on luma's `dummy` device."""

from __future__ import annotations

import time

import pytest
from luma.core.device import dummy
from PIL import ImageChops

from devices.bus.codec import Brightness, Clear, Colour, Command, Effect, Encoding, ShowText
from devices.bus.render import Look, frame_at, text_bitmap
from devices.led.agent import LedAgent
from devices.led.config import ScreenConfig, load_led_config
from devices.led.drivers import LumaDriver, LumaScreen
from hall.settings import load_hall
from tests.helpers.links import FakeLink


class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def lit(image) -> int:
    """Dots on."""
    return sum(bin(b).count("1") for b in image.convert("1").tobytes())


def same(a, b) -> bool:
    return ImageChops.difference(a.convert("1"), b.convert("1")).getbbox() is None


CALL = ShowText("A012 请到3号窗口", effect=Effect.FLASH, colour=Colour.RED, duration_s=3, encoding=Encoding.GB18030)


def test_a_call_flashes_three_seconds_then_stays():
    clock = Clock()
    device = dummy(width=160, height=16, mode="1")
    screen = LumaScreen(device, clock)
    screen.apply(Command.SET_IDLE_TEXT, ShowText("欢迎光临"))
    welcome = device.image.copy()
    assert lit(welcome) > 100
    screen.apply(Command.SHOW_TEXT, CALL)
    shown = device.image.copy()
    assert not same(shown, welcome) and lit(shown) > 200
    assert screen.animating
    clock.t += 0.3  # the dark half of the first blink (2 blinks a second)
    assert screen.tick() and lit(device.image) == 0
    clock.t += 0.25
    assert screen.tick() and same(device.image, shown)
    clock.t += 3.0  # the flash is over: steady, and nothing more to draw
    screen.tick()
    assert same(device.image, shown) and not screen.animating
    assert not screen.tick()
    screen.apply(Command.CLEAR, Clear())
    assert same(device.image, welcome)


def test_long_text_scrolls_right_to_left():
    clock = Clock()
    device = dummy(width=64, height=16, mode="1")
    screen = LumaScreen(device, clock)
    screen.apply(Command.SHOW_TEXT, ShowText("办事指南：请携带身份证原件", effect=Effect.SCROLL, speed=4))
    assert lit(device.image) == 0  # the text enters from the right edge
    clock.t += 1.0  # 32 dots in
    screen.tick()
    first = device.image.copy()
    assert first.crop((0, 0, 32, 16)).getbbox() is None and first.crop((32, 0, 64, 16)).getbbox()
    clock.t += 1.0
    screen.tick()
    bitmap = text_bitmap("办事指南：请携带身份证原件")
    assert same(device.image, frame_at(Look("办事指南：请携带身份证原件", Effect.SCROLL, 4), 64, 2.0, bitmap=bitmap))


def test_brightness_sets_the_contrast():
    device = dummy(width=32, height=16, mode="1")
    calls = []
    device.contrast = calls.append
    LumaScreen(device).apply(Command.BRIGHTNESS, Brightness(50))
    assert calls == [128]


def test_the_agent_drives_spi_screens_like_bus_screens(tmp_path):
    hall = load_hall()
    path = tmp_path / "led.toml"
    path.write_text('screens = [{ address = 3, kind = "window", window = "3", backend = "max7219", '
                    'spi_device = 0, width = 10 }]\n', encoding="utf-8")
    config = load_led_config(path, hall)
    devices = {}

    def make(screen: ScreenConfig):
        devices[screen.address] = dummy(width=screen.width * 16, height=16, mode="1")
        return devices[screen.address]

    link = FakeLink()
    agent = LedAgent(hall, "led-01", link, config, {"max7219": LumaDriver(config.screens, make)}).start()
    try:
        assert wait_until(lambda: devices[3].image is not None and lit(devices[3].image) > 100)  # the welcome
        link.deliver("hub/call", {"ticket": "A012", "window": "3", "queue": "A", "at": "t", "recall": 0})
        screen = agent.drivers["max7219"].screens[3]
        assert wait_until(lambda: screen.message is not None)
        assert screen.message.text == "A012 请到3号窗口" and screen.message.effect == Effect.FLASH
        assert same(screen.frame(screen.shown_at), frame_at(Look("A012 请到3号窗口"), 160, None))
    finally:
        agent.stop()
    assert not link.events("health")


def wait_until(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("text", ["号到窗门", "A012 请到3号窗口"])
def test_the_led_font_draws_simplified_chinese(text):
    bitmap = text_bitmap(text)
    assert bitmap.height == 16 and bitmap.width >= 16 * 4 and lit(bitmap) > 40 * 4
