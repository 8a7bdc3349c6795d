"""办件 Cases: every open case by its card (红牌超期 red, 黄牌预警 yellow, 绿牌 green; 补正 suspended apart) with its
deadline and department; cases accepted and finished by day with the on-time rate (server-side SVG); the cases
report of the period; the follow-ups (差评整改) and complaints (投诉) waiting for an answer.

The case rules live with the hub, which the console does not import: the open cases, the days and the follow-ups
are the hub's tables (`cases`, `case_cards`, `followups`, hub/cases/store.py) read-only with plain SQL, and the
report is the hall's own command line (`hall cases report --format json`, web/hall_command.py), which judges every
case again with the rules. A department head sees their department's cases and follow-ups and answers those
follow-ups (`followup_answer`); supervisors and administrators enter complaints (`complaint`). Both are events of
the console's device, sent through its outbox and answered by the hub; the page shows the answer.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from hall.protocol import ComplaintEntry, FollowUpAnswer
from web import charts
from web.app import console, forbidden, person, render
from web.auth import SESSION_COOKIE, csrf_matches
from web.hall_command import HallCommandError
from web.manager_events import invalid_form, send_and_audit
from web.schemas import AUTH_RESPONSES
from web.views.figures_common import hall_command, install_filters, journal, today_of

log = logging.getLogger("web.cases")
router = APIRouter()

DEFAULT_DAYS = 30
MAX_DAYS = 400          # days on the chart at most; a longer range is shortened from its start
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
PER_CARD = 200          # open cases listed under each card (the count is always whole)
ACTIONS_LIMIT = 100

# the groups of open cases, in the order a supervisor reads them
GROUPS = {"red": ("红牌超期", "red: overdue"), "yellow": ("黄牌预警", "yellow: due soon"), "green": ("绿牌", "green"),
          "suspended": ("补正中", "suspended"), "pending": ("待评", "not judged yet")}
STATUS = {"accepted": ("受理", "accepted"), "in_progress": ("办理中", "in progress"), "suspended": ("补正", "suspended"),
          "finished": ("办结", "finished"), "withdrawn": ("退件", "withdrawn")}
KINDS = {"rating": ("差评整改", "poor-rating follow-up"), "complaint": ("投诉", "complaint")}
ACTION_LABELS = {"complaint": ("登记投诉", "complaint entered"), "followup_answer": ("整改回复", "follow-up answered")}


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class OpenCaseOut(_Out):
    number: str
    service: str | None
    service_name: str
    department: str | None
    department_name: str
    window: str | None
    ticket: str | None
    applicant: str | None
    accepted_at: str
    days: int
    status: str
    deadline: str | None
    card: str | None


class CardGroupOut(_Out):
    group: str
    count: int
    cases: list[OpenCaseOut]


class DayOut(_Out):
    day: str
    accepted: int
    finished: int
    on_time: int
    on_time_rate: float | None


class FollowUpOut(_Out):
    id: str
    kind: str
    department: str | None
    department_name: str
    window: str | None
    ticket: str | None
    score: int | None
    detail: str | None
    opened_at: str
    due: str
    answered_at: str | None
    answered_by: str | None
    card: str | None
    overdue: bool


class CaseActionOut(_Out):
    at: str
    type: str
    by: str | None
    subject: str | None
    department: str | None
    ok: bool | None
    code: str | None


class CasesOut(_Out):
    first: str
    last: str
    shortened: bool
    department: str | None       # a department head's own; null: the whole hall
    open: list[CardGroupOut]
    days: list[DayOut]
    period: dict                 # accepted, finished, on_time and the on-time rate of the days above
    report: dict | None          # `hall cases report --format json`, narrowed to the reader's department
    followups: list[FollowUpOut]
    answered: list[FollowUpOut]
    actions: list[CaseActionOut]
    error: str | None


# ---------------------------------------------------------------- reading

def own_department(request: Request) -> str | None:
    """The department a reader is limited to (a department head's), else None for the whole hall."""
    p = person(request)
    return p.department if p.role == "department" else None


def period(request: Request, first: date | None, last: date | None) -> tuple[date, date, bool]:
    last = min(max(last or today_of(request), EARLIEST), LATEST)
    first = min(max(first or last - timedelta(days=DEFAULT_DAYS - 1), EARLIEST), LATEST)
    if first > last:
        first, last = last, first
    if (last - first).days >= MAX_DAYS:
        return last - timedelta(days=MAX_DAYS - 1), last, True
    return first, last, False


def _names(request: Request) -> tuple[dict[str, str], dict[str, str]]:
    cat = console(request).hall.catalogue
    return {d.id: d.name for d in cat.departments}, {s.id: s.name for s in cat.services}


def _query(conn: sqlite3.Connection, sql: str, params: tuple = ()) -> list[tuple]:
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as err:  # a table the hub has not made yet
        log.debug("hub journal: %s", err)
        return []


def _dept_clause(dept: str | None, column: str = "department") -> tuple[str, tuple]:
    return (f" AND {column}=?", (dept,)) if dept else ("", ())


OPEN_COLUMNS = ("number", "service", "department", "window", "ticket", "applicant", "accepted_at", "days", "status",
                "deadline", "card")
GROUP_SQL = ("CASE WHEN status='suspended' THEN 'suspended' WHEN card IN ('red', 'yellow', 'green') THEN card "
             "ELSE 'pending' END")


def open_cases(conn: sqlite3.Connection, dept: str | None, depts: dict, services: dict) -> list[dict]:
    """The open cases by card, red first; within a card the nearest deadline first."""
    where, params = _dept_clause(dept)
    counts = dict(_query(conn, f"SELECT {GROUP_SQL} AS g, count(*) FROM cases WHERE status IN "
                               f"('accepted', 'in_progress', 'suspended'){where} GROUP BY g", params))
    out = []
    for group in GROUPS:
        if not counts.get(group) and group == "pending":
            continue
        rows = _query(conn, f"SELECT {', '.join(OPEN_COLUMNS)} FROM cases WHERE status IN "
                            f"('accepted', 'in_progress', 'suspended') AND {GROUP_SQL}=?{where} "
                            f"ORDER BY deadline IS NULL, deadline, accepted_at, number LIMIT ?",
                      (group, *params, PER_CARD))
        cases = []
        for row in rows:
            c = dict(zip(OPEN_COLUMNS, row, strict=True))
            c["service_name"] = services.get(c["service"], "")
            c["department_name"] = depts.get(c["department"], "")
            cases.append(c)
        out.append({"group": group, "count": counts.get(group, 0), "cases": cases})
    return out


def by_day(conn: sqlite3.Connection, first: date, last: date, dept: str | None) -> tuple[list[dict], dict]:
    """Cases accepted and finished each day of the period, and the share of the finished ones on time (the hub's
    verdict kept with each case)."""
    where, params = _dept_clause(dept)
    bounds = (first.isoformat(), (last + timedelta(days=1)).isoformat())
    accepted = dict(_query(conn, f"SELECT substr(accepted_at, 1, 10) AS d, count(*) FROM cases WHERE accepted_at >= ? "
                                 f"AND accepted_at < ?{where} GROUP BY d", (*bounds, *params)))
    finished = {d: (n, on or 0) for d, n, on in _query(
        conn, f"SELECT substr(finished_at, 1, 10) AS d, count(*), sum(on_time) FROM cases WHERE status='finished' "
              f"AND finished_at >= ? AND finished_at < ?{where} GROUP BY d", (*bounds, *params))}
    days = []
    for i in range((last - first).days + 1):
        day = (first + timedelta(days=i)).isoformat()
        done, on_time = finished.get(day, (0, 0))
        days.append({"day": day, "accepted": accepted.get(day, 0), "finished": done, "on_time": on_time,
                     "on_time_rate": round(on_time / done, 4) if done else None})
    done = sum(d["finished"] for d in days)
    on_time = sum(d["on_time"] for d in days)
    return days, {"accepted": sum(d["accepted"] for d in days), "finished": done, "on_time": on_time,
                  "on_time_rate": round(on_time / done, 4) if done else None}


FOLLOWUP_COLUMNS = ("id", "kind", "department", "window", "ticket", "score", "detail", "opened_at", "due",
                    "answered_at", "answered_by", "contact", "cause", "correction", "card", "on_time")


def followups(conn: sqlite3.Connection, dept: str | None, today: date, depts: dict, *,
              answered: bool) -> list[dict]:
    where, params = _dept_clause(dept)
    sql = (f"SELECT {', '.join(FOLLOWUP_COLUMNS)} FROM followups WHERE answered_at IS "
           + ("NOT NULL" + where + " ORDER BY answered_at DESC LIMIT 50" if answered else
              "NULL" + where + " ORDER BY due, opened_at"))
    out = []
    for row in _query(conn, sql, params):
        f = dict(zip(FOLLOWUP_COLUMNS, row, strict=True))
        f["on_time"] = None if f["on_time"] is None else bool(f["on_time"])
        f["department_name"] = depts.get(f["department"], "")
        f["overdue"] = f["answered_at"] is None and today > date.fromisoformat(f["due"])
        out.append(f)
    return out


def followup_department(request: Request, followup: str) -> tuple[bool, str | None]:
    """Whether the hub's journal holds this follow-up, and its department."""
    with journal(request) as conn:
        rows = _query(conn, "SELECT department FROM followups WHERE id=?", (followup,))
    return (True, rows[0][0]) if rows else (False, None)


def narrowed_report(report: dict, dept: str | None, conn: sqlite3.Connection, first: date, last: date,
                    hall) -> dict:
    """The hall's report as a department head may read it: their department's row as the totals, its items, its
    follow-ups, the cards raised in it."""
    if dept is None:
        return report
    mine = {s.id for s in hall.catalogue.services if s.department == dept}
    row = next((d for d in report["departments"] if d["department"] == dept), None)
    totals = {k: v for k, v in row.items() if k not in ("department", "name")} if row else {
        "accepted": 0, "finished": 0, "on_time": 0, "late": 0, "withdrawn": 0, "suspended": 0,
        "open_by_card": {"green": 0, "yellow": 0, "red": 0}, "on_time_rate": None, "avg_days_used": None,
        "avg_days_promised": None, "avg_days_legal": None, "compression": None}
    cards = {"yellow": 0, "red": 0} | dict(_query(
        conn, "SELECT card, count(*) FROM case_cards WHERE at >= ? AND at < ? AND department=? "
              "AND number NOT LIKE 'Z%' AND number NOT LIKE 'T%' GROUP BY card",
        (first.isoformat(), (last + timedelta(days=1)).isoformat(), dept)))
    listed = [f for f in report.get("followup_list", []) if f.get("department") == dept]
    counts = {kind: {"opened": sum(1 for f in listed if f["kind"] == kind),
                     "answered": sum(1 for f in listed if f["kind"] == kind and f["answered_at"]),
                     "on_time": sum(1 for f in listed if f["kind"] == kind and f["on_time"]),
                     "overdue": sum(1 for f in listed if f["kind"] == kind and f["overdue"])}
              for kind in report.get("followups", {})}
    return {**report, "totals": totals, "departments": [row] if row else [],
            "services": [s for s in report["services"] if s["service"] in mine], "cards_raised": cards,
            "followups": counts, "followup_list": listed}


def case_actions(request: Request, conn: sqlite3.Connection, dept: str | None) -> list[dict]:
    """Complaints entered and follow-ups answered from the console, newest first, with the hub's answers."""
    consoles = [d.id for d in console(request).hall.devices_of("console")]
    rows = []
    for device in consoles:
        rows += _query(conn, "SELECT received_at, type, data, res FROM events WHERE device=? "
                             "AND type IN ('complaint', 'followup_answer') ORDER BY seq DESC LIMIT ?",
                       (device, ACTIONS_LIMIT))
    departments = dict(_query(conn, "SELECT id, department FROM followups"))
    out = []
    for at, kind, data, res in sorted(rows, key=lambda r: r[0], reverse=True)[:ACTIONS_LIMIT]:
        d = json.loads(data)
        answer = json.loads(res) if res else {}
        if kind == "complaint":
            subject, department = (answer.get("followup") or {}).get("id"), d.get("department")
        else:
            subject = d.get("followup")
            department = departments.get(subject)
        if dept is not None and department != dept:
            continue
        out.append({"at": at, "type": kind, "by": d.get("by"), "subject": subject, "department": department,
                    "detail": d.get("detail") or d.get("correction"), "ok": answer.get("ok"),
                    "code": answer.get("code")})
    return out


def cases_for(request: Request, first: date | None, last: date | None) -> dict:
    c = console(request)
    first, last, shortened = period(request, first, last)
    dept = own_department(request)
    depts, services = _names(request)
    today = today_of(request)
    error = None
    try:
        report = hall_command(request).json("cases", "report", "--from", first.isoformat(), "--to", last.isoformat(),
                                            "--format", "json")
    except HallCommandError as err:
        report, error = None, str(err)
    with journal(request) as conn:
        days, totals = by_day(conn, first, last, dept)
        if report is not None:
            report = narrowed_report(report, dept, conn, first, last, c.hall)
        return {"first": first.isoformat(), "last": last.isoformat(), "shortened": shortened, "department": dept,
                "open": open_cases(conn, dept, depts, services), "days": days, "period": totals, "report": report,
                "followups": followups(conn, dept, today, depts, answered=False),
                "answered": followups(conn, dept, today, depts, answered=True),
                "actions": case_actions(request, conn, dept), "error": error}


# ---------------------------------------------------------------- pages

def charts_for(data: dict) -> dict:
    days = data["days"]
    labels = [d["day"][5:] for d in days]
    flow = charts.responsive(labels, [
        charts.Series("受理", "accepted", [d["accepted"] for d in days], charts.PALETTE[0]),
        charts.Series("办结", "finished", [d["finished"] for d in days], charts.PALETTE[1]),
    ], title_zh="每日受理与办结", title_en="cases accepted and finished by day", unit="件 cases",
        chart_id="chart-cases")
    rate = charts.responsive(labels, [
        charts.Series("按时办结率", "on-time rate",
                      [None if d["on_time_rate"] is None else round(d["on_time_rate"] * 100, 1) for d in days],
                      charts.PALETTE[1]),
    ], title_zh="每日按时办结率", title_en="on-time rate by day", unit="%", chart_id="chart-on-time")
    return {"chart_cases": flow, "chart_on_time": rate}


def _page(request: Request, data: dict, answer: dict | None = None, status_code: int = 200):
    install_filters(request)
    c, p = console(request), person(request)
    hall = c.hall
    closing = max(span.end for span in hall.hours.open)
    return render(request, "cases.html", {
        "title": "办件 Cases", "k": data, "answer": answer, "groups": GROUPS, "status": STATUS, "kinds": KINDS,
        "action_labels": ACTION_LABELS, "closing": closing.strftime("%H:%M"),
        "departments": [d for d in hall.catalogue.departments],
        "windows": [w for w in hall.catalogue.windows],
        "may_answer": p.may("answer_followup"), "may_complain": p.may("enter_complaint"),
        **charts_for(data)}, status_code=status_code)


@router.get("/cases", include_in_schema=False)
def cases_page(request: Request, first: date | None = None, last: date | None = None):
    return _page(request, cases_for(request, first, last))


@router.get("/api/cases", response_model=CasesOut, responses=AUTH_RESPONSES, tags=["cases"],
            summary="办件 open cases by card, cases by day with the on-time rate, the cases report, follow-ups")
def api_cases(request: Request,
              first: Annotated[date | None, Query(description="YYYY-MM-DD (default 29 days before last)")] = None,
              last: Annotated[date | None, Query(description="YYYY-MM-DD (default today)")] = None):
    return cases_for(request, first, last)


def _act(request: Request, event_type: str, payload: dict, subject: str | None):
    """The event sent to the hub once it passes the check the hub will make, audited, and the page with the
    answer."""
    try:
        {"complaint": ComplaintEntry, "followup_answer": FollowUpAnswer}[event_type].model_validate(payload)
        refused = None
    except ValidationError as err:
        refused = invalid_form("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()))
    answer = send_and_audit(request, event_type, payload, subject=subject, audited=payload, refused=refused)
    return _page(request, cases_for(request, None, None), {**answer, "type": event_type, "subject": subject})


def _csrf_ok(request: Request, csrf: str) -> bool:
    return csrf_matches(console(request).sessions.read(request.cookies.get(SESSION_COOKIE)), csrf)


@router.post("/cases/answer", include_in_schema=False)
def answer_followup(request: Request, followup: str = Form(""), contact: str = Form(""), cause: str = Form(""),
                    correction: str = Form(""), csrf: str = Form("")):
    p = person(request)
    if not _csrf_ok(request, csrf):
        return forbidden(request, "表单已过期，请刷新页面 the form expired: reload the page and try again")
    if not p.may("answer_followup"):
        return forbidden(request, "只有部门负责人可回复本部门的整改单 only department heads answer their department's "
                                  "follow-ups")
    followup = followup.strip()
    known, department = followup_department(request, followup)
    if known and department != p.department:
        return forbidden(request, "这不是本部门的整改单 this follow-up belongs to another department")
    payload = {"followup": followup, "by": p.name, "contact": contact.strip()[:500], "cause": cause.strip()[:500],
               "correction": correction.strip()[:500]}
    return _act(request, "followup_answer", payload, followup)


@router.post("/cases/complaint", include_in_schema=False)
def enter_complaint(request: Request, department: str = Form(""), window: str = Form(""), ticket: str = Form(""),
                    detail: str = Form(""), csrf: str = Form("")):
    c, p = console(request), person(request)
    if not _csrf_ok(request, csrf):
        return forbidden(request, "表单已过期，请刷新页面 the form expired: reload the page and try again")
    if not p.may("enter_complaint"):
        return forbidden(request, "只有管理员和督查可登记投诉 only administrators and supervisors enter complaints")
    department, window, ticket = department.strip(), window.strip(), ticket.strip().upper()
    if department not in {d.id for d in c.hall.catalogue.departments}:
        answer = {"ok": False, "code": "unknown_department", "error": f"没有这个部门 no such department: {department!r}"}
        return _page(request, cases_for(request, None, None), {**answer, "type": "complaint", "subject": department})
    if window and window not in {w.id for w in c.hall.catalogue.windows if w.department == department}:
        answer = {"ok": False, "code": "unknown_window",
                  "error": f"该部门没有这个窗口 no such window in {department}: {window!r}"}
        return _page(request, cases_for(request, None, None), {**answer, "type": "complaint", "subject": department})
    payload = {"department": department, "window": window or None, "ticket": ticket or None,
               "detail": detail.strip()[:500], "by": p.name}
    return _act(request, "complaint", {k: v for k, v in payload.items() if v is not None}, department)
