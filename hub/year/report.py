"""The annual table and the bimonthly review from the hub's journal (`hall report year`, `hall report bimonth`).

Reads the rows of the year from hub.db, one query per kind of fact (QUERIES: each figure of the JSON names the
query it comes from, and the xlsx has the rows themselves), and hands them to the pure computation
(hub/year/rules.py `year_table`, `review`). Read-only: the hub may run while this reads.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path

from hub.cases.rules import clock_from_hall
from hub.year.rules import HallView, YearRows, bimonth, review, year_table


class YearReportError(Exception):
    pass


# one query per kind of row; `?` are the first and last date of the span (the day after the last, for times)
QUERIES = {
    "tickets": "SELECT day, queue, service, status, window, issued_at, called_at FROM tickets "
               "WHERE day BETWEEN :first AND :last",
    "calls": "SELECT day, window, staff, outcome FROM calls WHERE day BETWEEN :first AND :last",
    "ratings": "SELECT day, window, staff, score FROM ratings WHERE day BETWEEN :first AND :last",
    "cases": "SELECT service, department, accepted_at, days, legal_days, status, suspensions, finished_at, window, "
             "accepted_by, result, id_hash FROM cases WHERE accepted_at >= :first AND accepted_at < :after",
    "followups": "SELECT id, kind, department, window, staff, opened_at FROM followups "
                 "WHERE opened_at >= :first AND opened_at < :after",
    "attendance": "SELECT a.staff, a.date, a.workday, a.status, a.slots FROM attendance_days a "
                  "JOIN attendance_dates d ON d.date = a.date AND d.final = 1 WHERE a.date BETWEEN :first AND :last",
    "leave": "SELECT staff, start, end, kind FROM leave WHERE substr(start, 1, 10) <= :last "
             "AND substr(end, 1, 10) >= :first",
}
TABLE_OF = {"tickets": "tickets", "calls": "calls", "ratings": "ratings", "cases": "cases", "followups": "followups",
            "attendance": "attendance_days", "leave": "leave"}

# which rows each figure of the table counts, and how
SOURCES = {
    "cases_accepted": ("cases", "count of rows"),
    "cases_finished": ("cases", "status = 'finished'"),
    "cases_on_time": ("cases", "finished no later than the closing time of the deadline day (hub/cases/rules.py)"),
    "on_time_rate": ("cases", "cases_on_time / cases_finished"),
    "compression": ("cases", "1 − Σ days / Σ legal_days over rows with legal_days"),
    "errors": ("cases", "refused rows whose id_hash and service were approved later (差错)"),
    "complaints": ("followups", "kind = 'complaint'"),
    "satisfaction": ("ratings", "score ≥ 3 / count of rows"),
    "tickets_issued": ("tickets", "count of rows"),
    "tickets_served": ("tickets", "status = 'done'"),
    "median_wait_min": ("tickets", "median of called_at − issued_at over rows with called_at"),
    "p90_wait_min": ("tickets", "90th percentile of called_at − issued_at"),
    "windows": ("calls", "distinct window with outcome = 'done'"),
    "staff": ("calls", "distinct staff"),
    "departments": ("cases", "distinct department"),
    "services": ("cases", "distinct service"),
    "red_flag_windows": ("attendance, ratings, cases, followups", "hub/year/rules.py review(), [review] in hall.toml"),
    "service_stars": ("attendance, ratings, cases, followups", "hub/year/rules.py review(), [review] in hall.toml"),
    "allowance_total": ("attendance, leave", "hub/year/rules.py allowance(), [allowance] in hall.toml"),
}


def read_rows(db_path: Path | str, first: date, last: date, progress=None) -> YearRows:
    """The rows of the span from the hub's database (read-only)."""
    say = progress or (lambda text: None)
    path = Path(db_path)
    if not path.exists():
        raise YearReportError(f"找不到中心数据库 {path} / no hub database at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        after = date.fromordinal(last.toordinal() + 1)
        params = {"first": first.isoformat(), "last": last.isoformat(), "after": after.isoformat()}
        rows = YearRows()
        conn.execute("BEGIN")  # one snapshot of the journal
        for name, sql in QUERIES.items():
            if TABLE_OF[name] in tables:
                setattr(rows, name, conn.execute(sql, params).fetchall())
            say(f"读取 {name}: {len(getattr(rows, name))} 行 / read {len(getattr(rows, name))} {name} rows")
        conn.rollback()
    finally:
        conn.close()
    return rows


def year_report(hall, db_path: Path | str, year: int, *, now: datetime | None = None, progress=None,
                rows: YearRows | None = None) -> tuple[dict, YearRows]:
    """The annual table of `year` with the rows it was computed from."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    rows = rows or read_rows(db_path, first, last, progress)
    now = now or datetime.now(hall.tz)
    table = year_table(rows, HallView.of(hall), year, clock=clock_from_hall(hall), now=now,
                       review_rules=hall.review, allowance_rules=hall.allowance)
    table["hall"] = {"id": hall.id, "name": hall.info.name, "name_en": hall.info.name_en}
    table["at"] = now.isoformat(timespec="seconds")
    table["sources"] = _sources(first, last)
    return table, rows


def bimonth_report(hall, db_path: Path | str, year: int, period: int, *, now: datetime | None = None,
                   progress=None) -> dict:
    """One bimonthly review (双月讲评): the ranking, red flag windows, service stars, bottom and allowances."""
    first, last = bimonth(year, period)
    rows = read_rows(db_path, first, last, progress)
    now = now or datetime.now(hall.tz)
    out = review(rows, HallView.of(hall), year, period, hall.review, hall.allowance, clock=clock_from_hall(hall),
                 now=now)
    out["hall"] = {"id": hall.id, "name": hall.info.name, "name_en": hall.info.name_en}
    out["at"] = now.isoformat(timespec="seconds")
    out["sources"] = {k: v for k, v in _sources(first, last).items()
                      if k in ("red_flag_windows", "service_stars", "allowance_total")}
    return out


def _sources(first: date, last: date) -> dict:
    after = date.fromordinal(last.toordinal() + 1).isoformat()
    out = {}
    for figure, (kinds, how) in SOURCES.items():
        queries = {k.strip(): QUERIES[k.strip()].replace(":first", f"'{first}'").replace(":last", f"'{last}'")
                   .replace(":after", f"'{after}'") for k in kinds.split(",")}
        out[figure] = {"rows": list(queries), "query": queries, "counts": how}
    return out


def summary(table: dict, seconds: float | None = None) -> dict:
    """The headline figures (`hall simulate year --json`)."""
    t = table["totals"]
    return {"cases": t["cases_accepted"], "on_time_rate": t["on_time_rate"], "satisfaction": t["satisfaction"]["rate"],
            "tickets": t["tickets_issued"], "median_wait_min": t["median_wait_min"],
            "p90_wait_min": t["p90_wait_min"], "red_flag_windows": table["red_flag_windows"],
            "service_stars": table["service_stars"], "allowance_total": table["allowance_total"],
            "seconds": None if seconds is None else round(seconds, 2)}
