"""Loading and validating a hall's configuration (`config/hall.toml` plus the catalogue and staff files it names).

`load_hall()` is the one config loader. Every error names the file, the key, the bad value and what was expected.
"""

from __future__ import annotations

import csv
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hall.catalogue import Catalogue, load_catalogue
from hall.errors import ConfigError, describe_validation, load_toml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
DEFAULT_HALL = CONFIG_DIR / "hall.toml"

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case letters, digits and '-', at most 32")]
DeviceKind = Literal["kiosk", "display", "terminal", "caller", "rater", "window", "led"]
HUB_ID = "hub"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeSpan(_Model):
    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value):
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError('a span ["HH:MM", "HH:MM"]')
            return {"start": value[0], "end": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self):
        if self.end <= self.start:
            raise ValueError("a span whose end comes after its start")
        return self

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end


class HallInfo(_Model):
    id: Name
    name: str = Field(min_length=1)
    name_en: str = ""
    timezone: str = "Asia/Shanghai"
    catalogue: str = "catalogue.json"
    staff: str = "staff.csv"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as 'Asia/Shanghai'") from None
        return value


class Hours(_Model):
    open: list[TimeSpan]
    issuing: list[TimeSpan] = []


class QueueRules(_Model):
    recall_limit: int = Field(default=3, ge=0)
    requeue_window_minutes: int = Field(default=30, ge=0)
    requeue_after: int = Field(default=3, ge=0)
    average_after: int = Field(default=5, ge=1)


class AttendanceRules(_Model):
    am_in: time = time(9, 0)
    am_out: time = time(11, 40)
    pm_in: time = time(13, 0)
    pm_out: time = time(17, 0)
    grace_minutes: int = Field(default=0, ge=0, le=120)
    merge_seconds: int = Field(default=60, ge=0)
    extra_holidays: list[date] = []
    extra_workdays: list[date] = []

    @model_validator(mode="after")
    def _ordered(self):
        if not (self.am_in < self.am_out < self.pm_in < self.pm_out):
            raise ValueError("am_in < am_out < pm_in < pm_out")
        return self


class BrokerSettings(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    tls: bool = False
    tls_port: int = Field(default=8883, ge=1, le=65535)
    plain_localhost_only: bool = False
    autosave_interval: int = Field(default=10, ge=1)
    max_queued_messages: int = Field(default=1_000_000, ge=1000)


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


class HallFile(_Model):
    """The shape of hall.toml."""

    hall: HallInfo
    hours: Hours
    queue: QueueRules = QueueRules()
    attendance: AttendanceRules = AttendanceRules()
    broker: BrokerSettings = BrokerSettings()
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
    def broker(self) -> BrokerSettings:
        return self.file.broker

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
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
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
    for s in staff:
        if s.window and s.window not in window_ids:
            out.append(f"staff {s.id!r}: unknown window {s.window!r}")
    return out


def load_hall(path: Path | str | None = None) -> Hall:
    """Load hall.toml (the default hall when no path is given) with its catalogue and staff."""
    path = Path(path) if path else DEFAULT_HALL
    data = load_toml(path)
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
