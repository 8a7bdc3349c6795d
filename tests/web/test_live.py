"""The live hall: `/api/live` from the hub's retained state, and calls made through the real hub reaching the
page's push stream. The app is served by uvicorn, as in the hall."""

from __future__ import annotations

import time
from contextlib import contextmanager

import httpx
import pytest

from tests.helpers.rig import wait_for
from tests.helpers.web import EventStream, login, served


@pytest.fixture(scope="module")
def base_url(console_hall):
    with served(console_hall.app()) as url:
        yield url


@contextmanager
def session(base_url: str, name: str):
    with httpx.Client(base_url=base_url, timeout=10) as c:
        assert login(c, name).status_code == 303
        yield c


def live(c: httpx.Client) -> dict:
    answer = c.get("/api/live")
    assert answer.status_code == 200
    return answer.json()


def test_api_live_has_every_configured_window_and_queue(base_url, console_hall):
    with session(base_url, "reader") as c:
        body = wait_for(lambda: (b := live(c))["hub"] == "online" and b, 10, "the hub online on /api/live")
    assert len(body["windows"]) == 34
    assert [w["id"] for w in body["windows"]] == [w.id for w in console_hall.hall.catalogue.windows]
    for w in body["windows"]:
        assert {"id", "status", "ticket", "staff", "department", "paused_since"} <= set(w)
        assert w["status"] in ("serving", "idle", "paused", "closed")
    assert {q["id"] for q in body["queues"]} == {q.id for q in console_hall.hall.catalogue.queues}
    for q in body["queues"]:
        assert {"id", "waiting", "oldest_wait_min", "estimated_wait_min"} <= set(q)
    assert isinstance(body["alerts"], list) and body["connected"] is True


def test_a_call_through_the_hub_shows_in_api_live_and_arrives_on_the_push_stream(base_url, console_hall):
    window = console_hall.window_pc("2")
    with session(base_url, "inspector") as c:
        stream = EventStream(c)
        try:
            ticket = console_hall.issue("A")["no"]
            queue = stream.wait(lambda k, d: k == "queue" and d["id"] == "A" and d["waiting"] >= 1, 5,
                                "queue A waiting on the stream")
            assert queue["oldest_since"] and queue["oldest_wait_min"] is not None  # from the journal's tickets
            sent = time.monotonic()
            answer = window.request("call_next", {"window": "2"})
            assert answer["ok"] and answer["ticket"]["no"] == ticket
            call = stream.wait(lambda k, d: k == "call" and d["ticket"] == ticket, 2, "the call on the stream")
            assert time.monotonic() - sent < 1.0
            assert call["window"] == "2" and call["department"] == "scjg"
            stream.wait(lambda k, d: k == "window" and d["id"] == "2" and d["ticket"] == ticket, 2,
                        "window 2 serving on the stream")
        finally:
            stream.close()
        body = live(c)
    w2 = next(w for w in body["windows"] if w["id"] == "2")
    assert (w2["status"], w2["ticket"], w2["staff"]) == ("serving", ticket, window_staff(console_hall, "2"))
    assert body["calls"][0]["ticket"] == ticket


def window_staff(console_hall, window: str) -> str:
    return next(s.id for s in console_hall.hall.staff if s.window == window)


def test_a_paused_window_says_since_when(base_url, console_hall):
    window = console_hall.window_pc("4")
    assert window.request("pause", {"window": "4"})["ok"]
    with session(base_url, "reader") as c:
        w4 = wait_for(lambda: next(w for w in live(c)["windows"] if w["id"] == "4" and w["status"] == "paused"),
                      5, "window 4 paused")
    assert w4["paused_since"] and w4["paused_min"] is not None
    assert window.request("resume", {"window": "4"})["ok"]


def test_a_department_head_sees_only_their_department(base_url, console_hall):
    scjg_windows = {w.id for w in console_hall.hall.catalogue.windows if w.department == "scjg"}
    scjg_queues = {q.id for q in console_hall.hall.catalogue.queues if q.department == "scjg"}
    with session(base_url, "scjg-head") as c:
        body = live(c)
        assert {w["id"] for w in body["windows"]} == scjg_windows and 0 < len(scjg_windows) < 34
        assert {q["id"] for q in body["queues"]} == scjg_queues
        assert all(call["department"] == "scjg" for call in body["calls"])
        stream = EventStream(c)
        try:
            snapshot = next(d for k, d in stream.events if k == "snapshot")
            assert {w["id"] for w in snapshot["windows"]} == scjg_windows
            other = console_hall.window_pc("9")   # another department's window
            assert next(w for w in console_hall.hall.catalogue.windows if w.id == "9").department != "scjg"
            console_hall.issue("A")
            mine = console_hall.window_pc("3")
            other.request("call_next", {"window": "9"})
            assert mine.request("call_next", {"window": "3"})["ok"]
            stream.wait(lambda k, d: k == "window" and d["id"] == "3", 3, "window 3 on the stream")
            time.sleep(0.2)
            assert not [d for k, d in stream.events if k == "window" and d["id"] not in scjg_windows]
            assert not [d for k, d in stream.events if k == "queue" and d["id"] not in scjg_queues]
        finally:
            stream.close()
