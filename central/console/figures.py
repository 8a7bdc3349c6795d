"""The central console's figures, computed in PostgreSQL from the consumer's tables (central/consumer.py).

    live(conn, day)            the halls now: waiting, windows open, open alerts, devices offline, last heard
    hall_report(conn, hall, year, by="day"|"month")   one hall's tickets, waits, ratings, punches, cases per period
    annual(conn, year)         every hall's year side by side, and the sum of all of them
    ranking(rows, column)      the halls in order of one column (pure)

Waits are a ticket's first call minus its issue, median and p90 by nearest rank (`percentile_disc`, as the
hall's own annual report counts them); satisfaction is the share of ratings of 3 and above (as the consumer
marks them `good`); on-time is the share of finished cases the hall's own hub found on time (its answer to
`case_finish`, which knows the hall's calendar). The sums are computed over every hall's rows at once (the median
of all tickets, not the median of the halls' medians).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# ------------------------------------------------------------------------------------------------ live

LIVE_SQL = """
WITH waiting AS (
    SELECT hall, count(*) FILTER (WHERE called_at IS NULL) AS waiting, count(*) AS issued,
           count(*) FILTER (WHERE called_at IS NOT NULL) AS called
    FROM tickets WHERE day = %(day)s GROUP BY hall
), windows AS (  -- each window's latest decision today: logged out or paused is not open
    SELECT hall, count(*) FILTER (WHERE op NOT IN ('logout', 'pause')) AS windows_open
    FROM (SELECT DISTINCT ON (hall, args->>'window') hall, op FROM decisions
          WHERE day = %(day)s AND args ? 'window' AND coalesce(result->>'ok', 'true') = 'true'
            AND op IN ('login', 'logout', 'pause', 'resume', 'call_next', 'call_ticket', 'recall', 'complete',
                       'skip', 'transfer')
          ORDER BY hall, args->>'window', n DESC) latest
    GROUP BY hall
), open_alerts AS (  -- each alert's latest change: not cleared is open
    SELECT hall, count(*) AS alerts, count(*) FILTER (WHERE rule = 'device_offline') AS devices_offline
    FROM (SELECT DISTINCT ON (hall, alert) hall, rule, change FROM alerts ORDER BY hall, alert, n DESC) latest
    WHERE change <> 'cleared' GROUP BY hall
)
SELECT h.hall, coalesce(w.waiting, 0), coalesce(w.issued, 0), coalesce(w.called, 0),
       coalesce(o.windows_open, 0), coalesce(a.alerts, 0), coalesce(a.devices_offline, 0),
       h.last_committed_at, h.last_stored_at, h.stored
FROM halls h
LEFT JOIN waiting w USING (hall) LEFT JOIN windows o USING (hall) LEFT JOIN open_alerts a USING (hall)
ORDER BY h.hall
"""

LIVE_COLUMNS = ("hall", "waiting", "issued", "called", "windows_open", "alerts", "devices_offline",
                "last_committed_at", "last_stored_at", "stored")


def live(conn, day: date) -> dict:
    rows = [dict(zip(LIVE_COLUMNS, r, strict=True)) for r in conn.execute(LIVE_SQL, {"day": day}).fetchall()]
    for r in rows:
        for key in ("last_committed_at", "last_stored_at"):
            r[key] = r[key].isoformat(timespec="seconds") if r[key] else None
    total = {key: sum(r[key] for r in rows) for key in LIVE_COLUMNS[1:7]}
    return {"day": day.isoformat(), "halls": rows, "total": total}


# ------------------------------------------------------------------------------------------------ periods

def _period(column: str, by: str) -> str:
    """A local date (or its month's first day) from an ISO text column with its offset."""
    local = f"(({column})::timestamptz AT TIME ZONE %(tz)s)::date"
    return local if by == "day" else f"date_trunc('month', {local})::date"


def _wait_minutes() -> str:
    return "extract(epoch FROM (called_at::timestamptz - issued_at::timestamptz)) / 60.0"


def _report_sql(by: str, group: str, where_hall: str) -> dict[str, str]:
    """One query per source, each grouped by `group` (the hall, a period, or nothing), for the year."""
    day = "day" if by == "day" else "date_trunc('month', day)::date"
    year = "%(first)s AND %(last)s"
    grouped = "GROUP BY 1" if group else ""
    return {
        "tickets": f"""
            SELECT {group.format(period=day)} count(*) AS tickets, count(called_at) AS called,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY {_wait_minutes()}) AS wait_median,
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY {_wait_minutes()}) AS wait_p90
            FROM tickets WHERE day BETWEEN {year} AND issued_at IS NOT NULL {where_hall} {grouped}""",
        "ratings": f"""
            SELECT {group.format(period=_period('at', by))} count(*) AS ratings,
                   count(*) FILTER (WHERE good) AS good
            FROM ratings WHERE ({_period('at', 'day')}) BETWEEN {year} {where_hall} {grouped}""",
        "punches": f"""
            SELECT {group.format(period=_period('at', by))} count(*) AS punches
            FROM punches WHERE ({_period('at', 'day')}) BETWEEN {year} {where_hall} {grouped}""",
        "cases": f"""
            SELECT {group.format(period=_period('at', by))}
                   count(*) FILTER (WHERE type = 'case_accept' AND res->>'ok' = 'true') AS cases_accepted,
                   count(*) FILTER (WHERE type = 'case_finish' AND res->>'ok' = 'true') AS cases_finished,
                   count(*) FILTER (WHERE type = 'case_finish' AND res->'case'->>'on_time' = 'true') AS on_time
            FROM case_events WHERE ({_period('at', 'day')}) BETWEEN {year} {where_hall} {grouped}""",
    }


FIELDS = ("tickets", "called", "wait_median", "wait_p90", "ratings", "good", "punches", "cases_accepted",
          "cases_finished", "on_time")


@dataclass(frozen=True)
class Year:
    year: int
    tz: str = "Asia/Shanghai"

    @property
    def params(self) -> dict:
        return {"first": date(self.year, 1, 1), "last": date(self.year, 12, 31), "tz": self.tz}


def _merge(parts: dict[str, list], key_count: int) -> dict[tuple, dict]:
    """Rows of each source, keyed by their first `key_count` columns, into one row per key with every field."""
    out: dict[tuple, dict] = {}
    for _source, (columns, rows) in parts.items():
        for row in rows:
            key = tuple(row[:key_count])
            merged = out.setdefault(key, dict.fromkeys(FIELDS))
            merged.update(zip(columns[key_count:], row[key_count:], strict=True))
    return out


def finish(row: dict) -> dict:
    """Counts as 0 where a source had nothing; the rates; waits in whole minutes and tenths."""
    for k in FIELDS:
        if k not in ("wait_median", "wait_p90") and row.get(k) is None:
            row[k] = 0
    for k in ("wait_median", "wait_p90"):
        row[k] = round(float(row[k]), 1) if row.get(k) is not None else None
    row["satisfaction"] = round(row["good"] / row["ratings"], 4) if row["ratings"] else None
    row["on_time_rate"] = round(row["on_time"] / row["cases_finished"], 4) if row["cases_finished"] else None
    return row


def _run(conn, queries: dict[str, str], params: dict) -> dict[str, tuple]:
    parts = {}
    for source, sql in queries.items():
        cur = conn.execute(sql, params)
        parts[source] = ([d.name for d in cur.description], cur.fetchall())
    return parts


def hall_report(conn, hall: str, year: Year, by: str = "day") -> dict:
    """One hall's figures per day or per month of the year, and the year's total."""
    if by not in ("day", "month"):
        raise ValueError("by is day or month")
    params = {**year.params, "hall": hall}
    merged = _merge(_run(conn, _report_sql(by, "{period} AS period,", "AND hall = %(hall)s"), params), 1)
    rows = [finish({"period": key[0].isoformat(), **value}) for key, value in sorted(merged.items())]
    total = _merge(_run(conn, _report_sql(by, "", "AND hall = %(hall)s"), params), 0)
    return {"hall": hall, "year": year.year, "by": by, "rows": rows,
            "total": finish({"period": str(year.year), **total.get((), dict.fromkeys(FIELDS))})}


def annual(conn, year: Year) -> dict:
    """Every hall's year side by side, and all halls summed (pooled: one median over every hall's tickets)."""
    merged = _merge(_run(conn, _report_sql("day", "hall,", ""), year.params), 1)
    halls = [h for (h,) in conn.execute("SELECT hall FROM halls ORDER BY hall").fetchall()]
    rows = [finish({"hall": h, **merged.get((h,), dict.fromkeys(FIELDS))}) for h in sorted(set(halls) | {
        k[0] for k in merged})]
    total = _merge(_run(conn, _report_sql("day", "", ""), year.params), 0)
    return {"year": year.year, "halls": rows, "total": finish({"hall": "合计 total",
                                                                **total.get((), dict.fromkeys(FIELDS))})}


# ------------------------------------------------------------------------------------------------ rankings

# column → (中文, English, higher is better)
RANKINGS = {
    "satisfaction": ("满意度", "Satisfaction", True),
    "wait_median": ("等候时间中位数", "Median wait", False),
    "on_time_rate": ("按时办结率", "On-time rate", True),
}


def ranking(rows: list[dict], column: str) -> list[dict]:
    """The halls best first by `column`; equal values share a place (1, 2, 2, 4); halls without the figure last,
    unranked."""
    better_high = RANKINGS[column][2]
    with_value = sorted((r for r in rows if r.get(column) is not None),
                        key=lambda r: (-r[column] if better_high else r[column], r["hall"]))
    out, place, last = [], 0, object()
    for i, r in enumerate(with_value, start=1):
        if r[column] != last:
            place, last = i, r[column]
        out.append({"place": place, "hall": r["hall"], "value": r[column]})
    out += [{"place": None, "hall": r["hall"], "value": None} for r in sorted(rows, key=lambda r: r["hall"])
            if r.get(column) is None]
    return out
