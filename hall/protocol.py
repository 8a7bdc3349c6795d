"""The wire contract: topics, the event envelope and a payload model for every event type (docs/protocol.md, v1)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Self, TypeVar

import pydantic_core
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, ValidationError
from ulid import ULID

from hall.clock import stamp

PROTOCOL_VERSION = 1
ROOT = "hall/v1"
QOS = 1
MAX_PAYLOAD = 256 * 1024  # a larger message is refused before it is parsed
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")

# What an event may hold. Everything a device sends is bounded here, at validation, so that whatever passes can be
# written to the journal, encoded again for the wire and read by any JSON reader: a value the hub accepted and then
# failed to store would come back from the broker for ever.
MAX_DEPTH = 8            # levels of objects and arrays inside `data` (a health report's own groups of metrics)
MAX_VALUES = 1000        # values in `data`, all levels together
MAX_STRING = 4096        # characters in one string
MAX_KEY = 64             # characters in one object key
MAX_INT = 2**53 - 1      # exact in every JSON reader (a browser's too) and in SQLite's 64-bit INTEGER
MAX_INT_DIGITS = 16      # longer integer literals are refused while parsing, before Python builds them
TS_YEARS = (2000, 2099)  # a device clock outside these is broken, not skewed
TS_WINDOW = timedelta(days=366)  # ... and so is one more than a year from the hub's (skew is flagged inside it)
# C0 controls other than tab and line breaks, DEL, and UTF-16 surrogates, which JSON's \u escapes can smuggle in
# alone (`"\ud800"`) and which no UTF-8 text can hold
BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

# Error codes answered on a device's `err` topic.
INVALID_JSON = "invalid_json"
INVALID_ENVELOPE = "invalid_envelope"
UNKNOWN_TYPE = "unknown_type"
INVALID_DATA = "invalid_data"
UNKNOWN_DEVICE = "unknown_device"
FORBIDDEN = "forbidden"
INTERNAL = "internal"  # the hub failed on a message it had accepted: kept in `rejected` like the others
ERROR_CODES = (INVALID_JSON, INVALID_ENVELOPE, UNKNOWN_TYPE, INVALID_DATA, UNKNOWN_DEVICE, FORBIDDEN, INTERNAL)


# ---------------------------------------------------------------- topics

def evt_topic(hall: str, device: str, event_type: str) -> str:
    return f"{ROOT}/{hall}/{device}/evt/{event_type}"


def device_topic(hall: str, device: str, channel: str) -> str:
    """`status`, `ack`, `err` or `res` of one device."""
    return f"{ROOT}/{hall}/{device}/{channel}"


def hub_topic(hall: str, *parts: str) -> str:
    """`hub/status`, `hub/state/window/3`, `hub/calls`, `hub/call`, `hub/catalogue`."""
    return "/".join((ROOT, hall, "hub", *parts))


@dataclass(frozen=True)
class Topic:
    hall: str
    device: str
    channel: str  # evt, status, ack, err, res, state, calls, call, catalogue
    rest: tuple[str, ...] = ()

    @property
    def event_type(self) -> str | None:
        return self.rest[0] if self.channel == "evt" and self.rest else None


def parse_topic(topic: str) -> Topic | None:
    """Split a hall topic; None when it is not one of ours."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "hall" or parts[1] != "v1":
        return None
    return Topic(hall=parts[2], device=parts[3], channel=parts[4], rest=tuple(parts[5:]))


# ---------------------------------------------------------------- envelope

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    """Times on the wire are RFC 3339 strings with an offset; numbers and naive times are refused."""
    if not isinstance(value, str) or not RFC3339.match(value):
        raise ValueError("an RFC 3339 time with a UTC offset, e.g. 2026-11-30T08:59:12.345+08:00")
    if not TS_YEARS[0] <= int(value[:4]) <= TS_YEARS[1]:
        raise ValueError(f"a time in the years {TS_YEARS[0]}–{TS_YEARS[1]}, got {value[:4]}")
    return value


Rfc3339 = Annotated[datetime, BeforeValidator(_rfc3339)]


class Envelope(_Strict):
    v: Literal[1]
    id: str = Field(min_length=8, max_length=64, pattern=r"^[0-9A-Za-z-]+$")
    seq: StrictInt = Field(ge=1, le=MAX_INT)
    ts: Rfc3339
    data: dict[str, Any]


def new_event_id() -> str:
    return str(ULID())


def envelope(event_id: str, seq: int, data: dict, ts: str | None = None) -> dict:
    return {"v": PROTOCOL_VERSION, "id": event_id, "seq": seq, "ts": ts or stamp(), "data": data}


# ---------------------------------------------------------------- payloads

WindowId = Annotated[str, Field(min_length=1, max_length=16)]
QueueId = Annotated[str, Field(min_length=1, max_length=16)]
StaffId = Annotated[str, Field(min_length=1, max_length=32)]
TicketNo = Annotated[str, Field(pattern=r"^[A-Z]{1,2}\d{3,5}$")]


IdNumber = Annotated[str, Field(min_length=18, max_length=18, pattern=r"^[0-9]{17}[0-9Xx]$")]
# a mainland mobile number: 11 digits from 13… to 19…
MobilePhone = Annotated[str, Field(pattern=r"^1[3-9][0-9]{9}$")]
BookingCode = Annotated[str, Field(pattern=r"^[0-9]{8}$")]
IdLast4 = Annotated[str, Field(pattern=r"^[0-9]{3}[0-9Xx]$")]


class TicketRequest(_Strict):
    """取号. `id_number` (checked against GB 11643, kept only as a keyed hash) is required for the queues of
    `[appointments] id_required` and limits anyone who gives it to one ticket per queue per day; `phone` is kept
    with the ticket for a text before its turn, never published."""
    queue: QueueId | None = None
    service: str | None = Field(default=None, min_length=1, max_length=64)
    priority: StrictBool = False
    channel: Literal["kiosk", "window", "phone", "web"] = "kiosk"
    id_number: IdNumber | None = None
    phone: MobilePhone | None = None

    def model_post_init(self, _):
        if (self.queue is None) == (self.service is None):
            raise ValueError("exactly one of queue or service")


class WindowAction(_Strict):
    window: WindowId


class Transfer(_Strict):
    window: WindowId
    queue: QueueId


class Requeue(_Strict):
    ticket: TicketNo


class CallTicket(_Strict):
    """Call one ticket out of turn at a window (a citizen who comes back to the desk)."""
    window: WindowId
    ticket: TicketNo


class Pause(_Strict):
    """A window pauses, with a reason from the hall's `[queue] pause_reasons` if it gives one."""
    window: WindowId
    reason: str | None = Field(default=None, min_length=1, max_length=32)


class StaffAtWindow(_Strict):
    window: WindowId | None = None
    staff: StaffId


class Rating(_Strict):
    window: WindowId
    ticket: TicketNo | None = None
    score: StrictInt = Field(ge=1, le=5)


class Punch(_Strict):
    staff: StaffId
    at: Rfc3339
    score: StrictInt | None = Field(default=None, ge=0, le=100_000)


class Health(BaseModel):
    model_config = ConfigDict(extra="allow")


# ---- what a manager does at the console: events like any other, sent by the console's own login; `by` names the
# console user who acted (the console vouches for its own users; the hub journals who it was)

ConsoleUser = Annotated[str, Field(min_length=1, max_length=64)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
Note = Annotated[str, Field(max_length=500)]


class AlertAck(_Strict):
    """Acknowledge a firing alert (`hub/alerts`), with a note."""
    alert: str = Field(min_length=1, max_length=128)
    by: ConsoleUser
    note: Note = ""


class LeaveEntry(_Strict):
    """Approved leave (请假 leave, 公出 business, 调休 in_lieu) entered by a manager; it covers the slots it spans."""
    staff: StaffId
    kind: Literal["leave", "business", "in_lieu"]
    start: Rfc3339
    end: Rfc3339
    by: ConsoleUser
    reason: Reason

    def model_post_init(self, _):
        if self.end <= self.start:
            raise ValueError("end must come after start")


class PunchCorrection(_Strict):
    """补卡: a punch a person made but the terminal missed, entered by a manager with a reason. It changes the
    evaluation of that day; the raw punches are never rewritten."""
    staff: StaffId
    at: Rfc3339
    by: ConsoleUser
    reason: Reason


# ---- cases (办件): accepted at a window PC or by a back-office clerk at the console, moved through their states,
# looked up by citizens at a kiosk (docs/cases.md). `by` names the console user who acted (a window PC leaves it out)

CaseNo = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z-]+$")]


class CaseAccept(_Strict):
    """受理: a case of a catalogue item; the ID number is checked (GB 11643) and kept only as a keyed hash and its
    last 4 characters. `days` differs from the item's promised limit only with a `reason`."""
    service: str = Field(min_length=1, max_length=64)
    applicant_name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=15, max_length=18, pattern=r"^[0-9]{17}[0-9Xx]$")
    ticket: TicketNo | None = None
    window: WindowId | None = None
    days: StrictInt | None = Field(default=None, ge=0, le=3650)
    reason: Note | None = None
    by: ConsoleUser | None = None


class CaseAction(_Strict):
    """办理 (`case_start`), 恢复 (`case_resume`): one case by its number."""
    case: CaseNo
    by: ConsoleUser | None = None


class CaseSuspend(CaseAction):
    """补正: waiting for the applicant's documents, with what is missing."""
    reason: Reason


class CaseFinish(CaseAction):
    """办结: 准予 approved or 不予许可 refused."""
    result: Literal["approved", "refused"]


class CaseWithdraw(CaseAction):
    """退件, with why."""
    reason: Note = ""


class CaseLookup(_Strict):
    """办件查询 at a kiosk: the case number and the last 4 characters of the applicant's ID number."""
    case: CaseNo
    id_last4: str = Field(pattern=r"^[0-9]{3}[0-9Xx]$")


class ComplaintEntry(_Strict):
    """投诉 entered by the supervision office: it opens a follow-up for the department head."""
    department: str = Field(min_length=1, max_length=32)
    window: WindowId | None = None
    ticket: TicketNo | None = None
    detail: Reason
    by: ConsoleUser


class FollowUpAnswer(_Strict):
    """整改回复: the department head's answer to a poor rating or a complaint."""
    followup: str = Field(min_length=1, max_length=32)
    by: ConsoleUser
    contact: Reason
    cause: Reason
    correction: Reason


# ---- appointments (预约, docs/appointments.md): booked by the citizens' site (kind `web`), checked in at a kiosk

DayText = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
SlotTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class BookingRequest(_Strict):
    """A booking of one slot: the ID number is checked (GB 11643) and kept only as a keyed hash and its last 4."""
    queue: QueueId
    date: DayText
    time: SlotTime
    name: str = Field(min_length=1, max_length=32)
    id_number: IdNumber
    phone: MobilePhone


class BookingCancel(_Strict):
    """Cancel by the booking code and the last 4 characters of the ID number."""
    code: BookingCode
    id_last4: IdLast4


class BookingChange(BookingCancel):
    """Move a booking to another slot of the same queue."""
    date: DayText
    time: SlotTime


class CheckIn(_Strict):
    """预约签到 at a kiosk: the booking code or the ID number, one of them."""
    code: BookingCode | None = None
    id_number: IdNumber | None = None

    def model_post_init(self, _):
        if (self.code is None) == (self.id_number is None):
            raise ValueError("exactly one of code or id_number")


EVENT_MODELS: dict[str, type[BaseModel]] = {
    "ticket_request": TicketRequest,
    "call_next": WindowAction,
    "recall": WindowAction,
    "skip": WindowAction,
    "complete": WindowAction,
    "transfer": Transfer,
    "requeue": Requeue,
    "call_ticket": CallTicket,
    "pause": Pause,
    "resume": WindowAction,
    "login": StaffAtWindow,
    "logout": StaffAtWindow,
    "rating": Rating,
    "punch": Punch,
    "health": Health,
    "alert_ack": AlertAck,
    "leave": LeaveEntry,
    "punch_correction": PunchCorrection,
    "case_accept": CaseAccept,
    "case_start": CaseAction,
    "case_suspend": CaseSuspend,
    "case_resume": CaseAction,
    "case_finish": CaseFinish,
    "case_withdraw": CaseWithdraw,
    "case_lookup": CaseLookup,
    "complaint": ComplaintEntry,
    "followup_answer": FollowUpAnswer,
    "booking_request": BookingRequest,
    "booking_cancel": BookingCancel,
    "booking_change": BookingChange,
    "checkin": CheckIn,
}

WINDOW_EVENTS = ("call_next", "call_ticket", "recall", "skip", "complete", "transfer", "pause", "resume")

CASE_EVENTS = ("case_accept", "case_start", "case_suspend", "case_resume", "case_finish", "case_withdraw")

BOOKING_EVENTS = ("booking_request", "booking_cancel", "booking_change")

# Which device kinds may send which event types (docs/protocol.md, "Event types").
KIND_EVENTS: dict[str, frozenset[str]] = {
    "kiosk": frozenset({"ticket_request", "requeue", "case_lookup", "checkin", "health"}),
    # not `rating`: a window PC is worked by the clerk being rated; ratings come from the window's pad
    "window": frozenset({"ticket_request", *WINDOW_EVENTS, "requeue", "login", "logout", *CASE_EVENTS, "health"}),
    "caller": frozenset({*WINDOW_EVENTS, "requeue", "login", "logout", "rating", "health"}),
    "rater": frozenset({"rating", "health"}),
    "terminal": frozenset({"login", "logout", "punch", "health"}),
    "display": frozenset({"health"}),
    "led": frozenset({"health"}),
    # the managers' console: only what a manager does, never a queue or attendance event of a device
    "console": frozenset({"alert_ack", "leave", "punch_correction", *CASE_EVENTS, "complaint", "followup_answer",
                          "health"}),
    # the citizens' public site: a citizen's rating of their own ticket from their phone, never a queue action
    "web": frozenset({"rating", *BOOKING_EVENTS, "health"}),
}

# Request types answered on the device's `res` topic.
REQUEST_TYPES = frozenset({"ticket_request", *WINDOW_EVENTS, "requeue", "alert_ack", "leave", "punch_correction",
                           *CASE_EVENTS, "case_lookup", "complaint", "followup_answer", *BOOKING_EVENTS,
                           "checkin"})

# Keys in a payload that name a device: a device may name only itself.
DEVICE_KEYS = ("device", "device_id", "client_id", "from")


class ProtocolError(ValueError):
    MAX_MESSAGE = 500

    def __init__(self, code: str, message: str):
        self.code = code
        # a reason may quote what the device sent: keep it short and storable (no lone surrogates)
        super().__init__(BAD_CHARS.sub("\ufffd", message)[:self.MAX_MESSAGE])


def _pydantic_message(err: ValidationError, prefix: str) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(p)[:40] for p in (prefix, *e["loc"]) if p != "")
        msg = "field required" if e["type"] == "missing" else e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _short_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(literal)} digits")
    return int(literal)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"duplicate key {dup!r}")
    return obj


def parse_json(text: str) -> Any:
    """JSON as the wire allows it: no NaN or Infinity, no integer literal longer than MAX_INT_DIGITS, no key twice
    in one object (readers disagree on which one wins). Raises ValueError (or RecursionError)."""
    return json.loads(text, parse_constant=_refuse_constant, parse_int=_short_int, object_pairs_hook=_unique_keys)


def check_bounds(value: Any, where: str = "data") -> None:
    """Raise ValueError naming the place when `value` holds more than an event may (see MAX_* above)."""
    budget = MAX_VALUES
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise ValueError(f"{where}: more than {MAX_VALUES} values")
        if isinstance(item, str):
            if len(item) > MAX_STRING:
                raise ValueError(f"{path}: a string of {len(item)} characters, at most {MAX_STRING}")
            if BAD_CHARS.search(item):
                raise ValueError(f"{path}: control characters or a lone UTF-16 surrogate in a string")
        elif isinstance(item, bool) or item is None:
            pass
        elif isinstance(item, int):
            if not -MAX_INT <= item <= MAX_INT:
                raise ValueError(f"{path}: integer beyond ±{MAX_INT}")
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise ValueError(f"{path}: not a finite number")
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise ValueError(f"{path}: nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, sub in item.items():
                    if not isinstance(key, str) or len(key) > MAX_KEY or BAD_CHARS.search(key):
                        raise ValueError(f"{path}: a key longer than {MAX_KEY} characters or with control "
                                         "characters")
                    stack.append((sub, f"{path}.{key}", depth + 1))
            else:
                stack.extend((sub, f"{path}[{i}]", depth + 1) for i, sub in enumerate(item))
        else:
            raise ValueError(f"{path}: a {type(item).__name__} is not a JSON value")


def decode_event(topic: Topic, payload: bytes, kind: str | None = None,
                 now: datetime | None = None) -> tuple[Envelope, BaseModel]:
    """Validate one event message from the wire. Raises ProtocolError with the code and a reason that names the field.

    With the sending device's kind, a type that kind may not send is refused before its payload is looked at.
    With the hub's clock (`now`), a `ts` more than TS_WINDOW away from it is refused.
    Whatever passes is bounded (check_bounds): it can be stored, encoded and read again.
    """
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(INVALID_ENVELOPE, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    if len(topic.rest) > 1:
        raise ProtocolError(UNKNOWN_TYPE, f"the event type is the topic's last level: "
                                          f"{'/'.join(topic.rest)[:80]!r} is not a type")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProtocolError(INVALID_JSON, f"payload is not UTF-8 (byte {err.start})") from None
    try:
        raw = parse_json(text)
    except json.JSONDecodeError as err:
        raise ProtocolError(INVALID_JSON, f"not JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except RecursionError:
        raise ProtocolError(INVALID_JSON, "not JSON: nested too deeply") from None
    except ValueError as err:
        raise ProtocolError(INVALID_JSON, f"not JSON as the wire allows: {err}") from None
    if not isinstance(raw, dict):
        raise ProtocolError(INVALID_ENVELOPE, f"envelope must be a JSON object, got {type(raw).__name__}")
    try:
        env = Envelope.model_validate(raw)
    except ValidationError as err:
        raise ProtocolError(INVALID_ENVELOPE, _pydantic_message(err, "")) from None
    if now is not None and abs(env.ts - now) > TS_WINDOW:
        raise ProtocolError(INVALID_ENVELOPE, f"ts: {raw['ts']} is more than {TS_WINDOW.days} days from the "
                                              f"hub's clock ({now.isoformat(timespec='seconds')})")
    event_type = topic.event_type or ""
    model = EVENT_MODELS.get(event_type)
    if model is None:
        raise ProtocolError(UNKNOWN_TYPE, f"unknown event type {event_type[:80]!r}")
    if kind is not None and event_type not in KIND_EVENTS.get(kind, ()):
        raise ProtocolError(FORBIDDEN, f"a {kind} may not send {event_type!r} events")
    try:
        check_bounds(env.data)
    except ValueError as err:
        raise ProtocolError(INVALID_DATA, str(err)) from None
    for key in DEVICE_KEYS:
        named = env.data.get(key)
        if named is not None and named != topic.device:
            raise ProtocolError(FORBIDDEN, f"data.{key}: names device {str(named)[:40]!r}, but the topic is "
                                           f"{topic.device!r}")
    try:
        data = model.model_validate(env.data)
    except ValidationError as err:
        raise ProtocolError(INVALID_DATA, _pydantic_message(err, "data")) from None
    except ValueError as err:  # model_post_init
        raise ProtocolError(INVALID_DATA, f"data: {err}") from None
    return env, data


# ---------------------------------------------------------------- what the hub sends

class FromHub(BaseModel):
    """A message the hub publishes. The hub builds it from this model and every reader parses it with this model;
    readers ignore fields they do not know, so a hub can add one without breaking a screen already in the field."""

    model_config = ConfigDict(extra="ignore")

    @classmethod
    def build(cls, **fields: Any) -> Self:
        """The hub's own message, unchecked: it holds the fields given, in the order given, which is the order
        `dumps` writes them in; the others read as their defaults. The hub's call path builds several messages per
        call: this is `model_construct` without its general machinery (aliases, defaults copied into every
        message), which showed in the time from a clerk's key to the screens."""
        if not fields.keys() <= cls.__pydantic_fields__.keys():
            unknown = ", ".join(sorted(fields.keys() - cls.__pydantic_fields__.keys()))
            raise TypeError(f"{cls.__name__} has no field {unknown}")
        message = cls.__new__(cls)
        _set(message, "__dict__", fields)
        _set(message, "__pydantic_fields_set__", set(fields))
        _set(message, "__pydantic_extra__", None)
        _set(message, "__pydantic_private__", None)
        return message

    def __getattr__(self, name: str) -> Any:
        field = type(self).__pydantic_fields__.get(name)
        if field is not None and not field.is_required():  # a message built without it
            return field.get_default(call_default_factory=True)
        return super().__getattr__(name)


_set = object.__setattr__


class HubStatus(FromHub):
    """`hub/status` (retained; the last will says offline). `degraded` while the journal cannot be written."""
    state: Literal["online", "offline", "degraded"]
    kind: Literal["hub"] = "hub"
    version: str | None = None
    ts: str | None = None
    cause: str | None = None   # degraded: disk_full, disk_error, …
    error: str | None = None


class DeviceStatus(FromHub):
    """`{device}/status` (retained), published by the device itself; its last will says offline."""
    state: Literal["online", "offline"]
    kind: str | None = None
    version: str | None = None
    ts: str | None = None


class Ack(FromHub):
    """`{device}/ack` (retained): every event of the device up to this seq is committed."""
    through_seq: int = Field(ge=0)


class Rejection(FromHub):
    """`{device}/err`: why an event was not stored (ERROR_CODES)."""
    id: str | None = None
    code: str
    error: str


WindowStatus = Literal["serving", "idle", "paused", "closed"]


class WindowState(FromHub):
    """`hub/state/window/{window}` (retained)."""
    window: str = Field(min_length=1)
    status: WindowStatus
    ticket: str | None = None
    staff: str | None = None
    queues: list[str] = []
    reason: str | None = None        # paused: why, from the hall's pause reasons (none given: null)
    paused_since: str | None = None  # paused: since when


class QueueState(FromHub):
    """`hub/state/queue/{queue}` (retained). `est_wait_s`: for a ticket taken now."""
    queue: str = Field(min_length=1)
    waiting: int = Field(ge=0)
    est_wait_s: float | None = Field(default=None, ge=0)
    last_called: str | None = None


class Call(FromHub):
    """`hub/call` (not retained): one announcement, a first call or a recall."""
    ticket: str = Field(pattern=r"^[A-Z]{1,2}\d{1,5}$")
    window: str = Field(min_length=1)
    queue: str | None = None
    at: str | None = None
    recall: int = Field(default=0, ge=0)

    @property
    def key(self) -> tuple:
        """One call: a resent copy of the same message has the same key, a recall does not."""
        return (self.ticket, self.window, self.recall, self.at)


class Calls(FromHub):
    """`hub/calls` (retained): the latest 20 announcements, newest first."""
    calls: list[Call]


class AttendanceState(FromHub):
    """`hub/state/attendance` (retained): the day being closed, or the last day closed with its counts."""
    date: str
    final: bool
    waiting_for: list[str] = []   # terminals not heard from since the evening punch window closed
    warning: str | None = None
    counts: dict[str, int] | None = None


class SlotPlaces(FromHub):
    time: str                                  # the slot's start, HH:MM
    end: str | None = None
    capacity: int
    left: int


class SlotDay(FromHub):
    date: str
    slots: list[SlotPlaces]


class AppointmentsState(FromHub):
    """`hub/state/appointments/{queue}` (retained): the queue's bookable days and places left, and today's bookings
    (`booked` not yet checked in, `checked_in`), for the citizens' site and the console. Nothing personal."""
    queue: str
    dates: list[SlotDay]
    today: dict[str, int] = {}


class TicketInfo(FromHub):
    """A ticket as the hub answers about it."""
    no: str
    queue: str
    service: str | None = None
    priority: bool = False
    status: str | None = None
    issued_at: str | None = None
    window: str | None = None
    windows: list[str] | None = None
    ahead: int | None = None
    est_wait_s: float | None = None
    called_at: str | None = None
    recall: int | None = None
    booked: str | None = None                  # a checked-in booking's slot (HH:MM): called ahead of walk-ins
    follow: str | None = None  # the unguessable token of the ticket's page on the citizens' site (/t/<token>)


class RatingInfo(FromHub):
    window: str
    ticket: str | None = None
    staff: str | None = None
    score: int
    good: bool | None = None


class Alert(FromHub):
    """One alert the hub raised from a rule in hall.toml [alerts]: firing until acknowledged or cleared. A
    condition (a queue waiting too long) clears by itself when it ends; an occurrence (a poor rating) when it is
    acknowledged. Every change is journaled (`alerts_journal`)."""
    id: str                                    # stable for one occurrence: rule and subject, and when it began
    rule: str                                  # queue_wait, queue_length, window_paused, window_closed, poor_rating,
                                               # device_offline, clock_skew, device_backlog, paper_out, punch_missed
    severity: Literal["warning", "critical"] = "warning"
    subject: str                               # what it is about: a queue, window, device or ticket id
    department: str | None = None              # whose department heads see it
    title: str                                 # Chinese
    title_en: str
    detail: str = ""
    raised_at: str
    state: Literal["firing", "acknowledged"] = "firing"
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    note: str | None = None


class Alerts(FromHub):
    """`hub/alerts` (retained): every alert not yet cleared, newest first."""
    alerts: list[Alert]


class LeaveInfo(FromHub):
    """Leave a manager entered (`leave`), as the hub stored it."""
    id: int
    staff: str
    kind: str
    start: str
    end: str
    by: str
    reason: str


class CorrectionInfo(FromHub):
    """A punch correction (补卡) a manager entered (`punch_correction`), as the hub stored it."""
    id: int
    staff: str
    at: str
    by: str
    reason: str


class SlotInfo(FromHub):
    status: str
    at: str | None = None   # the punch that counts, hall time
    minutes: int = 0        # late or early by


class RevisedDay(FromHub):
    """A closed day judged again because of what a manager entered."""
    staff: str
    date: str
    status: str
    slots: dict[str, SlotInfo] | None = None


class CaseInfo(FromHub):
    """A case as the hub answers about it; a kiosk's lookup gets only its service, state and deadline."""
    case: str
    service: str | None = None
    status: str | None = None                  # accepted, in_progress, suspended, finished, withdrawn
    deadline: str | None = None                # the day whose closing time is the deadline; null while suspended
    card: str | None = None                    # green, yellow, red; null unless open and not suspended
    days: int | None = None                    # the promised limit in working days
    result: str | None = None                  # approved, refused
    on_time: bool | None = None


class FollowUpInfo(FromHub):
    """A poor-rating follow-up (差评整改) or a complaint (投诉) as the hub stored it."""
    id: str
    kind: str                                  # rating, complaint
    department: str | None = None
    due: str | None = None                     # the day whose closing time it is due by
    answered_at: str | None = None
    answered_by: str | None = None


class BookingInfo(FromHub):
    """A booking as the hub answers about it: the name masked (张*), the ID number as its last 4 only."""
    code: str
    queue: str
    date: str
    time: str                                  # the slot's start, HH:MM
    end: str | None = None
    name: str | None = None                    # masked
    id_last4: str | None = None
    status: str | None = None                  # booked, cancelled, checked_in, no_show
    ticket: str | None = None                  # the ticket its check-in gave
    on_time: bool | None = None                # checked in within its window: the ticket is called ahead of walk-ins


class Answer(FromHub):
    """`{device}/res`: the answer to a request event (`re` is its id); a refusal has `ok: false`, `code`, `error`."""
    re: str
    ok: bool
    code: str | None = None
    error: str | None = None
    ticket: TicketInfo | None = None
    waiting: int | None = None
    completed: str | None = None
    window: WindowState | None = None
    rating: RatingInfo | None = None
    alert: Alert | None = None  # an `alert_ack`: the alert as it now is
    leave: LeaveInfo | None = None
    correction: CorrectionInfo | None = None
    revised: list[RevisedDay] | None = None  # `leave`, `punch_correction`: the closed days judged again
    case: CaseInfo | None = None            # the case events and a kiosk's `case_lookup`
    followup: FollowUpInfo | None = None    # `complaint`, `followup_answer`
    booking: BookingInfo | None = None      # the booking events and a kiosk's `checkin`

    def addressed_to(self, event_id: str) -> Answer:
        """This answer to the request `event_id` (a domain answers without knowing it; ingest addresses it)."""
        given = self.__pydantic_fields_set__
        return Answer.build(re=event_id, **{k: v for k, v in self.__dict__.items() if k in given and k != "re"})


# the model of each hub topic (after hall/v1/{hall}/hub/) and each device channel the hub writes
HUB_TOPIC_MODELS: dict[str, type[FromHub]] = {
    "status": HubStatus,
    "state/window": WindowState,
    "state/queue": QueueState,
    "state/attendance": AttendanceState,
    "call": Call,
    "calls": Calls,
    "alerts": Alerts,
    "state/appointments": AppointmentsState,
}
DEVICE_CHANNEL_MODELS: dict[str, type[FromHub]] = {"status": DeviceStatus, "ack": Ack, "err": Rejection, "res": Answer}
M = TypeVar("M", bound=FromHub)


def hub_message_model(topic: Topic) -> type[FromHub] | None:
    """The model of what the hub (or a device's status) publishes on a parsed topic; None for the catalogue
    (hall.catalogue reads it) and for topics that are not the hub's."""
    if topic.device == "hub":
        rest = "/".join((topic.channel, *topic.rest))
        return HUB_TOPIC_MODELS.get(rest) or HUB_TOPIC_MODELS.get("/".join((topic.channel, *topic.rest[:1])))
    return DEVICE_CHANNEL_MODELS.get(topic.channel)


def read_from_hub(model: type[M], payload: bytes | str | object) -> M:
    """Parse what the hub sent. Raises ProtocolError (INVALID_DATA) with the fields that are wrong."""
    try:
        if isinstance(payload, bytes | str):
            return model.model_validate_json(payload)
        return model.model_validate(payload)
    except ValidationError as err:
        raise ProtocolError(INVALID_DATA, _pydantic_message(err, model.__name__)) from None


def read_or_ignore(model: type[M], topic: str, payload: bytes | str | object, log: logging.Logger) -> M | None:
    """What a reader does with a message from the hub: the model, or None when it does not fit, after logging the
    topic and the reason. A malformed message is ignored; it never stops a screen."""
    try:
        return read_from_hub(model, payload)
    except ProtocolError as err:
        log.warning("ignored %s: %s (%.200r)", topic, err, payload)
        return None


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, for the wire and the journal. pydantic-core's encoder writes the same text as
    json.dumps(ensure_ascii=False) in a fifth of the time: the hub encodes half a dozen of these per event.

    A hub message carries the fields it was built with: one left unset stays off the wire (its reader takes the
    default), so `Answer(ok=True, ticket=…)` is written without a `code: null`, `error: null`, … after it."""
    if isinstance(obj, FromHub):
        return obj.__pydantic_serializer__.to_json(obj, exclude_unset=True, fallback=str)
    return pydantic_core.to_json(obj, fallback=str)


def json_text(obj: Any) -> str:
    """dumps() for a TEXT column."""
    return dumps(obj).decode("utf-8")
