"""Clerks at simulated keypads: press keys the way window staff do, for `hall up` and load runs.

A clerk calls the next ticket, serves it for a few minutes (sometimes recalling first, sometimes marking a no-show),
finishes it, and the citizen often rates on the pad. `speed` squeezes the hall's time: 60 makes a minute of the
hall pass in a second. The clerk reads the keypad's own display, as a person would: whether anyone came, and
whether anyone waits. With nobody waiting on the display the clerk does not call: they glance at it now and then
(`look_s`) and, seeing someone counted, reach for the key (`react_s`) and press it if the display still counts
someone: at neighbouring windows of one queue the quickest clerk takes the citizen, and the others see the count
drop before they press. The count is of the window's own queues only, so a clerk also calls
once in a while with nobody shown, for the backup queues the window serves when its own are empty: after
`retry_empty_s`, and, each time such a call finds nobody, after twice as long as before (up to BLIND_MAX_S).
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from dataclasses import dataclass, field

from devices.bus.codec import KeypadState

log = logging.getLogger(__name__)

SCORES = (5, 4, 3, 2, 1)
SCORE_WEIGHTS = (70, 20, 6, 2, 2)  # the hall's call-back survey finds 97 % satisfied
LOOK_REAL_S = 0.2  # however fast the hall's time runs, a glance at most this often in real time
BLIND_MAX_S = 4 * 3600.0  # hall seconds: a clerk whose calls with nobody shown keep finding nobody, at most


@dataclass
class ClerkHabits:
    """Seconds of hall time."""
    serve_s: tuple[float, float] = (180.0, 720.0)
    gap_s: tuple[float, float] = (10.0, 60.0)
    answer_s: float = 20.0            # after a call, how long before the citizen arrives (or a recall)
    retry_empty_s: float = 600.0      # nobody shown waiting: call anyway after this long (the backup queues)
    look_s: float = 10.0              # an idle clerk glances at the keypad's display this often
    react_s: tuple[float, float] = (5.0, 45.0)  # from seeing someone counted to pressing next
    recall_p: float = 0.06
    no_show_p: float = 0.04
    rate_p: float = 0.7
    transfer_p: float = 0.0


@dataclass(order=True)
class _Step:
    at: float
    keypad: int = field(compare=False)
    action: str = field(compare=False)


class Traffic:
    """Presses keys on a BusSimulator's keypads (and scores on their rating pads) until stopped."""

    def __init__(self, sim, keypads: dict[int, int | None] | None = None, *, speed: float = 60.0,
                 seed: int | None = None, habits: ClerkHabits | None = None):
        """keypads: keypad address → its rating pad's address (or None). By default every keypad of the
        simulator, with the rating pad at 100 + its address when the simulator has one there."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        from devices.bus.simulator import SimKeypad, SimRatingPad

        if keypads is None:
            keypads = {a: (a + 100 if isinstance(sim.devices.get(a + 100), SimRatingPad) else None)
                       for a, d in sim.devices.items() if isinstance(d, SimKeypad)}
        self.sim = sim
        self.keypads = dict(keypads)
        self.speed = speed
        self.habits = habits or ClerkHabits()
        self.random = random.Random(seed)
        self.presses = 0
        self.ratings = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._steps: list[_Step] = []
        self._last_call: dict[int, float] = {}  # keypad → when its clerk last pressed next (monotonic)
        self._blind_every: dict[int, float] = {}  # keypad → hall seconds between calls with nobody shown
        self._blind: dict[int, bool] = {}  # keypad → its last call was made with nobody shown
        self.calls = 0

    def start(self) -> Traffic:
        now = time.monotonic()
        for addr in self.keypads:  # windows open over the first minute, not all in one instant
            self._plan(now, addr, "next", self.random.uniform(0, 60))
        self._thread = threading.Thread(target=self._run, name="bus-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _plan(self, now: float, addr: int, action: str, hall_seconds: float) -> None:
        heapq.heappush(self._steps, _Step(now + hall_seconds / self.speed, addr, action))

    def _run(self) -> None:
        while not self._stop.is_set() and self._steps:
            step = self._steps[0]
            if self._stop.wait(max(0.0, step.at - time.monotonic())):
                return
            heapq.heappop(self._steps)
            try:
                self._do(step)
            except Exception:  # a misbehaving step must not end the day's traffic
                log.exception("traffic step %s failed", step)

    def _press(self, addr: int, key: str) -> None:
        self.sim.press(addr, key)
        self.presses += 1

    def _do(self, step: _Step) -> None:
        h, r, now, addr = self.habits, self.random, time.monotonic(), step.keypad
        view = self.sim.keypad(addr).view
        if step.action in ("next", "press"):
            if step.action == "next" and view.state == KeypadState.PAUSED:
                self._press(addr, "resume")
            last = self._last_call.get(addr)
            blind = last is None or (now - last) * self.speed >= self._blind_every.get(addr, h.retry_empty_s)
            if view.state == KeypadState.OFFLINE or (not view.waiting and not blind):
                # nobody waits (or the hub is away, or a neighbour called the one who did): look again in a moment
                self._plan(now, addr, "next", max(h.look_s, LOOK_REAL_S * self.speed) * r.uniform(0.8, 1.2))
                return
            if step.action == "next" and view.waiting:
                self._plan(now, addr, "press", r.uniform(*h.react_s))  # someone counted: reach for the key
                return
            self._press(addr, "next")
            self._last_call[addr] = now
            self._blind[addr] = not view.waiting
            self.calls += 1
            self._plan(now, addr, "arrive", h.answer_s)
        elif step.action == "arrive":
            came = view.ticket is not None and view.state == KeypadState.SERVING
            if self._blind.pop(addr, False):
                # a call with nobody shown: as often as before when it found someone, else half as often
                every = self._blind_every.get(addr, h.retry_empty_s)
                self._blind_every[addr] = h.retry_empty_s if came else min(2 * every,
                                                                           max(BLIND_MAX_S, h.retry_empty_s))
            if not came:
                # nobody came: the ticket went to another window, or nobody waited at all
                self._plan(now, addr, "next", r.uniform(*h.gap_s))
            elif r.random() < h.no_show_p:
                self._press(addr, "skip")
                self._plan(now, addr, "next", r.uniform(*h.gap_s))
            elif r.random() < h.recall_p:
                self._press(addr, "recall")
                self._plan(now, addr, "arrive", h.answer_s)
            else:
                self._plan(now, addr, "done", r.uniform(*h.serve_s))
        elif step.action == "done":
            self._press(addr, "complete")
            pad = self.keypads.get(addr)
            if pad is not None and r.random() < h.rate_p:
                self.sim.rate(pad, r.choices(SCORES, SCORE_WEIGHTS)[0])
                self.ratings += 1
            self._plan(now, addr, "next", r.uniform(*h.gap_s))
