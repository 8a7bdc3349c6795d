"""The ticket's page `/t/<token>` and its JSON twin, in-process against a real hub: the place in line, the wait,
what a token that is wrong or old gets, the limit per address, masked personal data and the phone's rating."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from hall.clock import now as clock_now
from tests.helpers.rig import wait_for
from tests.helpers.web_public import page_of


@pytest.fixture(scope="module")
def app(public_hall):
    app = public_hall.app()
    with TestClient(app):
        yield app


def test_the_page_and_its_twin_show_the_place_in_line_and_the_wait(app, public_hall):
    public_hall.issue("K")
    mine = public_hall.issue("K")
    c = TestClient(app)
    # queue K: one window (21), 15 minutes a citizen: one person ahead waits 15 minutes
    # the queue's state may first arrive as it was before these tickets (nobody waiting, no wait): wait for theirs
    page = wait_for(lambda: (p := page_of(c, mine))["est_wait_s"] and p, 10, "the queue's state from the hub")
    assert (page["ticket"], page["status"], page["ahead"], page["est_wait_s"]) == (mine["no"], "waiting", 1, 900)
    assert page["queue_name"] == "婚姻登记与社会救助" and [w["id"] for w in page["windows"]] == ["21"]
    assert page["near"] is True and page["near_turn"] == 3
    html = c.get(f"/t/{mine['follow']}")
    assert html.status_code == 200
    assert mine["no"] in html.text and "前面还有" in html.text and "Ahead of you" in html.text
    assert 'name="viewport"' in html.text
    for r in (html, c.get(f"/api/t/{mine['follow']}")):
        assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'self'" in r.headers["content-security-policy"]
    # assets are the site's own: nothing loaded from another host
    assert "http" not in "".join(line for line in html.text.splitlines() if "src=" in line or "href=" in line
                                 if "stylesheet" in line or "<script" in line)


def test_a_wrong_token_is_404_an_old_one_410(public_hall):
    ticket = public_hall.issue("K")
    with TestClient(public_hall.app(connect=False)) as c:
        page_of(c, ticket)
        assert c.get("/api/t/nonsense").status_code == 404
        assert c.get(f"/api/t/{secrets.token_urlsafe(16)}").status_code == 404
        missing = c.get(f"/t/{secrets.token_urlsafe(16)}")
        assert missing.status_code == 404 and "没有这张票" in missing.text and "No such ticket" in missing.text
    tomorrow = lambda: clock_now(public_hall.hall.tz) + timedelta(days=1)  # noqa: E731
    with TestClient(public_hall.app(connect=False, clock=tomorrow)) as c:
        gone = c.get(f"/api/t/{ticket['follow']}")
        assert gone.status_code == 410 and "过期" in gone.json()["detail"]


def test_lookups_are_limited_per_address(public_hall):
    per_minute = public_hall.hall.public.lookups_per_minute
    app = public_hall.app(connect=False)
    with TestClient(app) as c:
        for _ in range(per_minute):
            assert c.get(f"/api/t/{secrets.token_urlsafe(16)}").status_code == 404
        refused = c.get(f"/api/t/{secrets.token_urlsafe(16)}")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert "请求过于频繁" in refused.json()["detail"]
        assert c.get(f"/t/{secrets.token_urlsafe(16)}").status_code == 429  # the page too
    with TestClient(app, client=("10.0.0.2", 40000)) as other:  # another phone is not held back
        assert other.get(f"/api/t/{secrets.token_urlsafe(16)}").status_code == 404


def test_the_page_shows_the_phone_masked_and_nothing_else_personal(app, public_hall):
    ticket = public_hall.issue("L", phone="13812345678")
    c = TestClient(app)
    page = page_of(c, ticket)
    assert page["phone"] == "****5678"
    html = c.get(f"/t/{ticket['follow']}").text
    assert "****5678" in html and "13812345678" not in html and "13812345678" not in str(page)


def test_a_citizen_rates_the_service_once_from_the_phone(app, public_hall):
    ticket = public_hall.issue("M")
    c = TestClient(app)
    url = f"/api/t/{ticket['follow']}/rating"
    page_of(c, ticket)
    early = c.post(url, json={"score": 5})
    assert early.status_code == 409 and early.json()["code"] == "not_served"
    public_hall.serve("23")
    page_of(c, ticket, until=lambda page: page["status"] == "done")
    assert c.get(f"/api/t/{ticket['follow']}").json()["rating"] == {"open": True, "score": None}
    assert c.post(url, json={"score": 6}).status_code == 422
    assert c.post(url, json={"score": "5"}).status_code == 422
    rated = c.post(url, json={"score": 4})
    assert rated.status_code == 200 and rated.json() == {"ok": True, "ticket": ticket["no"], "score": 4}
    # the same ratings as the pads': credited to the clerk who served it, sent by the site's own login
    row = public_hall.rig.db().execute("SELECT device, window, staff, score, good FROM ratings WHERE ticket=?",
                                       (ticket["no"],)).fetchone()
    assert row[0] == "web-01" and row[1] == "23" and row[2] and row[3:] == (4, 1)
    again = c.post(url, json={"score": 1})
    assert again.status_code == 409 and again.json()["code"] == "rated"
    assert c.get(f"/api/t/{ticket['follow']}").json()["rating"] == {"open": False, "score": 4}
    assert "感谢您的评价" in c.get(f"/t/{ticket['follow']}").text


def test_the_rating_form_works_without_javascript(app, public_hall):
    ticket = public_hall.issue("N")
    public_hall.serve("24")
    c = TestClient(app)
    page_of(c, ticket, until=lambda page: page["status"] == "done")
    posted = c.post(f"/t/{ticket['follow']}/rating", data={"score": "5"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == f"/t/{ticket['follow']}?rated=5"
    assert "感谢您的评价" in c.get(posted.headers["location"]).text


def test_the_site_may_send_only_what_a_citizen_could(rig):
    """The hub checks the site's events like any device's: a queue action from kind `web` is refused."""
    rig.start_hub()
    link = rig.link("web-01")
    assert link.wait_connected(10)
    link.send("call_next", {"window": "1"})
    wait_for(lambda: rig.count("SELECT count(*) FROM rejected WHERE code='forbidden' AND device='web-01'") == 1,
             10, "the call refused")
    refused = link.request("rating", {"window": "1", "score": 5})  # a citizen's channel must name the ticket
    assert refused["ok"] is False and refused["code"] == "nothing_to_rate"
