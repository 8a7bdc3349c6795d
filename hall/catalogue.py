"""The service catalogue: departments, queues, windows and service items (事项) with their guides.

One file (`config/catalogue.json`) is the single source of the hall's structure; the hub publishes it on the
retained `hub/catalogue` topic and kiosks cache it.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hall.errors import ConfigError, describe_validation

ShortId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The calling board shows a department's name on a window tile and a queue's English name on the waiting panel at
# its smallest readable size (20 px at 1920×1080): these are the most that fit there, and a longer name has a
# short form for the board.
BOARD_DEPARTMENT_MAX = 9     # characters of a department's (short) name on a tile
BOARD_QUEUE_EN_MAX = 17      # characters of a queue's (short) English name on the waiting panel


class Department(_Model):
    id: ShortId
    name: str = Field(min_length=1)
    name_en: str = ""
    short: str = Field(default="", max_length=BOARD_DEPARTMENT_MAX, pattern=r"^[^\n\r\t]*$",
                       description="the name on the board's tiles when the name is longer (人社局)")

    @property
    def board_name(self) -> str:
        return self.short or self.name


class Queue(_Model):
    id: ShortId
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$", description="ticket prefix, one or two capital letters")
    name: str = Field(min_length=1)
    name_en: str = ""
    en_short: str = Field(default="", max_length=BOARD_QUEUE_EN_MAX, pattern=r"^[^\n\r\t]*$",
                          description="the English name on the board when name_en is longer (Marriage & Aid)")
    department: str
    standard_minutes: float = Field(default=10, gt=0, le=24 * 60, strict=True, allow_inf_nan=False,
                                    description="handling time assumed until enough are done")
    cap: int | None = Field(default=None, ge=1, le=100_000, strict=True, description="tickets per day at most")

    @property
    def board_name_en(self) -> str:
        return self.en_short or self.name_en


class Window(_Model):
    id: ShortId
    name: str = ""
    name_en: str = ""
    department: str = ""
    queues: list[str]
    backup: list[str] = []
    # where the window is, printed on tickets and shown in guides: one short line (a floor, an area), no breaks
    location: str = Field(default="", max_length=24, pattern=r"^[^\n\r\t]*$")
    location_en: str = Field(default="", max_length=48, pattern=r"^[^\n\r\t]*$")


class ServiceItem(_Model):
    model_config = ConfigDict(extra="allow", frozen=True)  # halls may add fields; ours are never renamed
    id: ShortId
    name: str = Field(min_length=1)
    name_en: str = ""
    department: str
    queue: str
    keywords: list[str] = []
    conditions: str = ""
    materials: list[str] = []
    process: list[str] = []
    time_limit_days: int | None = Field(default=None, ge=0, le=3650, strict=True)
    promised_days: int | None = Field(default=None, ge=0, le=3650, strict=True)
    fee: str = ""
    basis: str = ""
    windows: list[str] = []


GUIDE_FIELDS = ("name_en", "keywords", "conditions", "materials", "process", "promised_days", "fee", "basis", "windows")


class Catalogue(_Model):
    version: str = "1"
    departments: list[Department]
    queues: list[Queue]
    windows: list[Window]
    services: list[ServiceItem] = []

    @cached_property
    def _by_id(self) -> dict[str, dict]:
        return {kind: {item.id: item for item in getattr(self, kind)}
                for kind in ("departments", "queues", "windows", "services")}

    def queue(self, queue_id: str) -> Queue | None:
        return self._by_id["queues"].get(queue_id)

    def window(self, window_id: str) -> Window | None:
        return self._by_id["windows"].get(window_id)

    def service(self, service_id: str) -> ServiceItem | None:
        return self._by_id["services"].get(service_id)

    def department(self, dept_id: str) -> Department | None:
        return self._by_id["departments"].get(dept_id)

    def services_of(self, dept_id: str) -> list[ServiceItem]:
        """A department's service items in catalogue order."""
        return [s for s in self.services if s.department == dept_id]

    def departments_with_services(self) -> list[Department]:
        """Departments that have at least one service item, in catalogue order (what a kiosk lists)."""
        used = {s.department for s in self.services}
        return [d for d in self.departments if d.id in used]

    def windows_serving(self, queue_id: str) -> list[str]:
        """Windows whose own queues include this one (backup windows are not promised on a ticket)."""
        return [w.id for w in self.windows if queue_id in w.queues]

    def too_long_for_the_board(self) -> list[str]:
        """Names the calling board can show only cut short (with …): a long name without its short form. Not an
        error (the hall still runs), a thing to fix in the catalogue."""
        out = [f"departments[id={d.id!r}].short: the name has {len(d.name)} characters, more than a tile shows "
               f"({BOARD_DEPARTMENT_MAX}): give it a short name"
               for d in self.departments if len(d.board_name) > BOARD_DEPARTMENT_MAX]
        out += [f"queues[id={q.id!r}].en_short: name_en has {len(q.name_en)} characters, more than the board shows "
                f"({BOARD_QUEUE_EN_MAX}): give it a short English name"
                for q in self.queues if len(q.board_name_en) > BOARD_QUEUE_EN_MAX]
        return out

    def problems(self) -> list[str]:
        """Cross-reference errors a schema cannot see, each naming the item and the key."""
        out: list[str] = []
        for kind, items in (("departments", self.departments), ("queues", self.queues),
                            ("windows", self.windows), ("services", self.services)):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    out.append(f"{kind}[id={item.id!r}]: duplicate id")
                seen.add(item.id)
        prefixes: dict[str, str] = {}
        dept_ids = {d.id for d in self.departments}
        queue_ids = {q.id for q in self.queues}
        for q in self.queues:
            if q.department not in dept_ids:
                out.append(f"queues[id={q.id!r}].department: unknown department {q.department!r}")
            if q.prefix in prefixes:
                out.append(f"queues[id={q.id!r}].prefix: {q.prefix!r} is already the prefix of queue {prefixes[q.prefix]!r}")
            prefixes[q.prefix] = q.id
        for w in self.windows:
            if not w.queues:
                out.append(f"windows[id={w.id!r}].queues: the window serves nothing")
            for key in ("queues", "backup"):
                for q in getattr(w, key):
                    if q not in queue_ids:
                        out.append(f"windows[id={w.id!r}].{key}: unknown queue {q!r}")
            if w.department and w.department not in dept_ids:
                out.append(f"windows[id={w.id!r}].department: unknown department {w.department!r}")
            if w.location_en and not w.location:
                out.append(f"windows[id={w.id!r}].location: an English location needs the Chinese one first")
        served = {q for w in self.windows for q in w.queues}
        for q in self.queues:
            if q.id not in served:
                out.append(f"queues[id={q.id!r}]: no window serves this queue")
        for s in self.services:
            if s.department not in dept_ids:
                out.append(f"services[id={s.id!r}].department: unknown department {s.department!r}")
            if s.queue not in queue_ids:
                out.append(f"services[id={s.id!r}].queue: unknown queue {s.queue!r}")
            for w in s.windows:
                window = self.window(w)
                if window is None:
                    out.append(f"services[id={s.id!r}].windows: unknown window {w!r}")
                elif s.queue in queue_ids and s.queue not in (*window.queues, *window.backup):
                    out.append(f"services[id={s.id!r}].windows: window {w!r} does not serve queue {s.queue!r}")
        return out

    def gaps(self) -> list[str]:
        """What a hall's catalogue needs before it opens, beyond consistency: every window serves at least one
        service item, every queue has one, and every guide is complete. `hall catalogue check` reports these;
        loading a hall does not refuse them (a hall may be set up step by step)."""
        out: list[str] = []
        queues_with_services = {s.queue for s in self.services}
        promised = {w for s in self.services for w in s.windows}
        for q in self.queues:
            if q.id not in queues_with_services:
                out.append(f"queues[id={q.id!r}]: no service item belongs to this queue")
        for w in self.windows:
            if not any(q in queues_with_services for q in w.queues):
                out.append(f"windows[id={w.id!r}]: the window serves nothing (no service item in queues {w.queues})")
            elif w.id not in promised:
                out.append(f"windows[id={w.id!r}]: no service item lists this window")
        for s in self.services:
            missing = [key for key in GUIDE_FIELDS if getattr(s, key) in ("", [], None)]
            if missing:
                out.append(f"services[id={s.id!r}]: incomplete guide, empty {', '.join(missing)}")
        return out

    @cached_property
    def digest(self) -> str:
        """sha256 of the catalogue's content: what `hub/catalogue` carries and kiosks key their caches by."""
        return wire_digest(self.model_dump(mode="json"))

    def wire(self) -> dict:
        """The retained `hub/catalogue` payload: the catalogue plus a digest kiosks compare against their cache."""
        body = self.model_dump(mode="json")
        return {"version": self.version, "sha256": self.digest, **{k: v for k, v in body.items() if k != "version"}}


def wire_digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def from_wire(payload: dict, source: str = "hub/catalogue") -> Catalogue:
    """The catalogue in a retained `hub/catalogue` payload, its digest checked (a kiosk caches only what it trusts)."""
    if not isinstance(payload, dict):
        raise ConfigError(source, [f"expected a JSON object, got {type(payload).__name__}"])
    body = {k: v for k, v in payload.items() if k != "sha256"}
    cat = parse_catalogue(body, source)
    digest = payload.get("sha256")
    if digest is not None and digest != cat.digest:
        raise ConfigError(source, [f"sha256: {digest!r} does not match the catalogue it came with"])
    return cat


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true or false", type(None): "null"}


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _place(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else ("." if i else "") + str(p) for i, p in enumerate(path))


def _not_utf8(value: object, path: tuple = ()) -> str | None:
    """The place of the first text that cannot be written out as UTF-8: JSON lets a file spell a lone surrogate
    ("\\ud800"), which Python reads but cannot encode, so the hub would fail later while publishing the guides."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _place(path) or "(top level)"
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _not_utf8(key, path) or _not_utf8(item, (*path, key))
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _not_utf8(item, (*path, i))
            if found:
                return found
    return None


def parse_catalogue(data: object, source: str = "<catalogue>") -> Catalogue:
    if not isinstance(data, dict):
        raise ConfigError(source, [f"(top level): got {_json_type(data)}, expected an object with the keys "
                                   "version, departments, queues, windows and services"])
    bad_text = _not_utf8(data)
    if bad_text:
        raise ConfigError(source, [f"{bad_text}: got text with a lone surrogate escape (\\ud800-\\udfff), "
                                   "expected Unicode text"])
    try:
        cat = Catalogue.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, describe_validation(err, data, Catalogue)) from None
    problems = cat.problems()
    if problems:
        raise ConfigError(source, problems)
    return cat


def read_config_text(path: Path | str) -> str:
    """A config file's text. Every way this fails names the file, and bytes that are not UTF-8 their line and
    column, so a catalogue saved in GBK by a spreadsheet says where, not a Python traceback. A leading byte order
    mark (Windows Notepad writes one) is allowed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except IsADirectoryError:
        raise ConfigError(path, ["got a folder, expected a file"]) from None
    except OSError as err:
        raise ConfigError(path, [f"cannot be read: {err.strerror}"]) from None
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        before = raw[:err.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1:].decode("utf-8")) + 1
        raise ConfigError(path, [f"line {line} column {column}: got byte 0x{raw[err.start]:02x}, expected UTF-8 text "
                                 "(save the file as UTF-8)"]) from None


# a string, to step over it whole, or a constant Python's json reads but JSON does not have
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_STRING_OR_CONSTANT = re.compile(_STRING + r"|(-?Infinity|NaN)")
# a string, to step over it whole, or a bracket
_STRING_OR_BRACKET = re.compile(_STRING + r"|([\[{])|[\]}]")
MAX_DEPTH = 64  # a catalogue is 4 levels deep; halls' own fields on service items get the rest


class _NotJSON(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _NotJSON(name)


def _line_column(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    return f"line {line} column {column}"


def _too_deep(text: str) -> int | None:
    """Where the brackets first nest deeper than MAX_DEPTH (before Python's parser would run out of stack)."""
    depth = 0
    for m in _STRING_OR_BRACKET.finditer(text):
        if m.group(0)[0] == '"':
            continue
        depth += 1 if m.group(1) else -1
        if depth > MAX_DEPTH:
            return m.start()
    return None


def parse_catalogue_text(text: str, source: str) -> object:
    """JSON as the standard has it: NaN and Infinity are refused (kiosks and browsers could not read them back),
    and so is nesting deeper than any catalogue needs."""
    deep = _too_deep(text)
    if deep is not None:
        raise ConfigError(source, [f"{_line_column(text, deep)}: got nesting deeper than {MAX_DEPTH} levels, "
                                   "expected a catalogue"])
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise ConfigError(source, [f"line {err.lineno} column {err.colno}: not valid JSON ({err.msg})"]) from None
    except _NotJSON as err:
        found = next((m for m in _STRING_OR_CONSTANT.finditer(text) if m.group(1)), None)
        where = _line_column(text, found.start()) if found else "(somewhere)"
        raise ConfigError(source, [f"{where}: got {err}, expected a JSON number (JSON has no {err})"]) from None


def load_catalogue(path: Path | str) -> Catalogue:
    path = Path(path)
    data = parse_catalogue_text(read_config_text(path), str(path))
    return parse_catalogue(data, str(path))
