"""Appointments (网上预约): every rule of a booking's life, as plain functions over plain data.

No clock, no I/O: each rule is given the moment it is asked at (an aware datetime in the hall's time zone) and
what the hub's tables hold about the slot and the person; it answers a decision or a refusal with a code and a
bilingual message. The hub's appointments domain (hub/appointments/domain.py) reads the tables and writes what was
decided; the queue engine gives the checked-in ticket its place (hub/queue/engine.py, the booked class).

A booking's life:

    booked ──checkin from `checkin_before` (30 min) before the slot to its end──▶ checked_in, on time: a ticket
      │  │                                                called ahead of walk-ins, behind 绿色通道
      │  └──checkin later the same day──▶ checked_in, late: an ordinary ticket, at the back of the line
      ├──cancel (code + last 4 of the ID)──▶ cancelled
      ├──change (code + last 4 of the ID)──▶ booked, at another slot of the same queue
      └──its day ends without a check-in──▶ no_show

Slots. Each bookable queue cuts the hall's opening spans (`[hours] open`) into slots of `slot_minutes` from the
start of each span (the last slot of a span ends with it), or takes each span whole (`half_day`: the morning and
the afternoon). The same slots every working day of the statutory calendar; a slot takes `capacity` bookings.
Bookable: today's slots that have not started yet, and every slot of the next `days_ahead` working days.

Limits. One live booking (booked or checked in) per person per queue per day. `no_show_limit` (3) no-shows within
`no_show_within` (30 days) block booking for `block_for` (30 days) from the day of the latest of them.

Personal data: the ID number is checked (GB 11643) and kept only as a keyed hash and its last 4 characters, the
name only masked (张*); the helpers are the cases' (hub/cases/rules.py), so one person is one hash hall-wide.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from hub.cases.rules import id_last4, id_number_hash, id_number_valid, masked_name

__all__ = ["id_last4", "id_number_hash", "id_number_valid", "masked_name"]

# booking status
BOOKED = "booked"
CANCELLED = "cancelled"
CHECKED_IN = "checked_in"
NO_SHOW = "no_show"
LIVE = frozenset({BOOKED, CHECKED_IN})
STATUS_LABELS = {BOOKED: ("已预约", "booked"), CANCELLED: ("已取消", "cancelled"),
                 CHECKED_IN: ("已签到", "checked in"), NO_SHOW: ("爽约", "no-show")}

# check-in timing
EARLY = "early"
ON_TIME = "on_time"
LATE = "late"

# refusal codes (answered with ok: false)
SLOT_FULL = "slot_full"
ALREADY_BOOKED = "already_booked"
BLOCKED = "blocked"
INVALID = "invalid"
NOT_FOUND = "not_found"
BOOKING_CLOSED = "booking_closed"
TOO_EARLY = "too_early"
NOT_TODAY = "not_today"
NO_BOOKING = "no_booking"
ALREADY_CHECKED_IN = "already_checked_in"

# Chinese first, English second: these reach the citizens' site and the kiosk as they are.
MESSAGES = {
    SLOT_FULL: "该时段已约满，请选择其他时段 · this slot is fully booked: choose another",
    ALREADY_BOOKED: "您当天已预约该业务 · you already have a booking for this service that day",
    BLOCKED: "近期爽约次数过多，暂停预约 · booking is suspended after repeated no-shows",
    INVALID: "预约信息有误 · the booking is not valid",
    NOT_FOUND: "查无此预约，请核对预约码和身份证后四位 · no booking with this code and these ID characters",
    BOOKING_CLOSED: "该预约已取消、已签到或已过期 · the booking is cancelled, checked in or over",
    TOO_EARLY: "还未到签到时间 · too early to check in",
    NOT_TODAY: "该预约不是今天的 · the booking is not for today",
    NO_BOOKING: "今天没有您的预约 · no booking of yours today",
    ALREADY_CHECKED_IN: "该预约已签到 · the booking is checked in already",
}

# what a citizen's form calls each field: an `invalid` refusal names the field in both languages
FIELDS = {"queue": ("业务类别", "queue"), "date": ("预约日期", "date"), "time": ("预约时段", "time"),
          "name": ("姓名", "name"), "id_number": ("身份证号码", "ID number"), "phone": ("手机号码", "phone")}


@dataclass(frozen=True)
class Refusal:
    code: str
    error: str
    field: str | None = None  # for `invalid`: which field of the form is wrong


def refuse(code: str, detail: str = "", field: str | None = None) -> Refusal:
    message = MESSAGES[code]
    if field is not None:
        zh, en = FIELDS[field]
        detail = f"{zh} {en}: {detail}" if detail else f"{zh} {en}"
    return Refusal(code, f"{message}: {detail}" if detail else message, field)


# ---------------------------------------------------------------- the rules as configured

@dataclass(frozen=True)
class Slot:
    start: time
    end: time
    capacity: int

    @property
    def label(self) -> str:
        return f"{self.start:%H:%M}"


@dataclass(frozen=True)
class QueueSlots:
    capacity: int
    slot_minutes: int | None = 60  # None: each opening span is one slot (half a day)


@dataclass(frozen=True)
class BookingRules:
    queues: Mapping[str, QueueSlots]
    open: tuple[tuple[time, time], ...]
    days_ahead: int = 5
    checkin_before: timedelta = timedelta(minutes=30)
    no_show_limit: int = 3
    no_show_within: timedelta = timedelta(days=30)
    block_for: timedelta = timedelta(days=30)
    id_required: frozenset[str] = frozenset()
    # each queue's slots, made once: every booking asks for its slot
    _made: dict[str, dict[time, Slot]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def slots(self, queue: str) -> list[Slot]:
        """The queue's slots of a working day, in time order; none for a queue that takes no bookings."""
        return list(self._slots_of(queue).values())

    def slot(self, queue: str, start: time) -> Slot | None:
        return self._slots_of(queue).get(start)

    def _slots_of(self, queue: str) -> dict[time, Slot]:
        made = self._made.get(queue)
        if made is None:
            made = self._made[queue] = {s.start: s for s in self._make_slots(queue)}
        return made

    def _make_slots(self, queue: str) -> list[Slot]:
        spec = self.queues.get(queue)
        if spec is None:
            return []
        out = []
        for start, end in self.open:
            if spec.slot_minutes is None:
                out.append(Slot(start, end, spec.capacity))
                continue
            moment = datetime.combine(date.min, start)
            close = datetime.combine(date.min, end)
            step = timedelta(minutes=spec.slot_minutes)
            while moment < close:
                out.append(Slot(moment.time(), min(moment + step, close).time(), spec.capacity))
                moment += step
        return out


def rules_from_hall(hall) -> BookingRules:
    a = hall.appointments
    return BookingRules(
        queues={q: QueueSlots(s.capacity, None if s.slot_minutes == "half_day" else s.slot_minutes)
                for q, s in a.queues.items()},
        open=tuple((s.start, s.end) for s in hall.hours.open),
        days_ahead=a.days_ahead, checkin_before=timedelta(minutes=a.checkin_before_minutes),
        no_show_limit=a.no_show_limit, no_show_within=timedelta(days=a.no_show_days),
        block_for=timedelta(days=a.block_days), id_required=frozenset(a.id_required))


# ---------------------------------------------------------------- when

def bookable_days(rules: BookingRules, today: date, is_workday: Callable[[date], bool]) -> list[date]:
    """Today if it is a working day, and the next `days_ahead` working days."""
    out = [today] if is_workday(today) else []
    day = today
    ahead = 0
    while ahead < rules.days_ahead:
        day += timedelta(days=1)
        if day - today > timedelta(days=60):  # a calendar of nothing but holidays must not loop for ever
            break
        if is_workday(day):
            out.append(day)
            ahead += 1
    return out


def slot_open(day: date, slot: Slot, now: datetime) -> bool:
    """A slot can be booked until it starts."""
    return datetime.combine(day, slot.start, tzinfo=now.tzinfo) > now


def checkin_timing(rules: BookingRules, day: date, slot: Slot, now: datetime) -> str:
    """EARLY before the check-in window, ON_TIME from `checkin_before` ahead of the slot to its end, LATE after
    (a late check-in gives an ordinary ticket). A day other than today is the caller's refusal, not a timing."""
    start = datetime.combine(day, slot.start, tzinfo=now.tzinfo)
    end = datetime.combine(day, slot.end, tzinfo=now.tzinfo)
    if now < start - rules.checkin_before:
        return EARLY
    if now < end:
        return ON_TIME
    return LATE


def checkin_opens(rules: BookingRules, day: date, slot: Slot, tz) -> datetime:
    return datetime.combine(day, slot.start, tzinfo=tz) - rules.checkin_before


def blocked_until(rules: BookingRules, no_show_days: Iterable[date]) -> date | None:
    """The day booking is allowed again after `no_show_limit` no-shows within `no_show_within`, or None. Each
    run of that many no-shows blocks from the day of its latest."""
    days = sorted(no_show_days)
    n = rules.no_show_limit
    until = None
    for i in range(n - 1, len(days)):
        if days[i] - days[i - n + 1] < rules.no_show_within:
            until = days[i] + rules.block_for
    return until


# ---------------------------------------------------------------- booking

@dataclass(frozen=True)
class Taken:
    """What the tables hold for a request: bookings live in the slot, the person's live bookings of that queue
    that day (their codes), and the days of the person's no-shows."""
    in_slot: int = 0
    person_same_day: tuple[str, ...] = ()
    no_shows: tuple[date, ...] = ()


def check_slot(rules: BookingRules, queue: str, day_text: str, time_text: str, now: datetime,
               is_workday: Callable[[date], bool]) -> tuple[date, Slot] | Refusal:
    """The day and slot a request names, if they can be booked now."""
    if queue not in rules.queues:
        return refuse(INVALID, f"{queue!r} 不接受预约 takes no bookings", "queue")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        return refuse(INVALID, f"{day_text!r}", "date")
    if day not in bookable_days(rules, now.date(), is_workday):
        return refuse(INVALID, f"{day_text} 不可预约 (工作日，最多提前 {rules.days_ahead} 个工作日 working days only, "
                               f"up to {rules.days_ahead} ahead)", "date")
    try:
        start = time.fromisoformat(time_text)
    except ValueError:
        return refuse(INVALID, f"{time_text!r}", "time")
    slot = rules.slot(queue, start)
    if slot is None:
        offered = "、".join(s.label for s in rules.slots(queue))
        return refuse(INVALID, f"{time_text} 不是预约时段 not a slot; 可选 slots: {offered}", "time")
    if not slot_open(day, slot, now):
        return refuse(INVALID, f"{day_text} {time_text} 已开始 has begun", "time")
    return day, slot


def check_person(rules: BookingRules, id_number: str, phone: str | None = None) -> Refusal | None:
    if not id_number_valid(id_number):
        return refuse(INVALID, "校验不通过 fails its check digit (GB 11643)", "id_number")
    if phone is not None and not (len(phone) == 11 and phone.isdigit() and phone[0] == "1" and phone[1] in "3456789"):
        return refuse(INVALID, "应为11位手机号 an 11-digit mobile number", "phone")
    return None


def decide_booking(rules: BookingRules, slot: Slot, today: date, taken: Taken) -> Refusal | None:
    """Whether the person may take a place in the slot: not blocked, not booked that day already, a place left.
    The hub decides one request at a time, so `taken.in_slot` is exact and a full slot refuses the next one."""
    until = blocked_until(rules, taken.no_shows)
    if until is not None and today < until:
        return refuse(BLOCKED, f"{until.isoformat()} 起可再预约 booking reopens on {until.isoformat()}")
    if taken.person_same_day:
        return refuse(ALREADY_BOOKED, f"预约码 code {taken.person_same_day[0][:2]}******")
    if taken.in_slot >= slot.capacity:
        return refuse(SLOT_FULL, f"{slot.label} {taken.in_slot}/{slot.capacity}")
    return None


def may_change(status: str) -> Refusal | None:
    """Only a booking still waiting for its day can be cancelled or moved."""
    if status != BOOKED:
        label = STATUS_LABELS.get(status, (status, status))
        return refuse(BOOKING_CLOSED, f"{label[0]} {label[1]}")
    return None


def new_code(exists: Callable[[str], bool], draw: Callable[[int], int] = secrets.randbelow) -> str:
    """Eight digits, typed on a kiosk's keypad; random, so a code cannot be guessed from another (cancelling needs
    the ID's last 4 as well)."""
    while True:
        code = f"{draw(10 ** 8):08d}"
        if not exists(code):
            return code


def places_left(slot: Slot, in_slot: int) -> int:
    return max(0, slot.capacity - in_slot)
