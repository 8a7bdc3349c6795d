"""Cases and their deadlines (办件与电子监察): every rule of a case's life, its deadline and its card, as plain
objects over plain data.

No clock, no I/O: each operation is given the moment it happens (an aware datetime) and returns an `Outcome`. The
hub journals operations and their outcomes and replays them through a fresh book after a restart; the scenario
runner (`hall cases simulate`) drives the same book from a script, and the report (`hall cases report`) judges
stored cases with the same functions.

A case's life (办件):

    accepted 受理 ──start──▶ in_progress 办理中 ──finish(approved | refused)──▶ finished 办结 (准予 / 不予许可)
       │  ▲                      │  ▲
       │  └──────resume──────────┼──┘   suspended 补正: the applicant brings missing documents; resume goes back
       └──suspend──▶ suspended ◀─┘      to the state it was suspended from
    accepted, in_progress, suspended ──withdraw──▶ withdrawn 退件

An operation that does not apply is refused with a code and a bilingual message (finishing a withdrawn case,
resuming one that is not suspended, finishing one still waiting for documents) and changes nothing.

**The deadline** (承诺时限, in working days of the statutory calendar). The acceptance day never counts. A working
day counts toward the limit when, at the hall's closing time that day, the case is not suspended. The deadline is
the closing time of the working day on which the count reaches the limit; a limit of 0 (即办件, done on the spot)
is the closing time of the acceptance day. While a case is suspended its deadline is not known (the count waits
for its resumption). A case finished at or before its deadline is on time.

**Cards** (电子监察): a case not finished, not withdrawn and not suspended is red once its deadline has passed,
yellow when its deadline falls on the current or the next working day, green otherwise.

**Follow-ups** (差评整改, 投诉): a poor rating (1–2) or a complaint entered by the supervision office opens a
follow-up that the department head answers within 1 working day (contact made, cause, correction): its deadline
is the same rule with a limit of 1 and no suspension, its card the same as a case's.

Working days come from a `Workdays` index over the hall's calendar (hub/attendance/rules.py `WorkCalendar`, the
statutory calendar with the config's fallback), so a deadline is a few list look-ups, not a walk day by day.
"""

from __future__ import annotations

import hmac
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from hashlib import sha256

# case status
ACCEPTED = "accepted"
IN_PROGRESS = "in_progress"
SUSPENDED = "suspended"
FINISHED = "finished"
WITHDRAWN = "withdrawn"
OPEN_STATES = frozenset({ACCEPTED, IN_PROGRESS, SUSPENDED})
STATUS_LABELS = {ACCEPTED: ("受理", "accepted"), IN_PROGRESS: ("办理中", "in progress"),
                 SUSPENDED: ("补正", "suspended"), FINISHED: ("办结", "finished"), WITHDRAWN: ("退件", "withdrawn")}

# how a case ends
APPROVED = "approved"
REFUSED = "refused"
RESULT_LABELS = {APPROVED: ("准予许可", "approved"), REFUSED: ("不予许可", "refused")}

# cards
GREEN = "green"
YELLOW = "yellow"
RED = "red"
CARD_LABELS = {GREEN: ("绿牌", "green"), YELLOW: ("黄牌预警", "yellow: due soon"), RED: ("红牌超期", "red: overdue")}

# follow-ups
RATING = "rating"
COMPLAINT = "complaint"
FOLLOWUP_DAYS = 1
FOLLOWUP_LABELS = {RATING: ("差评整改", "poor-rating follow-up"), COMPLAINT: ("投诉", "complaint")}

# refusal codes (answered with ok: false)
UNKNOWN_CASE = "unknown_case"
CASE_EXISTS = "case_exists"
UNKNOWN_SERVICE = "unknown_service"
INVALID_ID = "invalid_id_number"
NO_LIMIT = "no_limit"
REASON_REQUIRED = "reason_required"
BEYOND_LEGAL = "beyond_legal_limit"
CASE_CLOSED = "case_closed"
NOT_ACCEPTED = "not_accepted"
IS_SUSPENDED = "suspended"
NOT_SUSPENDED = "not_suspended"
NOT_FOUND = "not_found"
UNKNOWN_FOLLOWUP = "unknown_followup"
ALREADY_ANSWERED = "already_answered"
FORBIDDEN = "forbidden"

# Chinese first, English second: these reach window PCs, kiosks and the console as they are.
MESSAGES = {
    UNKNOWN_CASE: "没有这个办件 · no such case",
    CASE_EXISTS: "办件编号已存在 · the case number is taken",
    UNKNOWN_SERVICE: "没有这个事项 · no such service item",
    INVALID_ID: "身份证号码校验不通过 · the ID number fails its check digit (GB 11643)",
    NO_LIMIT: "该事项没有承诺时限，请填写办理时限 · the item has no promised limit: give the days",
    REASON_REQUIRED: "改变承诺时限须说明理由 · changing the promised limit needs a reason",
    BEYOND_LEGAL: "办理时限不能超过法定时限 · the limit may not exceed the legal limit",
    CASE_CLOSED: "该办件已办结或已退件 · the case is finished or withdrawn",
    NOT_ACCEPTED: "该办件已在办理中 · the case is in progress already",
    IS_SUSPENDED: "该办件正在补正，请先恢复办理 · the case is suspended: resume it first",
    NOT_SUSPENDED: "该办件不在补正中 · the case is not suspended",
    NOT_FOUND: "查无此件，请核对办件编号和身份证后四位 · no case with this number and these ID characters",
    UNKNOWN_FOLLOWUP: "没有这个整改单 · no such follow-up",
    ALREADY_ANSWERED: "该整改单已回复 · the follow-up is answered already",
    FORBIDDEN: "该设备不能代表这个窗口 · this device may not act for that window",
}


# ---------------------------------------------------------------- applicants (GB 11643)

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def id_number_valid(number: str) -> bool:
    """A citizen ID number (公民身份号码): 17 digits and a check character (GB 11643, ISO 7064 MOD 11-2)."""
    number = number.strip().upper()
    if len(number) != 18 or not number[:17].isdigit() or number[17] not in "0123456789X":
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == number[17]


def id_number_hash(number: str, key: bytes) -> str:
    """The keyed hash kept instead of the number: the same person's cases can be found, the number cannot."""
    return hmac.new(key, number.strip().upper().encode("ascii"), sha256).hexdigest()


def id_last4(number: str) -> str:
    return number.strip().upper()[-4:]


def masked_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧**娜: the surname and, for longer names, the last character."""
    name = name.strip()
    if len(name) <= 2:
        return name[:1] + "*" * (len(name) - 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]


# ---------------------------------------------------------------- working days

class Workdays:
    """The working days of a calendar as a sorted list of ordinals, grown on demand in both directions.

    `is_workday` is the hall's calendar (WorkCalendar.is_workday): asked once per date, ever."""

    SPAN = 120  # days added at a time: a year the calendar does not know is looked at only when needed

    def __init__(self, is_workday: Callable[[date], bool]):
        self.is_workday = is_workday
        self._first: int | None = None  # ordinals [first, last] are known
        self._last = 0
        self.ords: list[int] = []

    def _cover(self, ordinal: int) -> None:
        if self._first is None:
            self._first, self._last = ordinal - self.SPAN, ordinal - self.SPAN - 1
        if ordinal < self._first:
            start = ordinal - self.SPAN
            self.ords[:0] = [o for o in range(start, self._first) if self.is_workday(date.fromordinal(o))]
            self._first = start
        while self._last < ordinal:
            end = self._last + self.SPAN
            self.ords += [o for o in range(self._last + 1, end + 1) if self.is_workday(date.fromordinal(o))]
            self._last = end

    def _around(self, ordinal: int) -> None:
        """The day itself known, and a working day after it (the longest holiday is far shorter than 31 days)."""
        self._cover(ordinal)  # before the days known: grow backwards first, or the bisection would start too late
        self._cover(ordinal + 31)

    def index(self, day: date) -> int:
        """The index of the first working day on or after `day` (indices hold only within one computation)."""
        ordinal = day.toordinal()
        self._around(ordinal)
        return bisect_left(self.ords, ordinal)

    def index_after(self, day: date) -> int:
        ordinal = day.toordinal()
        self._around(ordinal)
        return bisect_right(self.ords, ordinal)

    def day(self, i: int) -> date:
        while i >= len(self.ords):
            self._cover(self._last + self.SPAN)
        return date.fromordinal(self.ords[i])

    def next_after(self, day: date) -> date:
        return self.day(self.index_after(day))


@dataclass(frozen=True)
class Clock:
    """The hall's closing time and calendar: what every deadline is measured with."""

    workdays: Workdays
    closing: time
    tz: tzinfo

    def closes(self, day: date) -> datetime:
        return datetime.combine(day, self.closing, tzinfo=self.tz)

    def first_closing_index(self, moment: datetime) -> int:
        """The index of the first working day whose closing time is at or after `moment`."""
        local = moment.astimezone(self.tz)
        day = local.date()
        if local.time() > self.closing:
            day += timedelta(days=1)
        return self.workdays.index(day)


def deadline_of(clock: Clock, accepted_at: datetime, days: int,
                suspensions: list[tuple[datetime, datetime | None]]) -> date | None:
    """The day whose closing time is the deadline; None while a suspension that matters is still open.

    A working day after the acceptance day counts unless a suspension [start, end) holds at its closing time;
    the deadline is the working day on which the count reaches `days`."""
    accepted_day = accepted_at.astimezone(clock.tz).date()
    if days <= 0:
        return accepted_day
    wd = clock.workdays
    pos = wd.index_after(accepted_day)  # the first working day that may count
    remaining = days
    for start, end in suspensions:
        first_held = clock.first_closing_index(start)
        if first_held > pos:
            available = first_held - pos
            if remaining <= available:
                return wd.day(pos + remaining - 1)
            remaining -= available
            pos = first_held
        if end is None:
            return None
        pos = max(pos, clock.first_closing_index(end))
    return wd.day(pos + remaining - 1)


def days_used(clock: Clock, accepted_at: datetime, until: datetime,
              suspensions: list[tuple[datetime, datetime | None]]) -> int:
    """Working days counted from acceptance to `until` (a finish: its own day counts when it is a working day
    after the acceptance day), suspended closings left out."""
    wd = clock.workdays
    accepted_day = accepted_at.astimezone(clock.tz).date()
    last_day = until.astimezone(clock.tz).date()
    if last_day <= accepted_day:
        return 0
    pos = wd.index_after(accepted_day)
    end = wd.index_after(last_day)  # exclusive: working days up to and including last_day
    used = max(0, end - pos)
    for start, stop in suspensions:
        lo = max(pos, clock.first_closing_index(start))
        hi = min(end, clock.first_closing_index(stop) if stop is not None else end)
        if hi > lo:
            used -= hi - lo
    return used


def card_of(clock: Clock, deadline: date | None, now: datetime, today: date | None = None,
            next_workday: date | None = None) -> str | None:
    """Red once the deadline's closing time has passed, yellow when it falls today or on the next working day,
    green otherwise; None without a deadline (suspended). `today` and `next_workday` may be given by a caller
    judging many cases at one moment."""
    if deadline is None:
        return None
    if now > clock.closes(deadline):
        return RED
    today = today or now.astimezone(clock.tz).date()
    next_workday = next_workday or clock.workdays.next_after(today)
    return YELLOW if deadline <= next_workday else GREEN


# ---------------------------------------------------------------- the book's objects

@dataclass(frozen=True)
class ServiceSpec:
    """A catalogue item as cases see it: its department and its limits in working days."""
    id: str
    department: str | None = None
    promised_days: int | None = None
    legal_days: int | None = None
    name: str = ""
    name_en: str = ""


@dataclass
class Case:
    number: str
    accepted_at: datetime
    days: int                                  # the promised limit this case runs against
    service: str | None = None
    department: str | None = None
    legal_days: int | None = None
    days_reason: str | None = None             # why the limit differs from the item's
    ticket: str | None = None
    window: str | None = None
    applicant: str = ""                        # masked name
    id_hash: str | None = None
    id_last4: str | None = None
    status: str = ACCEPTED
    before_suspension: str | None = None
    suspensions: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    suspension_reasons: list[str] = field(default_factory=list)
    finished_at: datetime | None = None
    result: str | None = None
    withdrawn_at: datetime | None = None
    withdraw_reason: str | None = None
    _deadline: tuple[int, date | None] | None = field(default=None, repr=False, compare=False)

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATES


@dataclass
class FollowUp:
    id: str
    kind: str                                  # rating or complaint
    opened_at: datetime
    department: str | None = None
    window: str | None = None
    ticket: str | None = None
    staff: str | None = None
    score: int | None = None
    rating: int | None = None                  # the rating's row
    detail: str = ""
    by: str | None = None                      # who entered a complaint
    answered_at: datetime | None = None
    answered_by: str | None = None
    contact: str | None = None
    cause: str | None = None
    correction: str | None = None

    @property
    def open(self) -> bool:
        return self.answered_at is None


@dataclass
class Outcome:
    ok: bool
    code: str | None = None
    error: str | None = None
    case: Case | None = None
    followup: FollowUp | None = None

    @classmethod
    def refuse(cls, code: str, detail: str = "") -> Outcome:
        message = MESSAGES[code]
        return cls(ok=False, code=code, error=f"{message}: {detail}" if detail else message)


# ---------------------------------------------------------------- the book

class CaseBook:
    """Every case and follow-up of one hall, numbered by the hall's local date of acceptance."""

    def __init__(self, clock: Clock, services: Mapping[str, ServiceSpec] | None = None):
        self.clock = clock
        self.services = services or {}
        self.cases: dict[str, Case] = {}
        self.followups: dict[str, FollowUp] = {}
        self._numbers: dict[str, int] = {}        # YYYYMMDD → cases numbered that day
        self._followup_numbers: dict[str, int] = {}
        self._rated: set[int] = set()             # rating rows that opened a follow-up

    # ------------------------------------------------------------ judging

    def deadline(self, case: Case) -> date | None:
        """Cached until the case's suspensions change (a resume, a new suspension)."""
        key = len(case.suspensions) * 2 + (case.suspensions[-1][1] is not None if case.suspensions else 0)
        if case._deadline is None or case._deadline[0] != key:
            case._deadline = (key, deadline_of(self.clock, case.accepted_at, case.days, case.suspensions))
        return case._deadline[1]

    def shown_deadline(self, case: Case) -> date | None:
        """The deadline as shown: none while suspended."""
        return None if case.status == SUSPENDED else self.deadline(case)

    def card(self, case: Case, now: datetime, today: date | None = None, next_workday: date | None = None) -> str | None:
        if case.status not in (ACCEPTED, IN_PROGRESS):
            return None
        return card_of(self.clock, self.deadline(case), now, today, next_workday)

    def on_time(self, case: Case) -> bool | None:
        if case.status != FINISHED:
            return None
        deadline = self.deadline(case)
        return deadline is not None and case.finished_at <= self.clock.closes(deadline)

    def days_used(self, case: Case, now: datetime) -> int:
        return days_used(self.clock, case.accepted_at, case.finished_at or case.withdrawn_at or now, case.suspensions)

    def cards(self, now: datetime) -> dict[str, str]:
        """The card of every open case that is not suspended, at one moment."""
        today = now.astimezone(self.clock.tz).date()
        next_workday = self.clock.workdays.next_after(today)
        out = {}
        for number, case in self.cases.items():
            if case.status in (ACCEPTED, IN_PROGRESS):
                out[number] = card_of(self.clock, self.deadline(case), now, today, next_workday)
        return out

    def followup_deadline(self, f: FollowUp) -> date:
        return deadline_of(self.clock, f.opened_at, FOLLOWUP_DAYS, [])

    def followup_card(self, f: FollowUp, now: datetime, today: date | None = None,
                      next_workday: date | None = None) -> str | None:
        if not f.open:
            return None
        return card_of(self.clock, self.followup_deadline(f), now, today, next_workday)

    def followup_on_time(self, f: FollowUp) -> bool | None:
        if f.open:
            return None
        return f.answered_at <= self.clock.closes(self.followup_deadline(f))

    # ------------------------------------------------------------ a case's life

    def accept(self, at: datetime, *, days: int | None = None, service: str | None = None, reason: str | None = None,
               ticket: str | None = None, window: str | None = None, applicant: str = "",
               id_hash: str | None = None, id_last4: str | None = None, number: str | None = None,
               enforce: bool = True) -> Outcome:
        """受理: a new case numbered by its acceptance date (`number` given: the one decided back then, or a
        scenario's own). The limit is the item's promised one unless `days` says otherwise with a reason;
        `enforce=False` (a replay) takes the limit that was taken then, whatever the catalogue says now."""
        spec = None
        if service is not None:
            spec = self.services.get(service)
            if spec is None and enforce:
                return Outcome.refuse(UNKNOWN_SERVICE, repr(service))
        if spec is not None and enforce:
            promised = spec.promised_days if spec.promised_days is not None else spec.legal_days
            if days is None:
                if promised is None:
                    return Outcome.refuse(NO_LIMIT, service)
                days = promised
            elif promised is not None and days != promised and not (reason or "").strip():
                return Outcome.refuse(REASON_REQUIRED, f"{service}: {promised} → {days}")
            if spec.legal_days is not None and days > spec.legal_days:
                return Outcome.refuse(BEYOND_LEGAL, f"{days} > {spec.legal_days}")
        if days is None:
            return Outcome.refuse(NO_LIMIT, service or "-")
        if number is None:
            number = self._next_number(at)
        elif number in self.cases:
            return Outcome.refuse(CASE_EXISTS, number)
        case = Case(number=number, accepted_at=at, days=days, service=service,
                    department=spec.department if spec else None, legal_days=spec.legal_days if spec else None,
                    days_reason=(reason or "").strip() or None,
                    ticket=ticket, window=window, applicant=applicant, id_hash=id_hash, id_last4=id_last4)
        self.cases[number] = case
        self._count(number)
        return Outcome(ok=True, case=case)

    def start(self, number: str, at: datetime) -> Outcome:
        """办理中: the department has taken the case up."""
        case, refusal = self._open_case(number)
        if refusal:
            return refusal
        if case.status == SUSPENDED:
            return Outcome.refuse(IS_SUSPENDED, number)
        if case.status != ACCEPTED:
            return Outcome.refuse(NOT_ACCEPTED, number)
        case.status = IN_PROGRESS
        return Outcome(ok=True, case=case)

    def suspend(self, number: str, at: datetime, reason: str = "") -> Outcome:
        """补正: waiting for the applicant's missing documents; the count stops at the next closing time."""
        case, refusal = self._open_case(number)
        if refusal:
            return refusal
        if case.status == SUSPENDED:
            return Outcome.refuse(IS_SUSPENDED, number)
        case.before_suspension, case.status = case.status, SUSPENDED
        case.suspensions.append((at, None))
        case.suspension_reasons.append(reason)
        return Outcome(ok=True, case=case)

    def resume(self, number: str, at: datetime) -> Outcome:
        case, refusal = self._open_case(number)
        if refusal:
            return refusal
        if case.status != SUSPENDED:
            return Outcome.refuse(NOT_SUSPENDED, number)
        start, _ = case.suspensions[-1]
        case.suspensions[-1] = (start, max(at, start))
        case.status, case.before_suspension = case.before_suspension or ACCEPTED, None
        return Outcome(ok=True, case=case)

    def finish(self, number: str, at: datetime, result: str = APPROVED) -> Outcome:
        """办结, 准予 or 不予许可. A suspended case is resumed first: its documents came, or they did not."""
        case, refusal = self._open_case(number)
        if refusal:
            return refusal
        if case.status == SUSPENDED:
            return Outcome.refuse(IS_SUSPENDED, number)
        case.status, case.finished_at, case.result = FINISHED, at, result
        return Outcome(ok=True, case=case)

    def withdraw(self, number: str, at: datetime, reason: str = "") -> Outcome:
        """退件: the applicant withdraws, or the case is returned; a suspension ends with it."""
        case, refusal = self._open_case(number)
        if refusal:
            return refusal
        if case.status == SUSPENDED:
            start, _ = case.suspensions[-1]
            case.suspensions[-1] = (start, max(at, start))
        case.status, case.withdrawn_at, case.withdraw_reason = WITHDRAWN, at, reason or None
        return Outcome(ok=True, case=case)

    def lookup(self, number: str, last4: str) -> Outcome:
        """办件查询: a citizen with the case number and the last 4 characters of the ID number. A wrong pair and an
        unknown number get the same answer, so the number alone tells nobody whether a case exists."""
        case = self.cases.get(number.strip())
        if case is None or not case.id_last4 or not hmac.compare_digest(case.id_last4, last4.strip().upper()):
            return Outcome.refuse(NOT_FOUND)
        return Outcome(ok=True, case=case)

    # ------------------------------------------------------------ follow-ups

    def open_followup(self, kind: str, at: datetime, *, department: str | None = None, window: str | None = None,
                      ticket: str | None = None, staff: str | None = None, score: int | None = None,
                      rating: int | None = None, detail: str = "", by: str | None = None,
                      number: str | None = None) -> Outcome:
        """A poor rating's follow-up (once per rating row) or a complaint, numbered Z/T + date + count."""
        if rating is not None and rating in self._rated:
            return Outcome(ok=True)  # this rating has its follow-up already
        if number is None:
            stem = ("Z" if kind == RATING else "T") + at.astimezone(self.clock.tz).strftime("%Y%m%d")
            self._followup_numbers[stem] = self._followup_numbers.get(stem, 0) + 1
            number = f"{stem}{self._followup_numbers[stem]:03d}"
        else:
            stem = number[:9]
            seq = int(number[9:] or 0)
            self._followup_numbers[stem] = max(self._followup_numbers.get(stem, 0), seq)
        f = FollowUp(id=number, kind=kind, opened_at=at, department=department, window=window, ticket=ticket,
                     staff=staff, score=score, rating=rating, detail=detail, by=by)
        self.followups[number] = f
        if rating is not None:
            self._rated.add(rating)
        return Outcome(ok=True, followup=f)

    def answer_followup(self, number: str, at: datetime, *, by: str, contact: str, cause: str,
                        correction: str) -> Outcome:
        f = self.followups.get(number)
        if f is None:
            return Outcome.refuse(UNKNOWN_FOLLOWUP, repr(number))
        if not f.open:
            return Outcome.refuse(ALREADY_ANSWERED, f"{number} · {f.answered_by} {f.answered_at:%m-%d %H:%M}")
        f.answered_at, f.answered_by, f.contact, f.cause, f.correction = at, by, contact, cause, correction
        return Outcome(ok=True, followup=f)

    # ------------------------------------------------------------ internals

    def _open_case(self, number: str) -> tuple[Case | None, Outcome | None]:
        case = self.cases.get(number)
        if case is None:
            return None, Outcome.refuse(UNKNOWN_CASE, repr(number))
        if not case.open:
            return None, Outcome.refuse(CASE_CLOSED, f"{number} {STATUS_LABELS[case.status][0]} {case.status}")
        return case, None

    def _next_number(self, at: datetime) -> str:
        stem = at.astimezone(self.clock.tz).strftime("%Y%m%d")
        n = self._numbers.get(stem, 0) + 1
        while f"{stem}{n:04d}" in self.cases:
            n += 1
        return f"{stem}{n:04d}"

    def _count(self, number: str) -> None:
        stem, seq = number[:8], number[8:]
        if stem.isdigit() and seq.isdigit():
            self._numbers[stem] = max(self._numbers.get(stem, 0), int(seq))


def clock_from_hall(hall, warn: Callable[[str], None] | None = None) -> Clock:
    """The hall's calendar (as attendance uses it) and its closing time: the end of its last opening span."""
    from hub.attendance.rules import WorkCalendar

    calendar = WorkCalendar.from_rules(hall.attendance, warn)
    closing = max(span.end for span in hall.hours.open)
    return Clock(Workdays(calendar.is_workday), closing, hall.tz)


def services_from_hall(hall) -> dict[str, ServiceSpec]:
    return {s.id: ServiceSpec(s.id, s.department, s.promised_days, s.time_limit_days, s.name, s.name_en)
            for s in hall.catalogue.services}
