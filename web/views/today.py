"""今日 Today: the day's tickets issued and served by hour, waits (median, p90, longest) by hour and by queue,
handling times and satisfaction by window, no-shows; charts a manager reads at a glance (server-side SVG).

From the hub's journal, read-only (web/figures.py). A department head sees their department's queues and windows.
Another day may be asked for with `?date=YYYY-MM-DD`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from web import charts
from web.app import render
from web.figures import day_figures
from web.schemas import AUTH_RESPONSES
from web.views.figures_common import install_filters, journal, scope_of, today_of

router = APIRouter()


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Waits(_Out):
    waits: int
    wait_median_s: float | None
    wait_p90_s: float | None
    wait_longest_s: float | None


class HourOut(Waits):
    hour: int
    label: str
    issued: int
    served: int
    no_show: int


class QueueDayOut(Waits):
    queue: str
    name: str
    department: str
    issued: int
    served: int
    no_show: int
    waiting: int
    handling_median_s: float | None
    handling_avg_s: float | None


class WindowDayOut(_Out):
    window: str
    name: str
    department: str
    called: int
    served: int
    no_show: int
    handling_median_s: float | None
    handling_avg_s: float | None
    ratings: int
    avg_score: float | None
    satisfaction: float | None


class TodayOut(_Out):
    date: str
    today: bool
    hours: list[HourOut]
    queues: list[QueueDayOut]
    windows: list[WindowDayOut]
    totals: dict


def figures_for(request: Request, day: date | None) -> dict:
    today = today_of(request)
    day = day or today
    with journal(request) as conn:
        figures = day_figures(conn, day, request.app.state.console.hall, scope_of(request))
    return {**figures, "today": day == today}


def charts_for(figures: dict) -> dict:
    hours = figures["hours"]
    labels = [h["label"][:2] for h in hours]
    flow = charts.responsive(labels, [
        charts.Series("取号", "issued", [h["issued"] for h in hours], charts.PALETTE[0]),
        charts.Series("办结", "served", [h["served"] for h in hours], charts.PALETTE[1]),
        charts.Series("过号", "no-show", [h["no_show"] for h in hours], charts.PALETTE[3]),
    ], title_zh="每小时取号与办结", title_en="tickets issued and served by hour", unit="张 tickets",
        chart_id="chart-flow")

    def mins(v):
        return None if v is None else round(v / 60, 1)
    waits = charts.responsive(labels, [
        charts.Series("中位等候", "median wait", [mins(h["wait_median_s"]) for h in hours], charts.PALETTE[0]),
        charts.Series("P90 等候", "p90 wait", [mins(h["wait_p90_s"]) for h in hours], charts.PALETTE[2]),
        charts.Series("最长等候", "longest", [mins(h["wait_longest_s"]) for h in hours], charts.PALETTE[3]),
    ], title_zh="每小时等候时间（按取号时间）", title_en="waits by hour of issue", unit="分钟 min", chart_id="chart-waits")
    return {"chart_flow": flow, "chart_waits": waits}


@router.get("/today", include_in_schema=False)
def today_page(request: Request, date: date | None = None):
    install_filters(request)
    figures = figures_for(request, date)
    return render(request, "today.html", {"title": "今日 Today", "f": figures, **charts_for(figures)})


@router.get("/api/today", response_model=TodayOut, responses=AUTH_RESPONSES, tags=["figures"],
            summary="今日 the day by hour, by queue and by window (today unless a date is given)")
def api_today(request: Request, date: Annotated[date | None, Query(description="YYYY-MM-DD, the hall's local date")] = None):
    return figures_for(request, date)
