"""The wire contract: topics, the event envelope and a payload model for every event type (PROTOCOL.md v1)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import pydantic_core
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, ValidationError
from ulid import ULID

from hall.clock import stamp

PROTOCOL_VERSION = 1
ROOT = "hall/v1"
QOS = 1
MAX_PAYLOAD = 256 * 1024  # a larger message is refused before it is parsed
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")

# Error codes answered on a device's `err` topic.
INVALID_JSON = "invalid_json"
INVALID_ENVELOPE = "invalid_envelope"
UNKNOWN_TYPE = "unknown_type"
INVALID_DATA = "invalid_data"
UNKNOWN_DEVICE = "unknown_device"
FORBIDDEN = "forbidden"
ERROR_CODES = (INVALID_JSON, INVALID_ENVELOPE, UNKNOWN_TYPE, INVALID_DATA, UNKNOWN_DEVICE, FORBIDDEN)


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
    return value


Rfc3339 = Annotated[datetime, BeforeValidator(_rfc3339)]


class Envelope(_Strict):
    v: Literal[1]
    id: str = Field(min_length=8, max_length=64, pattern=r"^[0-9A-Za-z-]+$")
    seq: StrictInt = Field(ge=1)
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


class TicketRequest(_Strict):
    queue: QueueId | None = None
    service: str | None = Field(default=None, min_length=1, max_length=64)
    priority: StrictBool = False
    channel: Literal["kiosk", "window", "phone", "web"] = "kiosk"

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
    score: StrictInt | None = Field(default=None, ge=0)


class Health(BaseModel):
    model_config = ConfigDict(extra="allow")


EVENT_MODELS: dict[str, type[BaseModel]] = {
    "ticket_request": TicketRequest,
    "call_next": WindowAction,
    "recall": WindowAction,
    "skip": WindowAction,
    "complete": WindowAction,
    "transfer": Transfer,
    "requeue": Requeue,
    "pause": WindowAction,
    "resume": WindowAction,
    "login": StaffAtWindow,
    "logout": StaffAtWindow,
    "rating": Rating,
    "punch": Punch,
    "health": Health,
}

WINDOW_EVENTS = ("call_next", "recall", "skip", "complete", "transfer", "pause", "resume")

# Which device kinds may send which event types (PROTOCOL.md, "Event types").
KIND_EVENTS: dict[str, frozenset[str]] = {
    "kiosk": frozenset({"ticket_request", "requeue", "health"}),
    "window": frozenset({"ticket_request", *WINDOW_EVENTS, "requeue", "login", "logout", "rating", "health"}),
    "caller": frozenset({*WINDOW_EVENTS, "requeue", "login", "logout", "rating", "health"}),
    "rater": frozenset({"rating", "health"}),
    "terminal": frozenset({"login", "logout", "punch", "health"}),
    "display": frozenset({"health"}),
    "led": frozenset({"health"}),
}

# Request types answered on the device's `res` topic.
REQUEST_TYPES = frozenset({"ticket_request", *WINDOW_EVENTS, "requeue"})

# Keys in a payload that name a device: a device may name only itself.
DEVICE_KEYS = ("device", "device_id", "client_id", "from")


class ProtocolError(ValueError):
    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


def _pydantic_message(err: ValidationError, prefix: str) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        msg = "field required" if e["type"] == "missing" else e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def decode_event(topic: Topic, payload: bytes, kind: str | None = None) -> tuple[Envelope, BaseModel]:
    """Validate one event message from the wire. Raises ProtocolError with the code and a reason that names the field.

    With the sending device's kind, a type that kind may not send is refused before its payload is looked at.
    """
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(INVALID_ENVELOPE, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProtocolError(INVALID_JSON, f"payload is not UTF-8 (byte {err.start})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise ProtocolError(INVALID_JSON, f"not JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except RecursionError:
        raise ProtocolError(INVALID_JSON, "not JSON: nested too deeply") from None
    if not isinstance(raw, dict):
        raise ProtocolError(INVALID_ENVELOPE, f"envelope must be a JSON object, got {type(raw).__name__}")
    try:
        env = Envelope.model_validate(raw)
    except ValidationError as err:
        raise ProtocolError(INVALID_ENVELOPE, _pydantic_message(err, "")) from None
    event_type = topic.event_type or ""
    model = EVENT_MODELS.get(event_type)
    if model is None:
        raise ProtocolError(UNKNOWN_TYPE, f"unknown event type {event_type!r}")
    if kind is not None and event_type not in KIND_EVENTS.get(kind, ()):
        raise ProtocolError(FORBIDDEN, f"a {kind} may not send {event_type!r} events")
    for key in DEVICE_KEYS:
        named = env.data.get(key)
        if named is not None and named != topic.device:
            raise ProtocolError(FORBIDDEN, f"data.{key}: names device {named!r}, but the topic is {topic.device!r}")
    try:
        data = model.model_validate(env.data)
    except ValidationError as err:
        raise ProtocolError(INVALID_DATA, _pydantic_message(err, "data")) from None
    except ValueError as err:  # model_post_init
        raise ProtocolError(INVALID_DATA, f"data: {err}") from None
    return env, data


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, for the wire and the journal. pydantic-core's encoder writes the same text as
    json.dumps(ensure_ascii=False) in a fifth of the time: the hub encodes half a dozen of these per event."""
    return pydantic_core.to_json(obj, fallback=str)


def json_text(obj: Any) -> str:
    """dumps() for a TEXT column."""
    return pydantic_core.to_json(obj, fallback=str).decode("utf-8")
