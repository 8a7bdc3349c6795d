"""The ticket's page live: `/api/t/<token>/events` (Server-Sent Events) from the app on uvicorn, against a real hub.
A call reaches the called ticket's page, the people ahead go down as others are called, the page says when the
ticket is near its turn, done (rating open) or missed (how to requeue)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.helpers.rig import wait_for
from tests.helpers.web import EventStream, served
from tests.helpers.web_public import page_of


@pytest.fixture(scope="module")
def base_url(public_hall):
    with served(public_hall.app()) as url:
        yield url


def follow(base_url: str, ticket: dict) -> EventStream:
    client = httpx.Client(base_url=base_url)
    page_of(client, ticket)
    return EventStream(client, path=f"/api/t/{ticket['follow']}/events", first="ticket")


def pages(stream: EventStream) -> list[dict]:
    return [d for kind, d in list(stream.events) if kind == "ticket"]


def test_a_call_reaches_the_page_and_the_line_moves_up(base_url, public_hall):
    tickets = [public_hall.issue("P") for _ in range(5)]
    last = tickets[-1]
    stream = follow(base_url, last)
    try:
        first = pages(stream)[0]
        assert (first["ticket"], first["status"], first["ahead"], first["near"]) == (last["no"], "waiting", 4, False)
        public_hall.window_pc("25")
        public_hall.serve("25")  # the first of the five is called and done: 3 ahead, near its turn
        near = stream.wait(lambda k, d: d.get("ahead") == 3, 10, "three ahead")
        assert near["near"] is True and near["status"] == "waiting"
        for _ in range(3):
            public_hall.serve("25")
        stream.wait(lambda k, d: d.get("ahead") == 0, 10, "nobody ahead")
        started = time.perf_counter()
        public_hall.serve("25", done=False)
        called = stream.wait(lambda k, d: d["status"] == "called", 5, "the call on the page")
        took = time.perf_counter() - started
        assert called["window"] == "25" and called["status_text"] == "请到窗口办理" and called["ahead"] is None
        assert took < 2.0  # the push is measured in bench/public.py; here only: it comes at once, not by polling
        assert public_hall.window_pc("25").request("complete", {"window": "25"})["ok"]
        done = stream.wait(lambda k, d: d["status"] == "done", 5, "done")
        assert done["rating"] == {"open": True, "score": None}
    finally:
        stream.close()


def test_a_missed_ticket_says_how_to_requeue(base_url, public_hall):
    ticket = public_hall.issue("S")
    stream = follow(base_url, ticket)
    try:
        pc = public_hall.window_pc("29")
        assert pc.request("call_next", {"window": "29"})["ticket"]["no"] == ticket["no"]
        stream.wait(lambda k, d: d["status"] == "called", 5, "called")
        assert pc.request("skip", {"window": "29"})["ok"]
        missed = stream.wait(lambda k, d: d["status"] == "no_show", 5, "missed")
        assert missed["requeue_until"] and missed["status_text"] == "已过号"
        html = httpx.get(f"{base_url}/t/{ticket['follow']}").text
        assert "申请重新排队" in html and "go back in line" in html
        # requeued at the kiosk: the page is waiting again
        assert public_hall.link("kiosk-01").request("requeue", {"ticket": ticket["no"]})["ok"]
        stream.wait(lambda k, d: d["status"] == "waiting", 5, "waiting again")
    finally:
        stream.close()


def test_a_recall_is_pushed_again(base_url, public_hall):
    ticket = public_hall.issue("U")
    stream = follow(base_url, ticket)
    try:
        pc = public_hall.window_pc("32")
        assert pc.request("call_next", {"window": "32"})["ok"]
        stream.wait(lambda k, d: d["status"] == "called", 5, "called")
        before = len(pages(stream))
        assert pc.request("recall", {"window": "32"})["ok"]
        wait_for(lambda: len(pages(stream)) > before, 5, "the recall pushed")
        assert pages(stream)[-1]["status"] == "called"
    finally:
        stream.close()


def test_the_page_says_so_while_the_hub_is_away(base_url, public_hall):
    ticket = public_hall.issue("A")
    stream = follow(base_url, ticket)
    try:
        assert pages(stream)[0]["hall_online"] is True
        public_hall.rig.stop_hub(public_hall.hub)
        away = stream.wait(lambda k, d: d["hall_online"] is False, 10, "the hub away on the page")
        assert away["ticket"] == ticket["no"]
        html = httpx.get(f"{base_url}/t/{ticket['follow']}").text
        assert 'id="offline" role="status">' in html and "大厅系统暂时联系不上" in html  # shown, not hidden
    finally:
        public_hall.hub = public_hall.rig.start_hub()
    try:
        stream.wait(lambda k, d: d["hall_online"] is True and pages(stream)[-1]["hall_online"], 10, "back")
    finally:
        stream.close()
