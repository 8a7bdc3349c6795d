"""历史 History: the Today figures by day, week, month or year over a chosen range, per queue, per department,
per service item or per staff member: a chart of the hall per period, the groups over the range with bars, and a
table of one figure per group and period.

From the hub's journal, read-only (web/figures.py). A range longer than the periods allow (web.figures.MAX_BUCKETS)
is shortened from its start, and the page says so. A department head sees their department's queues and windows.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from web import charts
from web.app import console, render
from web.figures import GROUPINGS, MAX_BUCKETS, PERIODS, history_figures
from web.schemas import AUTH_RESPONSES
from web.views.figures_common import install_filters, journal, scope_of, today_of

router = APIRouter()

Period = Literal["day", "week", "month", "year"]
Grouping = Literal["queue", "department", "service", "staff"]
Metric = Literal["issued", "served", "no_show", "wait_median_s", "wait_p90_s", "handling_avg_s", "satisfaction"]
METRICS = {"issued": ("取号", "issued"), "served": ("办结", "served"), "no_show": ("过号", "no-shows"),
           "wait_median_s": ("中位等候(分)", "median wait, min"), "wait_p90_s": ("P90 等候(分)", "p90 wait, min"),
           "handling_avg_s": ("平均办理(分)", "avg handling, min"), "satisfaction": ("满意率", "satisfaction")}
DEFAULT_DAYS = 30


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Figures(_Out):
    issued: int | None
    served: int
    called: int
    no_show: int | None
    wait_median_s: float | None
    wait_p90_s: float | None
    wait_longest_s: float | None
    handling_median_s: float | None
    handling_avg_s: float | None
    ratings: int
    satisfaction: float | None


class PeriodOut(Figures):
    period: str


class GroupOut(Figures):
    key: str | None
    name: str


class CellOut(Figures):
    key: str | None
    period: str


class HistoryOut(_Out):
    first: str
    last: str
    period: str
    by: str
    shortened: bool
    periods: list[PeriodOut]
    groups: list[GroupOut]
    cells: list[CellOut]
    totals: Figures


def range_of(first: date | None, last: date | None, period: str, today: date) -> tuple[date, date, bool]:
    """The range asked for, in order, defaulting to the last 30 days, shortened from its start to at most
    MAX_BUCKETS periods."""
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        first, last = last, first
    # the shortest a period can be, so that MAX_BUCKETS of them never span fewer days than this
    span = {"day": 1, "week": 7, "month": 28, "year": 365}[period] * (MAX_BUCKETS - 1)
    shortened = (last - first).days > span
    if shortened:
        first = last - timedelta(days=span)
    return first, last, shortened


def history_for(request: Request, first: date | None, last: date | None, period: str, by: str) -> dict:
    first, last, shortened = range_of(first, last, period, today_of(request))
    with journal(request) as conn:
        figures = history_figures(conn, first, last, console(request).hall, period=period, by=by,
                                  scope=scope_of(request))
    return {**figures, "shortened": shortened}


@router.get("/history", include_in_schema=False)
def history_page(request: Request, first: date | None = None, last: date | None = None, period: Period = "day",
                 by: Grouping = "queue", metric: Metric = "served"):
    install_filters(request)
    h = history_for(request, first, last, period, by)
    labels = [p["period"][5:] if period == "day" else p["period"] for p in h["periods"]]

    def mins(v):
        return None if v is None else round(v / 60, 1)
    flow = charts.responsive(labels, [
        charts.Series("取号", "issued", [p["issued"] for p in h["periods"]], charts.PALETTE[0]),
        charts.Series("办结", "served", [p["served"] for p in h["periods"]], charts.PALETTE[1]),
        charts.Series("过号", "no-show", [p["no_show"] for p in h["periods"]], charts.PALETTE[3]),
    ], title_zh="取号与办结", title_en="issued and served", unit="张 tickets", chart_id="chart-history-flow")
    waits = charts.responsive(labels, [
        charts.Series("中位等候", "median wait", [mins(p["wait_median_s"]) for p in h["periods"]], charts.PALETTE[0]),
        charts.Series("P90 等候", "p90 wait", [mins(p["wait_p90_s"]) for p in h["periods"]], charts.PALETTE[2]),
    ], title_zh="等候时间", title_en="waits", unit="分钟 min", chart_id="chart-history-waits")
    cells = {(c["key"], c["period"]): c.get(metric) for c in h["cells"]}
    return render(request, "history.html", {
        "title": "历史 History", "h": h, "chart_flow": flow, "chart_waits": waits, "cells": cells,
        "metric": metric, "metrics": METRICS, "periods": PERIODS, "groupings": GROUPINGS, "max_buckets": MAX_BUCKETS})


@router.get("/api/history", response_model=HistoryOut, responses=AUTH_RESPONSES, tags=["figures"],
            summary="历史 a range by day, week, month or year, per queue, department, service item or staff member")
def api_history(request: Request,
                first: Annotated[date | None, Query(description="first date (default: 29 days before `last`)")] = None,
                last: Annotated[date | None, Query(description="last date (default: today)")] = None,
                period: Period = "day", by: Grouping = "queue"):
    return history_for(request, first, last, period, by)
