"""Helpers for the citizens' site's tests: a real hall (Mosquitto, the hub) with its `[public]` settings as a test
wants them, a ticket's token, and a real HTTP receiver standing for an SMS gateway."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers.queueing import all_day_hall
from tests.helpers.rig import HallRig, wait_for
from tests.helpers.web import ConsoleHall


def public_config(dest: Path, notify: dict | None = None, **public) -> Path:
    """The shipped hall issuing all day, with `[public]` keys replaced (`near_turn=1`…) and a `[public.notify]`."""
    path = all_day_hall(dest)
    text = path.read_text(encoding="utf-8")
    for key, value in public.items():
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {json.dumps(value)}", text)
        assert n == 1, key
    if notify:
        text += "\n[public.notify]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in notify.items())
    path.write_text(text, encoding="utf-8")
    return path


class PublicHall(ConsoleHall):
    """A hall rig with the hub running, for the citizens' site (the console's devices and helpers, without its
    people)."""

    def __init__(self, tmp: Path, notify: dict | None = None, **public):
        self.rig = HallRig(tmp / "hall", config=public_config(tmp / "config", notify, **public)).start_broker()
        self.hub = self.rig.start_hub()
        self.hall = self.rig.hall
        self.data_dir = self.rig.data_dir

    def app(self, **kw):
        from public.app import create_app

        return create_app(self.hall, self.data_dir, port=self.rig.port, **kw)

    def issue(self, queue: str = "A", **more) -> dict:
        answer = self.link("kiosk-01").request("ticket_request", {"queue": queue, **more})
        assert answer and answer["ok"], answer
        return answer["ticket"]

    def serve(self, window: str, *, done: bool = True) -> dict:
        """The window calls its next ticket (and completes it): the called ticket."""
        pc = self.window_pc(window)
        called = pc.request("call_next", {"window": window})
        assert called["ok"] and called["ticket"], called
        if done:
            assert pc.request("complete", {"window": window})["ok"]
        return called["ticket"]


@pytest.fixture(scope="module")
def public_hall(tmp_path_factory):
    hall = PublicHall(tmp_path_factory.mktemp("public"))
    yield hall
    hall.close()


class Receiver:
    """A real HTTP server on a free port that takes JSON POSTs, as an SMS gateway or a WeChat Work robot would.
    The first `fail_first` requests are answered 500; every request is kept in `got` (path, headers, body)."""

    def __init__(self, fail_first: int = 0, answer: dict | None = None):
        self.got: list[tuple[str, dict, dict]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.got.append((self.path, dict(self.headers), json.loads(body or b"{}")))
                failing = len(receiver.got) <= receiver.fail_first
                payload = json.dumps({"error": "busy"} if failing else (answer or {"ok": True})).encode()
                self.send_response(500 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self._thread = threading.Thread(target=self.server.serve_forever, name="sms-receiver", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sms_receiver():
    made: list[Receiver] = []

    def make(**kw) -> Receiver:
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


def first_slot(c, queue: str = "B") -> tuple[str, dict]:
    """The first date and slot with places left (any hour: today's slots that have not begun, then the next
    working days)."""
    dates = wait_for(lambda: (r := c.get(f"/api/slots?queue={queue}")).status_code == 200 and r.json()["dates"], 10,
                     "the places left")
    return dates[0]["date"], next(s for s in dates[0]["slots"] if s["left"])


def page_of(c, ticket: dict, until=lambda page: True) -> dict:
    """The ticket's JSON page once the site finds the ticket and `until(page)` holds. The hub writes the ticket's
    row a few milliseconds after its answer (longer while it closes a day at midnight): 404 until then."""
    def page():
        r = c.get(f"/api/t/{ticket['follow']}")
        return r.json() if r.status_code == 200 and until(r.json()) else None

    return wait_for(page, 10, f"the page of {ticket['no']}")
