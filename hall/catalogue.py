"""The service catalogue: departments, queues, windows and service items (事项) with their guides.

One file (`config/catalogue.json`) is the single source of the hall's structure; the hub publishes it on the
retained `hub/catalogue` topic and kiosks cache it.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hall.errors import ConfigError, describe_validation

ShortId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Department(_Model):
    id: ShortId
    name: str = Field(min_length=1)
    name_en: str = ""


class Queue(_Model):
    id: ShortId
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$", description="ticket prefix, one or two capital letters")
    name: str = Field(min_length=1)
    name_en: str = ""
    department: str
    standard_minutes: float = Field(default=10, gt=0, description="handling time assumed until enough are done")
    cap: int | None = Field(default=None, ge=1, description="tickets per day at most")


class Window(_Model):
    id: ShortId
    name: str = ""
    name_en: str = ""
    department: str = ""
    queues: list[str]
    backup: list[str] = []


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
    time_limit_days: int | None = None
    promised_days: int | None = None
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


def parse_catalogue(data: object, source: str = "<catalogue>") -> Catalogue:
    try:
        cat = Catalogue.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, describe_validation(err, data, Catalogue)) from None
    problems = cat.problems()
    if problems:
        raise ConfigError(source, problems)
    return cat


def load_catalogue(path: Path | str) -> Catalogue:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except json.JSONDecodeError as err:
        raise ConfigError(path, [f"line {err.lineno} column {err.colno}: not valid JSON ({err.msg})"]) from None
    return parse_catalogue(data, str(path))
