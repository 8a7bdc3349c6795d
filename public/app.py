"""The citizens' site: FastAPI on uvicorn, Jinja2 pages for phones, a JSON twin of every page under `/api/`.

    app = create_app(hall, data_dir)            # connects to the hall's broker as the `web` device
    uvicorn.run(app, host="0.0.0.0", port=8900, proxy_headers=True)

It faces the hall's public Wi-Fi or the internet, apart from the managers' console, which stays on the office LAN:
no route needs a login, pages show nothing personal beyond masked forms (张*, ****1234), every lookup is limited
per address (`[public] lookups_per_minute`), and nothing is sent to the hub that a device could not send: the
site has its own login (kind `web`) and the hub checks its events like any other's. Its assets are served from
here, never from another site, so a page loads on a hall Wi-Fi with no way out.

Each part of the site is one router module in `ROUTER_MODULES`; a module not installed is left out. A module's
busiest JSON routes (its `DIRECT`: booking, when the morning's slots open) are also answered ahead of FastAPI's
routing by the same handler (`FrontDoor`, which also refuses bodies over MAX_BODY or without their length).
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from hall.clock import now as clock_now
from public.feed import PublicFeed
from public.journal import TicketBook
from public.limits import RateLimits
from public.notify import Notifier

log = logging.getLogger("public")
T = TypeVar("T")

HERE = Path(__file__).parent
# the hall exports no OpenTelemetry: FastAPI would otherwise look for a tracer and a meter on every request
NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}
# the parts of the site: follow your ticket (/t/<token>), appointments (/book…)
# booking first: a booking's answer is the site's busiest moment, and FastAPI matches routes in order
ROUTER_MODULES = ["public.booking", "public.ticket"]

# a request's body at most: the site's forms and JSON are a few hundred bytes; anything larger is refused (413)
MAX_BODY = 64 * 1024

# what a page may load: its own scripts, styles and images, nothing from elsewhere; no page may frame it
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    # the ticket's token is in its address: no other site may learn it from a link followed out of the page
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# ... as the raw (lower-case name, value) pairs of an ASGI answer; pages and API answers are about one citizen's
# ticket or booking: never cached
STATIC_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]
PAGE_HEADERS = STATIC_HEADERS + [(b"cache-control", b"no-store")]


@dataclass
class PublicSite:
    """What every view needs, kept on `app.state.site`."""

    hall: object
    data_dir: Path
    feed: PublicFeed | None
    book: TicketBook
    limits: RateLimits
    templates: Jinja2Templates
    notifier: Notifier | None
    clock: object
    _parts: dict = field(default_factory=dict, repr=False)
    _parts_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def today(self) -> str:
        return self.clock().date().isoformat()

    def part(self, name: str, make: Callable[[], T]) -> T:
        """What a part of the site keeps while the site runs (booking: its asker, its slot board), made on first
        use. Kept here, not in a module: a site started after another (tests, a restart in one process) has its own,
        never one left over by the site before, bound to a link that has stopped."""
        with self._parts_lock:
            made = self._parts.get(name)
            if made is None:
                made = self._parts[name] = make()
            return made


def site(request: Request) -> PublicSite:
    return request.app.state.site


def client_address(request: Request) -> str:
    """The citizen's address (uvicorn puts the proxy's X-Forwarded-For here when told to trust the proxy)."""
    return request.client.host if request.client else "unknown"


def limited(request: Request, bucket: str) -> JSONResponse | HTMLResponse | None:
    """Count this request against the address's budget for `bucket`; the 429 answer when it is spent."""
    wait = site(request).limits.take(bucket, client_address(request))
    if wait is None:
        return None
    return refusal(request, 429, "请稍后再试 Try again later",
                   f"请求过于频繁，请 {int(wait)} 秒后再试 Too many requests, try again in {int(wait)} s",
                   headers={"Retry-After": str(int(wait))})


def refusal(request: Request, status: int, title: str, message: str,
            headers: dict | None = None) -> JSONResponse | HTMLResponse:
    """A request the site will not serve: JSON under /api/, the error page elsewhere."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    return render(request, "error.html", {"title": title, "message": message}, status_code=status,
                  headers=headers)


def render(request: Request, template: str, context: dict, status_code: int = 200,
           headers: dict | None = None) -> HTMLResponse:
    s = site(request)
    base = {"request": request, "hall": s.hall, "hall_name": s.hall.info.name, "hall_name_en": s.hall.info.name_en,
            "booking": "public.booking" in request.app.state.routers}
    return s.templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code,
                                        headers=headers)


class SecurityHeaders:
    """Plain ASGI middleware (a streaming push must not be copied through a task of its own): the headers above on
    every answer, and no caching of pages and API answers, which are about one citizen's ticket."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = STATIC_HEADERS if scope["path"].startswith("/static/") else PAGE_HEADERS

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                # the raw header list, as the server takes it: a response's own value of a header stays
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in added if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


Handler = Callable[[Request], Awaitable[Response]]


class FrontDoor:
    """Plain ASGI middleware in front of the site's routes.

    A request body over MAX_BODY (413) or without its length (411: a chunked body, which no page or phone sends)
    is refused before anything reads it.

    A request for one of `routes` ((method, exact path) → handler) goes straight to its handler as a Starlette
    request, past FastAPI's routing and dependency solving. Those cost a booking ~70 µs of the site's CPU
    (measured: ~350 → ~280 µs a booking), more than the booking's own work on the loop, and 200 citizens booking
    at once wait for every one of them. The handler is the one FastAPI routes and documents, and it answers the
    same either way (tests/public/test_app.py).

    Inside SecurityHeaders and Starlette's error middleware, so its answers carry the same headers, and a
    handler's failure is the same 500."""

    def __init__(self, app, routes: dict[tuple[str, str], Handler]):
        self.app = app
        self.routes = routes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = _body_refused(scope)
        if refused is not None:
            status, message = refused
            await refusal(Request(scope, receive), status, "请求有误 Bad request", message)(scope, receive, send)
            return
        handler = self.routes.get((scope["method"], scope["path"]))
        if handler is not None:
            response = await handler(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _body_refused(scope) -> tuple[int, str] | None:
    """(status, why) for a body the site will not read: one sent without its length, or longer than MAX_BODY."""
    length = 0
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return 411, "请求须注明长度 The request must give its length (Content-Length)"
        if name == b"content-length" and value.isdigit():
            length = int(value)
    if length > MAX_BODY:
        return 413, f"请求内容过大 The request is too large (over {MAX_BODY // 1024} KiB)"
    return None


def create_app(hall, data_dir: Path | str, *, connect: bool = True, host: str | None = None,
               port: int | None = None, password: str | None = None, clock=None) -> FastAPI:
    """The citizens' site for `hall`, reading the hub's journal in `data_dir`, its own records in
    `<data_dir>/public.db`. With `connect`, its device link follows the hub over MQTT while the app runs, and the
    near-turn notices go out (when `[public.notify]` names a webhook)."""
    data_dir = Path(data_dir)
    clock = clock or (lambda: clock_now(hall.tz))
    notifier = Notifier(hall, data_dir, clock=clock) if connect else None
    feed = PublicFeed(hall, data_dir, host=host, port=port, password=password, clock=clock,
                      notifier=notifier) if connect else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import asyncio

        if notifier is not None:
            notifier.start()
        if feed is not None:
            feed.streams.bind(asyncio.get_running_loop())
            feed.start()
        # what start-up made (modules, schemas, templates: ~75,000 objects) lives as long as the site: out of the
        # collector's sight, a full collection no longer walks it (it paused a burst of bookings ~30 ms)
        gc.freeze()
        try:
            yield
        finally:
            if feed is not None:
                feed.stop()
            if notifier is not None:
                notifier.stop()

    app = FastAPI(title="hallkit 公众服务 citizens' site", version="1", telemetry=NO_TELEMETRY,
                  description="The JSON twin of every page of the citizens' site. No route needs a login; lookups "
                              "are limited per address (429 with Retry-After).",
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None, lifespan=lifespan)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["tojson_compact"] = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    templates.env.filters["minutes"] = lambda s: None if s is None else max(1, round(s / 60)) if s else 0
    templates.env.filters["clock"] = _clock
    per_minute = hall.public.lookups_per_minute
    app.state.site = PublicSite(hall=hall, data_dir=data_dir, feed=feed, book=TicketBook(data_dir),
                                limits=RateLimits({"lookup": per_minute, "rating": per_minute,
                                                   "booking": per_minute}),
                                templates=templates, notifier=notifier, clock=clock)
    app.state.routers = set()
    direct: dict[tuple[str, str], Handler] = {}
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request):
        return render(request, "home.html", {"title": "公众服务 Citizens' services"})

    for name in ROUTER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:  # a real import error inside the part must not be hidden
                raise
            continue
        app.include_router(module.router)
        direct.update(getattr(module, "DIRECT", {}))
        app.state.routers.add(name)
    app.add_middleware(FrontDoor, routes=direct)
    app.add_middleware(SecurityHeaders)  # added last: outside FrontDoor, so it heads every answer
    return app


def _clock(value: str | None) -> str:
    """An ISO time as the hall's clock shows it: 10:42."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%H:%M")
    except ValueError:
        return value
