"""Clerks at simulated keypads: press keys the way window staff do, for `hall up` and load runs.

A clerk calls the next ticket, serves it for a few minutes (sometimes recalling first, sometimes marking a no-show),
finishes it, and the citizen often rates on the pad. `speed` squeezes the hall's time: 60 makes a minute of the
hall pass in a second. The clerk reads the keypad's own display, as a person would, to see whether anyone came.
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


@dataclass
class ClerkHabits:
    """Seconds of hall time."""
    serve_s: tuple[float, float] = (180.0, 720.0)
    gap_s: tuple[float, float] = (10.0, 60.0)
    answer_s: float = 20.0            # after a call, how long before the citizen arrives (or a recall)
    retry_empty_s: float = 60.0       # nobody waiting: try again after this
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
        if step.action == "next":
            if view.state == KeypadState.PAUSED:
                self._press(addr, "resume")
            self._press(addr, "next")
            self._plan(now, addr, "arrive", h.answer_s)
        elif step.action == "arrive":
            if view.ticket is None or view.state != KeypadState.SERVING:
                self._plan(now, addr, "next", h.retry_empty_s)  # nobody was waiting
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
