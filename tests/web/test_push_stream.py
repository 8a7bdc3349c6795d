"""The push stream's cost with many pages open: a change's text is made once for every stream that sends it as it
is, what is queued goes out in one write, and the login middleware lets a stream's chunks straight through. A
stream ends when its person is removed."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.helpers.rig import wait_for
from tests.helpers.web import login, served
from web.roles import Person
from web.views.live import _Rendered, _visible_change

SUPERVISOR = Person("inspector", "supervisor")
HEAD = Person("scjg-head", "department", "scjg")


def test_a_change_nothing_is_hidden_from_is_the_shared_item():
    call = {"ticket": "A001", "window": "2", "department": "scjg"}
    calls = {"calls": [call, {"ticket": "B001", "window": "9", "department": "gaj"}]}
    assert _visible_change(SUPERVISOR, "calls", calls) is calls
    assert _visible_change(SUPERVISOR, "call", call) is call
    narrowed = _visible_change(HEAD, "calls", calls)
    assert narrowed is not calls and narrowed == {"calls": [call]}
    assert _visible_change(HEAD, "call", calls["calls"][1]) is None
    alerts = {"alerts": [{"id": "x", "department": "scjg"}]}
    assert _visible_change(HEAD, "alerts", alerts) is alerts  # all of it is theirs: shared as it is


def test_the_text_of_a_change_is_made_once_and_forgotten_when_old():
    rendered = _Rendered()
    item = {"id": "2", "status": "serving"}
    first = rendered("window", item)
    assert first == 'event: window\ndata: {"id":"2","status":"serving"}\n\n'
    assert rendered("window", item) is first  # the second stream gets the same string, not a new json.dumps
    assert rendered("window", {"id": "2", "status": "idle"}) != first  # a new change, its own text
    for i in range(_Rendered.KEPT):
        rendered("queue", {"id": str(i)})
    assert len(rendered._texts) == _Rendered.KEPT
    assert ("window", id(item)) not in rendered._texts


def read_chunk(sock: socket.socket, buffer: bytearray) -> bytes:
    """One chunk of a chunked HTTP body (the answer's head already read off `buffer`)."""
    while b"\r\n" not in buffer:
        buffer += sock.recv(65536)
    size_line, _, rest = bytes(buffer).partition(b"\r\n")
    size = int(size_line, 16)
    while len(rest) < size + 2:
        more = sock.recv(65536)
        assert more, "the stream closed"
        rest += more
    buffer[:] = rest[size + 2:]
    return rest[:size]


@pytest.fixture(scope="module")
def app_and_url(console_hall):
    app = console_hall.app()
    with served(app) as url:
        yield app, url


def test_changes_queued_together_go_out_in_one_write(app_and_url):
    app, url = app_and_url
    with httpx.Client(base_url=url, timeout=10) as c:
        assert login(c, "inspector").status_code == 303
        cookie = c.cookies["hall_session"]
        assert c.get("/api/live").headers["cache-control"] == "no-store"  # the middleware's header is kept
    port = int(url.rsplit(":", 1)[1])
    fanout = app.state.console.feed.fanout
    before = fanout.streams
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: hall_session={cookie}\r\n\r\n".encode())
        buffer = bytearray()
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        head, _, body = bytes(buffer).partition(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n")[0] and b"transfer-encoding: chunked" in head.lower()
        assert b"cache-control: no-store" in head.lower()
        buffer[:] = body
        assert read_chunk(sock, buffer).startswith(b"retry:")
        assert read_chunk(sock, buffer).startswith(b"event: snapshot\n")
        wait_for(lambda: fanout.streams > before, 5, "the stream following the fan-out")
        # a burst, as a call makes it (the window, its queue, the call): handed over at once
        fanout.publish([("hub", {"state": "online", "cause": None}), ("link", {"connected": True}),
                        ("link", {"connected": True})])
        chunk = read_chunk(sock, buffer)
        while chunk.startswith(b":"):  # a keep-alive in between
            chunk = read_chunk(sock, buffer)
        assert b"event: hub\n" in chunk and chunk.count(b"event: link\n") == 2, chunk


def open_stream(url: str, cookie: str) -> tuple[socket.socket, bytearray]:
    """GET /api/events on a raw socket, its head read; (the socket, what was read past the head)."""
    sock = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10)
    sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: hall_session={cookie}\r\n\r\n".encode())
    buffer = bytearray()
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, _, body = bytes(buffer).partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0]
    buffer[:] = body
    return sock, buffer


def test_a_stream_ends_when_its_person_is_removed(app_and_url, console_hall, monkeypatch):
    from web import users
    from web.views import live

    app, url = app_and_url
    db = users.open_db(console_hall.data_dir)
    users.add_user(db, "leaver", "supervisor", None, "leaver-pass-2026")
    db.close()
    with httpx.Client(base_url=url, timeout=10) as c:
        assert login(c, "leaver", "leaver-pass-2026").status_code == 303
        cookie = c.cookies["hall_session"]
    monkeypatch.setattr(live, "KEEP_ALIVE_S", 0.2)
    monkeypatch.setattr(live, "SIGNED_IN_EVERY_S", 0.0)  # asked at every keep-alive
    sock, buffer = open_stream(url, cookie)
    with sock:
        chunks = [read_chunk(sock, buffer) for _ in range(5)]
        assert chunks[0].startswith(b"retry:") and chunks[-1] == b": keep-alive\n\n"  # still signed in: it goes on
        db = users.open_db(console_hall.data_dir)
        users.remove_user(db, "leaver")
        db.close()
        for _ in range(50):  # 10 s of keep-alives at most
            chunk = read_chunk(sock, buffer)
            if chunk == b"":  # the answer's last chunk: the stream has ended
                break
            assert chunk == b": keep-alive\n\n"
        else:
            pytest.fail("the stream went on after its person was removed")
    with httpx.Client(base_url=url, timeout=10, cookies={"hall_session": cookie}) as c:
        assert c.get("/api/live").status_code == 401  # what the page asks when its stream ends
