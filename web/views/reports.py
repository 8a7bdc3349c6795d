"""报表 Reports: the queue day report and the attendance month and bimonth reports, on screen and as the xlsx
workbooks of the command line.

Every figure comes from the hall's own command line (`hall queue report --json`, `hall attendance report --format
json`), and a download is the very file that command writes (`--xlsx FILE`, `--format xlsx --out FILE`), made in a
temporary folder and sent. A department head sees their department's rows on screen; the workbooks are the whole
hall's, so they are not theirs to download.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from starlette.background import BackgroundTask

from web.app import console, forbidden, person, render
from web.hall_command import HallCommandError
from web.schemas import AUTH_RESPONSES
from web.views.figures_common import hall_command, install_filters, scope_of, today_of

router = APIRouter()

Kind = Literal["queue", "month", "bimonth"]
MONTH = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class QueueReportOut(_Out):
    date: str
    report: dict | None
    error: str | None


class AttendanceReportOut(_Out):
    kind: str
    month: str
    report: dict | None
    error: str | None


def _month_text(request: Request, month: str | None) -> str:
    if month and re.match(MONTH, month):
        return month
    today = today_of(request)
    return f"{today.year:04d}-{today.month:02d}"


def queue_report(request: Request, day: date | None) -> dict:
    day = day or today_of(request)
    try:
        report = hall_command(request).json("queue", "report", "--date", day.isoformat(), "--json")
    except HallCommandError as err:
        return {"date": day.isoformat(), "report": None, "error": str(err)}
    scope = scope_of(request)
    if scope.queues is not None:  # a department head: their queues, windows and people
        staff = {s.id for s in console(request).hall.staff if s.window in scope.windows}
        report = {**report, "queues": [q for q in report["queues"] if q["queue"] in scope.queues],
                  "windows": [w for w in report["windows"] if w["window"] in scope.windows],
                  "staff": [s for s in report["staff"] if s["staff"] in staff], "totals": None}
    return {"date": day.isoformat(), "report": report, "error": None}


def attendance_report(request: Request, kind: str, month: str | None) -> dict:
    month = _month_text(request, month)
    try:
        report = hall_command(request).json("attendance", "report", f"--{kind}", month, "--format", "json",
                                            "--out", "-")
    except HallCommandError as err:
        return {"kind": kind, "month": month, "report": None, "error": str(err)}
    scope = scope_of(request)
    if scope.windows is not None:
        report = {**report, "people": [p for p in report["people"] if p["window"] in scope.windows],
                  "windows": [w for w in report["windows"] if w["window"] in scope.windows],
                  "red_flag_windows": [w for w in report["red_flag_windows"] if w["window"] in scope.windows],
                  "service_stars": [p for p in report["service_stars"] if p["window"] in scope.windows]}
    return {"kind": kind, "month": month, "report": report, "error": None}


@router.get("/reports", include_in_schema=False)
def reports_page(request: Request, kind: Kind = "queue", date: date | None = None, month: str | None = None):
    install_filters(request)
    data = queue_report(request, date) if kind == "queue" else attendance_report(request, kind, month)
    return render(request, "reports.html", {
        "title": "报表 Reports", "kind": kind, "r": data, "month": _month_text(request, month),
        "day": data.get("date") or today_of(request).isoformat(),
        "may_download": person(request).role != "department"})


@router.get("/api/reports/queue", response_model=QueueReportOut, responses=AUTH_RESPONSES, tags=["reports"],
            summary="报表 the queue day report (as `hall queue report --json`)")
def api_queue_report(request: Request, date: Annotated[date | None, Query(description="YYYY-MM-DD (default today)")] = None):
    return queue_report(request, date)


@router.get("/api/reports/attendance", response_model=AttendanceReportOut, responses=AUTH_RESPONSES,
            tags=["reports"], summary="报表 the attendance month or bimonth report (as `hall attendance report`)")
def api_attendance_report(request: Request, kind: Literal["month", "bimonth"] = "month",
                          month: Annotated[str | None, Query(pattern=MONTH, description="YYYY-MM (default this month)")] = None):
    return attendance_report(request, kind, month)


def _download(request: Request, name: str, *args: str):
    """Run the command into a temporary folder and send its file; the folder goes once the file is sent."""
    if person(request).role == "department":
        return forbidden(request, "报表文件为全中心数据，部门负责人不可下载 the workbooks hold the whole hall: department "
                                  "heads see their rows on screen")
    folder = Path(tempfile.mkdtemp(prefix="hall-report-"))
    out = folder / name
    try:
        hall_command(request).write(out, *[str(out) if a == "{out}" else a for a in args])
    except HallCommandError as err:
        shutil.rmtree(folder, ignore_errors=True)
        return render(request, "error.html", {"title": "报表失败 Report failed", "message": str(err)}, status_code=502)
    return FileResponse(out, media_type=XLSX, filename=name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


@router.get("/reports/queue.xlsx", include_in_schema=False)
def download_queue(request: Request, date: date | None = None):
    day = (date or today_of(request)).isoformat()
    return _download(request, f"queue-report-{day}.xlsx", "queue", "report", "--date", day, "--xlsx", "{out}")


@router.get("/reports/attendance.xlsx", include_in_schema=False)
def download_attendance(request: Request, kind: Literal["month", "bimonth"] = "month", month: str | None = None):
    month = _month_text(request, month)
    return _download(request, f"attendance-{kind}-{month}.xlsx", "attendance", "report", f"--{kind}", month,
                     "--format", "xlsx", "--out", "{out}")
