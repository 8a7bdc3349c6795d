"""A paused window's LED screen says why, from the reason in the hub's window state, on a simulated bus."""

from __future__ import annotations

from devices.bus.codec import Effect
from tests.devices.led.test_bus import W3, hall, led  # noqa: F401  (fixtures)


def paused(reason: str | None) -> dict:
    return {"window": "3", "status": "paused", "ticket": None, "staff": "s009", "queues": ["A"], "reason": reason,
            "paused_since": "2026-11-30T11:32:08.004+08:00"}


def test_the_window_screen_shows_the_pause_reason_until_the_window_resumes(led, tmp_path):  # noqa: F811
    sim, link, agent = led
    agent.start()
    sim.wait(lambda: sim.screen(3).shown_text == W3)
    link.deliver("hub/state/window/3", paused("系统故障"))
    screen = sim.wait(lambda: sim.screen(3).shown_text == "3号窗口 暂停服务：系统故障" and sim.screen(3))
    assert screen.idle.effect == Effect.SCROLL  # wider than the card's 10 characters: it scrolls
    png = screen.render_png(tmp_path / "screen-3-paused.png")
    assert png.stat().st_size > 1000
    link.deliver("hub/state/window/3", paused("午休"))  # paused again with another reason
    sim.wait(lambda: sim.screen(3).shown_text == "3号窗口 暂停服务：午休")
    link.deliver("hub/state/window/3", paused(None))
    sim.wait(lambda: sim.screen(3).shown_text == "3号窗口 暂停服务")
    link.deliver("hub/state/window/3", {"window": "3", "status": "idle", "ticket": None, "staff": "s009",
                                        "queues": ["A"]})
    sim.wait(lambda: sim.screen(3).shown_text == W3)
