"""Loading and validating a hall's configuration (`config/hall.toml` plus the catalogue and staff files it names).

`load_hall()` is the one config loader. Every error names the file, the key, the bad value and what was expected.

Values are read strictly: a number must be written as a number (`recall_limit = "3"` and `recall_limit = true` are
refused, not converted), a switch as `true`/`false`, a time of day as "HH:MM" and a date as "YYYY-MM-DD". A hall
edited by hand should fail at `hall config check`, not behave differently from what its file seems to say.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime, time
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from hall.catalogue import Catalogue, load_catalogue, read_config_text
from hall.errors import ConfigError, describe_validation, load_toml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
DEFAULT_HALL = CONFIG_DIR / "hall.toml"

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case letters, digits and '-', at most 32")]
DeviceKind = Literal["kiosk", "display", "terminal", "caller", "rater", "window", "led", "console", "web"]
HUB_ID = "hub"

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _clock_time(value: object) -> time:
    # Only "HH:MM" text or a TOML local time (09:00:00). Left to itself pydantic reads a number as seconds after
    # midnight in UTC, and a time with a zone cannot be compared with the hall's other times.
    if isinstance(value, time) and value.tzinfo is None:
        return value
    if isinstance(value, str) and _CLOCK.match(value):
        return time.fromisoformat(value)
    raise ValueError('a time of day such as "09:00" (hours 00-23, minutes 00-59)')


def _calendar_date(value: object) -> date:
    # A TOML date (2026-10-01) or the same as text; never a date and time, never a number of seconds.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DAY.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError('a date such as "2026-10-01"')


ClockTime = Annotated[time, PlainValidator(_clock_time)]
CalendarDate = Annotated[date, PlainValidator(_calendar_date)]


def strict_count(default: int, *, ge: int, le: int, description: str = "") -> object:
    """A whole number written as one: no "3", no true, no 3.0."""
    return Field(default=default, ge=ge, le=le, strict=True, description=description)


Switch = Annotated[bool, Field(strict=True, description="true or false, unquoted")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeSpan(_Model):
    start: ClockTime
    end: ClockTime

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value):
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError('a span of two times such as ["09:00", "11:40"]')
            return {"start": value[0], "end": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self):
        if self.end <= self.start:
            raise ValueError("a span whose end comes after its start")
        return self

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def spans_in_order(spans: list[TimeSpan]) -> list[TimeSpan]:
    """Spans of a day in time order with no overlap: a moment is in at most one of them, so "open", "issuing"
    and the reports that count open time cannot disagree about it. Touching spans ([.., 11:40), [11:40, ..)) are
    fine."""
    for before, after in pairwise(spans):
        if after.start < before.start:
            raise ValueError(f"spans in time order, earliest first: {after} comes after {before}")
        if after.start < before.end:
            raise ValueError(f"spans that do not overlap: {before} overlaps {after}")
    return spans


class HallInfo(_Model):
    id: Name
    name: str = Field(min_length=1)
    name_en: str = ""
    timezone: str = "Asia/Shanghai"
    catalogue: str = Field(default="catalogue.json", min_length=1)
    staff: str = Field(default="staff.csv", min_length=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as 'Asia/Shanghai'") from None
        return value


class Hours(_Model):
    open: list[TimeSpan] = Field(min_length=1)
    issuing: list[TimeSpan] = Field(default=[], description="empty: tickets are issued at any hour")

    @field_validator("open", "issuing")
    @classmethod
    def _in_order(cls, spans: list[TimeSpan]) -> list[TimeSpan]:
        return spans_in_order(spans)


# why a window pauses, and how the screens say it in English (a hall's own reasons are shown as written)
PAUSE_REASONS = {"会议": "meeting", "午休": "lunch break", "系统故障": "system fault", "其他": "other"}


def pause_reason_text(reason: str | None) -> str:
    """A pause reason as screens show it, Chinese first: `会议 meeting`; '' for none."""
    if not reason:
        return ""
    english = PAUSE_REASONS.get(reason)
    return f"{reason} {english}" if english else reason


class QueueRules(_Model):
    recall_limit: int = strict_count(3, ge=0, le=20)
    requeue_window_minutes: int = strict_count(30, ge=0, le=24 * 60)
    requeue_after: int = strict_count(3, ge=0, le=1000)
    average_after: int = strict_count(5, ge=1, le=1000)
    rating_within_minutes: int = strict_count(30, ge=1, le=24 * 60,
                                              description="a ticket may be rated this long after its call ended")
    pause_reasons: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(
        default_factory=lambda: list(PAUSE_REASONS), min_length=1, max_length=12,
        description="why a window may pause (会议, 午休, …); shown on the board, the LED screens and reports")

    @field_validator("pause_reasons")
    @classmethod
    def _distinct_reasons(cls, reasons: list[str]) -> list[str]:
        twice = sorted({r for r in reasons if reasons.count(r) > 1})
        if twice:
            raise ValueError(f"each reason once; given more than once: {', '.join(twice)}")
        return reasons


class AttendanceRules(_Model):
    am_in: ClockTime = time(9, 0)
    am_out: ClockTime = time(11, 40)
    pm_in: ClockTime = time(13, 0)
    pm_out: ClockTime = time(17, 0)
    grace_minutes: int = strict_count(0, ge=0, le=120)
    merge_seconds: int = strict_count(60, ge=0, le=3600)
    min_ratings_for_candidate: int = strict_count(20, ge=0, le=100_000)
    extra_holidays: list[CalendarDate] = []
    extra_workdays: list[CalendarDate] = []

    @model_validator(mode="after")
    def _ordered(self):
        if not (self.am_in < self.am_out < self.pm_in < self.pm_out):
            raise ValueError("am_in < am_out < pm_in < pm_out")
        both = sorted(set(self.extra_holidays) & set(self.extra_workdays))
        if both:
            raise ValueError(f"a day in extra_holidays or extra_workdays, not both: {both[0].isoformat()}")
        return self


AlertRule = Literal["queue_wait", "queue_length", "window_paused", "window_closed", "poor_rating", "device_offline",
                    "clock_skew", "device_backlog", "paper_out", "punch_missed", "case_yellow", "case_red",
                    "duplicate_login"]
ALERT_RULES: tuple[str, ...] = get_args(AlertRule)


class AlertRules(_Model):
    """[alerts]: the hub's alert rules (docs/alerts.md). A threshold is never 0: a rule is switched off by naming it
    in `off`, so that a limit written by hand cannot silently mean "never"."""
    queue_wait_min: int = strict_count(30, ge=1, le=24 * 60,
                                       description="a queue's oldest waiting ticket has waited this many minutes")
    queue_length: int = strict_count(30, ge=1, le=100_000, description="this many tickets wait in one queue")
    window_paused_min: int = strict_count(15, ge=1, le=24 * 60,
                                          description="a window paused this many minutes of opening hours")
    window_closed_min: int = strict_count(5, ge=1, le=24 * 60,
                                          description="nobody at a window this many minutes of opening hours "
                                                      "while its queues wait")
    poor_rating_max: int = strict_count(2, ge=1, le=4, description="a rating (1-5) at or below this is poor")
    device_offline_min: int = strict_count(2, ge=1, le=24 * 60, description="a device offline this many minutes")
    device_backlog: int = strict_count(200, ge=1, le=10_000_000,
                                       description="events waiting in a device's outbox, from its health report")
    clear_after_s: int = strict_count(60, ge=0, le=3600,
                                      description="a condition must have ended this long before its alert clears")
    off: list[AlertRule] = Field(default=[], description="rules switched off, by name")


SlotMinutes = Annotated[int, Field(strict=True, ge=10, le=480)]


class AppointmentQueue(_Model):
    """One queue's bookable slots: every `slot_minutes` from the start of each opening span (the last slot of a
    span ends with it), or one slot per opening span ("half_day": the morning and the afternoon)."""
    slot_minutes: SlotMinutes | Literal["half_day"] = Field(
        default=60, description='minutes per slot (10-480), or "half_day" for the morning and the afternoon')
    capacity: int = strict_count(4, ge=1, le=10_000, description="bookings a slot takes")


class AppointmentRules(_Model):
    """[appointments]: 网上预约 and the walk-in ID limit (docs/appointments.md). A queue not listed in `queues` takes
    no bookings."""
    days_ahead: int = strict_count(5, ge=1, le=60, description="working days ahead a slot may be booked")
    checkin_before_minutes: int = strict_count(30, ge=0, le=240,
                                               description="check-in opens this long before the slot starts")
    no_show_limit: int = strict_count(3, ge=1, le=100, description="no-shows within no_show_days that block booking")
    no_show_days: int = strict_count(30, ge=1, le=366)
    block_days: int = strict_count(30, ge=1, le=366, description="how long booking stays blocked")
    queues: dict[str, AppointmentQueue] = Field(default={}, description="bookable queues by id")
    id_required: list[str] = Field(default=[], description="queues whose walk-in tickets need the ID number "
                                                            "(one ticket per person per queue per day)")


class BrokerSettings(_Model):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = strict_count(1883, ge=1, le=65535)
    tls: Switch = False
    tls_port: int = strict_count(8883, ge=1, le=65535)
    autosave_interval: int = strict_count(10, ge=1, le=86_400)
    max_queued_messages: int = strict_count(1_000_000, ge=1000, le=1_000_000_000)


class CentralSettings(_Model):
    """Where the hall's journal goes up to (`hall uplink`): the central NATS cluster. No url, no uplink."""
    url: str | None = Field(default=None, min_length=1,
                            description="the cluster's servers, comma-separated: nats://host:4222,tls://host:4222")
    user: str | None = Field(default=None, min_length=1, description="the hall's NATS user (default: the hall id)")
    password_file: str | None = Field(default=None, min_length=1,
                                      description="a file holding the user's password, relative to hall.toml")
    ca_file: str | None = Field(default=None, min_length=1, description="the cluster's CA for tls:// servers")


class NotifySettings(_Model):
    """[public.notify]: the near-turn notice's webhook (an SMS gateway or a WeChat Work robot). No url, no notices."""
    url: str | None = Field(default=None, pattern=r"^https?://", description="the webhook the notice is POSTed to")
    format: Literal["sms", "wecom"] = Field(default="sms", description='"sms": {"phone", "text"}; '
                                            '"wecom": a WeChat Work robot\'s text message naming the phone')
    token_file: str | None = Field(default=None, min_length=1,
                                   description="a file holding a bearer token for the gateway, relative to hall.toml")
    attempts: int = strict_count(4, ge=1, le=20, description="tries of one notice before it is given up")
    backoff_ms: int = strict_count(500, ge=0, le=600_000, description="the wait before the first retry, doubling")
    timeout_s: int = strict_count(5, ge=1, le=120, description="how long one try may take")


class PublicSettings(_Model):
    """[public]: the citizens' site (docs/public.md)."""
    base_url: str = Field(default="http://127.0.0.1:8900", pattern=r"^https?://[^/\s]+(/[^\s]*)?$",
                          description="the address phones open, as printed in the ticket's QR code")
    near_turn: int = strict_count(3, ge=1, le=100, description="people ahead when the near-turn notice is given")
    lookups_per_minute: int = strict_count(30, ge=1, le=100_000,
                                           description="ticket pages and ratings one address may ask for a minute")
    notify: NotifySettings = NotifySettings()

    def ticket_url(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/t/{token}"


class Device(_Model):
    id: Name
    kind: DeviceKind
    name: str = ""
    windows: list[str] = Field(default=[], description="windows this caller, rater or window PC speaks for")


class Staff(_Model):
    id: str
    name: str
    window: str | None = None
    role: str = "window"


class ReviewRules(_Model):
    """[review]: how each bimonthly review (双月讲评) chooses its red flag windows (红旗窗口) and service stars
    (服务标兵), and whom it names at the bottom (docs/year.md). Each window and person gets a composite of measures
    (0-100 each), weighted by these weights; the weights need not add up to 1 (the composite is their weighted
    mean)."""
    red_flag_windows: int = strict_count(2, ge=0, le=100, description="red flag windows chosen per review")
    service_stars: int = strict_count(7, ge=0, le=1000, description="service stars chosen per review")
    weight_attendance: float = Field(default=0.5, ge=0, le=1, strict=True,
                                     description="attendance score (100 for a clean period)")
    weight_ratings: float = Field(default=0.3, ge=0, le=1, strict=True, description="share of good ratings × 100")
    weight_cases: float = Field(default=0.2, ge=0, le=1, strict=True, description="cases finished on time × 100")
    weight_discipline: float = Field(default=0.0, ge=0, le=1, strict=True,
                                     description="100 less 20 per complaint or error (差错) charged to them")
    min_ratings: int = strict_count(20, ge=0, le=100_000, description="ratings a candidate needs in the period")
    star_min_attendance: float = Field(default=95.0, ge=0, le=100, strict=True,
                                       description="a service star's attendance score is at least this")
    no_absence: Switch = Field(default=True, description="an absent day rules a candidate (or their window) out")
    no_complaint: Switch = Field(default=True, description="a complaint or an error rules a candidate out")
    bottom_windows: int = strict_count(3, ge=0, le=100, description="windows named at the bottom")
    bottom_people: int = strict_count(5, ge=0, le=1000, description="people named at the bottom (only those who "
                                                                        "lost points)")

    @model_validator(mode="after")
    def _some_weight(self):
        if not (self.weight_attendance + self.weight_ratings + self.weight_cases + self.weight_discipline) > 0:
            raise ValueError("at least one weight above 0")
        return self


class AllowanceRules(_Model):
    """[allowance]: each person's attendance allowance (出勤费) for a bimonthly period, in yuan: the base less a
    deduction per occurrence, never below 0 (docs/year.md)."""
    base: int = strict_count(600, ge=0, le=1_000_000, description="yuan for a clean two months")
    late: int = strict_count(10, ge=0, le=100_000, description="per late arrival")
    early: int = strict_count(10, ge=0, le=100_000, description="per early leave")
    missing: int = strict_count(20, ge=0, le=100_000, description="per missing punch")
    absent_day: int = strict_count(100, ge=0, le=100_000, description="per absent day")
    leave_day: int = strict_count(20, ge=0, le=100_000, description="per day of 请假 (personal or sick leave)")
    business_day: int = strict_count(0, ge=0, le=100_000, description="per day of 公出 (official business)")
    in_lieu_day: int = strict_count(0, ge=0, le=100_000, description="per day of 调休 (time off in lieu)")
    roles: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=lambda: ["window"], min_length=1, description="staff roles (staff.csv) paid the allowance")


class HallFile(_Model):
    """The shape of hall.toml."""

    hall: HallInfo
    hours: Hours
    queue: QueueRules = QueueRules()
    attendance: AttendanceRules = AttendanceRules()
    alerts: AlertRules = AlertRules()
    appointments: AppointmentRules = AppointmentRules()
    broker: BrokerSettings = BrokerSettings()
    central: CentralSettings = CentralSettings()
    public: PublicSettings = PublicSettings()
    review: ReviewRules = ReviewRules()
    allowance: AllowanceRules = AllowanceRules()
    devices: list[Device] = []


class Hall:
    """A loaded hall: its settings, catalogue and staff, cross-checked."""

    def __init__(self, path: Path, file: HallFile, catalogue: Catalogue, staff: list[Staff]):
        self.path = path
        self.file = file
        self.catalogue = catalogue
        self.staff = staff

    # the parts most code wants, by their hall names
    @property
    def id(self) -> str:
        return self.file.hall.id

    @property
    def info(self) -> HallInfo:
        return self.file.hall

    @property
    def hours(self) -> Hours:
        return self.file.hours

    @property
    def queue_rules(self) -> QueueRules:
        return self.file.queue

    @property
    def attendance(self) -> AttendanceRules:
        return self.file.attendance

    @property
    def alerts(self) -> AlertRules:
        return self.file.alerts

    @property
    def appointments(self) -> AppointmentRules:
        return self.file.appointments

    @property
    def broker(self) -> BrokerSettings:
        return self.file.broker

    @property
    def central(self) -> CentralSettings:
        return self.file.central

    @property
    def review(self) -> ReviewRules:
        return self.file.review

    @property
    def allowance(self) -> AllowanceRules:
        return self.file.allowance

    @property
    def public(self) -> PublicSettings:
        return self.file.public

    @property
    def devices(self) -> list[Device]:
        return self.file.devices

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.file.hall.timezone)

    @cached_property
    def _devices_by_id(self) -> dict[str, Device]:
        return {d.id: d for d in self.file.devices}

    def device(self, device_id: str) -> Device | None:
        return self._devices_by_id.get(device_id)

    def devices_of(self, kind: str) -> list[Device]:
        return [d for d in self.file.devices if d.kind == kind]

    @cached_property
    def _staff_by_id(self) -> dict[str, Staff]:
        return {s.id: s for s in self.staff}

    def staff_member(self, staff_id: str) -> Staff | None:
        return self._staff_by_id.get(staff_id)

    def relative(self, name: str) -> Path:
        return (self.path.parent / name).resolve()


def load_staff(path: Path) -> list[Staff]:
    text = read_config_text(path)
    reader = csv.DictReader(text.splitlines())
    missing = {"staff", "name"} - set(reader.fieldnames or [])
    if missing:
        raise ConfigError(path, [f"line 1: header must name the columns staff,name[,window,role]; missing {sorted(missing)}"])
    out, problems, seen = [], [], set()
    for lineno, row in enumerate(reader, start=2):
        sid = (row.get("staff") or "").strip()
        if not sid:
            problems.append(f"line {lineno}: staff: empty, expected a staff id")
            continue
        if sid in seen:
            problems.append(f"line {lineno}: staff: duplicate id {sid!r}")
        seen.add(sid)
        out.append(Staff(id=sid, name=(row.get("name") or "").strip(), window=(row.get("window") or "").strip() or None,
                         role=(row.get("role") or "window").strip() or "window"))
    if problems:
        raise ConfigError(path, problems)
    return out


def _hall_problems(file: HallFile, catalogue: Catalogue, staff: list[Staff]) -> list[str]:
    out = []
    seen: set[str] = set()
    window_ids = {w.id for w in catalogue.windows}
    for i, d in enumerate(file.devices):
        where = f"devices[{i}](id={d.id!r})"
        if d.id == HUB_ID:
            out.append(f"{where}.id: 'hub' is the hub's own id; no device may take it")
        if d.id in seen:
            out.append(f"{where}.id: duplicate device id")
        seen.add(d.id)
        for w in d.windows:
            if w not in window_ids:
                out.append(f"{where}.windows: unknown window {w!r}")
    queue_ids = {q.id for q in catalogue.queues}
    for q in file.appointments.queues:
        if q not in queue_ids:
            out.append(f"appointments.queues.{q}: unknown queue {q!r}")
    for q in file.appointments.id_required:
        if q not in queue_ids:
            out.append(f"appointments.id_required: unknown queue {q!r}")
    for s in staff:
        if s.window and s.window not in window_ids:
            out.append(f"staff {s.id!r}: unknown window {s.window!r}")
    return out


def load_hall(path: Path | str | None = None) -> Hall:
    """Load hall.toml (the default hall when no path is given) with its catalogue and staff."""
    path = Path(path) if path else DEFAULT_HALL
    try:
        data = load_toml(path)
    except OSError as err:  # a folder, or no permission: load_toml names only a missing file
        raise ConfigError(path, [f"cannot be read: {err.strerror}"]) from None
    try:
        file = HallFile.model_validate(data)
    except ValidationError as err:
        raise ConfigError(path, describe_validation(err, data, HallFile)) from None
    catalogue = load_catalogue(path.parent / file.hall.catalogue)
    staff = load_staff(path.parent / file.hall.staff)
    problems = _hall_problems(file, catalogue, staff)
    if problems:
        raise ConfigError(path, problems)
    return Hall(path.resolve(), file, catalogue, staff)


# ---------------------------------------------------------------- the simulated year (config/year.toml)

DEFAULT_YEAR = CONFIG_DIR / "year.toml"
Share = Annotated[float, Field(ge=0, le=1, strict=True)]


class YearArrivals(_Model):
    """[arrivals]: who comes, when, for what (docs/year.md says how each moves the annual table)."""
    tickets_per_day: int = strict_count(485, ge=1, le=100_000, description="tickets a working day, on average")
    first_hour: int = strict_count(8, ge=0, le=23, description="the hour the first hour_weights entry is")
    hour_weights: list[Annotated[float, Field(ge=0, strict=True)]] = Field(
        default_factory=lambda: [0.4, 1.7, 1.5, 0.5, 0.05, 1.0, 1.2, 1.0, 0.6], min_length=1, max_length=24,
        description="relative arrivals per hour from first_hour (the morning peak); only issuing hours get any")
    weekday_weights: list[Annotated[float, Field(ge=0, strict=True)]] = Field(
        default_factory=lambda: [1.25, 1.0, 0.95, 0.95, 0.9, 0.6, 0.6], min_length=7, max_length=7,
        description="relative arrivals Monday..Sunday (a working weekend gets the weekend's)")
    queues: dict[str, Annotated[float, Field(ge=0, strict=True)]] = Field(
        default={}, description="relative arrivals per queue; a queue not named: its windows ÷ its standard minutes")
    priority: Share = Field(default=0.03, description="green-channel tickets (绿色通道)")
    no_show: Share = Field(default=0.02, description="tickets called whose citizen never comes (过号)")
    requeue: Share = Field(default=0.3, description="no-shows that come back within the requeue time")
    transfer: Share = Field(default=0.01, description="tickets sent to another queue at the window")
    booked: Share = Field(default=0.1, description="tickets of the queues taking bookings that come booked (预约)")
    booking_no_show: Share = Field(default=0.05, description="bookings never checked in")
    rating: Share = Field(default=0.65, description="served tickets rated on the window's pad (好差评)")
    scores: list[Annotated[float, Field(ge=0, strict=True)]] = Field(
        default_factory=lambda: [0.008, 0.017, 0.055, 0.12, 0.80], min_length=5, max_length=5,
        description="relative frequency of the scores 1..5 (3 and above count as good)")


class YearHandling(_Model):
    """[handling]: how long a ticket takes at the window: lognormal, its median the queue's standard minutes ×
    scale (or the service item's own minutes)."""
    scale: float = Field(default=1.0, gt=0, le=10, strict=True)
    sigma: float = Field(default=0.45, ge=0, le=3, strict=True, description="lognormal spread")
    services: dict[str, Annotated[float, Field(gt=0, strict=True)]] = Field(
        default={}, description="median minutes of named service items")


class YearCases(_Model):
    """[cases]: what becomes of the served tickets as cases (办件)."""
    per_ticket: float = Field(default=1.0, ge=0, le=10, strict=True, description="cases accepted per served ticket")
    suspend: Share = Field(default=0.05, description="cases suspended once for documents (补正)")
    refused: Share = Field(default=0.01, description="cases finished 不予许可")
    corrected: Share = Field(default=0.0, description="refused cases accepted again and approved: errors (差错)")
    withdrawn: Share = Field(default=0.003, description="cases withdrawn (退件)")
    use_of_limit: Share = Field(default=0.8, description="the latest share of its promised days a case takes")
    late: Share = Field(default=0.0, description="cases finished after their deadline")
    complaints: int = strict_count(0, ge=0, le=100_000, description="complaints (投诉) entered in the year")


class YearAttendance(_Model):
    """[attendance]: the window staff's four punches a day."""
    late: Share = Field(default=0.015, description="arrivals (am_in, pm_in) after the scheduled time")
    late_minutes: float = Field(default=4.0, gt=0, le=240, strict=True, description="median minutes late")
    early: Share = Field(default=0.006, description="departures (am_out, pm_out) before the scheduled time")
    missing: Share = Field(default=0.003, description="punches forgotten")
    absent: Share = Field(default=0.0003, description="working days a person is absent without leave")
    leave_days: float = Field(default=6.0, ge=0, le=250, strict=True, description="days of leave a person a year")
    leave_kinds: dict[Literal["leave", "business", "in_lieu"], Annotated[float, Field(ge=0, strict=True)]] = Field(
        default_factory=lambda: {"leave": 0.5, "business": 0.3, "in_lieu": 0.2},
        description="relative frequency of 请假, 公出 and 调休")
    roles: list[str] = Field(default_factory=lambda: ["window"], min_length=1, description="staff roles who punch")


class YearSimulation(_Model):
    """The shape of config/year.toml: the parameters of `hall simulate year`."""
    seed: int = strict_count(2016, ge=0, le=2**63 - 1)
    arrivals: YearArrivals = YearArrivals()
    handling: YearHandling = YearHandling()
    cases: YearCases = YearCases()
    attendance: YearAttendance = YearAttendance()


def load_year_simulation(path: Path | str | None = None, hall: Hall | None = None) -> YearSimulation:
    """config/year.toml (the shipped one when no path is given), checked against the hall's queues and items."""
    path = Path(path) if path else DEFAULT_YEAR
    data = load_toml(path) if path.exists() or path != DEFAULT_YEAR else {}
    try:
        sim = YearSimulation.model_validate(data)
    except ValidationError as err:
        raise ConfigError(path, describe_validation(err, data, YearSimulation)) from None
    if hall is not None:
        problems = [f"arrivals.queues.{q}: unknown queue" for q in sim.arrivals.queues
                    if hall.catalogue.queue(q) is None]
        problems += [f"handling.services.{s}: unknown service item" for s in sim.handling.services
                     if hall.catalogue.service(s) is None]
        if problems:
            raise ConfigError(path, problems)
    return sim
