"""考勤 Attendance today: who has punched which of the four slots, who is late, missing or on leave; the month's
ranking so far with the 红旗窗口 red flag window and 服务标兵 service star candidates; leave (请假) and punch
corrections (补卡) entered by a manager with a reason; the audit trail of what managers did.

The attendance rules live with the hub, which the console does not import: the figures come from the hall's own
command line (`hall attendance report --day … / --month …`, web/hall_command.py). Leave and corrections are events
of the console's device (`leave`, `punch_correction`), sent through its outbox and answered by the hub, which
stores them beside the raw punches and judges the days again; the journal's events of the console are the audit.
A department head sees their department's people and windows, and enters nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from hall.protocol import LeaveEntry, PunchCorrection
from web.app import console, forbidden, person, render
from web.auth import SESSION_COOKIE, csrf_matches
from web.hall_command import HallCommandError
from web.manager_events import invalid_form, send_and_audit
from web.schemas import AUTH_RESPONSES
from web.views.figures_common import hall_command, install_filters, journal, scope_of, today_of

log = logging.getLogger("web.attendance")
router = APIRouter()

SLOTS = {"am_in": ("上午上班", "morning in"), "am_out": ("上午下班", "morning out"),
         "pm_in": ("下午上班", "afternoon in"), "pm_out": ("下午下班", "afternoon out")}
STATUS = {"ok": ("正常", "on time"), "late": ("迟到", "late"), "early": ("早退", "early"), "missing": ("缺卡", "missing"),
          "leave": ("请假", "on leave"), "open": ("未到时", "not yet"), "absent": ("旷工", "absent"),
          "abnormal": ("异常", "irregular"), "rest": ("休息", "rest day")}
LEAVE_KINDS = {"leave": ("请假", "leave"), "business": ("公出", "official business"), "in_lieu": ("调休", "time off in lieu")}
ACTIONS = {"leave": ("请假登记", "leave entered"), "punch_correction": ("补卡", "punch correction"),
           "alert_ack": ("告警确认", "alert acknowledged")}
AUDIT_LIMIT = 100


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class SlotOut(_Out):
    status: str
    at: str | None
    minutes: int


class PersonDayOut(_Out):
    staff: str
    name: str
    window: str | None
    status: str
    slots: dict[str, SlotOut] | None
    leave: list[dict]
    corrections: list[dict]


class ActionOut(_Out):
    at: str
    type: str
    by: str | None
    staff: str | None
    reason: str | None
    ok: bool | None
    code: str | None


class AttendanceOut(_Out):
    date: str
    workday: bool | None
    closed: bool | None
    people: list[PersonDayOut]
    counts: dict[str, dict[str, int]]
    month: dict
    actions: list[ActionOut]
    error: str | None


# ---------------------------------------------------------------- reading

def _visible_staff(request: Request) -> set[str] | None:
    scope = scope_of(request)
    if scope.windows is None:
        return None
    return {s.id for s in console(request).hall.staff if s.window in scope.windows}


def day_of(request: Request, day: date) -> tuple[dict | None, str | None]:
    try:
        return hall_command(request).json("attendance", "report", "--day", day.isoformat(), "--format", "json",
                                          "--out", "-"), None
    except HallCommandError as err:
        return None, str(err)


def month_of(request: Request, day: date) -> tuple[dict | None, str | None]:
    try:
        return hall_command(request).json("attendance", "report", "--month", f"{day.year:04d}-{day.month:02d}",
                                          "--format", "json", "--out", "-"), None
    except HallCommandError as err:
        return None, str(err)


def scoped_day(report: dict | None, visible: set[str] | None) -> dict:
    if report is None:
        return {"workday": None, "closed": None, "people": [], "counts": {}}
    people = [p for p in report["people"] if visible is None or p["staff"] in visible]
    counts: dict[str, dict[str, int]] = {slot: {} for slot in SLOTS}
    for p in people:
        for slot, got in (p["slots"] or {}).items():
            counts[slot][got["status"]] = counts[slot].get(got["status"], 0) + 1
    return {"workday": report["workday"], "closed": report["closed"], "people": people, "counts": counts,
            "warnings": report.get("warnings", [])}


def scoped_month(report: dict | None, visible: set[str] | None, windows: frozenset[str] | None) -> dict:
    if report is None:
        return {}

    def mine_p(rows):
        return [r for r in rows if visible is None or r["staff"] in visible]

    def mine_w(rows):
        return [r for r in rows if windows is None or r["window"] in windows]
    return {"period": report["period"], "people": mine_p(report["people"]), "windows": mine_w(report["windows"]),
            "red_flag_windows": mine_w(report["red_flag_windows"]), "service_stars": mine_p(report["service_stars"]),
            "bottom": {"windows": mine_w(report["bottom"]["windows"]), "people": mine_p(report["bottom"]["people"])},
            "pending_dates": report["pending_dates"], "warnings": report["warnings"]}


def manager_actions(request: Request, visible: set[str] | None) -> list[dict]:
    """What managers did from the console, newest first: the journal's events of the console devices with the hub's
    answers."""
    c = console(request)
    consoles = [d.id for d in c.hall.devices_of("console")]
    rows = []
    with journal(request) as conn:
        try:
            for device in consoles:
                rows += conn.execute("SELECT received_at, type, data, res FROM events WHERE device=? "
                                     "AND type IN ('leave', 'punch_correction', 'alert_ack') ORDER BY seq DESC LIMIT ?",
                                     (device, AUDIT_LIMIT)).fetchall()
        except Exception as err:  # a journal the hub has not made yet
            log.debug("no manager actions: %s", err)
            return []
    out = []
    for at, kind, data, res in sorted(rows, key=lambda r: r[0], reverse=True)[:AUDIT_LIMIT]:
        d = json.loads(data)
        answer = json.loads(res) if res else {}
        staff = d.get("staff")
        if visible is not None and staff not in visible:
            continue
        what = {"leave": f"{LEAVE_KINDS.get(d.get('kind'), (d.get('kind'),))[0]} {d.get('start', '')[:16]} – "
                         f"{d.get('end', '')[:16]}",
                "punch_correction": f"补卡 {d.get('at', '')[:16]}", "alert_ack": d.get("alert", "")}.get(kind, "")
        out.append({"at": at, "type": kind, "by": d.get("by"), "staff": staff, "what": what.replace("T", " "),
                    "reason": d.get("reason") or d.get("note"), "ok": answer.get("ok"), "code": answer.get("code")})
    return out


def attendance_for(request: Request, day: date | None) -> dict:
    day = day or today_of(request)
    visible = _visible_staff(request)
    report, day_error = day_of(request, day)
    month, month_error = month_of(request, day)
    return {"date": day.isoformat(), **scoped_day(report, visible),
            "month": scoped_month(month, visible, scope_of(request).windows),
            "actions": manager_actions(request, visible), "error": day_error or month_error}


# ---------------------------------------------------------------- pages

def _page(request: Request, data: dict, answer: dict | None = None, status_code: int = 200):
    install_filters(request)
    hall = console(request).hall
    visible = _visible_staff(request)
    staff = [s for s in hall.staff if visible is None or s.id in visible]
    names = {s.id: s.name for s in hall.staff}
    return render(request, "attendance.html", {
        "title": "考勤 Attendance", "a": data, "answer": answer, "slots": SLOTS, "status": STATUS,
        "leave_kinds": LEAVE_KINDS, "actions_labels": ACTIONS, "staff": staff, "names": names,
        "may_correct": person(request).may("correct"), "today": today_of(request).isoformat()},
        status_code=status_code)


@router.get("/attendance", include_in_schema=False)
def attendance_page(request: Request, date: date | None = None):
    return _page(request, attendance_for(request, date))


@router.get("/api/attendance", response_model=AttendanceOut, responses=AUTH_RESPONSES, tags=["attendance"],
            summary="考勤 a day's four slots per person, the month's ranking so far and the managers' actions")
def api_attendance(request: Request, date: Annotated[date | None, Query(description="YYYY-MM-DD (default today)")] = None):
    return attendance_for(request, date)


def _local(request: Request, text: str) -> str:
    """A datetime-local field (2026-11-30T09:05) as RFC 3339 in the hall's time zone."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=console(request).hall.tz)
    return moment.isoformat(timespec="seconds")


def _checked(request: Request, fields: dict, model) -> tuple[dict, dict | None]:
    """The event the form makes (its times in the hall's zone, who entered it), checked here as the hub will check
    it; with the answer that refuses it when it fails."""
    staff = fields.get("staff")
    visible = _visible_staff(request)
    if not staff or console(request).hall.staff_member(staff) is None or (visible is not None and
                                                                         staff not in visible):
        return fields, {"ok": False, "code": "unknown_staff", "error": f"没有这个工作人员 no such staff member: {staff!r}"}
    try:
        payload = {**fields, "by": person(request).name}
        for key in ("start", "end", "at"):
            if key in payload:
                payload[key] = _local(request, payload[key])
        model.model_validate(payload)
    except (ValueError, ValidationError) as err:
        detail = "; ".join(e["msg"] for e in err.errors()) if isinstance(err, ValidationError) else str(err)
        return fields, invalid_form(detail)
    return payload, None


def _act(request: Request, event_type: str, fields: dict, model, csrf: str):
    c, p = console(request), person(request)
    if not csrf_matches(c.sessions.read(request.cookies.get(SESSION_COOKIE)), csrf):
        return forbidden(request, "表单已过期，请刷新页面 the form expired: reload the page and try again")
    if not p.may("correct"):
        return forbidden(request, "只有管理员和督查可登记请假和补卡 only administrators and supervisors enter leave "
                                  "and corrections")
    payload, refused = _checked(request, fields, model)
    answer = send_and_audit(request, event_type, payload, subject=fields.get("staff"), audited=fields,
                            refused=refused)
    answer = {**answer, "type": event_type, "staff": fields.get("staff")}
    return _page(request, attendance_for(request, None), answer)


@router.post("/attendance/leave", include_in_schema=False)
def enter_leave(request: Request, staff: str = Form(""), kind: str = Form("leave"), start: str = Form(""),
                end: str = Form(""), reason: str = Form(""), csrf: str = Form("")):
    return _act(request, "leave", {"staff": staff.strip(), "kind": kind, "start": start, "end": end,
                                   "reason": reason.strip()[:500]}, LeaveEntry, csrf)


@router.post("/attendance/correction", include_in_schema=False)
def enter_correction(request: Request, staff: str = Form(""), at: str = Form(""), reason: str = Form(""),
                     csrf: str = Form("")):
    return _act(request, "punch_correction", {"staff": staff.strip(), "at": at, "reason": reason.strip()[:500]},
                PunchCorrection, csrf)
