"""Helpers for the console's tests: a real hall (Mosquitto, the hub) with the console's people in it, logging in
through the real form, the app served by uvicorn in a thread, and a real headless Chromium."""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.queueing import all_day_hall
from tests.helpers.rig import HallRig, wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# the console's people in every test hall: name → (role, department, password)
PEOPLE = {
    "root": ("admin", None, "root-password-1"),
    "inspector": ("supervisor", None, "inspector-password"),
    "scjg-head": ("department", "scjg", "scjg-head-password"),
    "reader": ("viewer", None, "reader-password-1"),
}
CSRF_RE = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client, name: str, password: str | None = None, *, next_: str = "/"):
    """Log in through the form as a browser does: fetch it (its token and cookie), post it. Returns the answer."""
    password = PEOPLE[name][2] if password is None else password
    form = client.get("/login")
    return client.post("/login", data={"username": name, "password": password, "csrf": csrf_of(form.text),
                                       "next": next_}, follow_redirects=False)


class ConsoleHall:
    """A hall rig with the hub running and the console's people added to its data folder."""

    def __init__(self, tmp: Path):
        from web import users

        self.rig = HallRig(tmp / "hall", config=all_day_hall(tmp / "config")).start_broker()
        self.hub = self.rig.start_hub()
        self.hall = self.rig.hall
        self.data_dir = self.rig.data_dir
        db = users.open_db(self.data_dir)
        for name, (role, dept, password) in PEOPLE.items():
            users.add_user(db, name, role, dept, password)
        db.close()

    def app(self):
        from web.app import create_app

        return create_app(self.hall, self.data_dir, port=self.rig.port)

    def link(self, device: str):
        """The device's link, one per device for the hall's life (a second login with the same id would replace
        the first)."""
        links = self.__dict__.setdefault("_links", {})
        if device not in links:
            links[device] = self.rig.link(device)
            assert links[device].wait_connected(10)
        return links[device]

    def window_pc(self, window: str, staff: str | None = None):
        """The window PC of `window`, logged in (with `staff`, else the staff assigned to the window)."""
        link = self.link(f"win-{int(window):02d}")
        staff = staff or next(s.id for s in self.hall.staff if s.window == window)
        assert link.request("login", {"window": window, "staff": staff})["ok"]
        return link

    def serve_and_rate(self, window: str, score: int) -> None:
        """A citizen served at `window` scores it on the window's rating pad (its caller bus master)."""
        pc = self.window_pc(window)
        queue = next(w.queues[0] for w in self.hall.catalogue.windows if w.id == window)
        self.issue(queue)
        called = pc.request("call_next", {"window": window})
        assert called["ok"] and called["ticket"], called
        assert pc.request("complete", {"window": window})["ok"]
        pad = next(d.id for d in self.hall.devices_of("caller") if window in d.windows)
        rated = self.link(pad).request("rating", {"window": window, "score": score})
        assert rated and rated.get("ok", True), rated

    def issue(self, queue: str = "A") -> dict:
        answer = self.link("kiosk-01").request("ticket_request", {"queue": queue})
        assert answer and answer["ok"], answer
        return answer["ticket"]

    def close(self) -> None:
        self.rig.close()


@pytest.fixture(scope="module")
def console_hall(tmp_path_factory):
    hall = ConsoleHall(tmp_path_factory.mktemp("console"))
    yield hall
    hall.close()


@contextmanager
def served(app):
    """The app on uvicorn in a thread on a free port; yields its base URL."""
    import uvicorn

    from hub.broker import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, 10, "uvicorn started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def chromium():
    """A real headless Chromium (Debian's), through Playwright."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (./hallkit does) for the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def browser_login(page, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PEOPLE[name][2])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


SCREEN_SIZES = {"1920x1080": (1920, 1080), "390x844": (390, 844)}


def screenshot_live(browser, base_url: str, name: str, out: Path, prefix: str = "console-live") -> list[Path]:
    """The live page as `name` sees it, at an office screen's size and a phone's; returns the PNGs."""
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for label, (w, h) in SCREEN_SIZES.items():
        context = browser.new_context(viewport={"width": w, "height": h}, device_scale_factor=1, locale="zh-CN")
        page = context.new_page()
        browser_login(page, base_url, name)
        page.wait_for_function("document.body.dataset.push === 'connected'", timeout=10_000)
        time.sleep(0.3)
        path = out / f"{prefix}-{label}.png"
        page.screenshot(path=str(path), full_page=False)
        made.append(path)
        context.close()
    return made


class EventStream:
    """A push stream (the console's `/api/events` unless `path` names another) read by a thread, as a browser's
    EventSource would: (event, data) pairs in `events`, once the first event of kind `first` has come."""

    def __init__(self, client, path: str = "/api/events", first: str = "snapshot"):
        import json

        self.events: list[tuple[str, dict]] = []
        self._json = json
        self._client = client
        self._path = path
        self._response = None
        self._thread = threading.Thread(target=self._read, name="sse-reader", daemon=True)
        self._thread.start()
        wait_for(lambda: any(kind == first for kind, _ in self.events), 10, "the stream's first event")

    def _read(self) -> None:
        kind = "message"
        try:
            with self._client.stream("GET", self._path, timeout=None) as response:
                self._response = response
                assert response.status_code == 200, response.status_code
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        self.events.append((kind, self._json.loads(line[6:])))
                        kind = "message"
        except Exception:  # closed by the test
            pass

    def wait(self, predicate, timeout: float = 5.0, message: str = "an event"):
        return wait_for(lambda: next((d for k, d in list(self.events) if predicate(k, d)), None), timeout, message)

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
