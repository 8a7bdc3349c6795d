"""A year at the hall (年度报表) and its bimonthly reviews (双月讲评): the annual table, the red flag windows (红旗窗口)
and service stars (服务标兵), the bottom of the ranking, each person's attendance allowance (出勤费), and the
Erlang C estimate that window planning compares its replays with. Pure: plain rows in, plain dicts out.

`year_table(rows, hall_view, ...)` takes its rows as lists of tuples (`YearRows` says which columns, in which
order), so the same table can be computed from the hub's SQLite journal (hub/year/report.py) or from any other
storage that holds the same facts (a central PostgreSQL).

The bimonthly review, per period (Jan–Feb is period 1, …, Nov–Dec period 6), from `[review]` in hall.toml:

- each window and each person gets measures, each 0–100: attendance (hub/attendance/rules.py Tally.score; a
  window's is its people's mean), ratings (good ratings ÷ ratings × 100), cases (finished on time ÷ finished ×
  100; a person's are the cases they accepted), discipline (100 less 20 per complaint or error charged to them);
- the composite is the weighted mean of the measures they have (weights `weight_*`); a measure they have no data
  for (no ratings, no cases) is left out of the mean;
- red flag windows: the `red_flag_windows` best composites among windows with people, at least `min_ratings`
  ratings, no absent day among their people (`no_absence`) and no complaint or error (`no_complaint`);
- service stars: the `service_stars` best among window staff with attendance ≥ `star_min_attendance`, at least
  `min_ratings` ratings of their own, and the same two exclusions;
- ties: the higher composite, then fewer late and early minutes, then more ratings, then the id;
- the bottom: the `bottom_windows` lowest windows, and the `bottom_people` lowest people among those who lost
  attendance points, lowest first.

The allowance (出勤费, `[allowance]`) of a person of the paid roles for the period: `base` less `late` per late
arrival, `early` per early leave, `missing` per missing punch, `absent_day` per absent day, and per whole day of
leave by its kind (`leave_day` 请假, `business_day` 公出, `in_lieu_day` 调休); never below 0.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from hub.attendance.rules import AttendanceDay, Tally
from hub.cases.report import evaluate as evaluate_cases
from hub.cases.rules import APPROVED, FINISHED, REFUSED, Clock

WEEKDAYS = ("周一 Mon", "周二 Tue", "周三 Wed", "周四 Thu", "周五 Fri", "周六 Sat", "周日 Sun")
REVIEWS_PER_YEAR = 6


# ---------------------------------------------------------------- Erlang C (M/M/c)

def erlang_c(windows: int, load: float) -> float:
    """The probability that an arrival waits (Erlang C), `windows` servers offered `load` erlangs (arrival rate ×
    mean handling time). 1.0 when the load reaches the windows: the line grows without end."""
    if windows <= 0 or load >= windows:
        return 1.0
    if load <= 0:
        return 0.0
    # Erlang B by its stable recursion, then C from B
    b = 1.0
    for k in range(1, windows + 1):
        b = load * b / (k + load * b)
    return windows * b / (windows - load * (1 - b))


@dataclass(frozen=True)
class ErlangEstimate:
    windows: int
    arrivals_per_hour: float
    handling_min: float
    wait_probability: float
    mean_wait_min: float | None      # None: the load reaches the windows, no steady state
    median_wait_min: float | None
    p90_wait_min: float | None

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def erlang_estimate(windows: int, arrivals_per_hour: float, handling_min: float) -> ErlangEstimate:
    """Waits in an M/M/c queue: P(wait > t) = C · e^(−(c·μ − λ)·t), so the q-quantile is ln(C / (1 − q)) ÷
    (c·μ − λ), or 0 when fewer than 1 − q wait at all."""
    lam = arrivals_per_hour / 60.0        # per minute
    mu = 1.0 / handling_min if handling_min > 0 else float("inf")
    load = lam / mu if handling_min > 0 else 0.0
    c = erlang_c(windows, load)
    if load >= windows:
        return ErlangEstimate(windows, arrivals_per_hour, handling_min, 1.0, None, None, None)
    drain = windows * mu - lam

    def quantile(q: float) -> float:
        return 0.0 if c <= 1 - q else math.log(c / (1 - q)) / drain

    return ErlangEstimate(windows, arrivals_per_hour, handling_min, c, c / drain, quantile(0.5), quantile(0.9))


# ---------------------------------------------------------------- periods

def bimonth(year: int, n: int) -> tuple[date, date]:
    """The first and last date of review period n (1: Jan–Feb … 6: Nov–Dec)."""
    if not 1 <= n <= REVIEWS_PER_YEAR:
        raise ValueError(f"period {n}: 1 to 6 (1 = Jan–Feb, 6 = Nov–Dec)")
    first = date(year, 2 * n - 1, 1)
    last = date(year + (n == 6), 1 if n == 6 else 2 * n + 1, 1) - timedelta(days=1)
    return first, last


def period_label(year: int, n: int) -> str:
    return f"{year}年{2 * n - 1}–{2 * n}月 · {year} P{n}"


# ---------------------------------------------------------------- the rows

@dataclass
class YearRows:
    """What the table is computed from: lists of tuples, the columns in this order (times ISO 8601 with offset,
    dates YYYY-MM-DD).

    - tickets:    (day, queue, service, status, window, issued_at, called_at)  — status waiting/called/done/no_show
    - calls:      (day, window, staff, outcome)                                — outcome done/no_show/transferred
    - ratings:    (day, window, staff, score)                                  — score 1–5, 3+ good
    - cases:      (service, department, accepted_at, days, legal_days, status, suspensions, finished_at,
                   window, accepted_by, result, id_hash)                       — suspensions JSON [[start, end]]
    - followups:  (id, kind, department, window, staff, opened_at)             — kind rating/complaint
    - attendance: (staff, date, workday, status, slots)                        — slots JSON as stored
    - leave:      (staff, start, end, kind)                                    — kind leave/business/in_lieu
    """
    tickets: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    ratings: list = field(default_factory=list)
    cases: list = field(default_factory=list)
    followups: list = field(default_factory=list)
    attendance: list = field(default_factory=list)
    leave: list = field(default_factory=list)


@dataclass(frozen=True)
class HallView:
    """The hall as the table names it: plain mappings, so no settings object is needed."""
    windows: dict[str, tuple[str, str]]           # window → (name, department id)
    departments: dict[str, str]                   # department id → name
    queues: dict[str, str]                        # queue → department id
    staff: dict[str, tuple[str, str | None, str]]  # staff → (name, window, role)
    services: dict[str, str] = field(default_factory=dict)  # service → name
    service_departments: dict[str, str] = field(default_factory=dict)  # service → department id (its queue's
    # department is used for a ticket without one)

    @classmethod
    def of(cls, hall) -> HallView:
        cat = hall.catalogue
        return cls(windows={w.id: (w.name, w.department) for w in cat.windows},
                   departments={d.id: d.name for d in cat.departments},
                   queues={q.id: q.department for q in cat.queues},
                   staff={s.id: (s.name, s.window, s.role) for s in hall.staff},
                   services={s.id: s.name for s in cat.services},
                   service_departments={s.id: s.department for s in cat.services if s.department})


# ---------------------------------------------------------------- small figures

def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile by the nearest rank of sorted values (what a manager counts by hand)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _minutes(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 60.0


def _satisfaction(scores: list[int]) -> dict:
    good = sum(1 for s in scores if s >= 3)
    return {"ratings": len(scores), "good": good, "rate": round(good / len(scores), 4) if scores else None,
            "mean": round(sum(scores) / len(scores), 2) if scores else None}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def errors_of(cases: Iterable[tuple]) -> list[tuple]:
    """差错: a case refused (不予许可) whose applicant came back for the same item and was approved later: the
    refusal was wrong and corrected. Returns the refused cases' rows."""
    approved_after: dict[tuple, str] = {}
    refused = []
    for row in cases:
        service, status, accepted_at, result, id_hash = row[0], row[5], row[2], row[10], row[11]
        if status != FINISHED or not id_hash:
            continue
        if result == APPROVED:
            key = (id_hash, service)
            if accepted_at > approved_after.get(key, ""):
                approved_after[key] = accepted_at
        elif result == REFUSED:
            refused.append(row)
    return [r for r in refused if approved_after.get((r[11], r[0]), "") > r[2]]


# ---------------------------------------------------------------- the review

def _tallies(attendance: Iterable[tuple], first: str, last: str) -> dict[str, Tally]:
    out: dict[str, Tally] = {}
    for staff, day, workday, status, slots in attendance:
        if not first <= day <= last:
            continue
        t = out.get(staff)
        if t is None:
            t = out[staff] = Tally(staff)
        t.add(AttendanceDay.from_dict({"staff": staff, "date": day, "workday": bool(workday), "status": status,
                                       "slots": json.loads(slots) if slots else None}))
    return out


def _leave_days(attendance: Iterable[tuple], leave: Iterable[tuple], first: str, last: str) -> dict[str, dict]:
    """Whole days of leave per person and kind: a day judged `leave`, of the kind of the leave covering it."""
    spans: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for staff, start, end, kind in leave:
        spans[staff].append((start[:10], end[:10], kind))
    out: dict[str, dict] = defaultdict(lambda: {"leave": 0, "business": 0, "in_lieu": 0})
    for staff, day, _workday, status, _ in attendance:
        if status != "leave" or not first <= day <= last:
            continue
        kind = next((k for a, b, k in spans.get(staff, ()) if a <= day <= b), "leave")
        out[staff][kind if kind in ("leave", "business", "in_lieu") else "leave"] += 1
    return out


def allowance(t: Tally, leave_days: dict, rules, period_workdays: int | None = None) -> dict:
    """One person's 出勤费 for a period, with each deduction named. The base is for the whole period: a period
    judged only in part (the year still running, a span simulated) pays the share of its working days judged."""
    base = rules.base
    if period_workdays and t.workdays < period_workdays:
        base = round(rules.base * t.workdays / period_workdays)
    deductions = {"late": t.late * rules.late, "early": t.early * rules.early, "missing": t.missing * rules.missing,
                  "absent": t.absent_days * rules.absent_day,
                  "leave": leave_days.get("leave", 0) * rules.leave_day,
                  "business": leave_days.get("business", 0) * rules.business_day,
                  "in_lieu": leave_days.get("in_lieu", 0) * rules.in_lieu_day}
    return {"base": base, "deductions": deductions, "amount": max(0, base - sum(deductions.values()))}


def composite(measures: dict[str, float | None], rules) -> float:
    weights = {"attendance": rules.weight_attendance, "ratings": rules.weight_ratings, "cases": rules.weight_cases,
               "discipline": rules.weight_discipline}
    used = [(weights[k], v) for k, v in measures.items() if v is not None and weights[k] > 0]
    total = sum(w for w, _ in used)
    return round(sum(w * v for w, v in used) / total, 2) if total else 0.0


def review(rows: YearRows, view: HallView, year: int, n: int, review_rules, allowance_rules, *, clock: Clock,
           now: datetime, judged: dict[int, bool | None] | None = None, errors: list[tuple] | None = None) -> dict:
    """The bimonthly review n of the year: every window and person ranked, the red flag windows, the service
    stars, the bottom, and each person's allowance. `judged` (id of a case row → on time) and `errors` may be
    given by a caller that has them for the whole year already."""
    first, last = bimonth(year, n)
    lo, hi = first.isoformat(), last.isoformat()
    tallies = _tallies(rows.attendance, lo, hi)
    wd = clock.workdays
    period_workdays = wd.index_after(last) - wd.index(first)
    leave_days = _leave_days(rows.attendance, rows.leave, lo, hi)
    scores_w: dict[str, list[int]] = defaultdict(list)
    scores_s: dict[str, list[int]] = defaultdict(list)
    for day, window, staff, score in rows.ratings:
        if lo <= day <= hi:
            scores_w[window].append(score)
            if staff:
                scores_s[staff].append(score)
    cases_w: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    cases_s: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    finished_here = [r for r in rows.cases if r[5] == FINISHED and r[7] and lo <= r[7][:10] <= hi]
    verdicts = ([(r, judged[id(r)]) for r in finished_here] if judged is not None
                else _case_verdicts(finished_here, clock, now))
    for r, verdict in verdicts:
        ok = int(bool(verdict))
        for book, key in ((cases_w, r[8]), (cases_s, r[9])):
            if key:
                book[key][0] += 1
                book[key][1] += ok
    blame_w: dict[str, int] = defaultdict(int)
    blame_s: dict[str, int] = defaultdict(int)
    for _id, kind, _dept, window, staff, opened in rows.followups:
        if kind == "complaint" and lo <= opened[:10] <= hi:
            blame_w[window or ""] += 1
            blame_s[staff or ""] += 1
    for r in errors_of(rows.cases) if errors is None else errors:
        if lo <= r[2][:10] <= hi:
            blame_w[r[8] or ""] += 1
            blame_s[r[9] or ""] += 1

    people = []
    for sid, (name, window, role) in view.staff.items():
        if role != "window" and role not in allowance_rules.roles:
            continue  # the review ranks the window staff (and whoever else the allowance pays)
        t = tallies.get(sid, Tally(sid))
        finished, timely = cases_s.get(sid, (0, 0))
        measures = {"attendance": t.score if t.workdays else None,
                    "ratings": _pct(scores_s.get(sid)), "cases": round(100 * timely / finished, 2) if finished else None,
                    "discipline": max(0.0, 100.0 - 20 * blame_s.get(sid, 0))}
        row = {"staff": sid, "name": name, "window": window, "role": role, "workdays": t.workdays,
               "late": t.late, "late_minutes": t.late_minutes, "early": t.early, "early_minutes": t.early_minutes,
               "missing": t.missing, "absent_days": t.absent_days, "leave_days": t.leave_days,
               "attendance": t.score, "ratings": len(scores_s.get(sid, ())), "good_rate": _share(scores_s.get(sid)),
               "cases_finished": finished, "cases_on_time": timely, "complaints_errors": blame_s.get(sid, 0),
               "measures": measures, "composite": composite(measures, review_rules)}
        if role in allowance_rules.roles and t.workdays:  # paid for the working days judged, none without any
            row["allowance"] = allowance(t, leave_days.get(sid, {}), allowance_rules, period_workdays)
        people.append(row)
    windows = []
    for wid, (name, dept) in view.windows.items():
        mine = [p for p in people if p["window"] == wid and p["workdays"]]
        finished, timely = cases_w.get(wid, (0, 0))
        attendance_score = round(sum(p["attendance"] for p in mine) / len(mine), 1) if mine else None
        measures = {"attendance": attendance_score, "ratings": _pct(scores_w.get(wid)),
                    "cases": round(100 * timely / finished, 2) if finished else None,
                    "discipline": max(0.0, 100.0 - 20 * blame_w.get(wid, 0))}
        windows.append({"window": wid, "name": name, "department": view.departments.get(dept, dept),
                        "people": len(mine), "absent_days": sum(p["absent_days"] for p in mine),
                        "late_minutes": sum(p["late_minutes"] + p["early_minutes"] for p in mine),
                        "attendance": attendance_score, "ratings": len(scores_w.get(wid, ())),
                        "good_rate": _share(scores_w.get(wid)), "cases_finished": finished,
                        "cases_on_time": timely, "complaints_errors": blame_w.get(wid, 0),
                        "measures": measures, "composite": composite(measures, review_rules)})

    def order(row: dict, key: str) -> tuple:
        minutes = row["late_minutes"] + row.get("early_minutes", 0) if key == "staff" else row["late_minutes"]
        return (-row["composite"], minutes, -row["ratings"], _id_order(row[key]))

    windows.sort(key=lambda w: order(w, "window"))
    people.sort(key=lambda p: order(p, "staff"))
    for rank, row in enumerate(windows, start=1):
        row["rank"] = rank
    for rank, row in enumerate(people, start=1):
        row["rank"] = rank
    r = review_rules

    def clean(row: dict) -> bool:
        return not ((r.no_absence and row["absent_days"]) or (r.no_complaint and row["complaints_errors"]))

    red = [w for w in windows if w["people"] and w["ratings"] >= r.min_ratings and clean(w)][:r.red_flag_windows]
    stars = [p for p in people if p["role"] == "window" and p["workdays"] and p["attendance"] >= r.star_min_attendance
             and p["ratings"] >= r.min_ratings and clean(p)][:r.service_stars]
    lost = [p for p in people if p["workdays"] and p["attendance"] < 100]
    judged_windows = [w for w in windows if w["people"]]
    bottom_people = sorted(lost, key=lambda p: (p["composite"], p["attendance"], _id_order(p["staff"])))
    paid = [p["allowance"]["amount"] for p in people if "allowance" in p]
    return {
        "period": n, "label": period_label(year, n), "first": lo, "last": hi,
        "rules": {"review": r.model_dump() if hasattr(r, "model_dump") else dict(r.__dict__),
                  "allowance": allowance_rules.model_dump() if hasattr(allowance_rules, "model_dump")
                  else dict(allowance_rules.__dict__)},
        "red_flag_windows": [_brief(w, "window") for w in red],
        "service_stars": [_brief(p, "staff") for p in stars],
        # only windows whose people had a day judged: a period not yet reached names nobody at the bottom
        "bottom": {"windows": [_brief(w, "window") for w in judged_windows[::-1][:r.bottom_windows]],
                   "people": [_brief(p, "staff") for p in bottom_people[:r.bottom_people]]},
        "allowance_total": sum(paid), "allowance_people": len(paid),
        "windows": windows, "people": people,
    }


def _pct(scores: list[int] | None) -> float | None:
    return round(100 * sum(1 for s in scores if s >= 3) / len(scores), 2) if scores else None


def _share(scores: list[int] | None) -> float | None:
    return round(sum(1 for s in scores if s >= 3) / len(scores), 4) if scores else None


def _id_order(value: str) -> tuple:
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def _brief(row: dict, key: str) -> dict:
    keep = (key, "name", "window", "department", "rank", "composite", "attendance", "good_rate", "ratings",
            "cases_on_time", "cases_finished", "absent_days", "late", "missing")
    return {k: row[k] for k in keep if k in row}


# ---------------------------------------------------------------- the annual table

def year_table(rows: YearRows, view: HallView, year: int, *, clock: Clock, now: datetime, review_rules,
               allowance_rules, reviews: Iterable[int] = range(1, REVIEWS_PER_YEAR + 1)) -> dict:
    """The annual table of `year` from plain rows (see YearRows for the columns): totals, months, departments,
    windows, the waits by hour and weekday, and the bimonthly reviews asked for."""
    cases = _case_verdicts(rows.cases, clock, now)
    case_figures = evaluate_cases(clock, [r[:8] for r in rows.cases], now, {("d", d): n for d, n in
                                                                            view.departments.items()})
    errors = errors_of(rows.cases)
    complaints = [f for f in rows.followups if f[1] == "complaint"]
    waits = []
    months: dict[int, dict] = {m: {"month": m, "cases": 0, "cases_finished": 0, "tickets": 0, "served": 0,
                                   "ratings": 0, "good": 0} for m in range(1, 13)}
    heat: dict[tuple[int, int], list[float]] = defaultdict(list)
    tickets_q: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    waits_w: dict[str, list[float]] = defaultdict(list)
    served = 0
    for day, queue, service, status, window, issued_at, called_at in rows.tickets:
        m = months[int(day[5:7])]
        m["tickets"] += 1
        dept = view.service_departments.get(service) or view.queues.get(queue, "-")
        tickets_q[dept][0] += 1
        if status == "done":
            served += 1
            m["served"] += 1
            tickets_q[dept][1] += 1
        if called_at:
            wait = _minutes(issued_at, called_at)
            waits.append(wait)
            moment = datetime.fromisoformat(issued_at)
            heat[(moment.weekday(), moment.hour)].append(wait)
            if window:
                waits_w[window].append(wait)
    for r in rows.cases:
        m = months[int(r[2][5:7])]
        m["cases"] += 1
        if r[5] == FINISHED:
            m["cases_finished"] += 1
    scores_w: dict[str, list[int]] = defaultdict(list)
    scores_d: dict[str, list[int]] = defaultdict(list)
    all_scores = []
    staff_rated = set()
    for day, window, staff, score in rows.ratings:
        all_scores.append(score)
        scores_w[window].append(score)
        scores_d[view.windows.get(window, ("", "-"))[1]].append(score)
        m = months[int(day[5:7])]
        m["ratings"] += 1
        m["good"] += score >= 3
        if staff:
            staff_rated.add(staff)
    calls_w: dict[str, int] = defaultdict(int)
    staff_working = set()
    for _day, window, staff, outcome in rows.calls:
        if outcome == "done":
            calls_w[window] += 1
        if staff:
            staff_working.add(staff)
    for m in months.values():
        m["satisfaction"] = _rate(m.pop("good"), m["ratings"])

    t = case_figures["totals"]
    accepted = t["accepted"]
    totals = {
        "cases_accepted": accepted, "cases_finished": t["finished"], "cases_on_time": t["on_time"],
        "cases_late": t["late"], "on_time_rate": t["on_time_rate"], "compression": t["compression"],
        "avg_days_promised": t["avg_days_promised"], "avg_days_legal": t["avg_days_legal"],
        "errors": len(errors), "error_rate": _rate(len(errors), accepted),
        "complaints": len(complaints), "complaint_rate": _rate(len(complaints), accepted),
        "satisfaction": _satisfaction(all_scores),
        "tickets_issued": len(rows.tickets), "tickets_served": served,
        "median_wait_min": _round(percentile(waits, 0.5)), "p90_wait_min": _round(percentile(waits, 0.9)),
        "windows": len({w for _, w, _, o in rows.calls if o == "done"}),
        "staff": len(staff_working), "departments": len({r[1] for r in rows.cases if r[1]}),
        "services": len({r[0] for r in rows.cases if r[0]}),
    }
    errors_w: dict[str, int] = defaultdict(int)
    for r in errors:
        errors_w[r[8] or ""] += 1
    complaints_w: dict[str, int] = defaultdict(int)
    complaints_d: dict[str, int] = defaultdict(int)
    for f in complaints:
        complaints_w[f[3] or ""] += 1
        complaints_d[f[2] or ""] += 1
    cases_w: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r, on_time in cases:
        c = cases_w[r[8] or ""]
        c[0] += 1
        c[1] += r[5] == FINISHED
        c[2] += bool(on_time)
    departments = []
    for d in case_figures["departments"]:
        dept = d["department"]
        departments.append({"department": dept, "name": view.departments.get(dept, d["name"]),
                            "cases_accepted": d["accepted"], "cases_finished": d["finished"],
                            "cases_on_time": d["on_time"], "on_time_rate": d["on_time_rate"],
                            "compression": d["compression"], "tickets_issued": tickets_q.get(dept, [0, 0])[0],
                            "tickets_served": tickets_q.get(dept, [0, 0])[1],
                            "satisfaction": _satisfaction(scores_d.get(dept, [])),
                            "complaints": complaints_d.get(dept, 0)})
    windows = []
    for wid, (name, dept) in view.windows.items():
        c = cases_w.get(wid, [0, 0, 0])
        windows.append({"window": wid, "name": name, "department": view.departments.get(dept, dept),
                        "tickets_served": calls_w.get(wid, 0),
                        "median_wait_min": _round(percentile(waits_w.get(wid, []), 0.5)),
                        "cases_accepted": c[0], "cases_finished": c[1], "cases_on_time": c[2],
                        "on_time_rate": _rate(c[2], c[1]), "satisfaction": _satisfaction(scores_w.get(wid, [])),
                        "errors": errors_w.get(wid, 0), "complaints": complaints_w.get(wid, 0)})
    heatmap = {"weekdays": list(WEEKDAYS), "hours": sorted({h for _, h in heat}),
               "mean_wait_min": {f"{d},{h}": _round(sum(v) / len(v)) for (d, h), v in sorted(heat.items())},
               "median_wait_min": {f"{d},{h}": _round(percentile(v, 0.5)) for (d, h), v in sorted(heat.items())},
               "p90_wait_min": {f"{d},{h}": _round(percentile(v, 0.9)) for (d, h), v in sorted(heat.items())},
               "tickets": {f"{d},{h}": len(v) for (d, h), v in sorted(heat.items())}}
    judged = {id(r): on_time for r, on_time in cases}
    done = [review(rows, view, year, n, review_rules, allowance_rules, clock=clock, now=now, judged=judged,
                   errors=errors) for n in reviews]
    return {
        "year": year, "totals": totals, "months": list(months.values()), "departments": departments,
        "windows": windows, "waits": heatmap, "reviews": done,
        "red_flag_windows": sum(len(r["red_flag_windows"]) for r in done),
        "service_stars": sum(len(r["service_stars"]) for r in done),
        "allowance_total": sum(r["allowance_total"] for r in done),
        "errors": [{"service": r[0], "department": r[1], "accepted_at": r[2], "window": r[8]} for r in errors],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _case_verdicts(cases: list[tuple], clock: Clock, now: datetime) -> list[tuple[tuple, bool | None]]:
    """Each case row with its on-time verdict by the rules (hub/cases/report.py judges them the same way)."""
    from hub.cases.report import _Judge

    judge = _Judge(clock, now)
    out = []
    for r in cases:
        on_time, _, _ = judge.verdict(r[5], r[2], r[3], r[6], r[7])
        out.append((r, on_time))
    return out
