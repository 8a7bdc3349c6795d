"""年度 The year page: the annual table of `hall report year` on screen with its JSON twin, the printable page and the
workbook that command writes, and a department head's rows only."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from fastapi.testclient import TestClient

from hall.settings import load_hall, load_year_simulation
from hub.year.simulate import simulate
from tests.helpers.web import PEOPLE, login
from web import users
from web.app import create_app

FIRST, LAST = date(2016, 3, 1), date(2016, 3, 4)   # four working days are enough for every figure


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    hall = load_hall()
    data = tmp_path_factory.mktemp("year") / "data"
    figures = simulate(hall, load_year_simulation(hall=hall), data, FIRST, LAST)
    db = users.open_db(data)
    for name, (role, dept, password) in PEOPLE.items():
        users.add_user(db, name, role, dept, password)
    db.close()
    return create_app(hall, data, connect=False), figures


def client(app, name: str) -> TestClient:
    c = TestClient(app)
    assert login(c, name).status_code == 303
    return c


def test_the_annual_table_on_screen_and_as_json(console):
    app, figures = console
    c = client(app, "reader")
    r = c.get("/api/year?year=2016").json()
    assert r["error"] is None and r["year"] == 2016
    t = r["report"]["totals"]
    assert t["cases_accepted"] == figures.cases and t["tickets_issued"] == figures.tickets
    assert len(r["report"]["reviews"]) == 6
    page = c.get("/year?year=2016").text
    assert "年度报表" in page and "The year" in page and 'id="year-totals"' in page
    assert f"{figures.cases:,}" in page and 'id="year-months"' in page     # the chart, by month
    assert page.count("<tr") > 34 + 34                                      # every department and window
    assert 'href="/year/2016.html"' in page and 'href="/year/2016.xlsx"' in page
    assert '<a href="/year" aria-current="page">年度' in page


def test_a_year_with_no_data_says_nothing_happened(console):
    app, _figures = console
    r = client(app, "reader").get("/api/year?year=2015").json()
    assert r["error"] is None and r["report"]["totals"]["cases_accepted"] == 0
    assert client(app, "reader").get("/api/year?year=1900").status_code == 422


def test_the_printable_page_and_workbook_are_the_commands_own(console):
    app, figures = console
    c = client(app, "inspector")
    page = c.get("/year/2016.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and "2016" in page.text and "<script" not in page.text.lower()
    book = c.get("/year/2016.xlsx")
    assert book.status_code == 200 and "year-2016.xlsx" in book.headers["content-disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(book.content), read_only=True)
    assert len(wb.sheetnames) > 3


def test_a_department_head_sees_their_departments_rows_only(console):
    app, _figures = console
    c = client(app, "scjg-head")
    r = c.get("/api/year?year=2016").json()["report"]
    assert r["totals"] is None and [d["department"] for d in r["departments"]] == ["scjg"]
    hall = load_hall()
    theirs = {w.id for w in hall.catalogue.windows if w.department == "scjg"}
    assert r["windows"] and {w["window"] for w in r["windows"]} <= theirs
    for review in r["reviews"]:
        assert {p["window"] for p in review["people"]} <= theirs
    assert c.get("/year/2016.xlsx").status_code == 403 and c.get("/year/2016.html").status_code == 403
