"""The attendance rules of the hall: punches and leave in, one AttendanceDay per person per date out.

Pure: no clock, no files, no database. Everything the rules need (the schedule, the calendar, the time zone) is
passed in, so the hub, the offline `hall attendance evaluate` command and the reports share one implementation.

The day has four slots. Each slot owns a window [start, end) of local time whose inner boundaries are the
midpoints between the scheduled times (09:00 / 11:40 → 10:20, 11:40 / 13:00 → 12:20, 13:00 / 17:00 → 15:00). The
first window opens three hours before the morning start (06:00) and the last closes at 23:59. An *in* slot counts
its earliest punch and is late after its scheduled time; an *out* slot counts its latest punch and is early before
it. Late and early minutes are ceil(seconds / 60); a punch within the grace minutes is on time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

import chinese_calendar

SLOT_NAMES = ("am_in", "am_out", "pm_in", "pm_out")
# the first window opens this long before the morning start: early enough for anyone, late enough that a night
# shift's leftovers from the day before do not count as an arrival
OPENS_BEFORE = timedelta(hours=3)
DAY_END = time(23, 59)

SlotStatus = Literal["ok", "late", "early", "missing", "leave"]
DayStatus = Literal["rest", "leave", "absent", "ok", "abnormal"]

# 请假 (personal/sick leave), 公出 (official business outside the hall), 调休 (time off in lieu)
LEAVE_KINDS = {
    "请假": "leave", "leave": "leave", "personal": "leave", "sick": "leave",
    "公出": "business", "business": "business", "business_trip": "business", "official": "business",
    "调休": "in_lieu", "in_lieu": "in_lieu", "time_off": "in_lieu", "compensatory": "in_lieu", "comp": "in_lieu",
}
LEAVE_LABELS = {"leave": "请假", "business": "公出", "in_lieu": "调休"}


# ---------------------------------------------------------------- input records

@dataclass(frozen=True, order=True)
class Punch:
    """One finger on a terminal: who and when (an aware datetime)."""

    at: datetime
    staff: str


@dataclass(frozen=True)
class Leave:
    """Approved absence over [start, end] (aware datetimes); kind is leave, business or in_lieu."""

    staff: str
    start: datetime
    end: datetime
    kind: str = "leave"

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end


# ---------------------------------------------------------------- the schedule

@dataclass(frozen=True)
class Slot:
    name: str
    start: time       # window [start, end) in local time
    end: time
    scheduled: time
    arrival: bool     # True: earliest punch counts, late after scheduled; False: latest counts, early before

    def holds(self, moment: time) -> bool:
        return self.start <= moment < self.end


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _clock(seconds: int) -> time:
    seconds = max(0, min(seconds, 24 * 3600 - 1))
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


@dataclass(frozen=True)
class Schedule:
    slots: tuple[Slot, ...]
    grace: timedelta = timedelta(0)
    merge: timedelta = timedelta(seconds=60)

    @classmethod
    def from_times(cls, am_in: time, am_out: time, pm_in: time, pm_out: time, *, grace_minutes: int = 0,
                   merge_seconds: int = 60) -> Schedule:
        times = [am_in, am_out, pm_in, pm_out]
        secs = [_seconds(t) for t in times]
        if secs != sorted(secs) or len(set(secs)) != 4:
            raise ValueError("scheduled times must be in order: am_in < am_out < pm_in < pm_out")
        bounds = [max(0, secs[0] - int(OPENS_BEFORE.total_seconds()))]
        bounds += [(a + b) // 2 for a, b in zip(secs, secs[1:], strict=False)]
        bounds.append(_seconds(DAY_END))
        slots = tuple(
            Slot(name, _clock(bounds[i]), _clock(bounds[i + 1]), times[i], arrival=name.endswith("_in"))
            for i, name in enumerate(SLOT_NAMES))
        return cls(slots, timedelta(minutes=grace_minutes), timedelta(seconds=merge_seconds))

    @classmethod
    def from_rules(cls, rules) -> Schedule:
        """From hall.settings.AttendanceRules (duck-typed, so the rules stay free of the settings module)."""
        return cls.from_times(rules.am_in, rules.am_out, rules.pm_in, rules.pm_out,
                              grace_minutes=rules.grace_minutes, merge_seconds=rules.merge_seconds)

    @property
    def closes(self) -> time:
        """When the evening window ends: after it nothing more can change a day."""
        return self.slots[-1].end


# ---------------------------------------------------------------- the calendar

class WorkCalendar:
    """Workdays from the statutory calendar (chinesecalendar), with adjusted working weekends.

    For a year the package does not know, Monday–Friday plus the config's extra holidays and working weekends,
    and one warning per such year through `warn` (the shell decides where warnings go; they are kept in
    `warnings` too).
    """

    def __init__(self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = (),
                 warn: Callable[[str], None] | None = None):
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self.warn = warn
        self.warnings: list[str] = []
        self._unknown_years: set[int] = set()
        self._cache: dict[date, bool] = {}

    @classmethod
    def from_rules(cls, rules, warn: Callable[[str], None] | None = None) -> WorkCalendar:
        return cls(rules.extra_holidays, rules.extra_workdays, warn)

    def is_workday(self, day: date) -> bool:
        known = self._cache.get(day)
        if known is None:
            known = self._cache[day] = self._decide(day)
        return known

    def _decide(self, day: date) -> bool:
        if day.year not in self._unknown_years:
            try:
                return chinese_calendar.is_workday(day)
            except NotImplementedError:
                self._unknown_years.add(day.year)
                message = (f"警告：法定节假日日历（chinesecalendar）不含 {day.year} 年，按周一至周五及配置中的节假日、调休工作日计算。"
                           f" / warning: the statutory calendar (chinesecalendar) does not know {day.year}; using "
                           f"Monday–Friday plus the extra_holidays and extra_workdays of the config")
                self.warnings.append(message)
                if self.warn:
                    self.warn(message)
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        return day.weekday() < 5


# ---------------------------------------------------------------- results

@dataclass(frozen=True)
class SlotResult:
    status: SlotStatus
    at: time | None = None
    minutes: int = 0

    def to_dict(self) -> dict:
        return {"status": self.status, "at": self.at.isoformat() if self.at else None, "minutes": self.minutes}


@dataclass(frozen=True)
class AttendanceDay:
    staff: str
    date: date
    workday: bool
    status: DayStatus
    slots: dict[str, SlotResult] | None
    overtime: tuple[time, ...] = ()

    def to_dict(self) -> dict:
        return {
            "staff": self.staff,
            "date": self.date.isoformat(),
            "workday": self.workday,
            "status": self.status,
            "slots": None if self.slots is None else {n: s.to_dict() for n, s in self.slots.items()},
            "overtime": [t.isoformat() for t in self.overtime],
        }

    @classmethod
    def from_dict(cls, raw: dict) -> AttendanceDay:
        slots = None
        if raw.get("slots") is not None:
            slots = {n: SlotResult(s["status"], time.fromisoformat(s["at"]) if s["at"] else None, s["minutes"])
                     for n, s in raw["slots"].items()}
        return cls(raw["staff"], date.fromisoformat(raw["date"]), raw["workday"], raw["status"], slots,
                   tuple(time.fromisoformat(t) for t in raw.get("overtime", ())))


# ---------------------------------------------------------------- the rules

def merge_punches(moments: Iterable[datetime], merge: timedelta) -> list[datetime]:
    """Punches of one person within `merge` (inclusive) of a kept punch are the same punch: the first is kept.

    Anchored on the kept punch rather than chained, so someone punching every 50 s still leaves a punch each
    minute, as a terminal's duplicate-punch period would.
    """
    kept: list[datetime] = []
    for moment in sorted(moments):
        if kept and moment - kept[-1] <= merge:
            continue
        kept.append(moment)
    return kept


def _judge(slot: Slot, day: date, moment: datetime, grace: timedelta) -> SlotResult:
    scheduled = datetime.combine(day, slot.scheduled, tzinfo=moment.tzinfo)
    behind = (moment - scheduled) if slot.arrival else (scheduled - moment)
    seconds = behind.total_seconds()
    if seconds <= grace.total_seconds():
        return SlotResult("ok", moment.time(), 0)
    return SlotResult("late" if slot.arrival else "early", moment.time(), math.ceil(seconds / 60))


def evaluate_day(schedule: Schedule, staff: str, day: date, workday: bool, moments: Iterable[datetime],
                 leaves: Iterable[Leave] = (), *, tz: tzinfo) -> AttendanceDay:
    """One person's day. `moments` are that person's punches on `day`, as local aware datetimes."""
    merged = merge_punches((m.replace(microsecond=0) for m in moments), schedule.merge)
    if not workday:
        return AttendanceDay(staff, day, False, "rest", None, tuple(m.time() for m in merged))
    leaves = list(leaves)
    slots: dict[str, SlotResult] = {}
    for slot in schedule.slots:
        inside = [m for m in merged if slot.holds(m.time())]
        covered = False
        if leaves:
            scheduled = datetime.combine(day, slot.scheduled, tzinfo=tz)
            covered = any(leave.covers(scheduled) for leave in leaves)
        if not inside:
            slots[slot.name] = SlotResult("leave" if covered else "missing")
            continue
        result = _judge(slot, day, min(inside) if slot.arrival else max(inside), schedule.grace)
        if covered and result.status != "ok":
            result = SlotResult("leave", result.at, 0)
        slots[slot.name] = result
    statuses = [s.status for s in slots.values()]
    if all(s == "leave" for s in statuses):
        status: DayStatus = "leave"
    elif all(s.at is None for s in slots.values()):
        status = "absent"
    elif all(s in ("ok", "leave") for s in statuses):
        status = "ok"
    else:
        status = "abnormal"
    return AttendanceDay(staff, day, True, status, slots)


def date_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def evaluate(punches: Iterable[Punch], leaves: Iterable[Leave] = (), *, staff: Iterable[str], dates: Iterable[date],
             schedule: Schedule, calendar: WorkCalendar, tz: tzinfo) -> list[AttendanceDay]:
    """Every person in `staff` on every date in `dates`, sorted by staff then date.

    Punches and leave of people not in `staff` are ignored, as are punches on other dates.
    """
    people = sorted(set(staff))
    wanted = set(people)
    days = sorted(set(dates))
    by_day: dict[tuple[str, date], list[datetime]] = defaultdict(list)
    for punch in punches:
        if punch.staff in wanted:
            local = punch.at.astimezone(tz)
            by_day[punch.staff, local.date()].append(local)
    leave_of: dict[str, list[Leave]] = defaultdict(list)
    for leave in leaves:
        if leave.staff in wanted:
            leave_of[leave.staff].append(leave)
    workdays = {d: calendar.is_workday(d) for d in days}
    out = []
    for person in people:
        mine = leave_of.get(person, ())
        for day in days:
            out.append(evaluate_day(schedule, person, day, workdays[day], by_day.get((person, day), ()), mine, tz=tz))
    return out


# the minutes of one late arrival or early leave count for the score up to here (0.1 point each): being very late
# once costs 3 points, not a month's worth, and each occurrence is still judged on its own
MINUTES_COUNTED = 20


@dataclass
class Tally:
    """What a period of AttendanceDays adds up to for one person (the report's row)."""

    staff: str
    workdays: int = 0
    ok_days: int = 0
    late: int = 0
    late_minutes: int = 0
    early: int = 0
    early_minutes: int = 0
    missing: int = 0
    absent_days: int = 0
    leave_days: int = 0
    leave_slots: int = 0
    rest_punch_days: int = 0
    # late and early minutes as the score counts them: each occurrence at most MINUTES_COUNTED
    counted_minutes: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, day: AttendanceDay) -> None:
        self.statuses[day.status] = self.statuses.get(day.status, 0) + 1
        if not day.workday:
            if day.overtime:
                self.rest_punch_days += 1
            return
        self.workdays += 1
        if day.status == "ok":
            self.ok_days += 1
        elif day.status == "absent":
            self.absent_days += 1
        elif day.status == "leave":
            self.leave_days += 1
        for slot in (day.slots or {}).values():
            if slot.status == "late":
                self.late += 1
                self.late_minutes += slot.minutes
                self.counted_minutes += min(slot.minutes, MINUTES_COUNTED)
            elif slot.status == "early":
                self.early += 1
                self.early_minutes += slot.minutes
                self.counted_minutes += min(slot.minutes, MINUTES_COUNTED)
            elif slot.status == "missing" and day.status != "absent":
                self.missing += 1
            elif slot.status == "leave":
                self.leave_slots += 1

    @property
    def expected_days(self) -> int:
        """Workdays the person was expected at the hall (not on leave all day)."""
        return self.workdays - self.leave_days

    @property
    def score(self) -> float:
        """100 for a clean period. Each late arrival or early leave costs 1 point plus 0.1 per minute, its minutes
        costing at most 2 points (so at most 3 points per occurrence); each missing punch 2, each absent day 10;
        never below 0. Leave costs nothing. Late by 100 minutes and by 1: (1 + 2) + (1 + 0.1) → 95.9."""
        lateness = self.late + self.early + 0.1 * self.counted_minutes
        return round(max(0.0, 100.0 - lateness - 2.0 * self.missing - 10.0 * self.absent_days), 1)

    @property
    def attendance_rate(self) -> float | None:
        return round(self.ok_days / self.expected_days, 4) if self.expected_days else None


def tally(days: Iterable[AttendanceDay]) -> dict[str, Tally]:
    out: dict[str, Tally] = {}
    for day in days:
        t = out.get(day.staff)
        if t is None:
            t = out[day.staff] = Tally(day.staff)
        t.add(day)
    return out
