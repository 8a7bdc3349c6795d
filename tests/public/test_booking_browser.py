"""网上预约 as a citizen does it, in a real headless Chromium at a phone's size: book a slot on the site, check in with
the code at a kiosk (the kiosk's own flows over its own login), and be called ahead of the walk-ins who came first.
The hub lives on Monday 2026-11-30 from 09:40, whatever the hour of the test: the 10:00 slot is bookable and its
check-in open."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kiosk.entry import EntryFlow
from kiosk.model import ISSUED, TicketFlow
from tests.helpers.rig import wait_for
from tests.helpers.timeline import HallClock
from tests.helpers.web import served
from tests.helpers.web_public import PublicHall

PHONE = {"width": 390, "height": 844}
MONDAY_0940 = datetime(2026, 11, 30, 9, 40, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def hall_at_0940(tmp_path, monkeypatch):
    HallClock(MONDAY_0940).install(monkeypatch)
    hall = PublicHall(tmp_path)
    yield hall
    hall.close()


@pytest.fixture
def phone(chromium):
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                   locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def test_book_on_the_phone_check_in_at_the_kiosk_and_be_called_ahead_of_walk_ins(phone, hall_at_0940, tmp_path):
    hall = hall_at_0940
    walk_ins = [hall.issue("A")["no"] for _ in range(2)]
    with served(hall.app()) as base_url:
        phone.goto(f"{base_url}/")
        phone.click("text=预约办事")
        phone.click("#queue-A")
        phone.wait_for_selector("form#book")
        phone.check('input[name=slot][value="2026-11-30 10:00"]')
        phone.fill("#name", "张三丰")
        phone.fill("#id_number", "11010519491231002X")
        phone.fill("#phone", "13800138000")
        phone.screenshot(path=str(tmp_path / "book.png"), full_page=True)
        phone.click("#submit")
        phone.wait_for_selector("#code")
        code = phone.inner_text("#code").strip()
        page = phone.inner_text("main")
        assert len(code) == 8 and "张*丰" in page and "10:00" in page and "11010519491231002X" not in page
        phone.screenshot(path=str(tmp_path / "booked.png"), full_page=True)
    # at the kiosk: 预约签到 with the code, through the kiosk's own flows
    link = hall.link("kiosk-01")
    tickets = TicketFlow(link, content_for=lambda t: None, timeout=5.0)
    entry = EntryFlow()
    entry.start_checkin()
    for key in code:
        entry.press(key)
    assert entry.submit(tickets)
    wait_for(lambda: tickets.s.state == ISSUED, 10, "the booked ticket")
    booked = tickets.s.ticket
    assert booked.booked == "10:00" and booked.ahead == 0
    pc = hall.window_pc("1")
    assert pc.request("call_next", {"window": "1"})["ticket"]["no"] == booked.no
    assert pc.request("call_next", {"window": "1"})["ticket"]["no"] == walk_ins[0]
