"""What the LED screens say, decided without a bus: calls, idle and paused texts, strips' guides."""

import pytest

from devices.bus.codec import Effect, Encoding
from devices.led.compose import dots_wide, fit_bytes, guide_text
from devices.led.config import load_led_config
from devices.led.controller import LedController
from hall.protocol import Call, WindowState
from hall.settings import load_hall


@pytest.fixture(scope="module")
def hall():
    return load_hall()


@pytest.fixture
def ctl(hall):
    return LedController(load_led_config(None, hall), hall.catalogue, hall.info.name)


def call(ticket="A012", window="3", recall=0, at="2026-11-30T09:01:00.000+08:00"):
    return Call(ticket=ticket, window=window, queue="A", at=at, recall=recall)


def state(window, status, ticket=None):
    return WindowState(window=window, status=status, ticket=ticket, staff="s009", queues=["A"])


def test_window_screens_start_with_the_welcome(ctl):
    d = ctl.desired[3]
    assert d.idle.text == "3号窗口 市场监督管理局" and d.message is None
    assert d.idle.effect == Effect.SCROLL  # wider than the screen's 10 characters
    assert ctl.desired[20].idle.text == "20号窗口 税务局" and ctl.desired[20].idle.effect == Effect.STATIC
    assert d.idle.encoding == Encoding.GB18030 and ctl.desired[20].idle.encoding == Encoding.UTF8


def test_a_call_flashes_then_stays(ctl):
    assert ctl.on_call(call(), now=100.0) == [3]
    d = ctl.desired[3]
    assert d.message.text == "A012 请到3号窗口"
    assert (d.message.effect, d.message.duration_s) == (Effect.FLASH, 3)  # the card makes it steady after 3 s
    assert d.flash_until == 103.0 and d.about == "A012"


def test_a_repeated_call_message_is_one_call_but_a_recall_flashes_again(ctl):
    ctl.on_call(call(), now=100.0)
    first = ctl.desired[3].message_id
    assert ctl.on_call(call(), now=101.0) == []
    assert ctl.on_call(call(recall=1), now=102.0) == [3]
    assert ctl.desired[3].message_id > first


def test_window_state_sets_idle_and_paused_texts(ctl):
    ctl.on_call(call(), now=100.0)
    ctl.on_window_state(state("3", "serving", "A012"), 100.1)
    assert ctl.desired[3].message.effect == Effect.FLASH  # the state confirming the call does not restart it
    ctl.on_window_state(state("3", "idle"), 200.0)
    assert ctl.desired[3].message is None and ctl.desired[3].idle.text == "3号窗口 市场监督管理局"
    ctl.on_window_state(state("3", "paused"), 300.0)
    assert ctl.desired[3].idle.text == "3号窗口 暂停服务"
    ctl.on_window_state(state("3", "closed"), 400.0)
    assert ctl.desired[3].idle.text == "3号窗口 未开放"  # the shipped config says 暂停服务 for both: never the same


def test_a_ticket_served_before_we_started_shows_steady(ctl):
    ctl.on_window_state(state("7", "serving", "C004"), 5.0)
    d = ctl.desired[7]
    assert d.message.text == "C004 请到7号窗口" and d.message.effect == Effect.STATIC


def test_unknown_windows_are_ignored(ctl):
    assert ctl.on_call(call(window="99"), 1.0) == []
    assert ctl.on_window_state(state("99", "idle"), 1.0) == []


def test_strips_scroll_their_windows_guides_in_turn(ctl, hall):
    assert ctl.tick(0.0) == [101, 102]
    first = ctl.desired[101].message
    assert first.effect == Effect.SCROLL and first.text.startswith("欢迎光临汨罗市政务服务中心")
    assert "1号窗口 市场监督管理局" in first.text and "18号窗口" not in first.text
    assert ctl.tick(1.0) == []  # still scrolling through
    after = (dots_wide(first.text) + 24 * 16) / 32
    assert ctl.next_tick() == pytest.approx(min(after, (dots_wide(ctl.desired[102].message.text) + 384) / 32))
    assert 101 in ctl.tick(after)
    assert ctl.desired[101].message.text.startswith("【个体工商户设立登记】办理窗口：1、2、3号窗口")
    # each strip scrolls only the services handled at its floor's windows, every one of them
    first_floor = {str(w) for w in range(1, 18)}
    expected = [s for s in hall.catalogue.services if set(s.windows) & first_floor]
    assert len(ctl.guides(101)) == 1 + len(expected)


def test_guide_text():
    class Service:
        name, windows, promised_days, time_limit_days, fee = "婚姻登记", ["20"], 0, 1, "不收费"
        materials, conditions = ["户口簿", "身份证"], "双方亲自到场"
    assert guide_text(Service) == ("【婚姻登记】办理窗口：20号窗口 · 承诺时限：即办 · 收费：不收费 · "
                                   "所需材料：1.户口簿 2.身份证 · 申请条件：双方亲自到场")


def test_texts_are_cut_to_what_a_screen_holds():
    text = "办事指南" * 100
    cut = fit_bytes(text, Encoding.GB18030, 50)
    assert len(cut.encode("gb18030")) <= 50 and cut.endswith("…")
    assert fit_bytes("欢迎光临", Encoding.UTF8, 50) == "欢迎光临"


def test_resting_texts_name_the_window_and_tell_paused_from_closed():
    from devices.led.compose import resting_text
    from devices.led.config import TextConfig

    text = TextConfig()
    assert resting_text(text, None, "3", "税务局") == "3号窗口 税务局 欢迎光临"
    assert resting_text(text, "paused", "3", "税务局", reason="午休") == "3号窗口 暂停服务：午休"
    assert resting_text(text, "closed", "3", "税务局") == "3号窗口 未开放"
    own = text.model_copy(update={"closed": "下班了"})
    assert resting_text(own, "closed", "3", "税务局") == "3号窗口 下班了"
