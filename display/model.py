"""What the calling board shows, as plain data: window tiles, queue counts, the call being highlighted, the band.

The board is a pure function of the hub's topics and the time. Every input is a method that takes the payload
(and `now`, a monotonic second count, where timing matters) and returns the set of parts that changed, so the
Kivy view redraws only those and the rules here are tested without a window or a broker:

- a tile per window of the catalogue, with its ticket and status (serving, idle, paused: 暂停服务, or with the
  reason the clerk gave in the middle, 午休 over 暂停 Lunch break; closed);
- every call lights its tile at once: it flashes for `flash_s` seconds, however many calls come together, so
  at opening time all 34 windows calling within a second are all on screen within that second (nothing waits
  for a turn). The newest call is the big one on the now-calling panel, and stays lit, steady, after its flash;
  the others of the burst are listed under it while they flash;
- the panel and the tiles never disagree: when a window's state moves on from the ticket it called (idle,
  paused, the next ticket), its tile is no longer lit and the panel no longer calls that ticket;
- the waiting count and wait estimate per queue, the latest calls, and whether the hub is online.

Change keys: "tile:<window>", "queue:<queue>", "highlight", "calls", "hub", "layout" (the catalogue changed:
rebuild tiles and queue lines), "band" (the band's playlist changed).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from hall.catalogue import Catalogue, parse_catalogue
from hall.errors import ConfigError
from hall.protocol import Call, Calls, HubStatus, QueueState, WindowState, read_or_ignore
from hall.settings import PAUSE_REASONS

log = logging.getLogger("display.model")

FLASH_S = 4.0          # a new call's tile (and the panel, for the newest) flashes this long
RECENT_CALLS = 8       # calls listed under the highlighted one (the panel shows those that fit)
STATUS_TEXT = {
    "serving": ("办理中", "Serving"),
    "idle": ("空闲", "Idle"),
    "paused": ("暂停服务", "Paused"),
    "closed": ("未开放", "Closed"),
}


# ---------------------------------------------------------------- what the board shows

@dataclass
class Tile:
    window: str
    name: str
    name_en: str
    department: str
    status: str = "closed"
    ticket: str | None = None
    staff: str | None = None
    queues: list[str] = field(default_factory=list)
    heard: bool = False  # a state or a call for this window has arrived (else its status is a guess)
    reason: str | None = None  # paused: why, as the hub says (会议, 午休, …)

    @property
    def status_text(self) -> tuple[str, str]:
        if self.status == "paused" and self.reason in PAUSE_REASONS:
            # the reason alone in English: "暂停  Lunch break" fits a tile's line at the board's smallest size
            return "暂停", PAUSE_REASONS[self.reason].capitalize()
        return STATUS_TEXT.get(self.status, STATUS_TEXT["closed"])

    @property
    def reason_text(self) -> str:
        """Why it paused, in the tile's middle where a ticket would be ('' when not paused or no reason given)."""
        return self.reason or "" if self.status == "paused" else ""


@dataclass
class QueueLine:
    queue: str
    prefix: str
    name: str
    name_en: str
    waiting: int = 0
    est_wait_s: float | None = None
    last_called: str | None = None

    @property
    def est_wait_min(self) -> int | None:
        return None if self.est_wait_s is None else int((self.est_wait_s + 59) // 60)


@dataclass(frozen=True)
class Highlight:
    call: Call
    since: float  # monotonic time the highlight began

    @property
    def ticket(self) -> str:
        return self.call.ticket

    @property
    def window(self) -> str:
        return self.call.window


def window_label(window_id: str) -> tuple[str, str]:
    return f"{window_id}号窗口", f"Window {window_id}"


def call_sentence(ticket: str, window: str) -> tuple[str, str]:
    """The words of a call, as the voice says them and the board writes them."""
    return f"请 {ticket} 号到 {window} 号窗口办理", f"Ticket {ticket}, please go to window {window}"


class BoardModel:
    def __init__(self, catalogue: Catalogue, *, flash_s: float = FLASH_S, recent: int = RECENT_CALLS):
        self.flash_s = flash_s
        self.recent_size = recent
        self.catalogue = catalogue
        self.tiles: dict[str, Tile] = {}
        self.queues: dict[str, QueueLine] = {}
        self.recent: list[Call] = []
        self.hub_online: bool | None = None  # None: not heard yet
        self.connected = False
        self.highlight: Highlight | None = None   # the newest call: the big one on the panel
        self.lit: dict[str, Highlight] = {}       # window → the call lighting its tile, oldest first
        self._seen: deque[tuple] = deque(maxlen=64)
        self._layout(catalogue)

    # ------------------------------------------------------------ structure

    def _layout(self, catalogue: Catalogue) -> None:
        old_tiles, old_queues = self.tiles, self.queues
        depts = {d.id: d for d in catalogue.departments}
        self.tiles = {}
        for w in catalogue.windows:
            name, name_en = window_label(w.id)
            dept = depts.get(w.department)
            tile = Tile(window=w.id, name=w.name or name, name_en=w.name_en or name_en,
                        department=dept.board_name if dept else "", queues=list(w.queues))
            prev = old_tiles.get(w.id)
            if prev:
                tile.status, tile.ticket, tile.staff, tile.heard = prev.status, prev.ticket, prev.staff, prev.heard
                tile.reason = prev.reason
            self.tiles[w.id] = tile
        self.queues = {}
        for q in catalogue.queues:
            line = QueueLine(queue=q.id, prefix=q.prefix, name=q.name, name_en=q.board_name_en)
            prev = old_queues.get(q.id)
            if prev:
                line.waiting, line.est_wait_s, line.last_called = prev.waiting, prev.est_wait_s, prev.last_called
            self.queues[q.id] = line
        self.catalogue = catalogue

    # ------------------------------------------------------------ inputs

    def apply(self, suffix: str, payload: object, now: float) -> set[str]:
        """One message from a topic under hall/v1/{hall}/ (e.g. "hub/state/window/3")."""
        parts = suffix.split("/")
        if parts[:1] != ["hub"] or len(parts) < 2:
            return set()
        kind = parts[1]
        if kind == "state" and len(parts) == 4 and parts[2] == "window":
            return self.on_window_state(payload, suffix)
        if kind == "state" and len(parts) == 4 and parts[2] == "queue":
            return self.on_queue_state(payload, suffix)
        if kind == "call":
            return self.on_call(payload, now, suffix)
        if kind == "calls":
            return self.on_calls(payload, suffix)
        if kind == "status":
            return self.on_hub_status(payload, suffix)
        if kind == "catalogue":
            return self.on_catalogue(payload, suffix)
        return set()

    def on_window_state(self, payload: object, topic: str = "hub/state/window") -> set[str]:
        state = read_or_ignore(WindowState, topic, payload, log)
        if state is None:
            return set()
        tile = self.tiles.get(state.window)
        if tile is None:  # a window the hub knows and our catalogue does not yet: show it rather than drop it
            name, name_en = window_label(state.window)
            tile = self.tiles[state.window] = Tile(window=state.window, name=name, name_en=name_en, department="")
            changes = {"layout"}
        else:
            changes = set()
        tile.heard = True
        new = (state.status, state.ticket if state.status != "closed" else None, state.staff, list(state.queues),
               state.reason if state.status == "paused" else None)
        if (tile.status, tile.ticket, tile.staff, tile.queues, tile.reason) != new:
            tile.status, tile.ticket, tile.staff, tile.queues, tile.reason = new
            changes.add(f"tile:{tile.window}")
        return changes | self._agree(tile)

    def _agree(self, tile: Tile) -> set[str]:
        """The tile moved on from the call lighting it: unlight it, and the panel calls it no more."""
        hl = self.lit.get(tile.window)
        if hl is None or (tile.status == "serving" and tile.ticket == hl.ticket):
            return set()
        del self.lit[tile.window]
        if self.highlight is hl:
            self.highlight = next(reversed(self.lit.values()), None)
        return {f"tile:{tile.window}", "highlight"}

    def on_queue_state(self, payload: object, topic: str = "hub/state/queue") -> set[str]:
        state = read_or_ignore(QueueState, topic, payload, log)
        if state is None:
            return set()
        line = self.queues.get(state.queue)
        changes = set()
        if line is None:
            line = self.queues[state.queue] = QueueLine(queue=state.queue, prefix=state.queue, name=state.queue,
                                                        name_en="")
            changes.add("layout")
        new = (state.waiting, state.est_wait_s, state.last_called)
        if (line.waiting, line.est_wait_s, line.last_called) != new:
            line.waiting, line.est_wait_s, line.last_called = new
            changes.add(f"queue:{line.queue}")
        return changes

    def on_call(self, payload: object, now: float, topic: str = "hub/call") -> set[str]:
        """A ticket was just called: show it on its tile and light the tile at once, whatever else is lit."""
        call = read_or_ignore(Call, topic, payload, log)
        if call is None or call.key in self._seen:
            return set()
        self._seen.append(call.key)
        changes = {"calls", "highlight", f"tile:{call.window}"}
        self._remember(call)
        tile = self.tiles.get(call.window)
        if tile is not None:
            # the window's state topic follows; the call itself already says who is served there
            tile.ticket, tile.status, tile.heard = call.ticket, "serving", True
        hl = Highlight(call, since=now)
        self.lit.pop(call.window, None)  # re-inserted: `lit` stays oldest first
        self.lit[call.window] = hl
        self.highlight = hl
        return changes | self.tick(now)

    def on_calls(self, payload: object, topic: str = "hub/calls") -> set[str]:
        """The retained list of latest calls: fills the recent list; the newest is lit, steady, at start."""
        calls = read_or_ignore(Calls, topic, payload, log)
        if calls is None:
            return set()
        # hub/call and hub/calls may come in either order, so this list never marks a call as seen
        recent = calls.calls[: self.recent_size]
        changes = set()
        if [c.key for c in recent] != [c.key for c in self.recent]:
            self.recent = list(recent)
            changes.add("calls")
        if self.highlight is None and recent:
            # not a new call: the newest one its tile still agrees with is lit, without flashing
            for c in recent:
                tile = self.tiles.get(c.window)
                if tile is None or not tile.heard or (tile.status, tile.ticket) == ("serving", c.ticket):
                    self.highlight = self.lit[c.window] = Highlight(c, since=float("-inf"))
                    changes |= {"highlight", f"tile:{c.window}"}
                    break
        return changes

    def on_hub_status(self, payload: object, topic: str = "hub/status") -> set[str]:
        status = read_or_ignore(HubStatus, topic, payload, log)
        return set() if status is None else self.set_hub_online(status.state == "online")

    def set_hub_online(self, online: bool) -> set[str]:
        if self.hub_online is online:
            return set()
        self.hub_online = online
        return {"hub"}

    def set_connected(self, connected: bool) -> set[str]:
        if self.connected is connected:
            return set()
        self.connected = connected
        return {"hub"}

    @property
    def online(self) -> bool:
        """Live data: connected to the broker and the hub says it is online."""
        return bool(self.connected and self.hub_online)

    def on_catalogue(self, payload: object, topic: str = "hub/catalogue") -> set[str]:
        if not isinstance(payload, dict):
            log.warning("ignored %s: not a JSON object", topic)
            return set()
        body = {k: v for k, v in payload.items() if k != "sha256"}
        try:
            catalogue = parse_catalogue(body, topic)
        except ConfigError as err:
            log.warning("ignored %s: %s", topic, err)
            return set()
        if catalogue == self.catalogue:
            return set()
        self._layout(catalogue)
        return {"layout", "band"}

    # ------------------------------------------------------------ time

    def tick(self, now: float) -> set[str]:
        """Tiles whose flash is over go back to their status colours; the newest call stays lit, steady."""
        changes = set()
        for window, hl in list(self.lit.items()):
            if hl is not self.highlight and now - hl.since >= self.flash_s:
                del self.lit[window]
                changes |= {f"tile:{window}", "highlight"}
        return changes

    def flashing(self, now: float) -> bool:
        """The newest call (the panel) is still flashing."""
        return self.highlight is not None and now - self.highlight.since < self.flash_s

    def tile_flashing(self, window: str, now: float) -> bool:
        hl = self.lit.get(window)
        return hl is not None and now - hl.since < self.flash_s

    def burst(self, now: float) -> list[Call]:
        """The calls flashing now, newest first (the panel lists them under the newest)."""
        return [hl.call for hl in reversed(self.lit.values()) if now - hl.since < self.flash_s]

    def next_deadline(self, now: float) -> float | None:
        """When `tick` next has something to do (the end of the first flash still going), or None."""
        ends = [hl.since + self.flash_s for hl in self.lit.values() if now - hl.since < self.flash_s]
        return min(ends) if ends else None

    def _remember(self, call: Call) -> None:
        recent = [c for c in self.recent if (c.ticket, c.window) != (call.ticket, call.window)]
        self.recent = [call, *recent][: self.recent_size]

    # ------------------------------------------------------------ views of the state

    def tile_lit(self, window: str) -> bool:
        return window in self.lit

    def ordered_tiles(self) -> list[Tile]:
        return list(self.tiles.values())

    def ordered_queues(self) -> list[QueueLine]:
        return list(self.queues.values())

    def snapshot(self) -> dict:
        """The last state, for the cache a board starts from when the broker is away."""
        return {
            "windows": [{"window": t.window, "status": t.status, "ticket": t.ticket, "staff": t.staff,
                         "queues": t.queues} for t in self.tiles.values()],
            "queues": [{"queue": q.queue, "waiting": q.waiting, "est_wait_s": q.est_wait_s,
                        "last_called": q.last_called} for q in self.queues.values()],
            "calls": [c.model_dump() for c in self.recent],
        }

    def restore(self, snapshot: dict) -> None:
        for w in snapshot.get("windows", []):
            self.on_window_state(w, "cache")
        for q in snapshot.get("queues", []):
            self.on_queue_state(q, "cache")
        if snapshot.get("calls"):
            self.on_calls({"calls": snapshot["calls"]}, "cache")
