"""The central console's ASGI app: FastAPI, Jinja2 pages rendered on the server, a JSON twin of each under `/api/`.

    app = create_app(conninfo, users_file)      # PostgreSQL filled by `hall central consume`
    uvicorn.run(app, host="127.0.0.1", port=8900)

Pages: `/` the halls now (pushed every few seconds over Server-Sent Events, `/live/stream`), `/halls/<hall>` one
hall's reports per day or month, `/year` every hall's year side by side and summed, `/rankings` the halls in order
of satisfaction, wait and on-time. Everything needs a login except `/login` and `/static/`. It only reads.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer

from central.console import figures
from central.console.users import Users

HERE = Path(__file__).parent
# the hall exports no OpenTelemetry: FastAPI would otherwise look for a tracer and a meter on every request
NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}
COOKIE = "central_session"
SESSION_MAX_AGE = 12 * 3600
PUBLIC = ("/login", "/static/", "/favicon.ico")

NAV = [("/", "各大厅实况", "Halls now"), ("/year", "年度汇总", "The year"), ("/rankings", "排名", "Rankings")]


def create_app(conninfo: str, users_file: Path, *, tz: str = "Asia/Shanghai", push_s: float = 3.0) -> FastAPI:
    import psycopg

    users = Users(users_file)
    signer = URLSafeTimedSerializer(users.secret(), salt="central-console-session")
    zone = ZoneInfo(tz)
    templates = Jinja2Templates(directory=HERE / "templates")
    app = FastAPI(title="中心控制台 Central console", docs_url=None, redoc_url=None, openapi_url=None,
                  telemetry=NO_TELEMETRY)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def read(fn, *args):
        """One short read-only connection per request, in a thread: PostgreSQL does the figures."""
        def run():
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute("SET default_transaction_read_only = on")
                try:
                    return fn(conn, *args)
                except psycopg.errors.UndefinedTable:  # no consumer has made the tables yet
                    return None
        return asyncio.to_thread(run)

    def session(request: Request) -> dict | None:
        try:
            data = signer.loads(request.cookies.get(COOKIE, ""), max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and data.get("u") in users.names() else None

    @app.middleware("http")
    async def login_required(request: Request, call_next):
        path = request.url.path
        if not path.startswith(PUBLIC):
            who = session(request)
            if who is None:
                if path.startswith("/api/") or path.startswith("/live/"):
                    return JSONResponse({"error": "请先登录 log in first"}, status_code=401)
                return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
            request.state.who = who
        return await call_next(request)

    def page(request: Request, template: str, title: str, **context):
        who = getattr(request.state, "who", None)
        nav = [{"path": p, "zh": zh, "en": en, "current": request.url.path == p} for p, zh, en in NAV]
        return templates.TemplateResponse(request, template, {
            "title": title, "nav": nav, "who": who and who["u"], "csrf": who and who["c"], **context})

    def today():
        return datetime.now(zone).date()

    def year_of(value: int | None) -> figures.Year:
        return figures.Year(value or today().year, tz)

    # ------------------------------------------------------------------------------------------ login

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/"):
        return page(request, "login.html", "登录 Log in", next=next, error=None)

    @app.post("/login")
    async def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/")):
        ok = await asyncio.to_thread(users.check, username, password)
        if not ok:
            response = page(request, "login.html", "登录 Log in", next=next,
                            error="用户名或密码错误 Wrong user name or password")
            response.status_code = 401
            return response
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, signer.dumps({"u": username, "c": secrets.token_urlsafe(16)}),
                            max_age=SESSION_MAX_AGE, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    @app.post("/logout")
    async def logout(request: Request, csrf: str = Form("")):
        if not hmac.compare_digest(csrf, request.state.who["c"]):
            return JSONResponse({"error": "CSRF 令牌不符 CSRF token mismatch"}, status_code=403)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # ------------------------------------------------------------------------------------------ the halls now

    shared = {"at": 0.0, "live": None}
    shared_lock = asyncio.Lock()

    async def live_now():
        """The halls now, read at most once a push period however many pages are open: they share it."""
        async with shared_lock:
            if shared["live"] is None or time.monotonic() - shared["at"] >= push_s * 0.9:
                shared["live"] = (await read(figures.live, today())
                                  or {"day": today().isoformat(), "halls": [], "total": {}})
                shared["at"] = time.monotonic()
            return shared["live"]

    @app.get("/api/live")
    async def api_live():
        return await live_now()

    @app.get("/", response_class=HTMLResponse)
    async def live_page(request: Request):
        return page(request, "live.html", "各大厅实况 Halls now", live=await live_now(), push_s=push_s)

    @app.get("/live/stream")
    async def live_stream(request: Request):
        async def events():
            last = None
            # a person taken out of the users file stops seeing the halls at the next push, not at the cookie's end
            while not await request.is_disconnected() and session(request) is not None:
                now = json.dumps(await live_now(), ensure_ascii=False)
                if now != last:
                    yield f"event: live\ndata: {now}\n\n"
                    last = now
                else:
                    yield ": quiet\n\n"  # keeps proxies from closing an idle stream
                await asyncio.sleep(push_s)
        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # ------------------------------------------------------------------------------------------ reports

    def _by(by: str) -> str:
        return by if by in ("day", "month") else "month"

    @app.get("/api/halls/{hall}")
    async def api_hall(hall: str, year: int | None = None, by: str = "month"):
        return await read(figures.hall_report, hall, year_of(year), _by(by))

    @app.get("/halls/{hall}", response_class=HTMLResponse)
    async def hall_page(request: Request, hall: str, year: int | None = None, by: str = "month"):
        report = await read(figures.hall_report, hall, year_of(year), _by(by))
        return page(request, "hall.html", f"{hall} 报表 Reports", report=report, hall=hall)

    @app.get("/api/year")
    async def api_year(year: int | None = None):
        return await read(figures.annual, year_of(year))

    @app.get("/year", response_class=HTMLResponse)
    async def year_page(request: Request, year: int | None = None):
        return page(request, "year.html", "年度汇总 The year", table=await read(figures.annual, year_of(year)))

    def _rankings(table: dict | None) -> dict:
        rows = table["halls"] if table else []
        return {"year": table["year"] if table else None,
                "rankings": {column: {"zh": zh, "en": en, "higher_is_better": high,
                                      "halls": figures.ranking(rows, column)}
                             for column, (zh, en, high) in figures.RANKINGS.items()}}

    @app.get("/api/rankings")
    async def api_rankings(year: int | None = None):
        return _rankings(await read(figures.annual, year_of(year)))

    @app.get("/rankings", response_class=HTMLResponse)
    async def rankings_page(request: Request, year: int | None = None):
        return page(request, "rankings.html", "排名 Rankings",
                    **_rankings(await read(figures.annual, year_of(year))))

    return app
