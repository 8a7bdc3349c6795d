"""The site's front door: a booking answered ahead of FastAPI's routing is answered exactly as FastAPI answers it,
headers included; what the door does not take goes FastAPI's way; no body over MAX_BODY or without its length is
read."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient
from starlette.responses import Response

from hall.settings import load_hall
from public import booking
from public.app import MAX_BODY, FrontDoor, SecurityHeaders, create_app
from tests.helpers.appointments import id_number
from tests.helpers.web_public import PublicHall, first_slot


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site without a broker: a valid booking is answered 503 (the hall is not answering)."""
    app = create_app(load_hall(), tmp_path_factory.mktemp("site"), connect=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    """The same site with no route behind the front door: every booking goes FastAPI's way."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(booking, "DIRECT", {})
        app = create_app(load_hall(), tmp_path_factory.mktemp("routed"), connect=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_bookings_go_through_the_door_inside_the_security_headers(site):
    outermost_first = site.app.user_middleware
    assert [m.cls for m in outermost_first] == [SecurityHeaders, FrontDoor]
    assert outermost_first[1].kwargs["routes"] == {("POST", "/api/bookings"): booking.api_book}


def booking_body(**change) -> dict:
    return {"queue": "B", "date": "2026-12-07", "time": "09:00", "name": "欧阳娜娜", "id_number": id_number(1),
            "phone": "13800138000", **change}


def both_ways(site, routed, payload: bytes):
    """The same POST /api/bookings through the front door and FastAPI's routing."""
    headers = {"content-type": "application/json"}
    return (site.post("/api/bookings", content=payload, headers=headers),
            routed.post("/api/bookings", content=payload, headers=headers))


def answer(r) -> tuple:
    """What a citizen's phone gets: status, body and headers (the length and date aside)."""
    headers = {k: v for k, v in r.headers.items() if k not in ("content-length", "date")}
    return r.status_code, r.content, headers


@pytest.mark.parametrize("payload", [
    json.dumps(booking_body(), ensure_ascii=False).encode(),                   # 503: no hub behind this site
    json.dumps(booking_body(phone="12345"), ensure_ascii=False).encode(),      # 422 naming the phone
    json.dumps(booking_body(queue="A"), ensure_ascii=False).encode(),          # 422: A takes no bookings
    b"[1, 2]",                                                                 # 422: not an object
    b"{not json",
], ids=["valid", "bad-phone", "no-bookings", "a-list", "not-json"])
def test_the_front_door_answers_as_fastapi_does(site, routed, payload):
    direct, routed = both_ways(site, routed, payload)
    assert answer(direct) == answer(routed)
    assert direct.status_code in (422, 503)
    assert direct.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in \
        direct.headers["content-security-policy"]


def test_a_failing_booking_is_the_same_500_both_ways(site, routed, monkeypatch):
    async def broken(request, data):
        raise RuntimeError("a bug")

    monkeypatch.setattr(booking, "book", broken)
    direct, routed = both_ways(site, routed, json.dumps(booking_body()).encode())
    assert direct.status_code == routed.status_code == 500


def test_no_body_over_the_limit_or_without_its_length_is_read(site, monkeypatch):
    def never(*_):
        raise AssertionError("a refused body was read")

    monkeypatch.setattr(booking, "book", never)
    big = json.dumps(booking_body(name="张" * MAX_BODY), ensure_ascii=False).encode()
    too_big = site.post("/api/bookings", content=big, headers={"content-type": "application/json"})
    assert too_big.status_code == 413 and "64 KiB" in too_big.json()["detail"]
    assert too_big.headers["cache-control"] == "no-store"
    chunked = site.post("/api/bookings", content=iter([b"{}"]), headers={"content-type": "application/json"})
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 411 and "Content-Length" in chunked.json()["detail"]
    form = site.post("/book", data={"queue": "B", "name": "张" * MAX_BODY})
    assert form.status_code == 413 and "请求内容过大" in form.text and form.headers["content-type"].startswith("text/html")


class Spy:
    """An inner app that says who answered."""

    def __init__(self):
        self.called = 0

    async def __call__(self, scope, receive, send):
        self.called += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def request(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, Spy, list]:
    """One request through the FrontDoor in front of a Spy; (status, the spy, the handler's requests)."""
    spy, handled, sent = Spy(), [], []

    async def handler(req):
        handled.append(await req.body())
        return Response(status_code=201)

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": headers, "query_string": b""}
    asyncio.run(FrontDoor(spy, {("POST", "/api/bookings"): handler})(scope, receive, send))
    return sent[0]["status"], spy, handled


@pytest.mark.parametrize(("method", "path", "headers", "direct"), [
    ("POST", "/api/bookings", [(b"content-length", b"2")], True),
    ("GET", "/api/bookings", [], False),
    ("POST", "/api/bookings/12345678/cancel", [(b"content-length", b"2")], False),
    ("POST", "/api/bookings/", [(b"content-length", b"2")], False),
])
def test_only_its_own_routes_go_through_the_door(method, path, headers, direct):
    status, spy, handled = request(method, path, headers)
    assert (status, spy.called, handled) == ((201, 0, [b"{}"]) if direct else (204, 1, []))


def test_each_site_keeps_its_own_parts(tmp_path):
    first = create_app(load_hall(), tmp_path / "a", connect=False).state.site
    second = create_app(load_hall(), tmp_path / "b", connect=False).state.site
    made = []

    def make():
        made.append(object())
        return made[-1]

    assert first.part("asker", make) is first.part("asker", make) is made[0]
    assert second.part("asker", make) is made[1] and len(made) == 2


def test_a_site_started_after_another_books_through_its_own_link(tmp_path):
    """The booking part's asker and slot board belong to their site: the next site in the same process (a test, a
    restart) books through its own link, never through the stopped link of the site before."""
    hall = PublicHall(tmp_path)
    try:
        for n in (410, 411):
            with TestClient(hall.app()) as c:
                day, slot = first_slot(c)
                made = c.post("/api/bookings", json=booking_body(date=day, time=slot["time"], id_number=id_number(n)))
                assert made.status_code == 201, made.text
    finally:
        hall.close()
