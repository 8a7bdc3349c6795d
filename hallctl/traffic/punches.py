"""Attendance traffic for a running hall: simulated terminals on simulated sensors, staff punching at realistic
times (most on time, some late, some leaving early, some forgetting a punch, a few absent), with a speed factor
so a day can pass in minutes.

    from hallctl.traffic.punches import Traffic

    traffic = Traffic(hall, data_dir, speed=720)   # 720: a day in two minutes
    traffic.start()       # sensors on pseudo-terminals, staff enrolled, one terminal agent per sensor
    traffic.run(60)       # block for 60 real seconds (None: until stop() from another thread)
    traffic.stop()        # up to 5 s to hand punches over, then agents, links and sensors stop (outboxes stay on disk)

Constructor: Traffic(hall, data_dir, *, terminals=None, speed=60.0, start=None, seed=None, host=None,
port=None, realistic_timing=False, staff=None, console=None, heartbeat=None).
- terminals: device ids (default: every `terminal` of the hall config); each gets a simulated R307 sensor on its
  own pty, with every person's finger enrolled (sensor flash and template map under DATA/devices/{id}/);
- speed: simulated seconds per real second. The terminals' clocks run at this speed, so punches and heartbeats
  carry simulated times;
- start: the simulated clock's starting moment (aware datetime). Default: now during a working day's hours,
  otherwise 08:20 of the latest workday, so that punches show at once (busy_start). The terminals stamp their
  events with the simulated time, which the hub will flag as clock skew when it differs from its own;
- seed: makes the day plans repeatable; staff: the people who punch (default: the hall's staff list);
- host/port: the broker (default: what the data directory records, then the hall config);
- heartbeat: real seconds between terminal heartbeats (default: 300 / speed, at least 2 s).

run(duration=None) blocks; stop() ends it; wait_drained(timeout) waits until the hub has every punch made so far.
`stats` counts the touches made and the outcomes by kind (punch, unmatched, …); `clock()` is the simulated time.

The plan of a day is `plan_day()`, pure and seedable, also used by the benchmark and the report tests.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

ABSENT = 0.003          # a workday with no punch at all
FORGET = 0.006          # a slot's punch forgotten
LATE = 0.03             # am_in / pm_in late (scaled by the person's habit)
EARLY = 0.015           # am_out / pm_out early
DOUBLE = 0.04           # a second touch to be sure, 10–40 s later
OVERTIME = 0.04         # comes in on a rest day (two punches)


@dataclass(frozen=True)
class PlannedPunch:
    staff: str
    at: datetime
    terminal: str | None = None


def _habits(staff: Iterable[str], seed: int) -> dict[str, float]:
    """Each person's lateness habit: most near 1, a few chronic latecomers, a few never late."""
    rng = random.Random(f"habits-{seed}")
    return {s: min(5.0, rng.lognormvariate(-0.3, 0.8)) for s in staff}


def plan_day(staff: list[str], day: date, *, workday: bool, tz, seed: int = 0, schedule=None,
             habits: dict[str, float] | None = None) -> list[PlannedPunch]:
    """When each person touches a terminal on `day`, sorted by time."""
    from hub.attendance.rules import Schedule

    schedule = schedule or Schedule.from_times(clock_time(9), clock_time(11, 40), clock_time(13), clock_time(17))
    habits = habits or _habits(staff, seed)
    rng = random.Random(f"{seed}-{day.isoformat()}")
    base = {s.name: datetime.combine(day, s.scheduled, tzinfo=tz) for s in schedule.slots}
    out: list[PlannedPunch] = []

    def minutes(a: float, b: float) -> timedelta:
        return timedelta(seconds=rng.uniform(a * 60, b * 60))

    for person in staff:
        if not workday:
            if rng.random() < OVERTIME:
                start = datetime.combine(day, clock_time(9), tzinfo=tz) + minutes(-30, 60)
                out += [PlannedPunch(person, start), PlannedPunch(person, start + minutes(120, 300))]
            continue
        if rng.random() < ABSENT:
            continue
        habit = habits.get(person, 1.0)
        for slot in schedule.slots:
            if rng.random() < FORGET:
                continue
            scheduled = base[slot.name]
            if slot.arrival:
                if rng.random() < LATE * habit:
                    at = scheduled + minutes(0.05, 25 if slot.name == "am_in" else 15)
                else:
                    at = scheduled - minutes(1, 35 if slot.name == "am_in" else 25)
            else:
                if rng.random() < EARLY * habit:
                    at = scheduled - minutes(0.05, 20)
                else:
                    at = scheduled + minutes(0, 20 if slot.name == "am_out" else 45)
            out.append(PlannedPunch(person, at))
            if rng.random() < DOUBLE:
                out.append(PlannedPunch(person, at + timedelta(seconds=rng.uniform(10, 40))))
    out.sort(key=lambda p: (p.at, p.staff))
    return out


def plan_period(staff: list[str], first: date, last: date, *, tz, is_workday: Callable[[date], bool], seed: int = 0,
                schedule=None) -> list[PlannedPunch]:
    habits = _habits(staff, seed)
    out: list[PlannedPunch] = []
    day = first
    while day <= last:
        out += plan_day(staff, day, workday=is_workday(day), tz=tz, seed=seed, schedule=schedule, habits=habits)
        day += timedelta(days=1)
    return out


def busy_start(moment: datetime, is_workday: Callable[[date], bool]) -> datetime:
    """Where a simulation should start to show punches at once: `moment` itself during a working day's hours,
    otherwise 08:20 of the latest workday that has begun (so a demo at night or at a weekend is not silent)."""
    day = moment.date()
    if is_workday(day) and clock_time(7, 30) <= moment.time() <= clock_time(17, 30):
        return moment
    if not (is_workday(day) and moment.time() > clock_time(17, 30)):
        day -= timedelta(days=1)
        for _ in range(30):
            if is_workday(day):
                break
            day -= timedelta(days=1)
    return datetime.combine(day, clock_time(8, 20), tzinfo=moment.tzinfo)


class SimulatedClock:
    """Hall time running `speed` times faster than the real clock from `start`."""

    def __init__(self, start: datetime, speed: float):
        self.start = start
        self.speed = speed
        self._real0 = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._real0) * self.speed)

    def real_seconds_until(self, moment: datetime) -> float:
        return (moment - self()).total_seconds() / self.speed


class Traffic:
    def __init__(self, hall, data_dir: Path | str, *, terminals: list[str] | None = None, speed: float = 60.0,
                 start: datetime | None = None, seed: int | None = None, host: str | None = None,
                 port: int | None = None, realistic_timing: bool = False, staff: list[str] | None = None,
                 console: Callable[[str], None] | None = None, heartbeat: float | None = None):
        from hall.clock import now

        self.hall = hall
        self.data_dir = Path(data_dir)
        self.terminals = terminals or [d.id for d in hall.devices_of("terminal")]
        if not self.terminals:
            raise ValueError("the hall config has no terminal devices")
        self.speed = float(speed)
        if start is None:
            from hub.attendance.rules import WorkCalendar

            start = busy_start(now(hall.tz), WorkCalendar.from_rules(hall.attendance).is_workday)
        self.clock = SimulatedClock(start.astimezone(hall.tz), self.speed)
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.host, self.port = host, port
        self.realistic_timing = realistic_timing
        self.staff = staff or [s.id for s in hall.staff]
        self.console = console or (lambda text: None)
        self.heartbeat = heartbeat if heartbeat is not None else max(2.0, 300.0 / self.speed)
        self.sims: dict = {}
        self.agents: dict = {}
        self.stats: dict[str, int] = {"touched": 0}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random(self.seed)

    # ------------------------------------------------------------ life

    def start(self) -> Traffic:
        from devices.fingerprint.simulator import SensorSimulator
        from devices.fingerprint.station import Enrolled, TemplateMap, device_dir
        from devices.fingerprint.terminal import TerminalAgent
        from hall.clock import stamp

        for device in self.terminals:
            folder = device_dir(self.data_dir, device)
            sim = SensorSimulator("r307", realistic_timing=self.realistic_timing, flash=folder / "sensor-flash.json",
                                  link=folder / "tty", seed=self._rng.randrange(1 << 30)).start()
            self.sims[device] = sim
            templates = TemplateMap.of(self.data_dir, device)
            mapped = {e.staff for e in templates.entries.values()}
            missing = [s for s in self.staff if s not in mapped]
            if missing:  # every person's finger on every terminal, as the hall's enrolment day would leave it
                used = set(sim.templates())
                position = 0
                for person in missing:
                    while position in used:
                        position += 1
                    sim.enrol_directly(person, position)
                    templates.entries[position] = Enrolled(position, person, "right-index", stamp(self.clock()),
                                                           "traffic")
                    used.add(position)
                templates.save()
        for device, sim in self.sims.items():
            agent = TerminalAgent(self.hall, device, sim.port, self.data_dir, host=self.host, broker_port=self.port,
                                  console=lambda text, d=device: self.console(f"[{d}] {text}"), clock=self.clock,
                                  heartbeat=self.heartbeat, on_outcome=self._count)
            self.agents[device] = agent.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="attendance-traffic", daemon=True)
        self._thread.start()
        return self

    def run(self, duration: float | None = None) -> None:
        self._stop.wait(duration)

    def wait_drained(self, timeout: float = 10.0) -> bool:
        """Until every terminal's outbox is empty (the hub has every punch made so far)."""
        deadline = time.monotonic() + timeout
        return all(agent.link.wait_drained(max(0.0, deadline - time.monotonic())) for agent in self.agents.values())

    def stop(self, drain: float = 5.0) -> None:
        """Stop touching, give the terminals up to `drain` seconds to hand their punches to the hub (what is left
        stays in their outboxes on disk for next time), then stop agents and sensors."""
        self._stop.set()
        if self._thread:
            self._thread.join(10)
            self._thread = None
        if drain and self.agents:
            self.wait_drained(drain)
        for agent in self.agents.values():
            agent.stop()
        for sim in self.sims.values():
            sim.stop()
        self.agents.clear()
        self.sims.clear()

    # ------------------------------------------------------------ the day's fingers

    def _count(self, outcome) -> None:
        self.stats[outcome.kind] = self.stats.get(outcome.kind, 0) + 1

    def _run(self) -> None:
        from hub.attendance.rules import Schedule, WorkCalendar

        calendar = WorkCalendar.from_rules(self.hall.attendance, warn=self.console)
        schedule = Schedule.from_rules(self.hall.attendance)
        habits = _habits(self.staff, self.seed)
        day = self.clock().date()
        while not self._stop.is_set():
            plan = plan_day(self.staff, day, workday=calendar.is_workday(day), tz=self.hall.tz, seed=self.seed,
                            schedule=schedule, habits=habits)
            for punch in plan:
                if punch.at < self.clock():
                    continue
                wait = self.clock.real_seconds_until(punch.at)
                if wait > 0 and self._stop.wait(wait):
                    return
                device = self._terminal_of(punch.staff)
                self.sims[device].touch(punch.staff)
                self.stats["touched"] += 1
            day += timedelta(days=1)
            wait = self.clock.real_seconds_until(datetime.combine(day, clock_time(0), tzinfo=self.hall.tz))
            if wait > 0 and self._stop.wait(wait):
                return

    def _terminal_of(self, staff: str) -> str:
        """The terminal nearest the person's window: the first floor's for windows 1–17, the second's above."""
        member = self.hall.staff_member(staff)
        if member and member.window and member.window.isdigit() and len(self.terminals) > 1:
            return self.terminals[0] if int(member.window) <= 17 else self.terminals[1]
        return self.terminals[sum(map(ord, staff)) % len(self.terminals)]
