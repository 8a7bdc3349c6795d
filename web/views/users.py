"""用户 People: the console's users and roles, and the audit log of every change (administrators only).

The same Python API as `hall users` (web/users.py); every form carries the session's CSRF token.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request

from web import users
from web.app import console, forbidden, person, render
from web.auth import SESSION_COOKIE, csrf_matches
from web.roles import ROLES
from web.schemas import AUTH_RESPONSES, Problem, UsersOut

router = APIRouter()

ADMINS_ONLY = "只有管理员可管理用户 only administrators manage users"


def users_data(request: Request) -> dict:
    db = console(request).db()
    try:
        return {"users": [u.public() for u in users.list_users(db)], "audit": users.audit_log(db)}
    finally:
        db.close()


def _page(request: Request, message: str = "", error: str = "", status_code: int = 200):
    hall = console(request).hall
    return render(request, "users.html", {"title": "用户 Users", **users_data(request), "roles": ROLES,
                                          "departments": hall.catalogue.departments, "message": message,
                                          "error": error}, status_code=status_code)


def _refused(request: Request, csrf: str):
    if not csrf_matches(console(request).sessions.read(request.cookies.get(SESSION_COOKIE)), csrf):
        return forbidden(request, "表单已过期，请刷新页面 the form expired: reload the page and try again")
    if not person(request).may("manage_users"):
        return forbidden(request, ADMINS_ONLY)
    return None


@router.get("/users", include_in_schema=False)
def users_page(request: Request):
    if not person(request).may("manage_users"):
        return forbidden(request, ADMINS_ONLY)
    return _page(request)


@router.get("/api/users", response_model=UsersOut, tags=["users"], summary="用户 users and the audit log",
            responses={**AUTH_RESPONSES, 403: {"model": Problem, "description": ADMINS_ONLY}})
def api_users(request: Request):
    if not person(request).may("manage_users"):
        return forbidden(request, ADMINS_ONLY)
    return users_data(request)


def _change(request: Request, csrf: str, done: str, work):
    refused = _refused(request, csrf)
    if refused is not None:
        return refused
    db = console(request).db()
    try:
        work(db)
    except users.UserError as err:
        return _page(request, error=str(err), status_code=400)
    finally:
        db.close()
    return _page(request, message=done)


@router.post("/users/add", include_in_schema=False)
def add(request: Request, name: str = Form(""), role: str = Form(""), department: str = Form(""),
        password: str = Form(""), csrf: str = Form("")):
    departments = {d.id for d in console(request).hall.catalogue.departments}
    return _change(request, csrf, f"已添加 added {name}", lambda db: users.add_user(
        db, name, role, department if role == "department" else None, password, by=person(request).name,
        departments=departments))


@router.post("/users/remove", include_in_schema=False)
def remove(request: Request, name: str = Form(""), csrf: str = Form("")):
    def work(db):
        if name == person(request).name:
            raise users.UserError("不能删除自己 you cannot remove yourself")
        users.remove_user(db, name, by=person(request).name)

    return _change(request, csrf, f"已删除 removed {name}", work)


@router.post("/users/reset", include_in_schema=False)
def reset(request: Request, name: str = Form(""), password: str = Form(""), csrf: str = Form("")):
    return _change(request, csrf, f"已重置密码 password reset for {name}",
                   lambda db: users.reset_password(db, name, password, by=person(request).name))
