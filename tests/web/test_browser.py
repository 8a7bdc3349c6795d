"""The console in a real headless Chromium (Debian's, driven by Playwright): log in, see the hall, watch a call
arrive without a reload, and a department head's narrower view. The app is served by uvicorn on a free port."""

from __future__ import annotations

import pytest

from tests.helpers.web import browser_login, screenshot_live, served


@pytest.fixture(scope="module")
def base_url(console_hall):
    with served(console_hall.app()) as url:
        yield url


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def test_log_in_and_see_34_windows(page, base_url):
    page.goto(f"{base_url}/")
    assert page.url.startswith(f"{base_url}/login")  # not logged in: the login page
    page.fill("input[name=username]", "reader")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.inner_text("main")
    browser_login(page, base_url, "reader")
    assert page.locator(".win").count() == 34
    assert page.locator("#queues tr").count() > 0
    assert "大厅实况" in page.title()


def test_a_call_arrives_on_the_live_page_without_a_reload(page, base_url, console_hall):
    browser_login(page, base_url, "inspector")
    page.wait_for_function("document.body.dataset.push === 'connected'", timeout=10_000)
    page.evaluate("window.__notReloaded = true")
    pc = console_hall.window_pc("6")
    ticket = console_hall.issue(next(w.queues[0] for w in console_hall.hall.catalogue.windows if w.id == "6"))["no"]
    assert pc.request("call_next", {"window": "6"})["ok"]
    page.wait_for_function(
        "t => document.querySelector('#w-6 [data-f=ticket]').textContent === t", arg=ticket, timeout=2_000)
    page.wait_for_function("t => document.querySelector('#calls li b')?.textContent === t", arg=ticket,
                           timeout=2_000)
    assert "st-serving" in page.get_attribute("#w-6", "class")
    assert page.evaluate("window.__notReloaded") is True  # the same page: the DOM changed by push


def test_a_department_head_sees_only_their_department(page, base_url, console_hall):
    browser_login(page, base_url, "scjg-head")
    scjg = sorted(w.id for w in console_hall.hall.catalogue.windows if w.department == "scjg")
    shown = sorted(i.removeprefix("w-") for i in page.eval_on_selector_all(".win", "els => els.map(e => e.id)"))
    assert shown == scjg
    assert page.locator('nav a[href="/users"]').count() == 0


def test_screenshots_of_the_live_page_at_an_office_screen_and_a_phone(chromium, base_url, tmp_path):
    made = screenshot_live(chromium, base_url, "inspector", tmp_path)
    assert [p.name for p in made] == ["console-live-1920x1080.png", "console-live-390x844.png"]
    assert all(p.stat().st_size > 10_000 for p in made)


def test_a_supervisor_acknowledges_a_poor_rating_with_a_note(page, base_url, console_hall):
    console_hall.serve_and_rate("7", 1)
    browser_login(page, base_url, "inspector")
    page.goto(f"{base_url}/alerts")
    alert = page.locator("li.alert.firing", has_text="7号窗口").first
    alert.wait_for(timeout=5_000)
    alert.locator("input[name=note]").fill("已电话回访 called the citizen back")
    alert.locator("button[type=submit]").click()
    page.wait_for_load_state("load")
    assert "中心已确认" in page.inner_text("main")
    # a poor rating is an occurrence: acknowledged, it clears, on this console and every other
    page.goto(f"{base_url}/alerts")
    page.wait_for_function(
        "() => ![...document.querySelectorAll('li.alert.firing')].some(li => li.textContent.includes('7号窗口'))",
        timeout=5_000)
