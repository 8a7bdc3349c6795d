"""The calling board's bottom band: which service guides (办事指南) and notices it scrolls, in order, all day.

`config/playlist.toml` lists the items; each is one of

    notice = "中文" (with en = "English")     a fixed notice
    guides = "all"                           every service guide of the catalogue, in catalogue order
    guides = ["<service id>", ...]           these guides
    department = "<department id>"           the guides of one department
    queue = "<queue id>"                     the guides of one queue's services

Guides are read from the catalogue each time it changes (the hub's retained `hub/catalogue`), so a new service
shows up on the band without editing the playlist. Chinese first, English second in every item.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hall.catalogue import Catalogue, ServiceItem
from hall.errors import ConfigError, describe_validation

DEFAULT_PLAYLIST = Path(__file__).resolve().parent.parent / "config" / "playlist.toml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlaylistEntry(_Model):
    notice: str | None = Field(default=None, min_length=1)
    en: str = ""
    guides: Literal["all"] | list[str] | None = None
    department: str | None = None
    queue: str | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [k for k in ("notice", "guides", "department", "queue") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("exactly one of notice, guides, department or queue in each [[items]] entry")
        if self.en and self.notice is None:
            raise ValueError("en is the English of a notice; this entry has no notice")
        return self


class PlaylistFile(_Model):
    speed: float = Field(default=120, gt=0, le=1000, description="pixels a second on a 1080-line screen")
    gap: float = Field(default=1.0, ge=0, le=60, description="seconds of empty band between items")
    items: list[PlaylistEntry] = Field(min_length=1)


@dataclass(frozen=True)
class BandItem:
    key: str      # "notice:0", "guide:<service id>"
    text: str     # one line: Chinese first, then English

    @property
    def kind(self) -> str:
        return self.key.split(":", 1)[0]


class Playlist:
    def __init__(self, file: PlaylistFile, source: str = "<playlist>"):
        self.file = file
        self.source = source

    @property
    def speed(self) -> float:
        return self.file.speed

    @property
    def gap(self) -> float:
        return self.file.gap

    def items(self, catalogue: Catalogue, hall_name: str = "") -> list[BandItem]:
        """The band's items for this catalogue, in order. Unknown ids are skipped (the catalogue may lag)."""
        out: list[BandItem] = []
        for i, entry in enumerate(self.file.items):
            if entry.notice is not None:
                text = entry.notice + (f"    {entry.en}" if entry.en else "")
                out.append(BandItem(f"notice:{i}", text))
                continue
            for service in _select(entry, catalogue):
                out.append(BandItem(f"guide:{service.id}", guide_text(service, catalogue)))
        if not out:
            out.append(BandItem("notice:welcome", f"欢迎光临{hall_name}    Welcome"))
        return out


def _select(entry: PlaylistEntry, catalogue: Catalogue) -> list[ServiceItem]:
    if entry.guides == "all":
        return list(catalogue.services)
    if isinstance(entry.guides, list):
        found = [catalogue.service(s) for s in entry.guides]
        return [s for s in found if s is not None]
    if entry.department is not None:
        return [s for s in catalogue.services if s.department == entry.department]
    return [s for s in catalogue.services if s.queue == entry.queue]


def _days(n: int | None) -> str:
    return "即办" if n == 0 else f"{n} 个工作日"


def guide_text(service: ServiceItem, catalogue: Catalogue) -> str:
    """A service guide (一次性告知) on one line: name, conditions, materials, process, time limit, fee, windows."""
    dept = catalogue.department(service.department)
    parts = [f"【办事指南】{service.name}" + (f"（{dept.name}）" if dept else "")]
    if service.conditions:
        parts.append(f"办理条件：{service.conditions}")
    if service.materials:
        numbered = "".join(f"{_circled(i)}{m}" for i, m in enumerate(service.materials, 1))
        parts.append(f"所需材料：{numbered}")
    if service.process:
        parts.append("办理流程：" + "→".join(service.process))
    if service.promised_days is not None:
        limit = f"承诺时限：{_days(service.promised_days)}"
        if service.time_limit_days is not None and service.time_limit_days != service.promised_days:
            limit += f"（法定 {_days(service.time_limit_days)}）"
        parts.append(limit)
    elif service.time_limit_days is not None:
        parts.append(f"办理时限：{_days(service.time_limit_days)}")
    if service.fee:
        parts.append(f"收费：{service.fee}")
    windows = service.windows or catalogue.windows_serving(service.queue)
    if windows:
        parts.append(f"办理窗口：{'、'.join(windows)} 号")
    text = "　".join(parts)
    if service.name_en:
        text += f"    Service guide: {service.name_en}"
        if windows:
            text += f", window{'s' if len(windows) > 1 else ''} {', '.join(windows)}"
    return text


def _circled(n: int) -> str:
    return chr(0x2460 + n - 1) if 1 <= n <= 20 else f"({n})"


def parse_playlist(data: object, source: str = "<playlist>") -> Playlist:
    try:
        return Playlist(PlaylistFile.model_validate(data), source)
    except ValidationError as err:
        raise ConfigError(source, describe_validation(err, data, PlaylistFile)) from None


def load_playlist(path: Path | str | None = None) -> Playlist:
    path = Path(path) if path else DEFAULT_PLAYLIST
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except UnicodeDecodeError:
        raise ConfigError(path, ["not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, [f"not valid TOML: {err}"]) from None
    return parse_playlist(data, str(path))


class Band:
    """The band's position in its playlist: it goes round and round, and survives a catalogue change."""

    def __init__(self, items: list[BandItem]):
        self.items = items
        self.index = -1

    def next(self) -> BandItem:
        self.index = (self.index + 1) % len(self.items)
        return self.items[self.index]

    def replace(self, items: list[BandItem]) -> None:
        """New items (the catalogue changed): carry on after the item now showing, wherever it went."""
        current = self.items[self.index].key if 0 <= self.index < len(self.items) else None
        self.items = items
        keys = [i.key for i in items]
        self.index = keys.index(current) if current in keys else -1
