"""Logging in, sessions, CSRF and the login throttle, against the real app with a real hall behind it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from tests.helpers.web import PEOPLE, csrf_of, login
from web import users
from web.app import all_routes
from web.auth import LoginThrottle


@pytest.fixture(scope="module")
def app(console_hall):
    app = console_hall.app()
    with TestClient(app):  # runs the app's lifespan: its link to the hub, once for the module
        yield app


def client(app, name: str | None = None) -> TestClient:
    c = TestClient(app)
    if name:
        assert login(c, name).status_code == 303
    return c


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def every_route(app) -> list[tuple[str, str]]:
    out = []
    for route in all_routes(app):
        if isinstance(route, Mount):
            out.append(("GET", route.path + "/console.css"))
            continue
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method != "HEAD":
                out.append((method, concrete(route.path)))
    return out


PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/api/openapi.json"), ("GET", "/static/console.css")}


def test_every_route_needs_a_session_pages_redirect_and_the_api_answers_401(app):
    anonymous = client(app)
    routes = every_route(app)
    assert len(routes) >= 12 and ("GET", "/api/live") in routes and ("GET", "/api/events") in routes
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        answer = anonymous.request(method, path, follow_redirects=False)
        if path.startswith("/api/"):
            assert answer.status_code == 401, (method, path, answer.status_code)
            assert answer.json() == {"detail": "需要登录 login required"}
        else:
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login")
    # a forged or foreign cookie is no session
    anonymous.cookies.set("hall_session", "eyJ1Ijoicm9vdCIsImUiOjB9.forged.sig")
    assert anonymous.get("/api/live").status_code == 401


def test_log_in_land_on_the_live_hall_and_log_out(app):
    c = TestClient(app)
    answer = login(c, "inspector")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Secure" not in cookie
    page = c.get("/")
    assert page.status_code == 200 and "大厅实况" in page.text and "inspector" in page.text
    assert c.get("/api/live").status_code == 200
    assert c.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
    assert c.get("/api/live").status_code == 401


def test_a_wrong_password_or_name_is_refused_alike(app):
    c = TestClient(app)
    wrong = login(c, "reader", "not-the-password")
    nobody = login(c, "nobody", "not-the-password")
    assert wrong.status_code == nobody.status_code == 401
    assert "用户名或密码错误" in wrong.text and "wrong user name or password" in nobody.text
    assert c.get("/api/live").status_code == 401


def test_a_login_form_without_its_token_is_refused(app):
    c = TestClient(app)
    c.get("/login")
    answer = c.post("/login", data={"username": "root", "password": PEOPLE["root"][2]}, follow_redirects=False)
    assert answer.status_code == 403 and "表单已过期" in answer.text
    assert c.get("/api/live").status_code == 401


@pytest.mark.parametrize("path, data", [
    ("/alerts/ack", {"alert": "x", "note": "n"}),
    ("/users/add", {"name": "mallory", "role": "admin", "password": "long-enough-1"}),
    ("/users/remove", {"name": "reader"}),
    ("/users/reset", {"name": "reader", "password": "long-enough-1"}),
    ("/logout", {}),
])
def test_a_form_without_the_sessions_csrf_token_is_refused(app, console_hall, path, data):
    c = client(app, "root")
    for token in (None, "wrong-token"):
        answer = c.post(path, data={**data, **({"csrf": token} if token else {})}, follow_redirects=False)
        assert answer.status_code == 403, (path, token)
    db = users.open_db(console_hall.data_dir)
    assert users.get_user(db, "mallory") is None and users.get_user(db, "reader") is not None
    db.close()
    assert c.get("/api/live").status_code == 200  # still logged in


def test_five_failures_lock_the_user_and_the_address_out_for_five_minutes(app):
    console = app.state.console
    clock = [1000.0]
    console.throttle = LoginThrottle(clock=lambda: clock[0])
    try:
        c = TestClient(app)
        for _ in range(5):
            assert login(c, "reader", "wrong-password").status_code == 401
        locked = login(c, "reader")  # the right password, too late
        assert locked.status_code == 429 and "5 分钟" in locked.text and "try again in 5 min" in locked.text
        assert login(c, "root").status_code == 429  # the same address, another user
        clock[0] += 301
        assert login(c, "reader").status_code == 303
    finally:
        console.throttle = LoginThrottle(clock=lambda: 0.0)


def test_a_password_reset_or_removal_ends_the_users_sessions(app, console_hall):
    db = users.open_db(console_hall.data_dir)
    users.add_user(db, "temp", "viewer", None, "temp-password-1")
    c = client(app)
    assert login(c, "temp", "temp-password-1").status_code == 303
    assert c.get("/api/live").status_code == 200
    users.reset_password(db, "temp", "temp-password-2")
    assert c.get("/api/live").status_code == 401
    assert login(c, "temp", "temp-password-2").status_code == 303
    users.remove_user(db, "temp")
    assert c.get("/api/live").status_code == 401
    db.close()


def test_login_sends_back_only_to_a_page_of_this_console(app):
    c = TestClient(app)
    assert login(c, "reader", next_="/devices").headers["location"] == "/devices"
    c = TestClient(app)
    assert login(c, "reader", next_="//evil.example/").headers["location"] == "/"
    redirect = TestClient(app).get("/devices", follow_redirects=False)
    assert redirect.headers["location"] == "/login?next=/devices"


def test_the_console_db_is_private(console_hall):
    path = users.db_path(console_hall.data_dir)
    assert path.stat().st_mode & 0o777 == 0o600
