"""Monthly and bimonthly attendance reports (月度/双月考勤讲评): per person, per window, the ranking, the red flag
window (红旗窗口) and service star (服务标兵) candidates, and the bottom of the ranking.

The figures come from the hub's database. A date the hub has closed counts as the hub stored it in
`attendance_days` (a late punch or leave entered afterwards revises the stored day, so it is never stale); the
dates not closed yet are evaluated here from the punches, by the same rules, with the leave in the `leave` table.
An optional leave CSV is applied on top: the days it covers are evaluated here too. A person's score is
Tally.score (100 for a clean period). A window's figures add up the people assigned to it in the staff list; its
score is their mean.

Only dates the hub has closed (every terminal heard from after the evening window) count. A date not closed yet is
*pending*: it is left out of every figure and score (a punch the terminal still holds could change it), its
workdays counted apart as pending days and named in the warnings with the terminals it waits for. Until the
period is over and all its dates closed, the candidates are provisional (暂定).

The report is a plain dict (the JSON twin of every format): write_report writes it as JSON, as CSV
(hub/attendance/files.py) or as an Excel workbook (hub/attendance/excel.py), which only render it.

Candidates, per period (the hall names 12 red flag windows and 42 service stars a year, so one window and 3.5
people a month):
- red flag windows: windows without an absent day and with at least `[attendance] min_ratings_for_candidate`
  ratings (好差评, from the queue's `ratings` table), by composite = 70 % attendance score + 30 % share of good
  ratings (好评, 3 and above);
- service stars: window staff with score ≥ 95, no absent day and at least as many ratings of their own, by the
  same composite over their own ratings;
- ties, in both: the higher composite, then fewer late and early minutes, then more ratings, then the window's
  number or the staff id;
- the bottom: the 3 lowest windows and the 5 lowest people among those who lost points.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from hall.files import private_folder, private_sqlite_file
from hub.attendance import store
from hub.attendance.files import CsvError, read_leave, window_order, write_csv
from hub.attendance.rules import Schedule, Tally, WorkCalendar, date_range, evaluate

RED_FLAG_PER_YEAR = 12
STARS_PER_YEAR = 42
STAR_MIN_SCORE = 95.0
BOTTOM_WINDOWS = 3
BOTTOM_PEOPLE = 5


class ReportError(Exception):
    pass


@dataclass(frozen=True)
class Period:
    kind: str      # month or bimonth
    start: str     # YYYY-MM
    first: date
    last: date

    @classmethod
    def of(cls, start: str, months: int) -> Period:
        first = date.fromisoformat(start + "-01")
        year, month = first.year, first.month + months
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        return cls("month" if months == 1 else "bimonth", start, first, date(year, month, 1) - timedelta(days=1))

    @property
    def months(self) -> int:
        return 1 if self.kind == "month" else 2

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.first.year}年{self.first.month}月"
        return f"{self.first.year}年{self.first.month}–{self.last.month}月"


def _ratings(db: sqlite3.Connection, first: date, last: date) -> tuple[dict, dict]:
    """Good-rating share per window and per staff, from the queue's ratings table when it exists."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "ratings" not in tables:
        return {}, {}
    columns = {r[1] for r in db.execute("PRAGMA table_info(ratings)")}
    if not {"window", "score"} <= columns:
        return {}, {}
    where, params = "", ()
    if "day" in columns:
        where, params = "WHERE day BETWEEN ? AND ?", (first.isoformat(), last.isoformat())
    staff_col = "staff" if "staff" in columns else "NULL"
    by_window: dict[str, list[int]] = {}
    by_staff: dict[str, list[int]] = {}
    for window, staff, score in db.execute(f"SELECT window, {staff_col}, score FROM ratings {where}", params):
        if score is None:
            continue
        by_window.setdefault(str(window), []).append(int(score))
        if staff:
            by_staff.setdefault(str(staff), []).append(int(score))

    def summary(scores: list[int]) -> dict:
        return {"ratings": len(scores), "good_rate": round(sum(s >= 3 for s in scores) / len(scores), 4),
                "mean": round(sum(scores) / len(scores), 2)}

    return ({w: summary(s) for w, s in by_window.items()}, {p: summary(s) for p, s in by_staff.items()})


def _rank(rows: list[dict], key) -> None:
    """Competition ranking (1, 1, 3): equal keys share a rank."""
    rows.sort(key=key)
    previous, rank = None, 0
    for i, row in enumerate(rows, start=1):
        k = key(row)[:-1]  # the last element is only the stable tie-break
        if k != previous:
            rank, previous = i, k
        row["rank"] = rank


def _rated(row: dict) -> int:
    sat = row.get("satisfaction")
    return sat["ratings"] if sat else 0


def _composite(score: float, satisfaction: dict | None) -> float:
    if not satisfaction:
        return score
    return round(0.7 * score + 30.0 * satisfaction["good_rate"], 2)


def build_report(hall, data_dir: Path | str, start: str, months: int = 1, *, leave_path: Path | None = None,
                 progress: Callable[[str], None] | None = None, today: date | None = None) -> dict:
    period = Period.of(start, months)
    db_path = Path(data_dir) / "hub.db"
    if not db_path.exists():
        raise ReportError(f"找不到考勤数据库 {db_path} / no hub database at {db_path}")
    say = progress or (lambda text: None)
    tz = hall.tz
    today = today or datetime.now(tz).date()
    last = min(period.last, today)
    warnings: list[str] = []
    if last < period.first:
        raise ReportError(f"{period.start} 尚未开始 / the period {period.start} has not begun")
    extra_leave = []
    if leave_path:
        try:
            extra_leave = read_leave(leave_path, tz)
        except CsvError as err:
            raise ReportError("\n".join(err.problems)) from None
    dates = date_range(period.first, last)
    staff = hall.staff
    db = _open_to_read(db_path)
    try:
        if "punches" not in db.table_names():
            raise ReportError(f"{db_path} 中没有打卡表 / {db_path} has no punches table (has the hub run?)")
        db.execute("BEGIN")  # one snapshot: the hub may close a date while this reads
        states = store.date_states(db, period.first, last)
        closed = store.closed_days(db, period.first, last)
        # what the rules judge here: dates not closed yet, a person the hub had not on its list when a date closed,
        # and the days the leave file covers; a closed day is otherwise counted as the hub stored it
        to_judge = _days_to_judge(staff, dates, closed, extra_leave, tz)
        punches = store.punches_on(db, sorted(set().union(*to_judge.values())), tz)
        leaves = store.leave_between(db, period.first, last, tz) + extra_leave
        satisfaction_w, satisfaction_s = _ratings(db.conn, period.first, last)
        unknown = db.execute("SELECT count(*), count(DISTINCT staff) FROM punches WHERE flag='unknown_staff' AND "
                             "date BETWEEN ? AND ?", (period.first.isoformat(), last.isoformat())).fetchone()
    finally:
        db.conn.rollback()
        db.close()
    if unknown[0]:
        warnings.append(f"有 {unknown[0]} 次打卡的工号不在人员名单中（{unknown[1]} 个工号），未计入 / {unknown[0]} punches "
                        f"by {unknown[1]} staff ids not in the staff list were not counted")
    calendar = WorkCalendar.from_rules(hall.attendance, warn=warnings.append)
    schedule = Schedule.from_rules(hall.attendance)
    pending_dates = [d for d in dates if not states.get(d, {}).get("final")]
    waiting = sorted({t for d in pending_dates for t in states.get(d, {}).get("waiting_for", [])})
    if pending_dates:
        warnings.append(f"{len(pending_dates)} 天尚未结算（{pending_dates[0]} 起），其缺勤暂不计 / {len(pending_dates)} days "
                        f"not closed yet (from {pending_dates[0]}): their absences are pending"
                        + (f"; 等待考勤机 waiting for terminals {', '.join(waiting)}" if waiting else ""))
    for d in dates:  # a year the calendar does not know is named even when all its days were closed by the hub
        calendar.is_workday(d)

    by_staff: dict[str, list] = {}
    for punch in punches:
        by_staff.setdefault(punch.staff, []).append(punch)
    leave_of: dict[str, list] = {}
    for leave in leaves:
        leave_of.setdefault(leave.staff, []).append(leave)
    pending = set(pending_dates)
    people = []
    step = max(1, len(staff) // 10)
    for i, member in enumerate(staff, start=1):
        judging = to_judge[member.id]
        days = [d for when, d in closed.get(member.id, {}).items() if when not in judging]
        days += evaluate(by_staff.get(member.id, ()), leave_of.get(member.id, ()), staff=[member.id], dates=judging,
                         schedule=schedule, calendar=calendar, tz=tz)
        tally = Tally(member.id)
        pending_days = 0
        for day in days:
            if day.date in pending:  # not closed: out of every figure until it is
                pending_days += day.workday
                continue
            tally.add(day)
        people.append(_person_row(member, tally, pending_days, satisfaction_s.get(member.id)))
        if i % step == 0 or i == len(staff):
            say(f"评估考勤 {i}/{len(staff)} 人 / evaluated {i} of {len(staff)} people")

    windows = _window_rows(hall, people, satisfaction_w)
    _rank(people, lambda r: (-r["score"], r["absent_days"], r["late_minutes"] + r["early_minutes"], r["staff"]))
    _rank(windows, lambda r: (-r["score"], -(r["attendance_rate"] or 0), window_order(r["window"])))

    min_ratings = hall.attendance.min_ratings_for_candidate
    red_flag = [w for w in windows if w["absent_days"] == 0 and w["people"] and w["expected_days"] > 0
                and _rated(w) >= min_ratings]
    red_flag.sort(key=lambda w: (-w["composite"], w["late_minutes"] + w["early_minutes"], -_rated(w),
                                 window_order(w["window"])))
    stars = [p for p in people if p["role"] == "window" and p["score"] >= STAR_MIN_SCORE and p["absent_days"] == 0
             and p["expected_days"] > 0 and _rated(p) >= min_ratings]
    for p in stars:
        p["star_composite"] = _composite(p["score"], p.get("satisfaction"))
    stars.sort(key=lambda p: (-p["star_composite"], p["late_minutes"] + p["early_minutes"], -_rated(p), p["staff"]))
    few = sum(1 for w in windows if w["absent_days"] == 0 and w["people"] and w["expected_days"] > 0
              and _rated(w) < min_ratings)
    if few:
        warnings.append(f"{few} 个窗口评价少于 {min_ratings} 条，不参加红旗窗口评选 / {few} windows have fewer than "
                        f"{min_ratings} ratings and are not red flag candidates")
    provisional = bool(pending_dates) or last < period.last
    lost = [p for p in people if p["score"] < 100]
    report = {
        "hall": {"id": hall.id, "name": hall.info.name, "name_en": hall.info.name_en},
        "period": {"kind": period.kind, "start": period.start, "label": period.label,
                   "first": period.first.isoformat(), "last": period.last.isoformat(),
                   "evaluated_through": last.isoformat()},
        "pending_dates": [d.isoformat() for d in pending_dates],
        "provisional": provisional,
        "candidate_rules": {"min_ratings": min_ratings, "star_min_score": STAR_MIN_SCORE,
                            "tie_break": ["composite", "late_and_early_minutes", "ratings", "id"]},
        "warnings": warnings,
        "people": people,
        "windows": windows,
        "red_flag_windows": [_brief_window(w) | {"provisional": provisional}
                             for w in red_flag[:round(RED_FLAG_PER_YEAR * period.months / 12)]],
        "service_stars": [_brief_person(p, extra=("star_composite",)) | {"provisional": provisional}
                          for p in stars[:round(STARS_PER_YEAR * period.months / 12)]],
        "bottom": {"windows": [_brief_window(w) for w in windows[::-1][:BOTTOM_WINDOWS] if w["score"] < 100],
                   "people": [_brief_person(p) for p in lost[::-1][:BOTTOM_PEOPLE]]},
    }
    return report


def day_report(hall, data_dir: Path | str, day: date, *, now: datetime | None = None) -> dict:
    """One date, person by person (今日考勤): the four slots with their status and time, the day's status, the
    leave that covers it and the punch corrections entered for it.

    A closed date reads as the hub stored it; any other is judged here from the punches, the corrections and the
    leave, by the same rules. On the date itself a slot whose window has not ended yet and has no punch is `open`
    (still to come), not missing."""
    db_path = Path(data_dir) / "hub.db"
    if not db_path.exists():
        raise ReportError(f"找不到考勤数据库 {db_path} / no hub database at {db_path}")
    tz = hall.tz
    now = (now or datetime.now(tz)).astimezone(tz)
    staff = hall.staff
    db = _open_to_read(db_path)
    corrections: dict[str, list[dict]] = {}
    try:
        tables = set(db.table_names())
        db.execute("BEGIN")  # one snapshot: the hub may close the date while this reads
        state = store.date_states(db, day, day).get(day, {})
        closed = store.closed_days(db, day, day)
        punches = store.punches_on(db, [day], tz) if "punches" in tables else []
        leaves = store.leave_between(db, day, day, tz)
        if "punch_corrections" in tables:
            for who, at, by, reason in db.execute("SELECT staff, at, by, reason FROM punch_corrections WHERE date=? "
                                                  "ORDER BY at", (day.isoformat(),)):
                corrections.setdefault(who, []).append({"at": at, "by": by, "reason": reason})
    finally:
        db.conn.rollback()
        db.close()
    warnings: list[str] = []
    calendar = WorkCalendar.from_rules(hall.attendance, warn=warnings.append)
    schedule = Schedule.from_rules(hall.attendance)
    judged = {d.staff: d for d in evaluate(punches, leaves, staff=[m.id for m in staff], dates=[day],
                                           schedule=schedule, calendar=calendar, tz=tz)}
    final = bool(state.get("final"))
    departments = {w.id: w.department for w in hall.catalogue.windows}
    leave_of: dict[str, list[dict]] = {}
    for lv in leaves:
        leave_of.setdefault(lv.staff, []).append({"kind": lv.kind, "start": lv.start.isoformat(),
                                                  "end": lv.end.isoformat()})
    counts = {slot.name: {} for slot in schedule.slots}
    people = []
    for member in staff:
        stored = closed.get(member.id, {}).get(day)
        result = stored or judged[member.id]
        slots = None
        if result.slots is not None:
            slots = {}
            for slot in schedule.slots:
                got = result.slots[slot.name].to_dict()
                if got["status"] == "missing" and not final and (day > now.date() or (
                        day == now.date() and now.time() < slot.end)):
                    got["status"] = "open"
                slots[slot.name] = got
                counts[slot.name][got["status"]] = counts[slot.name].get(got["status"], 0) + 1
        status = result.status
        if slots and any(v["status"] == "open" for v in slots.values()) and status == "absent":
            status = "open"  # nobody is absent before the day is over
        people.append({"staff": member.id, "name": member.name, "window": member.window, "role": member.role,
                       "department": departments.get(member.window), "status": status, "slots": slots,
                       "overtime": [t.isoformat() for t in result.overtime], "leave": leave_of.get(member.id, []),
                       "corrections": corrections.get(member.id, []), "stored": stored is not None})
    return {
        "hall": {"id": hall.id, "name": hall.info.name, "name_en": hall.info.name_en},
        "date": day.isoformat(), "workday": calendar.is_workday(day), "closed": final,
        "waiting_for": state.get("waiting_for", []), "evaluated_at": now.isoformat(timespec="seconds"),
        "schedule": [{"slot": s.name, "scheduled": s.scheduled.isoformat("minutes"), "start": s.start.isoformat("minutes"),
                      "end": s.end.isoformat("minutes")} for s in schedule.slots],
        "counts": counts, "people": people, "warnings": warnings,
    }


def _open_to_read(path: Path):
    """The hub's database, made the owner's alone as the hub makes it (an older install may have left it wider)."""
    import sqlite_utils

    private_folder(path.parent)
    private_sqlite_file(path)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA busy_timeout=5000")  # the hub may be committing
    return db


def _days_to_judge(staff, dates: list[date], closed: dict, extra_leave: list, tz) -> dict[str, set[date]]:
    covered: dict[str, set[date]] = {}
    for lv in extra_leave:
        first, last = max(dates[0], lv.start.astimezone(tz).date()), min(dates[-1], lv.end.astimezone(tz).date())
        covered.setdefault(lv.staff, set()).update(date_range(first, last) if first <= last else ())
    return {m.id: {d for d in dates if d not in closed.get(m.id, ()) or d in covered.get(m.id, ())} for m in staff}


def _person_row(member, t: Tally, pending_days: int, satisfaction: dict | None) -> dict:
    row = {"staff": member.id, "name": member.name, "window": member.window, "role": member.role,
           "workdays": t.workdays, "expected_days": t.expected_days, "ok_days": t.ok_days,
           "late": t.late, "late_minutes": t.late_minutes, "early": t.early, "early_minutes": t.early_minutes,
           "missing": t.missing, "absent_days": t.absent_days, "leave_days": t.leave_days,
           "pending_days": pending_days, "rest_punch_days": t.rest_punch_days,
           "attendance_rate": t.attendance_rate, "score": t.score}
    if satisfaction:
        row["satisfaction"] = satisfaction
    return row


def _window_rows(hall, people: list[dict], satisfaction: dict) -> list[dict]:
    departments = {d.id: d.name for d in hall.catalogue.departments}
    rows = []
    for w in hall.catalogue.windows:
        mine = [p for p in people if p["window"] == w.id]
        expected = sum(p["expected_days"] for p in mine)
        ok = sum(p["ok_days"] for p in mine)
        row = {"window": w.id, "name": w.name, "department": departments.get(w.department, w.department),
               "people": len(mine)}
        for key in ("workdays", "expected_days", "ok_days", "late", "late_minutes", "early", "early_minutes",
                    "missing", "absent_days", "leave_days", "pending_days"):
            row[key] = sum(p[key] for p in mine)
        row["attendance_rate"] = round(ok / expected, 4) if expected else None
        row["score"] = round(sum(p["score"] for p in mine) / len(mine), 1) if mine else 0.0
        if w.id in satisfaction:
            row["satisfaction"] = satisfaction[w.id]
        row["composite"] = _composite(row["score"], satisfaction.get(w.id))
        rows.append(row)
    return rows


def _brief_window(w: dict) -> dict:
    keys = ("window", "name", "department", "people", "score", "attendance_rate", "absent_days", "late",
            "late_minutes", "early", "early_minutes", "missing", "rank", "composite", "satisfaction")
    return {k: w[k] for k in keys if k in w}


def _brief_person(p: dict, extra: tuple = ()) -> dict:
    keys = ("staff", "name", "window", "score", "rank", "late", "late_minutes", "early", "early_minutes",
            "missing", "absent_days", *extra, "satisfaction")
    return {k: p[k] for k in keys if k in p}


# ---------------------------------------------------------------- writing

def write_report(report: dict, fmt: str, out: Path | str) -> None:
    if fmt == "json":
        text = json.dumps(report, ensure_ascii=False, indent=1) + "\n"
        if str(out) == "-":
            sys.stdout.write(text)
        else:
            Path(out).write_text(text, encoding="utf-8")
    elif fmt == "csv":
        write_csv(report, out)
    elif fmt == "xlsx":
        if str(out) == "-":
            raise ReportError("Excel 报表需要 --out 文件名 / an xlsx report needs --out FILE")
        from hub.attendance.excel import write_xlsx

        write_xlsx(report, Path(out))
    else:
        raise ReportError(f"unknown format {fmt!r}")
