"""What the figure pages (今日, 历史, 考勤, 报表) share: the reader's scope, the journal opened read-only, the hall's
today, the `hall` command line, and the filters their templates use. Not a page: it has no router."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import date

from fastapi import Request

from hall.clock import now as clock_now
from web import charts
from web.app import console, person
from web.figures import Scope, minutes, percent
from web.hall_command import HallCommand


def scope_of(request: Request) -> Scope:
    p = person(request)
    return Scope.of(console(request).hall, p.department if p.role == "department" else None)


def today_of(request: Request) -> date:
    return clock_now(console(request).hall.tz).date()


def hall_command(request: Request) -> HallCommand:
    c = console(request)
    return HallCommand.of(c.hall, c.data_dir)


@contextmanager
def journal(request: Request):
    """The hub's journal, read-only; an empty database when the hub has not made it yet."""
    path = console(request).data_dir / "hub.db"
    if path.exists():
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        conn.execute("PRAGMA busy_timeout=5000")
    else:
        conn = sqlite3.connect(":memory:")
    try:
        yield conn
    finally:
        conn.close()


def install_filters(request: Request) -> None:
    """The figure filters, added to the console's Jinja environment once."""
    env = console(request).templates.env
    if "minutes" not in env.filters:
        env.filters["minutes"] = minutes
        env.filters["percent"] = percent
        env.filters["min_label"] = lambda s: "—" if s is None else f"{minutes(s)} 分"
        env.globals["cell_bar"] = charts.cell_bar
        env.globals["PALETTE"] = charts.PALETTE


def peak(rows: list[dict], key: str) -> float:
    return max([r[key] for r in rows if r.get(key) is not None] or [0])
