"""The hall's figures for 今日 Today and 历史 History, read from the hub's journal (`hub.db`) with plain SQL.

Pure functions over an open sqlite3 connection and the hall's configuration: no web, no clock. The tables and
columns are the queue's (hub/queue/store.py): `tickets` (one row per ticket of a day, as it is now), `calls` (one
row per call) and `ratings` (好差评, 1–5). The definitions are the queue day report's (hub/queue/report.py), so the
console and `hall queue report` give the same counts:

- issued: tickets issued (counted in the queue where they were issued); served: calls that ended done;
  no-show: tickets whose last call ended as a no-show and that were not served since;
- wait: from issue to the ticket's first call (tickets not called yet have none); handling: from a call to its
  completion (calls that ended done);
- satisfaction (满意率): the share of ratings of 3 and above.

Medians are the middle value (the mean of the two middle ones for an even count); p90 is the nearest rank (the
value that 90 % of the waits do not exceed). By hour, a ticket's wait counts in the hour it was issued (when that
citizen came in), a service in the hour it ended.

A `Scope` limits everything to some queues and windows: a department head sees their department's alone.
"""

from __future__ import annotations

import math
import sqlite3
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

PERIODS = {"day": ("日", "day"), "week": ("周", "week"), "month": ("月", "month"), "year": ("年", "year")}
GROUPINGS = {"queue": ("业务类别", "queue"), "department": ("部门", "department"),
             "service": ("事项", "service item"), "staff": ("工作人员", "staff member")}
# the longest range a history may span: ten years by day would be 3,650 columns
MAX_BUCKETS = 400


@dataclass(frozen=True)
class Scope:
    """What a reader may see: None means everything."""

    queues: frozenset[str] | None = None
    windows: frozenset[str] | None = None

    @classmethod
    def of(cls, hall, department: str | None) -> Scope:
        """The whole hall, or one department's queues and windows."""
        if department is None:
            return cls()
        cat = hall.catalogue
        return cls(frozenset(q.id for q in cat.queues if q.department == department),
                   frozenset(w.id for w in cat.windows if w.department == department))

    def _in(self, column: str, allowed: frozenset[str] | None) -> tuple[str, tuple]:
        if allowed is None:
            return "", ()
        if not allowed:
            return " AND 0", ()
        return f" AND {column} IN ({','.join('?' * len(allowed))})", tuple(sorted(allowed))

    def tickets(self, column: str = "origin") -> tuple[str, tuple]:
        return self._in(column, self.queues)

    def windows_sql(self, column: str = "window") -> tuple[str, tuple]:
        return self._in(column, self.windows)


# ---------------------------------------------------------------- small sums

def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def p90(values: list[float]) -> float | None:
    """Nearest rank: the smallest value that at least 90 % of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)], 1)


def longest(values: list[float]) -> float | None:
    return round(max(values), 1) if values else None


def mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def satisfaction(scores: list[int]) -> dict:
    good = sum(1 for s in scores if s >= 3)
    return {"ratings": len(scores), "good": good, "avg_score": round(sum(scores) / len(scores), 2) if scores else None,
            "satisfaction": round(good / len(scores), 4) if scores else None}


def waits(values: list[float]) -> dict:
    return {"waits": len(values), "wait_median_s": median(values), "wait_p90_s": p90(values),
            "wait_longest_s": longest(values)}


def handling(values: list[float]) -> dict:
    return {"handling_median_s": median(values), "handling_avg_s": mean(values)}


# ---------------------------------------------------------------- reading the journal

def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


# the seconds between two journal stamps (ISO 8601 with their UTC offset, which julianday honours)
SECONDS = "(julianday({end}) - julianday({start})) * 86400.0"


@dataclass(frozen=True)
class TicketRow:
    day: str
    hour: int
    queue: str          # where it was issued
    service: str | None
    status: str
    wait_s: float | None


@dataclass(frozen=True)
class CallRow:
    day: str
    hour: int           # the hour it ended (for a service) or was made
    queue: str
    window: str
    staff: str | None
    service: str | None
    outcome: str | None
    handling_s: float | None


@dataclass(frozen=True)
class RatingRow:
    day: str
    window: str
    staff: str | None
    queue: str | None
    service: str | None
    score: int


def read_tickets(conn: sqlite3.Connection, first: date, last: date, scope: Scope, *, raw: bool = False) -> list:
    """The tickets issued from first to last (TicketRows, or their plain tuples with `raw`)."""
    if "tickets" not in _tables(conn):
        return []
    where, params = scope.tickets("origin")
    wait = SECONDS.format(start="issued_at", end="called_at")
    rows = conn.execute(
        f"SELECT day, CAST(substr(issued_at, 12, 2) AS INTEGER), origin, service, status, "
        f"CASE WHEN called_at IS NOT NULL THEN round({wait}, 3) END FROM tickets WHERE day BETWEEN ? AND ?{where}",
        (first.isoformat(), last.isoformat(), *params))
    return rows.fetchall() if raw else [TicketRow(*r) for r in rows]


def read_calls(conn: sqlite3.Connection, first: date, last: date, scope: Scope, *, raw: bool = False) -> list:
    if not {"calls", "tickets"} <= _tables(conn):
        return []
    where, params = scope.windows_sql("c.window")
    took = SECONDS.format(start="c.called_at", end="c.ended_at")
    rows = conn.execute(
        f"SELECT c.day, CAST(substr(coalesce(c.ended_at, c.called_at), 12, 2) AS INTEGER), c.queue, c.window, "
        f"c.staff, t.service, c.outcome, CASE WHEN c.outcome='done' AND c.ended_at IS NOT NULL THEN round({took}, 3) END "
        f"FROM calls c LEFT JOIN tickets t ON t.day=c.day AND t.no=c.ticket "
        f"WHERE c.day BETWEEN ? AND ?{where}", (first.isoformat(), last.isoformat(), *params))
    return rows.fetchall() if raw else [CallRow(*r) for r in rows]


def read_ratings(conn: sqlite3.Connection, first: date, last: date, scope: Scope, *, raw: bool = False) -> list:
    if not {"ratings", "tickets"} <= _tables(conn):
        return []
    where, params = scope.windows_sql("r.window")
    rows = conn.execute(
        f"SELECT r.day, r.window, r.staff, t.origin, t.service, r.score FROM ratings r "
        f"LEFT JOIN tickets t ON t.day=r.day AND t.no=r.ticket WHERE r.day BETWEEN ? AND ?{where}",
        (first.isoformat(), last.isoformat(), *params))
    return rows.fetchall() if raw else [RatingRow(*r) for r in rows]


# ---------------------------------------------------------------- 今日 one day

def opening_hours(hall) -> range:
    """The hours the hall is open (09–17 for 09:00–11:40 and 13:00–17:00): the hour axis of the day's charts."""
    spans = hall.hours.open
    first = min(s.start.hour for s in spans)
    last = max(s.end.hour - (1 if s.end.minute == 0 else 0) for s in spans)
    return range(first, last + 1)


def day_figures(conn: sqlite3.Connection, day: date, hall, scope: Scope = Scope()) -> dict:
    """One day: by hour, by queue, by window, and the totals."""
    tickets = read_tickets(conn, day, day, scope)
    calls = read_calls(conn, day, day, scope)
    ratings = read_ratings(conn, day, day, scope)
    cat = hall.catalogue
    seen_hours = {t.hour for t in tickets} | {c.hour for c in calls if c.outcome == "done"}
    hours = sorted(set(opening_hours(hall)) | seen_hours)
    if hours:
        hours = list(range(hours[0], hours[-1] + 1))

    by_hour = []
    for h in hours:
        mine = [t for t in tickets if t.hour == h]
        by_hour.append({
            "hour": h, "label": f"{h:02d}:00",
            "issued": len(mine),
            "served": sum(1 for c in calls if c.hour == h and c.outcome == "done"),
            "no_show": sum(1 for c in calls if c.hour == h and c.outcome == "no_show"),
            **waits([t.wait_s for t in mine if t.wait_s is not None]),
        })

    queues = []
    for q in cat.queues:
        if scope.queues is not None and q.id not in scope.queues:
            continue
        mine = [t for t in tickets if t.queue == q.id]
        served = [c for c in calls if c.queue == q.id and c.outcome == "done"]
        queues.append({
            "queue": q.id, "name": q.name, "name_en": q.name_en, "department": q.department,
            "issued": len(mine), "served": len(served),
            "no_show": sum(1 for t in mine if t.status == "no_show"),
            "waiting": sum(1 for t in mine if t.status == "waiting"),
            **waits([t.wait_s for t in mine if t.wait_s is not None]),
            **handling([c.handling_s for c in served if c.handling_s is not None]),
        })

    windows = []
    for w in cat.windows:
        if scope.windows is not None and w.id not in scope.windows:
            continue
        mine = [c for c in calls if c.window == w.id]
        windows.append({
            "window": w.id, "name": w.name, "name_en": w.name_en, "department": w.department,
            "called": len(mine), "served": sum(1 for c in mine if c.outcome == "done"),
            "no_show": sum(1 for c in mine if c.outcome == "no_show"),
            **handling([c.handling_s for c in mine if c.handling_s is not None]),
            **satisfaction([r.score for r in ratings if r.window == w.id]),
        })

    all_waits = [t.wait_s for t in tickets if t.wait_s is not None]
    totals = {
        "issued": len(tickets), "served": sum(1 for c in calls if c.outcome == "done"),
        "no_show": sum(1 for t in tickets if t.status == "no_show"),
        "waiting": sum(1 for t in tickets if t.status == "waiting"),
        **waits(all_waits),
        **handling([c.handling_s for c in calls if c.handling_s is not None]),
        **satisfaction([r.score for r in ratings]),
    }
    return {"date": day.isoformat(), "hours": by_hour, "queues": queues, "windows": windows, "totals": totals}


# ---------------------------------------------------------------- 历史 a range, by period and by group

def bucket_of(period: str) -> Callable[[date], str]:
    """The key of the period a day falls in: the day, its ISO week (2026-W48), its month (2026-11), its year."""
    if period == "day":
        return date.isoformat
    if period == "week":
        return lambda d: "{}-W{:02d}".format(*d.isocalendar()[:2])
    if period == "month":
        return lambda d: f"{d.year}-{d.month:02d}"
    if period == "year":
        return lambda d: str(d.year)
    raise ValueError(f"unknown period {period!r}: one of {', '.join(PERIODS)}")


def buckets(first: date, last: date, period: str) -> list[str]:
    """Every period key from first to last, in order (empty ones too: a chart shows the gap)."""
    key = bucket_of(period)
    out: list[str] = []
    for i in range((last - first).days + 1):
        k = key(first + timedelta(days=i))
        if not out or out[-1] != k:
            out.append(k)
    return out


class _Group:
    """What one group (or one period) adds up to."""

    __slots__ = ("issued", "no_show", "waits", "served", "called", "call_no_show", "handling", "scores")

    def __init__(self):
        self.issued = self.no_show = self.served = self.called = self.call_no_show = 0
        self.waits: list[float] = []
        self.handling: list[float] = []
        self.scores: list[int] = []

    def figures(self, with_tickets: bool = True) -> dict:
        out = {"issued": self.issued if with_tickets else None,
               "no_show": (self.no_show if with_tickets else self.call_no_show),
               "served": self.served, "called": self.called,
               **(waits(self.waits) if with_tickets else {"waits": None, "wait_median_s": None, "wait_p90_s": None,
                                                          "wait_longest_s": None}),
               **handling(self.handling), **satisfaction(self.scores)}
        return out


def _group_keys(hall, by: str) -> tuple[Callable, Callable, Callable, Callable[[str], dict]]:
    """For a grouping: the key of a ticket, of a call, of a rating (as read_… give them with raw=True), and a
    key's names."""
    cat = hall.catalogue
    queue_dept = {q.id: q.department for q in cat.queues}
    window_dept = {w.id: w.department for w in cat.windows}
    if by == "queue":
        names = {q.id: (q.name, q.name_en) for q in cat.queues}
        return (lambda t: t[2], lambda c: c[2], lambda r: r[3], lambda k: _names(k, names))
    if by == "department":
        names = {d.id: (d.name, d.name_en) for d in cat.departments}
        return (lambda t: queue_dept.get(t[2]), lambda c: window_dept.get(c[3]) or queue_dept.get(c[2]),
                lambda r: window_dept.get(r[1]), lambda k: _names(k, names))
    if by == "service":
        names = {s.id: (s.name, s.name_en) for s in cat.services}
        return (lambda t: t[3], lambda c: c[5], lambda r: r[4], lambda k: _names(k, names))
    if by == "staff":
        names = {s.id: (s.name, "") for s in hall.staff}
        return (lambda t: None, lambda c: c[4], lambda r: r[2], lambda k: _names(k, names))
    raise ValueError(f"unknown grouping {by!r}: one of {', '.join(GROUPINGS)}")


def _names(key: str | None, names: dict) -> dict:
    if key is None:
        return {"name": "（未注明）", "name_en": "not given"}
    zh, en = names.get(key, (key, ""))
    return {"name": zh, "name_en": en}


def history_figures(conn: sqlite3.Connection, first: date, last: date, hall, *, period: str = "day",
                    by: str = "queue", scope: Scope = Scope()) -> dict:
    """A range: the hall's figures per period (the chart), per group over the range (the table), and per group
    per period (the pivot, and the JSON's long table)."""
    if last < first:
        raise ValueError("the range ends before it begins")
    keys = buckets(first, last, period)
    if len(keys) > MAX_BUCKETS:
        raise ValueError(f"{len(keys)} periods of a {period}: at most {MAX_BUCKETS}; choose a longer period")
    bucket = bucket_of(period)
    ticket_key, call_key, rating_key, names = _group_keys(hall, by)
    day_bucket: dict[str, str] = {}

    def b(day: str) -> str:
        k = day_bucket.get(day)
        if k is None:
            k = day_bucket[day] = bucket(date.fromisoformat(day))
        return k

    per_period: dict[str, _Group] = defaultdict(_Group)
    per_group: dict[str | None, _Group] = defaultdict(_Group)
    cells: dict[tuple[str | None, str], _Group] = defaultdict(_Group)
    with_tickets = by != "staff"  # a ticket has no staff member before it is called

    # a year is some 125,000 tickets and as many calls: plain loops over plain tuples, no call per row
    for t in read_tickets(conn, first, last, scope, raw=True):
        k, p = ticket_key(t), b(t[0])
        for g in ((per_period[p], per_group[k], cells[k, p]) if with_tickets else (per_period[p],)):
            g.issued += 1
            if t[4] == "no_show":
                g.no_show += 1
            if t[5] is not None:
                g.waits.append(t[5])
    for c in read_calls(conn, first, last, scope, raw=True):
        k, p = call_key(c), b(c[0])
        for g in (per_period[p], per_group[k], cells[k, p]):
            g.called += 1
            if c[6] == "done":
                g.served += 1
            elif c[6] == "no_show":
                g.call_no_show += 1
            if c[7] is not None:
                g.handling.append(c[7])
    for r in read_ratings(conn, first, last, scope, raw=True):
        k, p = rating_key(r), b(r[0])
        for g in (per_period[p], per_group[k], cells[k, p]):
            g.scores.append(r[5])

    order = _group_order(hall, by)
    groups = sorted(per_group, key=lambda k: (k is None, order.get(k, len(order)), k or ""))
    return {
        "first": first.isoformat(), "last": last.isoformat(), "period": period, "by": by,
        "periods": [{"period": k, **per_period[k].figures()} if k in per_period
                    else {"period": k, **_Group().figures()} for k in keys],
        "groups": [{"key": k, **names(k), **per_group[k].figures(with_tickets)} for k in groups],
        "cells": [{"key": k, "period": p, **cells[k, p].figures(with_tickets)}
                  for k in groups for p in keys if (k, p) in cells],
        "totals": _totals(per_period),
    }


def _group_order(hall, by: str) -> dict[str, int]:
    cat = hall.catalogue
    ids = {"queue": [q.id for q in cat.queues], "department": [d.id for d in cat.departments],
           "service": [s.id for s in cat.services], "staff": [s.id for s in hall.staff]}[by]
    return {k: i for i, k in enumerate(ids)}


def _totals(per_period: dict[str, _Group]) -> dict:
    total = _Group()
    for g in per_period.values():
        total.issued += g.issued
        total.no_show += g.no_show
        total.served += g.served
        total.called += g.called
        total.waits += g.waits
        total.handling += g.handling
        total.scores += g.scores
    return total.figures()


def minutes(seconds: float | None) -> str:
    """For the pages: seconds as minutes with one decimal, or a dash."""
    return "—" if seconds is None else f"{seconds / 60:.1f}"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"
