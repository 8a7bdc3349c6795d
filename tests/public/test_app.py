"""The site's app: a booking answered ahead of FastAPI's routing (DirectRoutes) is answered exactly as FastAPI
answers it, headers included; what that door does not take goes FastAPI's way; no body over MAX_BODY is read."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from hall.settings import load_hall
from public import booking
from public.app import MAX_BODY, DirectRoutes, SecurityHeaders, create_app
from tests.helpers.appointments import id_number


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site without a broker: a valid booking is answered 503 (the hall is not answering)."""
    app = create_app(load_hall(), tmp_path_factory.mktemp("site"), connect=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_bookings_go_through_the_door_inside_the_security_headers(site):
    outermost_first = site.app.user_middleware
    assert [m.cls for m in outermost_first] == [SecurityHeaders, DirectRoutes]
    assert outermost_first[1].kwargs["routes"] == {("POST", "/api/bookings"): booking.api_book}


def booking_body(**change) -> dict:
    return {"queue": "B", "date": "2026-12-07", "time": "09:00", "name": "欧阳娜娜", "id_number": id_number(1),
            "phone": "13800138000", **change}


def both_ways(client, payload: bytes):
    """The same POST /api/bookings with its length (the direct door) and as a chunked body (FastAPI's routing)."""
    headers = {"content-type": "application/json"}
    direct = client.post("/api/bookings", content=payload, headers=headers)
    routed = client.post("/api/bookings", content=iter([payload]), headers=headers)
    assert "content-length" not in routed.request.headers  # it really went without a length
    return direct, routed


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
def test_the_direct_door_answers_as_fastapi_does(site, payload):
    direct, routed = both_ways(site, payload)
    assert answer(direct) == answer(routed)
    assert direct.status_code in (422, 503)
    assert direct.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in \
        direct.headers["content-security-policy"]


def test_a_failing_booking_is_the_same_500_both_ways(site, monkeypatch):
    async def broken(request, data):
        raise RuntimeError("a bug")

    monkeypatch.setattr(booking, "book", broken)
    direct, routed = both_ways(site, json.dumps(booking_body()).encode())
    assert direct.status_code == routed.status_code == 500


def test_no_body_over_the_limit_is_read(site):
    big = json.dumps(booking_body(name="张" * MAX_BODY), ensure_ascii=False).encode()
    assert site.post("/api/bookings", content=big, headers={"content-type": "application/json"}).status_code == 413
    form = site.post("/book", data={"queue": "B", "name": "张" * MAX_BODY})
    assert form.status_code == 413


class Spy:
    """An inner app that says who answered."""

    def __init__(self):
        self.called = 0

    async def __call__(self, scope, receive, send):
        self.called += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def request(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, Spy, list]:
    """One request through DirectRoutes in front of a Spy; (status, the spy, the handler's requests)."""
    spy, handled, sent = Spy(), [], []

    async def handler(req):
        from starlette.responses import Response

        handled.append(await req.body())
        return Response(status_code=201)

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": headers, "query_string": b""}
    asyncio.run(DirectRoutes(spy, {("POST", "/api/bookings"): handler})(scope, receive, send))
    return sent[0]["status"], spy, handled


@pytest.mark.parametrize(("method", "path", "headers", "direct"), [
    ("POST", "/api/bookings", [(b"content-length", b"2")], True),
    ("POST", "/api/bookings", [], False),                                    # chunked: no length
    ("POST", "/api/bookings", [(b"content-length", b"x2")], False),          # a length that does not read
    ("POST", "/api/bookings", [(b"content-length", str(MAX_BODY + 1).encode())], False),
    ("GET", "/api/bookings", [(b"content-length", b"2")], False),
    ("POST", "/api/bookings/12345678/cancel", [(b"content-length", b"2")], False),
    ("POST", "/api/bookings/", [(b"content-length", b"2")], False),
])
def test_only_its_own_routes_go_through_the_door(method, path, headers, direct):
    status, spy, handled = request(method, path, headers)
    assert (status, spy.called, handled) == ((201, 0, [b"{}"]) if direct else (204, 1, []))
