"""The LED master on a simulated bus of the Miluo layout: 34 window screens and 2 strips behind a pty."""

from __future__ import annotations

import logging
import time

import pytest
from PIL import Image

from devices.bus.codec import Effect, Encoding
from devices.bus.master import BusMaster, open_port
from devices.bus.simulator import BusSimulator
from devices.led.agent import LedAgent
from devices.led.config import load_led_config
from devices.led.drivers import BusDriver
from hall.settings import load_hall
from tests.helpers.links import FakeLink

W3 = "3号窗口 市场监督管理局"  # window 3 at rest: its number and department (too long for the welcome too)


@pytest.fixture(scope="module")
def hall():
    return load_hall()


class Clock:
    """The monotonic clock, which a test can move forward to let hall time pass without waiting for it."""

    def __init__(self):
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.ahead


@pytest.fixture
def led(hall):
    config = load_led_config(None, hall)
    sim = BusSimulator.for_screens(config.screens).start()
    master = BusMaster(open_port(sim.port))
    link = FakeLink()
    agent = LedAgent(hall, "led-01", link, config, {"bus": BusDriver(master)}, recheck_s=60, clock=Clock())
    yield sim, link, agent
    agent.stop()
    master.close()
    sim.stop()


CALL = {"ticket": "A012", "window": "3", "queue": "A", "at": "2026-11-30T09:01:00.000+08:00", "recall": 0}


def test_screens_start_with_the_welcome_and_the_strips_scroll(led):
    sim, link, agent = led
    agent.start()
    sim.wait(lambda: all(sim.screen(a).shown_text.startswith(f"{a}号窗口 ") for a in range(1, 35)))
    sim.wait(lambda: sim.screen(101).text and sim.screen(102).text)
    strip = sim.screen(101).text
    assert strip.effect == Effect.SCROLL and strip.text.startswith("欢迎光临汨罗市政务服务中心")
    assert strip.encoding == Encoding.GB18030 and sim.screen(102).text.encoding == Encoding.UTF8
    sim.wait(lambda: all(d.time_set and d.brightness == 80 for d in sim.devices.values()))
    assert not link.events("health")


def test_a_call_flashes_on_the_window_screen_and_renders_in_chinese(led, tmp_path):
    sim, link, agent = led
    agent.start()
    sim.wait(lambda: sim.screen(3).shown_text == W3)
    link.deliver("hub/call", CALL)
    screen = sim.wait(lambda: sim.screen(3).text and sim.screen(3))
    assert screen.text.text == "A012 请到3号窗口"
    assert screen.text.encoding == Encoding.GB18030  # the first floor's cards read GB18030
    assert screen.effect_now(screen.shown_at) == Effect.FLASH
    assert screen.effect_now(screen.shown_at + 3.5) == Effect.STATIC  # flashed 3 s, then stays
    png = screen.render_png(tmp_path / "screen-3.png")
    image = Image.open(png).convert("RGB")
    data = image.tobytes()
    lit = sum(1 for i in range(0, len(data), 3) if data[i] > 200 and data[i + 1] < 100)
    assert lit > 2000  # ~130 columns of glyph dots, drawn as 3×3 discs


def test_paused_and_idle_windows(led):
    sim, link, agent = led
    agent.start()
    link.deliver("hub/call", CALL)
    sim.wait(lambda: sim.screen(3).text)
    link.deliver("hub/state/window/3", {"window": "3", "status": "paused", "ticket": None, "staff": "s009",
                                        "queues": ["A"]})
    sim.wait(lambda: sim.screen(3).shown_text == "3号窗口 暂停服务" and sim.screen(3).text is None)
    link.deliver("hub/state/window/3", {"window": "3", "status": "idle", "ticket": None, "staff": "s009",
                                        "queues": ["A"]})
    sim.wait(lambda: sim.screen(3).shown_text == W3)


def test_second_floor_screens_get_utf8(led):
    sim, link, agent = led
    agent.start()
    link.deliver("hub/call", dict(CALL, ticket="M003", window="25"))
    sim.wait(lambda: sim.screen(25).text and sim.screen(25).text.text == "M003 请到25号窗口")
    assert sim.screen(25).text.encoding == Encoding.UTF8


def test_dropped_frames_are_retried(led):
    sim, link, agent = led
    agent.start()
    sim.wait(lambda: sim.screen(3).shown_text == W3)
    sim.drop(3, 2)
    link.deliver("hub/call", CALL)
    sim.wait(lambda: sim.screen(3).text)
    assert [o for a, _, _, o in sim.stats.log if a == 3].count("dropped") == 2
    assert not link.events("health")  # retried and answered: no screen is in trouble
    agent.clock.ahead += 301  # five minutes on, the bus's figures are reported
    agent.wake()
    (_, health), = link.wait_events(1, "health")
    assert health["led"]["bus"]["retries"] >= 2 and health["led"]["bus"]["no_answer"] == 0


def test_a_silent_screen_is_reported_in_health_and_caught_up_when_it_returns(led):
    sim, link, agent = led
    sim.silence(12)
    agent.start()
    assert link.wait_events(1, "health") == [("health", {"led": {"screen 12": "no_answer"}})]
    assert agent.health["screen 12"] == "no_answer"
    link.deliver("hub/call", dict(CALL, ticket="F020", window="12"))
    link.deliver("hub/call", CALL)  # the others keep working meanwhile
    sim.wait(lambda: sim.screen(3).text)
    sim.silence(12, False)
    agent.clock.ahead += 61  # a minute on: the screen is due to be asked again, and the call is old news
    agent.wake()
    health = link.wait_events(2, "health")
    assert health[1] == ("health", {"led": {"screen 12": "ok"}})
    sim.wait(lambda: sim.screen(12).text and sim.screen(12).text.text == "F020 请到12号窗口")
    assert sim.screen(12).text.effect == Effect.STATIC  # shown late: the call is no longer news, so no flash
    assert sim.screen(12).idle.text == "12号窗口 住房公积金管理中心"


def test_a_screen_that_cannot_read_its_configured_encoding_is_reported(led):
    sim, link, agent = led
    sim.screen(20).encodings = frozenset({Encoding.GB18030})  # a font-ROM card where the config says UTF-8
    agent.start()
    assert ("health", {"led": {"screen 20": "encoding_not_supported"}}) in link.wait_events(1, "health")


def test_a_new_catalogue_changes_the_strips(led, hall):
    sim, link, agent = led
    agent.start()
    sim.wait(lambda: sim.screen(102).text)
    wire = hall.catalogue.wire()
    wire["services"] = [s for s in wire["services"] if s["id"] == "scjg-001"]
    wire["windows"] = [w for w in wire["windows"]]
    link.deliver("hub/catalogue", wire)
    assert agent.controller.guides(101)[1].startswith("【个体工商户设立登记】")
    assert len(agent.controller.guides(101)) == 2 and len(agent.controller.guides(102)) == 1


def test_a_malformed_message_from_the_hub_is_logged_and_ignored(led, caplog):
    sim, link, agent = led
    agent.start()
    sim.wait(lambda: sim.screen(3).shown_text == W3 and sim.screen(101).text)
    guides = agent.controller.guides(101)
    with caplog.at_level(logging.WARNING, logger="hall.led"):
        link.deliver("hub/call", {"window": "3", "queue": "A", "recall": 0})
        link.deliver("hub/state/window/3", {"window": "3", "status": "lunch", "ticket": None})
        link.deliver("hub/catalogue", {"version": "2", "departments": "none"})
    said = [r.getMessage() for r in caplog.records]
    assert any("hall/v1/miluo/hub/call" in m and "ticket" in m for m in said), said
    assert any("hall/v1/miluo/hub/state/window/3" in m and "status" in m for m in said), said
    assert any("hall/v1/miluo/hub/catalogue" in m and "departments" in m for m in said), said
    assert agent.controller.desired[3].message is None and agent.controller.guides(101) == guides
    link.deliver("hub/call", CALL)  # and the next good message is shown as usual
    sim.wait(lambda: sim.screen(3).text and sim.screen(3).text.text == "A012 请到3号窗口")
    assert sim.screen(3).idle.text == W3
