"""历史 History and its JSON twin behind the login, on the known journal."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from tests.helpers.figures_journal import figures_console
from tests.helpers.web import login
from web.figures import MAX_BUCKETS
from web.views.history import range_of


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app, _hall = figures_console(tmp_path_factory.mktemp("history"))
    return app


def client(app, name: str) -> TestClient:
    c = TestClient(app)
    assert login(c, name).status_code == 303
    return c


def test_history_needs_a_session(app):
    assert TestClient(app).get("/api/history").status_code == 401


def test_by_day_per_queue(app):
    h = client(app, "reader").get("/api/history?first=2026-11-30&last=2026-12-01").json()
    assert [(p["period"], p["issued"], p["served"]) for p in h["periods"]] == [("2026-11-30", 5, 3),
                                                                              ("2026-12-01", 1, 1)]
    assert [(g["key"], g["issued"]) for g in h["groups"]] == [("A", 4), ("B", 2)]
    assert h["shortened"] is False


def test_by_month_per_staff_member_and_the_page(app):
    c = client(app, "reader")
    h = c.get("/api/history?first=2026-11-01&last=2026-12-31&period=month&by=staff").json()
    assert [p["period"] for p in h["periods"]] == ["2026-11", "2026-12"]
    s001 = next(g for g in h["groups"] if g["key"] == "s001")
    assert (s001["served"], s001["issued"], s001["name"]) == (2, None, "武轩博")
    page = c.get("/history?first=2026-11-01&last=2026-12-31&period=month&by=staff&metric=handling_avg_s").text
    assert 'id="chart-history-flow"' in page and 'id="history-pivot"' in page and "工作人员" in page
    assert "<th>2026-11</th>" in page


def test_a_department_head_sees_only_their_department(app):
    h = client(app, "scjg-head").get("/api/history?first=2026-11-30&last=2026-12-01&by=department").json()
    assert [g["key"] for g in h["groups"]] == ["scjg"] and h["totals"]["issued"] == 4


def test_a_range_too_long_is_shortened_from_its_start_and_the_order_does_not_matter():
    first, last, shortened = range_of(date(1, 1, 1), date(9999, 12, 31), "year", date(2026, 1, 1))
    assert shortened and last == date(9999, 12, 31) and 9999 - first.year + 1 <= MAX_BUCKETS
    assert range_of(date(2026, 2, 1), date(2026, 1, 1), "day", date(2026, 3, 1)) == (date(2026, 1, 1),
                                                                                      date(2026, 2, 1), False)
    assert range_of(None, None, "day", date(2026, 3, 30)) == (date(2026, 3, 1), date(2026, 3, 30), False)


def test_any_range_the_schema_allows_answers(app):
    c = client(app, "reader")
    h = c.get("/api/history?first=0001-01-01&last=9999-12-31&period=day").json()
    assert h["shortened"] and len(h["periods"]) == MAX_BUCKETS
    assert c.get("/api/history?period=fortnight").status_code == 422
