"""The console's ASGI app: FastAPI on uvicorn, Jinja2 pages, a JSON twin of every page under `/api/`.

    app = create_app(hall, data_dir)            # connects to the hall's broker as the console device
    uvicorn.run(app, host="127.0.0.1", port=8800)

Everything needs a session except the login page, the static files and the API's description: the `LoginRequired`
middleware answers 401 to `/api/…` and sends pages to `/login` (303). Each page is one router module in
`web/views/` (listed in `web.views.VIEW_MODULES`); the navigation lists every page of the console and links those
whose module is installed.
"""

from __future__ import annotations

import importlib
import json
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders

from web import users
from web.auth import SESSION_COOKIE, LoginThrottle, Session, Sessions
from web.hub_feed import HubFeed
from web.journal import Journal
from web.roles import Person
from web.views import VIEW_MODULES

log = logging.getLogger("web")

HERE = Path(__file__).parent
# the hall exports no OpenTelemetry: FastAPI would otherwise look for a tracer and a meter on every request
NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}
PUBLIC_PATHS = frozenset({"/login", "/api/openapi.json", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)

# every page of the console, in the navigation's order: (path, 中文, English); a page is linked once its view exists
NAV = [
    ("/", "大厅实况", "Live hall"),
    ("/alerts", "告警", "Alerts"),
    ("/today", "今日", "Today"),
    ("/history", "历史", "History"),
    ("/attendance", "考勤", "Attendance"),
    ("/devices", "设备", "Devices"),
    ("/reports", "报表", "Reports"),
    ("/cases", "办件", "Cases"),
    ("/year", "年度", "Year"),
    ("/users", "用户", "Users"),
]


@dataclass
class Console:
    """What every view needs, kept on `app.state.console`."""

    hall: object
    data_dir: Path
    feed: HubFeed | None
    journal: Journal
    sessions: Sessions
    throttle: LoginThrottle
    templates: Jinja2Templates
    page_paths: frozenset[str] = frozenset()

    def db(self):
        return users.connect(self.data_dir)


def console(request: Request) -> Console:
    return request.app.state.console


def person(request: Request) -> Person:
    """The signed-in user (the middleware let the request through only with one)."""
    return request.state.person


def all_routes(app: FastAPI) -> list:
    """Every route of the app, those of included routers too (newer FastAPI keeps an included router whole)."""
    def flat(routes):
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                yield from flat(inner.routes)
            else:
                yield route
    return list(flat(app.routes))


def render(request: Request, template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    c = console(request)
    who: Person | None = getattr(request.state, "person", None)
    routes = c.page_paths
    nav = [{"path": p, "zh": zh, "en": en, "ready": p in routes, "current": request.url.path == p}
           for p, zh, en in NAV if p != "/users" or (who and who.may("manage_users"))]
    base = {"request": request, "person": who, "nav": nav, "hall": c.hall,
            "csrf": getattr(request.state, "csrf", ""), "hall_name": c.hall.info.name,
            "hall_name_en": c.hall.info.name_en}
    return c.templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code)


def forbidden(request: Request, why: str) -> HTMLResponse | JSONResponse:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": why}, status_code=403)
    return render(request, "error.html", {"title": "无权限 Forbidden", "message": why}, status_code=403)


def signed_in(request: Request) -> tuple[users.User, Session] | None:
    """The request's user and session while the session holds: signed, not expired, its user still there with the
    same epoch (a removal or a password reset ends it)."""
    c: Console = request.app.state.console
    session = c.sessions.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    db = c.db()
    try:
        user = users.get_user(db, session.name)
    finally:
        db.close()
    return None if user is None or user.epoch != session.epoch else (user, session)


class LoginRequired:
    """Middleware: a valid session or nothing. Looks the user up on every request, so a removed user or a reset
    password ends the sessions at once.

    Plain ASGI rather than Starlette's `BaseHTTPMiddleware` (`app.middleware("http")`), which passes every chunk of a
    streaming answer through a memory stream and a task of its own: with 50 live pages open on a busy hall, that
    hand-over was a good part of the console's CPU (bench/console.py)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        signed = signed_in(request)
        if signed is None:
            if path.startswith("/api/"):
                refused = JSONResponse({"detail": "需要登录 login required"}, status_code=401,
                                       headers={"WWW-Authenticate": 'Cookie realm="hall console"'})
            else:
                target = "/login" + (f"?next={quote(path)}" if path != "/" and request.method == "GET" else "")
                refused = RedirectResponse(target, status_code=303)
            await refused(scope, receive, send)
            return
        user, session = signed
        request.state.person = Person(user.name, user.role, user.department)
        request.state.csrf = session.csrf

        async def send_no_store(message):
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_no_store)


def create_app(hall, data_dir: Path | str, *, connect: bool = True, host: str | None = None,
               port: int | None = None, password: str | None = None) -> FastAPI:
    """The console for `hall`, its people in `<data_dir>/console.db`, the hub's journal read from `data_dir`.
    With `connect`, the console's device link follows the hub over MQTT while the app runs."""
    data_dir = Path(data_dir)
    db = users.open_db(data_dir)
    try:
        secret = users.session_secret(db)
    finally:
        db.close()
    feed = HubFeed(hall, data_dir, host=host, port=port, password=password) if connect else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import asyncio

        if feed is not None:
            feed.fanout.bind(asyncio.get_running_loop())
            feed.start()
        try:
            yield
        finally:
            if feed is not None:
                feed.stop()

    app = FastAPI(title="hallkit 管理控制台 managers' console", version="1", telemetry=NO_TELEMETRY,
                  description="The JSON twin of every console page. Every route needs the session cookie that "
                              "`POST /login` sets; without it the answer is 401.",
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None, lifespan=lifespan)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["tojson_compact"] = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    app.state.console = Console(hall=hall, data_dir=data_dir, feed=feed, journal=Journal(data_dir), sessions=Sessions(secret),
                                throttle=LoginThrottle(clock=time.monotonic), templates=templates)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for name in VIEW_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:  # a real import error inside the page must not be hidden
                raise
            log.warning("console page %s is not installed", name)
            continue
        app.include_router(module.router)
    app.add_middleware(LoginRequired)
    app.state.console.page_paths = frozenset(getattr(r, "path", None) for r in all_routes(app))
    return app
