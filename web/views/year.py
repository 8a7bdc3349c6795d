"""年度 The year: the centre's annual table (cases, on time, compression, errors, complaints, satisfaction, tickets,
waits), each department and window, and the six bimonthly reviews (红旗窗口, 服务标兵, the bottom, 出勤费).

Every figure is the hall's own `hall report year --format json` (the console may not import the hub's rules, and
need not: the command line computes the table from the journal); the printable page and the workbook are the very
files that command writes. A department head sees their department's and windows' rows; the whole-hall page and
workbook are not theirs to download.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from starlette.background import BackgroundTask

from web import charts
from web.app import forbidden, person, render
from web.hall_command import HallCommandError
from web.schemas import AUTH_RESPONSES
from web.views.figures_common import hall_command, install_filters, scope_of, today_of

router = APIRouter()

FIRST_YEAR, LAST_YEAR = 2000, 2099
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONTHS = [f"{m}月" for m in range(1, 13)]


class YearOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    year: int
    report: dict | None
    error: str | None


def _year(request: Request, year: int | None) -> int:
    return year if year is not None and FIRST_YEAR <= year <= LAST_YEAR else today_of(request).year


def year_report(request: Request, year: int | None) -> dict:
    year = _year(request, year)
    try:
        report = hall_command(request).json("report", "year", "--year", str(year), "--format", "json")
    except HallCommandError as err:
        return {"year": year, "report": None, "error": str(err)}
    scope = scope_of(request)
    if scope.windows is not None:  # a department head: their department, windows and people
        dept = person(request).department
        mine = lambda rows: [r for r in rows or [] if r.get("window") in scope.windows]  # noqa: E731
        report = {**report, "totals": None, "sources": None, "months": [], "waits": None,
                  "departments": [d for d in report["departments"] if d.get("department") == dept],
                  "windows": mine(report["windows"]),
                  "reviews": [{**r, "red_flag_windows": mine(r.get("red_flag_windows")),
                               "service_stars": mine(r.get("service_stars")),
                               "bottom": {k: mine(v) for k, v in (r.get("bottom") or {}).items()},
                               "windows": mine(r.get("windows")), "people": mine(r.get("people")),
                               "allowance_total": None} for r in report["reviews"]]}
    return {"year": year, "report": report, "error": None}


def month_charts(report: dict) -> tuple:
    """Cases accepted and tickets issued month by month, and the month's satisfaction."""
    months = {m["month"]: m for m in report.get("months", [])}

    def of(key: str, scale: float = 1) -> list:
        values = [months.get(m, {}).get(key) for m in range(1, 13)]
        return [None if v is None else round(v * scale, 1) for v in values]

    volume = charts.responsive(MONTHS, [charts.Series("受理件数", "cases", of("cases"), charts.PALETTE[0]),
                                        charts.Series("取号", "tickets", of("tickets"), charts.PALETTE[1])],
                               chart_id="year-months", title_zh="每月办件与取号", title_en="cases and tickets by month")
    liked = charts.responsive(MONTHS, [charts.Series("满意率", "satisfaction", of("satisfaction", 100),
                                                     charts.PALETTE[2])],
                              chart_id="year-satisfaction", unit="%", title_zh="每月满意率",
                              title_en="satisfaction by month")
    return volume, liked


@router.get("/year", include_in_schema=False)
def year_page(request: Request, year: int | None = None):
    install_filters(request)
    data = year_report(request, year)
    rep = data["report"]
    return render(request, "year.html", {
        "title": "年度 Year", "r": data, "year": data["year"],
        "charts": month_charts(rep) if rep and rep.get("months") else None,
        "peak_cases": max([w.get("cases_finished") or 0 for w in (rep or {}).get("windows", [])] or [0]),
        "may_download": person(request).role != "department"})


@router.get("/api/year", response_model=YearOut, responses=AUTH_RESPONSES, tags=["reports"],
            summary="年度 the annual table (as `hall report year --format json`)")
def api_year(request: Request, year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR,
                                                                    description="the year (default this year)")] = None):
    return year_report(request, year)


def _download(request: Request, year: int, fmt: str, media_type: str):
    """Run `hall report year` into a temporary folder and send its file; the folder goes once it is sent."""
    if person(request).role == "department":
        return forbidden(request, "年度报表为全中心数据，部门负责人不可下载 the annual table holds the whole hall: "
                                  "department heads see their rows on screen")
    folder = Path(tempfile.mkdtemp(prefix="hall-year-"))
    out = folder / f"year-{year}.{fmt}"
    try:
        hall_command(request).write(out, "report", "year", "--year", str(year), "--format", fmt, "--out", str(out))
    except HallCommandError as err:
        shutil.rmtree(folder, ignore_errors=True)
        return render(request, "error.html", {"title": "报表失败 Report failed", "message": str(err)}, status_code=502)
    return FileResponse(out, media_type=media_type, filename=out.name,
                        content_disposition_type="inline" if fmt == "html" else "attachment",
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


@router.get("/year/{year}.html", include_in_schema=False)
def printable(request: Request, year: Annotated[int, PathParam(ge=FIRST_YEAR, le=LAST_YEAR)]):
    return _download(request, year, "html", "text/html; charset=utf-8")


@router.get("/year/{year}.xlsx", include_in_schema=False)
def workbook(request: Request, year: Annotated[int, PathParam(ge=FIRST_YEAR, le=LAST_YEAR)]):
    return _download(request, year, "xlsx", XLSX)
