"""The ticket's page in a real headless Chromium (Debian's, through Playwright) at a phone's size: scan the QR code,
follow the ticket, see the call arrive without a reload with the window large, the phone vibrating, then rate."""

from __future__ import annotations

import pytest

from tests.helpers.rig import wait_for
from tests.helpers.web import served

PHONE = {"width": 390, "height": 844}
# what the page asks of the phone's vibration motor, kept where the test can read it
RECORD_VIBRATION = """
window.__vibrations = [];
navigator.vibrate = function (pattern) { window.__vibrations.push(pattern); return true; };
"""


@pytest.fixture(scope="module")
def base_url(public_hall):
    with served(public_hall.app()) as url:
        yield url


@pytest.fixture
def phone(chromium):
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                   locale="zh-CN")
    context.add_init_script(RECORD_VIBRATION)
    page = context.new_page()
    yield page
    context.close()


def test_scan_follow_and_be_called(phone, base_url, public_hall, tmp_path):
    public_hall.issue("V")
    ticket = public_hall.issue("V")
    # the QR code's address, as the kiosk prints it, with the site's address of this test
    qr = public_hall.hall.public.ticket_url(ticket["follow"])
    url = base_url + qr.removeprefix(public_hall.hall.public.base_url)
    wait_for(lambda: __import__("httpx").get(url).status_code == 200, 10, "the ticket's row")
    phone.goto(url)
    phone.wait_for_selector("body[data-push=connected]", state="attached", timeout=10_000)
    assert phone.inner_text(".number") == ticket["no"]
    assert phone.inner_text('[data-field="ahead"]') == "1"
    assert phone.locator("#near").is_visible()  # 1 ahead: near its turn (3)
    phone.click("#alerts")  # the citizen's touch that lets the page beep and vibrate
    phone.screenshot(path=str(tmp_path / "waiting.png"))
    public_hall.window_pc("33")
    public_hall.serve("33")  # the one ahead
    phone.wait_for_selector('b[data-field=ahead]:text-is("0")', timeout=5000)
    public_hall.serve("33", done=False)  # this ticket
    phone.wait_for_selector("#called:not([hidden])", timeout=5000)
    assert phone.inner_text('#called [data-field="window"]') == "33"
    size = phone.eval_on_selector('#called [data-field="window"]', "el => parseFloat(getComputedStyle(el).fontSize)")
    assert size >= 80  # the window's number fills the phone's width
    assert not phone.locator("#waiting").is_visible()
    assert any(len(p) >= 5 for p in phone.evaluate("window.__vibrations") if isinstance(p, list))
    phone.screenshot(path=str(tmp_path / "called.png"))
    # done: the rating, once
    assert public_hall.window_pc("33").request("complete", {"window": "33"})["ok"]
    phone.wait_for_selector("#rate:not([hidden])", timeout=5000)
    phone.click("button.score.s5")
    phone.wait_for_selector("#rated:not([hidden])", timeout=5000)
    assert "感谢您的评价" in phone.inner_text("#done")
    assert public_hall.rig.count("SELECT count(*) FROM ratings WHERE ticket=? AND device='web-01'", ticket["no"]) == 1
    phone.reload()
    assert not phone.locator("#rate").is_visible() and phone.locator("#rated").is_visible()


def test_a_page_with_no_script_still_reads(chromium, base_url, public_hall):
    ticket = public_hall.issue("V")
    context = chromium.new_context(viewport=PHONE, java_script_enabled=False, locale="zh-CN")
    try:
        page = context.new_page()
        wait_for(lambda: page.goto(f"{base_url}/t/{ticket['follow']}").status == 200, 10, "the page")
        assert ticket["no"] in page.inner_text(".number") and "前面还有" in page.inner_text("#waiting")
    finally:
        context.close()
