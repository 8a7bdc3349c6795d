"""登录 Log in and out: `POST /login` takes `username` and `password` and sets the session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from web import users
from web.app import console, render
from web.auth import LOGIN_COOKIE, LOGIN_MAX_AGE, SESSION_COOKIE, SESSION_MAX_AGE, csrf_matches

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # only a path on this console: never another site (//evil.example, https://…)
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _form(request: Request, *, error: str = "", status_code: int = 200, name: str = "", next_: str = "/"):
    c = console(request)
    cookie, token = c.sessions.login_token()
    response = render(request, "login.html", {"title": "登录 Log in", "error": error, "username": name,
                                              "login_token": token, "next": _safe_next(next_)},
                      status_code=status_code)
    response.set_cookie(LOGIN_COOKIE, cookie, max_age=LOGIN_MAX_AGE, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/login")
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return _form(request, next_=next)


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), csrf: str = Form(""),
          next: str = Form("/")):
    c = console(request)
    if not c.sessions.login_token_matches(request.cookies.get(LOGIN_COOKIE), csrf):
        return _form(request, error="表单已过期，请再试一次 the form expired: please try again", status_code=403,
                     name=username, next_=next)
    addr = request.client.host if request.client else "unknown"
    keys = (f"addr:{addr}", f"user:{username.lower()}")
    wait = c.throttle.locked(*keys)
    if wait:
        minutes = max(1, round(wait / 60))
        return _form(request, error=f"尝试次数过多，请 {minutes} 分钟后再试 too many failed logins: try again in "
                                    f"{minutes} min", status_code=429, name=username, next_=next)
    db = c.db()
    try:
        user = users.verify(db, username, password)
        if user is None:
            c.throttle.failed(*keys)
            with db:
                users.audit(db, username[:64] or "?", "login_failed", addr)
            return _form(request, error="用户名或密码错误 wrong user name or password", status_code=401,
                         name=username, next_=next)
        c.throttle.succeeded(*keys)
        with db:
            users.audit(db, user.name, "login", addr)
    finally:
        db.close()
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, c.sessions.issue(user.name, user.epoch), max_age=SESSION_MAX_AGE,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")):
    c = console(request)
    if not csrf_matches(c.sessions.read(request.cookies.get(SESSION_COOKIE)), csrf):
        return render(request, "error.html", {"title": "表单已过期 Form expired",
                                              "message": "请刷新页面再试 reload the page and try again"}, 403)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
