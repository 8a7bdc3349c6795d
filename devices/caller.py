"""The caller bus master (`hall caller`): window keypads and rating pads on the hall bus.

Keys become window events (call_next, recall, skip, complete, transfer, pause, resume, login, logout), scores
become rating events for the ticket last served at that window; both go through the device's durable link. The
hub's retained window and queue state comes back onto each keypad's display (the ticket served, how many wait).

Shape: `KeypadSession` is the pure part (keys in, events out); `CallerAgent` is the shell that polls the bus and
talks to the link, on the shell every bus master shares (devices/bus/agent.py): one thread owns the bus, the link's
callbacks only note what changed and wake it, and the hub's messages arrive read with the core's models.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from devices.bus.agent import BusAgent
from devices.bus.codec import Command, Key, KeypadState, KeypadView, KeysReply, RatingReply
from devices.bus.master import BusError, BusMaster, NoAnswer, Refused
from hall.protocol import QueueState, WindowState

log = logging.getLogger("hall.caller")

RATER_OFFSET = 100  # a window's rating pad sits at 100 + its keypad's address unless configured
MAX_DIGITS = 6


# ---------------------------------------------------------------- the bus layout

@dataclass(frozen=True)
class CallerLayout:
    """Which bus address serves which window: keypads and rating pads."""
    keypads: dict[str, int]
    rating_pads: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        seen: dict[int, str] = {}
        for kind, table in (("keypad", self.keypads), ("rating pad", self.rating_pads)):
            for window, addr in table.items():
                if not 1 <= addr <= 247:
                    raise ValueError(f"{kind} of window {window}: bus address {addr} is outside 1–247")
                if addr in seen:
                    raise ValueError(f"{kind} of window {window}: bus address {addr} is already the {seen[addr]}")
                seen[addr] = f"{kind} of window {window}"

    @classmethod
    def for_windows(cls, windows: Iterable[str], *, keypads: dict[str, int] | None = None,
                    rating_pads: dict[str, int] | None = None, raters: bool = True) -> CallerLayout:
        """Keypad at the window's number, rating pad at 100 + that; `keypads`/`rating_pads` override some."""
        windows = list(windows)
        for name, table in (("--keypad", keypads or {}), ("--rater", rating_pads or {})):
            unknown = set(table) - set(windows)
            if unknown:
                raise ValueError(f"{name}: windows {sorted(unknown)} are not served by this caller ({windows})")
        pads = {}
        for w in windows:
            if keypads and w in keypads:
                pads[w] = keypads[w]
            elif w.isdigit():
                pads[w] = int(w)
            else:
                raise ValueError(f"window {w!r} has no number to use as its keypad address: give --keypad {w}=ADDR")
        rating = {}
        if raters:
            rating = {w: (rating_pads or {}).get(w, pads[w] + RATER_OFFSET) for w in windows}
        return cls(pads, rating)


def parse_assignments(items: Iterable[str], option: str) -> dict[str, int]:
    """["3=13", "4=14"] → {"3": 13, "4": 14}."""
    out = {}
    for item in items or ():
        window, sep, addr = item.partition("=")
        if not sep or not window or not addr.isdigit():
            raise ValueError(f"{option} {item!r}: expected WINDOW=ADDRESS, such as 3=13")
        out[window] = int(addr)
    return out


# ---------------------------------------------------------------- keys → events (pure)

def staff_for_number(number: str, staff_ids: Iterable[str]) -> str | None:
    """The staff member a keypad number names: "23" is "s023" (or "23" itself); None if none or several."""
    n = int(number)
    hits = []
    for sid in staff_ids:
        if sid == number:
            return sid
        m = re.fullmatch(r"[A-Za-z]*0*(\d+)", sid)
        if m and int(m.group(1)) == n:
            hits.append(sid)
    return hits[0] if len(hits) == 1 else None


class KeypadSession:
    """One window's keypad: turns key codes into (event type, data), given what the hub says of the window."""

    def __init__(self, window: str, staff_ids: Iterable[str], window_queues: dict[str, list[str]]):
        self.window = window
        self.staff_ids = list(staff_ids)
        self.window_queues = window_queues  # window id → its queues, for a transfer by window number
        self.mode: Key | None = None  # LOGIN or TRANSFER while digits are being typed
        self.digits = ""

    def press(self, key: int, state: WindowState | None = None) -> list[tuple[str, dict]]:
        """The events a key makes, given the hub's last state of the window (None: not heard yet)."""
        w = {"window": self.window}
        try:
            key = Key(key)
        except ValueError:
            log.warning("window %s: unknown key code 0x%02x ignored", self.window, key)
            return []
        if key.digit is not None:
            if self.mode and len(self.digits) < MAX_DIGITS:
                self.digits += key.digit
            return []
        if key is Key.CLEAR:
            self._reset()
            return []
        if key is Key.ENTER:
            return self._finish()
        if key in (Key.LOGIN, Key.TRANSFER):
            self.mode, self.digits = key, ""
            return []
        self._reset()  # any action key abandons a half-typed number
        if key is Key.NEXT:
            return [("call_next", w)]
        if key is Key.RECALL:
            return [("recall", w)]
        if key is Key.SKIP:
            return [("skip", w)]
        if key is Key.COMPLETE:
            return [("complete", w)]
        if key is Key.PAUSE:
            return [("resume" if state and state.status == "paused" else "pause", w)]
        if key is Key.RESUME:
            return [("resume", w)]
        if key is Key.LOGOUT:
            staff = state.staff if state else None
            if not staff:
                log.info("window %s: logout pressed, but the hub has nobody logged in there", self.window)
                return []
            return [("logout", {**w, "staff": staff})]
        return []

    def _reset(self) -> None:
        self.mode, self.digits = None, ""

    def _finish(self) -> list[tuple[str, dict]]:
        mode, digits = self.mode, self.digits
        self._reset()
        if not mode or not digits:
            return []
        if mode is Key.LOGIN:
            staff = staff_for_number(digits, self.staff_ids)
            if staff is None:
                log.warning("window %s: login with number %s names no single staff member", self.window, digits)
                return []
            return [("login", {"window": self.window, "staff": staff})]
        target = str(int(digits))
        queues = self.window_queues.get(target)
        if not queues:
            log.warning("window %s: transfer to window %s, which the hall does not have", self.window, target)
            return []
        return [("transfer", {"window": self.window, "queue": queues[0]})]


# ---------------------------------------------------------------- the agent (shell)

class CallerAgent(BusAgent):
    """Polls the keypads and rating pads of one caller bus; sends their events; shows hub state on the keypads."""

    kind = "caller"
    described = "a caller device"

    def __init__(self, hall, device_id: str, master: BusMaster, link, layout: CallerLayout | None = None, *,
                 key_poll_s: float = 0.25, rating_poll_s: float = 1.0, recheck_s: float = 5.0,
                 refresh_s: float = 60.0, summary_s: float = 300.0, clock=time.monotonic):
        super().__init__(hall, device_id, link, summary_s=summary_s, clock=clock)
        self.master = master
        self.layout = layout or CallerLayout.for_windows(self.device.windows)
        unknown = set(self.layout.keypads) - set(self.device.windows)
        if unknown:
            raise ValueError(f"{device_id} does not speak for windows {sorted(unknown)}")
        self.key_poll_s = key_poll_s
        self.rating_poll_s = rating_poll_s
        self.recheck_s = recheck_s
        self.refresh_s = refresh_s
        queues = {w.id: list(w.queues) for w in hall.catalogue.windows}
        staff = [s.id for s in hall.staff]
        self.sessions = {w: KeypadSession(w, staff, queues) for w in self.layout.keypads}
        self.windows: dict[str, WindowState] = {}  # window id → the hub's last window state
        self.waiting: dict[str, int] = {}          # queue id → waiting
        self.last_ticket: dict[str, str] = {}      # window id → the ticket last served there, for ratings
        self.events_sent = 0
        self._dirty: set[str] = set(self.layout.keypads)
        self._shown: dict[str, KeypadView] = {}
        self._retry_at: dict[int, float] = {}

    def follows(self):
        return [("hub/state/window/+", WindowState, self._on_window_state),
                ("hub/state/queue/+", QueueState, self._on_queue_state)]

    # ------------------------------------------------------------ link callbacks (network thread: note and wake)

    def _on_window_state(self, topic: str, state: WindowState) -> None:
        if state.window not in self.layout.keypads:
            return
        with self._lock:
            self.windows[state.window] = state
            if state.ticket:
                self.last_ticket[state.window] = state.ticket
            self._dirty.add(state.window)
        self.wake()

    def _on_queue_state(self, topic: str, state: QueueState) -> None:
        with self._lock:
            if self.waiting.get(state.queue) == state.waiting:
                return
            self.waiting[state.queue] = state.waiting
            self._dirty.update(w for w in self.layout.keypads if state.queue in self._queues_of(w))
        self.wake()

    def on_hub_status(self, online: bool) -> None:
        """Online or offline, every keypad shows it: all of them are shown again."""
        self._mark_all_dirty()

    def _mark_all_dirty(self) -> None:
        with self._lock:
            self._dirty.update(self.layout.keypads)
        self.wake()

    def _queues_of(self, window: str) -> list[str]:
        state = self.windows.get(window)
        if state is not None and "queues" in state.model_fields_set:
            return state.queues
        w = self.hall.catalogue.window(window)
        return list(w.queues) if w else []

    def view_for(self, window: str) -> KeypadView:
        with self._lock:
            state = self.windows.get(window)
            waiting = sum(self.waiting.get(q, 0) for q in self._queues_of(window))
        keypad_state = KeypadState.of(state.status if state else None)
        if not getattr(self.link, "hub_online", True):
            keypad_state = KeypadState.OFFLINE
        return KeypadView(state.ticket if state else None, waiting, keypad_state)

    # ------------------------------------------------------------ the bus thread

    def run(self) -> None:
        next_rating = 0.0
        next_refresh = self.clock() + self.refresh_s
        while not self.stopping:
            started = self.clock()
            for window, addr in self.layout.keypads.items():
                if self.stopping:
                    return
                self._poll_keys(window, addr)
            if started >= next_rating:
                next_rating = started + self.rating_poll_s
                for window, addr in self.layout.rating_pads.items():
                    self._poll_rating(window, addr)
            if started >= next_refresh:  # a keypad that was power-cycled shows the right thing again
                next_refresh = started + self.refresh_s
                self._shown.clear()
                self._mark_all_dirty()
            self.send_summary_when_due(started)
            self._push_views()
            self.rest(self.key_poll_s - (self.clock() - started))

    def _reachable(self, addr: int) -> bool:
        return self.clock() >= self._retry_at.get(addr, 0.0)

    def _transact(self, label: str, addr: int, cmd: Command, body=None):
        """One request; a device that stops answering is asked again only every `recheck_s`, and reported."""
        if not self._reachable(addr):
            return None
        try:
            reply = self.master.transact(addr, cmd, body)
        except NoAnswer as err:
            self._retry_at[addr] = self.clock() + self.recheck_s
            self.master.forget(addr)  # it may come back power-cycled: greet it again
            self.report(label, "no_answer", err)
            return None
        except Refused as err:
            self.report(label, err.reason, err)
            return None
        except BusError as err:
            self.report(label, "error", err)
            return None
        self._retry_at.pop(addr, None)
        self.report(label, "ok")
        return reply

    def _poll_keys(self, window: str, addr: int) -> None:
        reply = self._transact(f"keypad {window}", addr, Command.POLL_KEYS)
        if reply is None:
            return
        keys = KeysReply.decode(reply.body).keys
        if not keys:
            return
        session = self.sessions[window]
        for key in keys:
            with self._lock:
                state = self.windows.get(window)
            for event_type, data in session.press(key, state):
                self._send(event_type, data)

    def _poll_rating(self, window: str, addr: int) -> None:
        reply = self._transact(f"rating pad {window}", addr, Command.POLL_RATING)
        if reply is None:
            return
        score = RatingReply.decode(reply.body).score
        if score is None:
            return
        data = {"window": window, "score": score}
        with self._lock:
            ticket = self.last_ticket.get(window)
        if ticket:
            data["ticket"] = ticket
        self._send("rating", data)

    def _push_views(self) -> None:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        for window in sorted(dirty):
            view = self.view_for(window)
            if self._shown.get(window) == view:
                continue
            addr = self.layout.keypads[window]
            if self._transact(f"keypad {window}", addr, Command.SHOW_ON_KEYPAD, view) is not None:
                self._shown[window] = view
            elif self._reachable(addr):
                with self._lock:  # refused or garbled: try again next round
                    self._dirty.add(window)
            else:
                self._shown.pop(window, None)  # show it once the keypad answers again
                with self._lock:
                    self._dirty.add(window)

    def _send(self, event_type: str, data: dict) -> None:
        log.info("%s: %s %s", self.device_id, event_type, data)
        self.link.send(event_type, data)
        self.events_sent += 1


def run_caller(hall, device_id: str, data_dir, serial_port: str, *, baudrate: int = 9600, rs485: bool = False,
               layout: CallerLayout | None = None, host: str | None = None, broker_port: int | None = None,
               stop: threading.Event | None = None) -> int:
    """`hall caller`: open the bus and the link, run until stopped."""
    from devices.bus.master import open_port
    from hall.link import DeviceLink

    master = BusMaster(open_port(serial_port, baudrate, rs485=rs485), baudrate=baudrate)
    link = DeviceLink(hall, device_id, data_dir, host=host, port=broker_port).start()
    agent = CallerAgent(hall, device_id, master, link, layout).start()
    print(f"caller {device_id}: {len(agent.layout.keypads)} keypads, {len(agent.layout.rating_pads)} rating pads "
          f"on {serial_port} at {baudrate} baud; broker {link.endpoint.host}:{link.endpoint.port}", flush=True)
    stop = stop or threading.Event()
    try:
        stop.wait()
    finally:
        agent.stop()
        link.stop()
        master.close()
    return 0
