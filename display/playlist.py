"""The calling board's bottom band: which service guides (办事指南) and notices it shows, in order, all day.

`config/playlist.toml` lists the items; each is one of

    notice = "中文" (with en = "English")     a fixed notice
    guides = "all"                           every service guide of the catalogue, in catalogue order
    guides = ["<service id>", ...]           these guides
    department = "<department id>"           the guides of one department
    queue = "<queue id>"                     the guides of one queue's services

and a guides entry may say `form = "card"` (the short form: what to bring and where to go, instead of the whole
guide) and `per_loop = N` (show N of its guides each time round, the next N the time after, and first those of
the queues where people are waiting now). So a loop of the band stays short (under 20 minutes with the shipped
playlist, `loop_seconds`) however many services the hall has, and what it shows follows the hall's day.

Guides are read from the catalogue each time it changes (the hub's retained `hub/catalogue`), so a new service
shows up on the band without editing the playlist. Chinese first, English second in every item.

The band shows an item page by page: `paginate` lays its text out to the band's width (Chinese pages, then
English ones), breaking only between words (jieba finds the words of Chinese text), each page stays still for
`hold_for` seconds, then the next one replaces it. Nothing here needs
Kivy: the width of a piece of text is a function the board passes in.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hall.catalogue import Catalogue, ServiceItem
from hall.errors import ConfigError, describe_validation, load_toml

DEFAULT_PLAYLIST = Path(__file__).resolve().parent.parent / "config" / "playlist.toml"


PER_LOOP = 36          # guides of an entry shown each time round, unless it says: keeps a loop under 20 min


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlaylistEntry(_Model):
    notice: str | None = Field(default=None, min_length=1)
    en: str = ""
    guides: Literal["all"] | list[str] | None = None
    department: str | None = None
    queue: str | None = None
    form: Literal["full", "card"] | None = Field(
        default=None, description="a guide whole, or its card: what to bring (guides default to the card)")
    per_loop: int | None = Field(default=None, ge=1, description=f"guides of this entry shown each time round "
                                                                 f"(default {PER_LOOP})")

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [k for k in ("notice", "guides", "department", "queue") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("exactly one of notice, guides, department or queue in each [[items]] entry")
        if self.en and self.notice is None:
            raise ValueError("en is the English of a notice; this entry has no notice")
        if self.notice is not None and (self.form is not None or self.per_loop is not None):
            raise ValueError("form and per_loop are for guides; this entry is a notice")
        return self


class PlaylistFile(_Model):
    page: float = Field(default=10.0, ge=1, le=120, description="seconds a full page stays on the band")
    transition: float = Field(default=0.0, ge=0, le=2,
                              description="seconds the next page takes to slide in; 0 cuts straight to it")
    items: list[PlaylistEntry] = Field(min_length=1)


@dataclass(frozen=True)
class BandItem:
    key: str      # "notice:0", "guide:<service id>"
    zh: str       # the Chinese, shown first
    en: str = ""  # the English, shown after it
    queue: str | None = None  # a guide's queue (the band favours queues where people wait)

    @property
    def kind(self) -> str:
        return self.key.split(":", 1)[0]

    @property
    def text(self) -> str:
        """The whole item on one line, Chinese first."""
        return self.zh + (f"    {self.en}" if self.en else "")


class Playlist:
    def __init__(self, file: PlaylistFile, source: str = "<playlist>"):
        self.file = file
        self.source = source

    @property
    def page(self) -> float:
        return self.file.page

    @property
    def transition(self) -> float:
        return self.file.transition

    def items(self, catalogue: Catalogue, hall_name: str = "") -> list[BandItem]:
        """The band's items for this catalogue, in order. Unknown ids are skipped (the catalogue may lag)."""
        return [item for group in self.groups(catalogue, hall_name) for item in group.items]

    def groups(self, catalogue: Catalogue, hall_name: str = "") -> list[Group]:
        """The items entry by entry, each with how many of them a loop shows."""
        out: list[Group] = []
        for i, entry in enumerate(self.file.items):
            if entry.notice is not None:
                out.append(Group([BandItem(f"notice:{i}", entry.notice, entry.en)]))
                continue
            parts = guide_parts if entry.form == "full" else guide_card
            items = [BandItem(f"guide:{service.id}", *parts(service, catalogue), queue=service.queue)
                     for service in _select(entry, catalogue)]
            if items:
                out.append(Group(items, entry.per_loop or PER_LOOP))
        if not out:
            out.append(Group([BandItem("notice:welcome", f"欢迎光临{hall_name}", "Welcome")]))
        return out


@dataclass(frozen=True)
class Group:
    """One playlist entry's items, and how many of them each loop shows (None: all)."""
    items: list[BandItem]
    per_loop: int | None = None


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
    zh, en = guide_parts(service, catalogue)
    return zh + (f"    {en}" if en else "")


def guide_parts(service: ServiceItem, catalogue: Catalogue) -> tuple[str, str]:
    """A service guide's Chinese and its English."""
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
    en = ""
    if service.name_en:
        en = f"Service guide: {service.name_en}"
        if windows:
            en += f", window{'s' if len(windows) > 1 else ''} {', '.join(windows)}"
    return "　".join(parts), en


def guide_card(service: ServiceItem, catalogue: Catalogue) -> tuple[str, str]:
    """A guide's card: what to bring and where to go, in a page or two (the whole guide is at the kiosk)."""
    windows = service.windows or catalogue.windows_serving(service.queue)
    parts = [f"【带齐材料】{service.name}"]
    if service.materials:
        parts.append("".join(f"{_circled(i)}{m}" for i, m in enumerate(service.materials, 1)))
    if windows:
        parts.append(f"办理窗口：{'、'.join(windows)} 号")
    en = ""
    if service.name_en:
        en = f"What to bring: {service.name_en}"
        if windows:
            en += f", window{'s' if len(windows) > 1 else ''} {', '.join(windows)}"
        en += " (the full guide at the kiosk)"
    return "　".join(parts), en


def _circled(n: int) -> str:
    return chr(0x2460 + n - 1) if 1 <= n <= 20 else f"({n})"


def parse_playlist(data: object, source: str = "<playlist>") -> Playlist:
    try:
        return Playlist(PlaylistFile.model_validate(data), source)
    except ValidationError as err:
        raise ConfigError(source, describe_validation(err, data, PlaylistFile)) from None


def load_playlist(path: Path | str | None = None) -> Playlist:
    path = Path(path) if path else DEFAULT_PLAYLIST
    return parse_playlist(load_toml(path), str(path))


class Band:
    """The band's position in its playlist: it goes round and round, and survives a catalogue change.

    Each time round is a loop: every notice, and of each guides entry with `per_loop`, that many guides: first
    one of each queue where people are waiting now (the most waiting first), then the next ones in catalogue
    order from where the last loop stopped, so over a few loops every guide is shown.
    """

    def __init__(self, items: list[BandItem] | list[Group]):
        self.groups: list[Group] = [g if isinstance(g, Group) else Group([g]) for g in items]
        self.waiting: dict[str, int] = {}
        self.loop: list[BandItem] = []
        self.index = -1
        self.loops = 0
        self._cursor: dict[int, int] = {}        # group → where its rotation goes on
        self._queue_cursor: dict[str, int] = {}  # queue → its next guide, in a favoured place

    @property
    def items(self) -> list[BandItem]:
        """Every item the band may show."""
        return [item for g in self.groups for item in g.items]

    def set_waiting(self, waiting: dict[str, int]) -> None:
        """People waiting per queue now: the next loop favours their guides."""
        self.waiting = {q: n for q, n in waiting.items() if n > 0}

    def next(self) -> BandItem:
        self.index += 1
        if self.index >= len(self.loop):
            self.loop, self.index = self.next_loop(), 0
        return self.loop[self.index]

    def next_loop(self) -> list[BandItem]:
        """The items of the next time round."""
        self.loops += 1
        out: list[BandItem] = []
        for gi, group in enumerate(self.groups):
            if group.per_loop is None or group.per_loop >= len(group.items):
                out += group.items
                continue
            out += self._choose(gi, group)
        return out or [BandItem("notice:empty", "")]

    def _choose(self, gi: int, group: Group) -> list[BandItem]:
        picked: list[BandItem] = []
        for queue in sorted(self.waiting, key=lambda q: -self.waiting[q]):
            mine = [i for i in group.items if i.queue == queue]
            if mine and len(picked) < group.per_loop:
                at = self._queue_cursor.get(queue, 0) % len(mine)
                self._queue_cursor[queue] = at + 1
                picked.append(mine[at])
        at, n = self._cursor.get(gi, 0), len(group.items)
        seen = 0
        while len(picked) < group.per_loop and seen < n:
            item = group.items[(at + seen) % n]
            seen += 1
            if item not in picked:
                picked.append(item)
        self._cursor[gi] = (at + seen) % n
        return picked

    def replace(self, items: list[BandItem] | list[Group]) -> None:
        """New items (the catalogue changed): carry on after the item now showing, wherever it went."""
        current = self.loop[self.index].key if 0 <= self.index < len(self.loop) else None
        self.groups = [g if isinstance(g, Group) else Group([g]) for g in items]
        self._cursor.clear()
        self.loop = [i for i in self.next_loop()]
        keys = [i.key for i in self.loop]
        self.index = keys.index(current) if current in keys else -1


def loop_seconds(loop: list[BandItem], width: float, measure: Callable[[str], float], page_s: float) -> float:
    """How long one time round the band takes: every page of every item held its time."""
    total = 0.0
    for item in loop:
        for part in (item.zh, item.en):
            if part:
                total += sum(hold_for(measure(p) / width, page_s) for p in paginate(part, width, measure))
    return total


# ---------------------------------------------------------------- pages

MIN_HOLD = 3.0         # seconds: no page goes by faster, however short
CLOSING = set("，。、；：？！）】」』》〉”’…—·%,.;:?!)]}→/")   # never starts a page: sticks to what it follows
OPENING = set("（【「『《〈“‘([{") | {chr(c) for c in range(0x2460, 0x2474)}  # never ends one: ①…⑳ too
PAGE_ENDS = set("。；！？.;!?")                                 # where a page likes to end


# words of the hall's guides that a general dictionary splits, and a page must not
HALL_WORDS = ("身份证原件", "身份证复印件", "营业执照", "电子执照", "受理审查", "不动产权证书", "户口簿", "结婚证",
              "委托书", "申请书", "承诺时限", "法定时限", "办理窗口", "所需材料", "办理条件", "办理流程")


@functools.cache
def _segmenter():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    for word in HALL_WORDS:
        jieba.add_word(word)
    return jieba


@functools.lru_cache(maxsize=4096)
def _words(run: str) -> list[str]:
    """The words of a run of Chinese (a mark of punctuation is a word of its own)."""
    return [w for w in _segmenter().lcut(run, HMM=True) if w]


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


def tokens(text: str) -> list[str]:
    """The pieces of `text` a page break never splits: a Chinese word (jieba's) with the punctuation after it, a
    Latin word, an opening bracket or ① with what follows it. Spaces stay at the end of the piece they follow."""
    raw: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        if text[i].isspace():
            while j < n and text[j].isspace():
                j += 1
        elif not _wide(text[i]):
            while j < n and not text[j].isspace() and not _wide(text[j]):
                j += 1
        else:  # a run of Chinese: its words, as jieba finds them
            while j < n and not text[j].isspace() and _wide(text[j]):
                j += 1
            raw += _words(text[i:j])
            i = j
            continue
        raw.append(text[i:j])
        i = j
    out: list[str] = []
    opening = ""
    for piece in raw:
        if piece.isspace():
            if out and not opening:
                out[-1] += piece
            continue
        if opening:
            piece, opening = opening + piece, ""
        if len(piece) == 1 and piece in OPENING or piece[-1] in OPENING and all(c in OPENING for c in piece):
            opening = piece
        elif out and piece[0] in CLOSING and not out[-1][-1].isspace():
            out[-1] += piece
        else:
            out.append(piece)
    if opening:
        out.append(opening)
    return out


def _good_end(piece: str) -> bool:
    body = piece.rstrip()
    return body[-1:] in PAGE_ENDS or "　" in piece[len(body):]  # a sentence, or a part of a guide, ends here


def paginate(text: str, width: float, measure: Callable[[str], float], prefer: float = 0.6) -> list[str]:
    """`text` cut into pages no wider than `width` (as `measure` tells a piece's width), in order.

    A page ends at a sentence or at the end of a part of a guide (办理条件：…　) when one falls in its last
    `1 - prefer` of the width; otherwise it is filled as far as it goes. Nothing is dropped: joined again, the
    pages give back the text, less the spaces at their edges.
    """
    pages: list[str] = []
    line: list[tuple[str, float]] = []

    def flush(keep: int) -> None:
        nonlocal line
        page = "".join(piece for piece, _ in line[:keep]).strip()
        if page:
            pages.append(page)
        line = line[keep:]

    for piece in _pieces(text, width, measure):
        w = measure(piece)
        while line and sum(x for _, x in line) + measure(piece.rstrip()) > width:
            flush(_break(line, width * prefer))
        line.append((piece, w))
    flush(len(line))
    return pages


def _pieces(text: str, width: float, measure: Callable[[str], float]) -> Iterator[str]:
    for piece in tokens(text):
        if measure(piece.rstrip()) <= width:
            yield piece
        else:  # a piece wider than a page (a long number, a web address) goes by characters
            yield from piece


def _break(line: list[tuple[str, float]], at_least: float) -> int:
    """How many pieces of `line` the page takes: up to the last good end past `at_least`, else all."""
    keep, used = len(line), 0.0
    for i, (piece, w) in enumerate(line):
        used += w
        if used >= at_least and _good_end(piece):
            keep = i + 1
    return keep


def hold_for(fill: float, page: float) -> float:
    """Seconds a page stays: `page` for a full one, a shorter one in proportion to its width, at least 3 s."""
    return max(min(MIN_HOLD, page), page * min(1.0, max(0.0, fill)))
