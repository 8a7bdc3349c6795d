"""What every LED screen should show, decided from the hub's messages: the pure core of the LED master.

Hub messages in (a call, a window's state, the catalogue), one `Desired` per screen out: its resting text and the
message over it. No clock of its own (every method that needs one takes `now`, monotonic seconds), no bus, no
link, so a test drives it with plain objects; the agent puts what it decides on the glass.

A window screen's life:

    3号窗口 市场监管局 欢迎光临 ──call──> the call flashes (3 s), then stays ──window idle/paused/closed──> resting text again
        └──state "serving" a ticket whose call was missed──> the call, steady (no longer news)

A strip scrolls the hall's window directory and then each guide of its windows' services, one full pass each.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.bus.codec import Effect, ShowText
from devices.led.compose import call_text, fit_bytes, fits, resting_text, scroll_pass_s, strip_texts
from devices.led.config import LedConfig, ScreenConfig
from hall.protocol import Call, WindowState

CALL_DEBOUNCE_S = 5.0   # the same call announced twice within this is one call (a resent message)


@dataclass
class Desired:
    """What one screen should show: its idle text and the message over it (None: the idle text shows)."""
    idle: ShowText | None = None
    message: ShowText | None = None
    message_id: int = 0          # bumps on every new message, so a recall of the same text is sent again
    flash_until: float = 0.0     # a call put on the glass after this shows steady: it is no longer news
    is_call: bool = False
    about: str | None = None     # the ticket the message calls


class LedController:
    """Hub messages → what each screen shows. Pure: every method takes `now` (monotonic seconds) when it needs one."""

    def __init__(self, config: LedConfig, catalogue, hall_name: str):
        self.config = config
        self.hall_name = hall_name
        self.desired: dict[int, Desired] = {s.address: Desired() for s in config.screens}
        self.by_window: dict[str, list[ScreenConfig]] = {}
        for s in config.screens:
            if s.kind == "window":
                self.by_window.setdefault(s.window, []).append(s)
        self.strips = [s for s in config.screens if s.kind == "strip"]
        self._guides: dict[int, list[str]] = {}
        self._guide_at: dict[int, int] = {s.address: -1 for s in self.strips}
        self._strip_next: dict[int, float] = {s.address: 0.0 for s in self.strips}
        self._last_call: dict[str, tuple[tuple, float]] = {}
        self._status: dict[str, tuple[str, str | None]] = {}   # window → (status, pause reason) last heard
        self._next_id = 0
        self.set_catalogue(catalogue)

    def _resting(self, screen: ScreenConfig) -> ShowText:
        """A window screen's resting text: its number and department (the welcome too when it fits), or that it
        is paused or closed; scrolled when wider than the screen."""
        status, reason = self._status.get(screen.window, (None, None))
        w = self.catalogue.window(screen.window)
        dept = self.catalogue.department(w.department) if w is not None else None
        text = resting_text(self.config.text, status, screen.window, dept.name if dept else "", reason)
        if status not in ("paused", "closed") and not fits(text, screen):
            text = resting_text(self.config.text, status, screen.window, dept.name if dept else "", reason) \
                .removesuffix(f" {self.config.text.idle}")
        if fits(text, screen):
            return self._text(screen, text, Effect.STATIC)
        return self._text(screen, text, Effect.SCROLL, 0, self.config.text.strip_speed)

    def _text(self, screen: ScreenConfig, text: str, effect: Effect, duration_s: int = 0, speed: int = 0) -> ShowText:
        return ShowText(fit_bytes(text, screen.wire_encoding, screen.max_text_bytes), 0, effect, speed,
                        screen.wire_colour, duration_s, screen.wire_encoding)

    def _message(self, address: int, message: ShowText | None, *, call: bool = False, about: str | None = None,
                 flash_until: float = 0.0) -> None:
        d = self.desired[address]
        self._next_id += 1
        d.message, d.message_id, d.is_call, d.about, d.flash_until = message, self._next_id, call, about, flash_until

    # ------------------------------------------------------------ inputs

    def set_catalogue(self, catalogue) -> None:
        self.catalogue = catalogue
        for screens in self.by_window.values():  # a window's department may have changed
            for s in screens:
                self.desired[s.address].idle = self._resting(s)
        for s in self.strips:
            self._guides[s.address] = strip_texts(self.hall_name, catalogue, s)
            self._strip_next[s.address] = 0.0  # show the new guides from the next tick

    def on_call(self, call: Call, now: float) -> list[int]:
        """A call from hub/call: the window's screens flash it, then keep it. Returns the screens changed."""
        if call.window not in self.by_window:
            return []
        last = self._last_call.get(call.window)
        if last and last[0] == call.key and now - last[1] < CALL_DEBOUNCE_S:
            return []
        self._last_call[call.window] = (call.key, now)
        text = self.config.text
        flash = Effect.FLASH if text.call_flash_s else Effect.STATIC
        changed = []
        for s in self.by_window[call.window]:
            shown = self._text(s, call_text(text, call.ticket, call.window), flash, text.call_flash_s)
            self._message(s.address, shown, call=True, about=call.ticket, flash_until=now + text.call_flash_s)
            changed.append(s.address)
        return changed

    def on_window_state(self, state: WindowState, now: float) -> list[int]:
        """A window's retained state: idle text by status; the ticket being served stays up."""
        if state.window not in self.by_window:
            return []
        text = self.config.text
        changed = []
        self._status[state.window] = (state.status, getattr(state, "reason", None))
        for s in self.by_window[state.window]:
            d = self.desired[s.address]
            idle = self._resting(s)
            touched = idle != d.idle
            d.idle = idle
            if state.status == "serving" and state.ticket:
                if d.about != state.ticket:  # we missed the call (started later): show it steady, not as news
                    shown = self._text(s, call_text(text, state.ticket, state.window), Effect.STATIC)
                    self._message(s.address, shown, call=True, about=state.ticket)
                    touched = True
            elif d.message is not None:
                self._message(s.address, None)
                touched = True
            if touched:
                changed.append(s.address)
        return changed

    def tick(self, now: float) -> list[int]:
        """Move every strip whose guide has scrolled through on to the next one."""
        changed = []
        speed = self.config.text.strip_speed
        for s in self.strips:
            if now < self._strip_next[s.address]:
                continue
            guides = self._guides[s.address]
            if not guides:
                continue
            i = self._guide_at[s.address] = (self._guide_at[s.address] + 1) % len(guides)
            shown = self._text(s, guides[i], Effect.SCROLL, 0, speed)
            self._message(s.address, shown)
            self._strip_next[s.address] = now + scroll_pass_s(shown.text, s, speed)
            changed.append(s.address)
        return changed

    def next_tick(self) -> float:
        return min(self._strip_next.values(), default=float("inf"))

    def guides(self, address: int) -> list[str]:
        return list(self._guides.get(address, []))
