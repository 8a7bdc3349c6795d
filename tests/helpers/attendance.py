"""Helpers shared by the attendance tests: punches and leave by local time, the default schedule."""

from __future__ import annotations

import argparse
from datetime import date, datetime
from zoneinfo import ZoneInfo

from hub.attendance.rules import Leave, Punch, Schedule, WorkCalendar, evaluate

TZ = ZoneInfo("Asia/Shanghai")
SCHEDULE = Schedule.from_times(*(datetime.strptime(t, "%H:%M").time() for t in ("09:00", "11:40", "13:00", "17:00")))


def at(text: str) -> datetime:
    """'2026-11-30 09:07' or '2026-11-30 09:07:30' in hall time."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(text, fmt).replace(tzinfo=TZ)


def punches(staff: str, *times: str) -> list[Punch]:
    return [Punch(at(t), staff) for t in times]


def leave(staff: str, start: str, end: str, kind: str = "leave") -> Leave:
    return Leave(staff, at(start), at(end), kind)


def day(times: list[str], day_: str = "2026-11-30", *, leaves=(), schedule=SCHEDULE, calendar=None, staff="s023"):
    """Evaluate one person's punches ('HH:MM[:SS]' on `day_`) and return that AttendanceDay."""
    ps = punches(staff, *(f"{day_} {t}" for t in times))
    result = evaluate(ps, leaves, staff=[staff], dates=[date.fromisoformat(day_)], schedule=schedule,
                      calendar=calendar or WorkCalendar(), tz=TZ)
    assert len(result) == 1
    return result[0]


def slot(times: list[str], name: str, day_: str = "2026-11-30", **kw) -> tuple:
    s = day(times, day_, **kw).slots[name]
    return s.status, s.at.isoformat() if s.at else None, s.minutes


def run_cli(argv: list[str]) -> int:
    """Run `hall …` through this part's own command registration (no other part needed)."""
    from hallctl.commands import attendance as commands

    parser = argparse.ArgumentParser(prog="hall")
    commands.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def fill_hub_db(path, hall, first: date, last: date, *, seed: int = 7, staff=None, final_through: date | None = None):
    """A hub database holding planned punches for every day from first to last, closed through final_through."""
    import sqlite_utils

    from hallctl.traffic.punches import plan_period
    from hub.attendance import store
    from hub.attendance.rules import WorkCalendar, date_range

    db = sqlite_utils.Database(path)
    store.create_tables(db)
    people = staff or [s.id for s in hall.staff]
    plan = plan_period(people, first, last, tz=hall.tz, is_workday=WorkCalendar().is_workday, seed=seed)
    db.execute("PRAGMA synchronous=OFF")  # test data: speed over durability
    with db.atomic():
        for i, p in enumerate(plan):
            store.insert_punch(db, f"e{i:07d}", p.staff, p.at, "fp-01", 100, p.at, None)
        for d in date_range(first, final_through or last):
            db.execute("INSERT OR REPLACE INTO attendance_dates(date, final) VALUES (?, 1)", (d.isoformat(),))
    db.close()
    return plan
