"""今日 Today and its JSON twin behind the login, on the known journal (tests/helpers/figures_journal.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.helpers.figures_journal import DAY, figures_console
from tests.helpers.web import login


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app, _hall = figures_console(tmp_path_factory.mktemp("today"))
    return app


def client(app, name: str) -> TestClient:
    c = TestClient(app)
    assert login(c, name).status_code == 303
    return c


def test_today_needs_a_session(app):
    c = TestClient(app)
    assert c.get("/api/today").status_code == 401
    page = c.get("/today", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_the_json_twin_gives_the_days_figures(app):
    f = client(app, "reader").get(f"/api/today?date={DAY}").json()
    assert f["date"] == "2026-11-30" and f["today"] is False
    assert (f["totals"]["issued"], f["totals"]["served"], f["totals"]["no_show"]) == (5, 3, 1)
    assert [h["issued"] for h in f["hours"]][:5] == [3, 1, 0, 0, 1]
    assert next(w for w in f["windows"] if w["window"] == "4")["satisfaction"] == 0.0


def test_the_page_draws_its_charts_and_tables_in_chinese_and_english(app):
    page = client(app, "reader").get(f"/today?date={DAY}").text
    assert 'id="chart-flow"' in page and 'id="chart-waits"' in page and "<svg" in page
    assert "每小时取号与办结" in page and "issued and served by hour" in page
    assert "09 取号 issued: 3" in page  # the tooltip of the 09:00 bar
    assert 'data-queue="A"' in page and 'data-window="4"' in page
    assert "55.0 分" in page  # A's longest wait, 55 minutes
    assert 'href="/static/figures.css"' in page and '="http' not in page  # every asset served here


def test_a_department_head_sees_only_their_department(app):
    c = client(app, "scjg-head")
    f = c.get(f"/api/today?date={DAY}").json()
    assert {q["queue"] for q in f["queues"]} == {"A"}
    assert {w["department"] for w in f["windows"]} == {"scjg"}
    assert f["totals"]["issued"] == 3 and f["totals"]["ratings"] == 2
    page = c.get(f"/today?date={DAY}").text
    assert 'data-queue="B"' not in page and 'data-window="4"' not in page


def test_a_day_without_tickets_and_a_bad_date(app):
    c = client(app, "reader")
    assert c.get("/api/today?date=2020-01-01").json()["totals"]["issued"] == 0
    assert c.get("/api/today?date=not-a-date").status_code == 422


def test_in_chromium_the_charts_render_and_a_report_downloads(chromium, app, tmp_path):
    """A real browser: the Today page's SVG charts have bars with a size, and the queue report downloads as the
    workbook the command line writes."""
    import openpyxl

    from tests.helpers.web import browser_login, served

    with served(app) as base_url:
        context = chromium.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN", accept_downloads=True)
        page = context.new_page()
        browser_login(page, base_url, "inspector")
        page.click('nav a[href="/today"]')
        page.goto(f"{base_url}/today?date={DAY}")
        chart = page.locator("#chart-flow")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box["width"] > 500 and box["height"] > 150
        heights = page.eval_on_selector_all("#chart-flow rect[fill] title", "ts => ts.map(t => t.parentNode.getBBox().height)")
        assert max(heights) > 100  # the tallest bar (3 tickets at 09:00) fills most of the plot
        assert page.locator("#chart-waits-narrow").is_hidden()  # the phone's chart stays out of an office screen
        page.goto(f"{base_url}/reports?date={DAY}")
        with page.expect_download() as download:
            page.click("#download-queue")
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
        assert path.name == f"queue-report-{DAY}.xlsx"
        assert openpyxl.load_workbook(path)["汇总"]["B5"].value == 5  # issued
        context.close()
