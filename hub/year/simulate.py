"""A simulated year at the hall (`hall simulate year`): a hub journal for a whole year, written through the hub's
own engines and stored in the hub's own tables, so every report reads it like a real year.

Everything goes through the real rules: each queue operation is carried out by the queue domain's own operation
table (hub/queue/operations.py, on the real QueueEngine) and journaled with the very answer the hub would have
given; each case and follow-up goes through the real CaseBook (hub/cases/rules.py); each person's day is judged by
the attendance rules (hub/attendance/rules.py) and stored as the hub closes a date. The rows are those of ingest
(`events` with each request's answer, `devices`) and of each domain's store (`queue_journal`, `tickets`, `calls`,
`ratings`; `punches`, `leave`, `attendance_days`, `attendance_dates`; `cases_journal`, `cases`, `case_cards`,
`followups`), written in bulk (executemany, one transaction) rather than over MQTT: a year is about 600,000
events, which the broker path would take hours to carry.

What happens, each working day of the statutory calendar (config/year.toml says how much of each):
- staff punch four times (lateness, early leave, forgotten punches, absence, whole days of leave by kind);
- one present person of each window logs in at it; a window with nobody present stays closed;
- citizens take tickets in the issuing hours, by hour (the morning peak), weekday and queue, some priority;
- windows call in opening hours (09:00–11:40, from 13:00, finishing the line after 17:00): some citizens do not
  come (skipped after a recall; some come back and are requeued), some are transferred, the rest are served for
  a lognormal time around their queue's standard; many rate the service on the window's pad;
- a served ticket becomes a case of its item, accepted at the window with the item's promised limit; some are
  suspended for documents and resumed, a few refused or withdrawn; each finishes within its deadline (unless
  `cases.late` says otherwise); a poor rating opens a follow-up answered the next working day, as the hub does.
"""

from __future__ import annotations

import functools
import gc
import heapq
import json
import math
import operator
import random
import time as wall
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pydantic_core

from hall.protocol import json_text
from hub.appointments.domain import AppointmentsDomain
from hub.attendance import store as attendance_store
from hub.attendance.rules import Leave, Punch, Schedule, WorkCalendar, evaluate
from hub.cases import store as cases_store
from hub.cases.rules import (
    APPROVED,
    COMPLAINT,
    RATING,
    REFUSED,
    CaseBook,
    clock_from_hall,
    deadline_of,
    id_number_hash,
    masked_name,
    services_from_hall,
)
from hub.domain import Emit
from hub.queue import store as queue_store
from hub.queue.domain import QueueDomain
from hub.queue.engine import QueueEngine
from hub.queue.operations import OPERATIONS
from hub.store import open_db

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文辉玉兰俊峰鑫"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [CROCKFORD[i >> 5] + CROCKFORD[i & 31] for i in range(1024)]
CITIZENS = 60_000  # the people who come to the hall over a year (Miluo has 700,000; most come once)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


class SimulationError(Exception):
    pass


@dataclass
class Figures:
    """What the run wrote, for its summary and the benchmark."""
    days: int = 0
    tickets: int = 0
    events: int = 0
    punches: int = 0
    cases: int = 0
    rows: int = 0


def _ulid(ms: int, rng: random.Random) -> str:
    """A ULID (time-ordered event id, as devices make them) from the event's moment and the run's random source,
    so a seed gives the same journal twice: 48 bits of milliseconds and 80 random bits in 26 characters of
    Crockford's base 32, ten bits (two characters) at a time."""
    value = (ms << 80) | rng.getrandbits(80)
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in range(120, -1, -10)])


def _id_number(rng: random.Random, day: date) -> str:
    """A citizen ID number of Miluo (430681) with a valid GB 11643 check digit."""
    born = date.fromordinal(day.toordinal() - rng.randrange(18 * 365, 80 * 365))
    body = f"430681{born.year:04d}{born.month:02d}{born.day:02d}{rng.randrange(1000):03d}"
    return body + "10X98765432"[sum(map(operator.mul, map(int, body), ID_WEIGHTS)) % 11]


class YearSimulator:
    """One simulated span of days into one hub database."""

    FLUSH_EVERY = 20  # working days of rows held before they are written (in the one transaction)

    def __init__(self, hall, sim, data_dir: Path | str, first: date, last: date, *, seed: int | None = None,
                 progress: Callable[[str], None] | None = None):
        self.hall, self.sim, self.tz = hall, sim, hall.tz
        self.first, self.last = first, last
        self.rng = random.Random(sim.seed if seed is None else seed)
        self.say = progress or (lambda text: None)
        self.path = Path(data_dir) / "hub.db"
        self.figures = Figures()
        self.calendar = WorkCalendar.from_rules(hall.attendance, warn=self.say)
        self.schedule = Schedule.from_rules(hall.attendance)
        self.domain = QueueDomain(hall)
        self.layout = self.domain.layout
        self.book = CaseBook(clock_from_hall(hall), services_from_hall(hall))
        self.appointments = AppointmentsDomain(hall)
        self.booking_rules = self.appointments.rules
        self.clock = self.book.clock
        cat = hall.catalogue
        self.services_of: dict[str, list] = defaultdict(list)
        for s in cat.services:
            if s.queue and (s.promised_days is not None or s.time_limit_days is not None):
                self.services_of[s.queue].append(s)
        self.department_of_window = {w.id: w.department for w in cat.windows}
        self._queue_weights()
        self._devices()
        self.staff_by_window: dict[str, list[str]] = defaultdict(list)
        for s in hall.staff:
            if s.window and s.role == "window":
                self.staff_by_window[s.window].append(s.id)
        self.punching = [s.id for s in hall.staff if s.role in sim.attendance.roles]
        self.terminal_of = {p: self.terminals[i % len(self.terminals)] for i, p in enumerate(self.punching)}
        self._opens = [(s.start, s.end) for s in hall.hours.open]
        self.key = b""
        self._rows: dict[str, list] = defaultdict(list)
        self._seq: dict[str, int] = defaultdict(int)
        self._last_seen: dict[str, str] = {}
        self._rating_id = 0
        self._case_who: dict[str, tuple[str, str | None]] = {}  # case → the window PC and the clerk who accepted it
        self._days_done: list = []  # (day, tickets with who asked, calls) waiting to be written
        self._for: dict[str, list[str]] = {}  # queue → the windows that call it, own first, then backup
        self.heap: list = []  # the day's coming moments: (moment, n, what, payload)
        self._people: dict[int, tuple[str, str, str]] = {}
        self._refused: set[tuple[str, str]] = set()  # (ID number, item) refused
        self._person_of: dict[str, int] = {}
        self._issued: dict[str, tuple[str, str]] = {}  # today's ticket → the device and event that asked
        self._case_ops: list = []  # (moment, n, op, args, device, by): the cases' future, in time order
        self._n = 0

    # ------------------------------------------------------------ set-up

    def _queue_weights(self) -> None:
        given = self.sim.arrivals.queues
        weights = {}
        for q in self.hall.catalogue.queues:
            if q.id in given:
                weights[q.id] = given[q.id]
            else:  # its windows' capacity: as many tickets as its windows can serve alike
                weights[q.id] = len(self.layout.windows_serving(q.id)) / max(float(q.standard_minutes), 1.0)
        self.queue_ids = [q for q, w in weights.items() if w > 0]
        total = sum(weights[q] for q in self.queue_ids)
        acc, self.queue_cum = 0.0, []
        for q in self.queue_ids:
            acc += weights[q] / total
            self.queue_cum.append(acc)

    def _devices(self) -> None:
        self.caller_of, self.pc_of = {}, {}
        for d in self.hall.devices:
            for w in d.windows:
                if d.kind == "caller":
                    self.caller_of[w] = d.id
                elif d.kind == "window":
                    self.pc_of[w] = d.id
        self.kiosks = [d.id for d in self.hall.devices_of("kiosk")] or ["kiosk-01"]
        self.terminals = [d.id for d in self.hall.devices_of("terminal")] or ["fp-01"]
        consoles = self.hall.devices_of("console")
        self.console = consoles[0].id if consoles else "console-01"

    # ------------------------------------------------------------ the run

    def run(self) -> Figures:
        started = wall.perf_counter()
        if self.path.exists():
            probe = open_db(self.path)
            try:
                used = probe.execute("SELECT count(*) FROM events").fetchone()[0]
            finally:
                probe.close()
            if used:
                raise SimulationError(f"{self.path} 已有 {used} 个事件，模拟只写入空的数据目录 / {self.path} holds "
                                      f"{used} events already: a simulated year goes into an empty data folder")
        db = open_db(self.path)
        # a year holds millions of small row tuples waiting for their batch: the cycle collector would walk them
        # again and again for nothing (nothing here makes cycles that outlive a day)
        collecting = gc.isenabled()
        gc.disable()
        try:
            bulk_load(db)
            queue_store.create_tables(db)
            attendance_store.create_tables(db)
            cases_store.create_tables(db)
            self.key = cases_store.id_key(db)
            # each ticket's page on the citizens' site, by the hub's own key, as the queue domain makes it
            self.domain._follow_key = queue_store.follow_key(db)
            # asked for at issue and again when the day's rows are written: worked out once
            self.domain.follow_token = functools.lru_cache(maxsize=65536)(self.domain.follow_token)
            # bookings through the appointments domain; the queue domain's check-in reads them
            self.appointments.setup(db, Emit())
            self.domain.db, self.domain.key = db, self.appointments.key
            self.db = db
            workdays = [d for d in _dates(self.first, self.last) if self.calendar.is_workday(d)]
            if not workdays:
                raise SimulationError(f"{self.first} – {self.last}: 没有工作日 / no working day in the span")
            self._plan_leave(workdays)
            self._plan_complaints(workdays)
            with db.conn:
                indexes = set_indexes_aside(db)
                for i, day in enumerate(workdays, start=1):
                    self._day(day)
                    if i % self.FLUSH_EVERY == 0 or i == len(workdays):
                        self._flush_cases(datetime.combine(day, time(23, 59), tzinfo=self.tz))
                        self._write()
                        self.say(f"模拟 {day:%Y-%m-%d}: {i}/{len(workdays)} 个工作日, {self.figures.tickets} 张票, "
                                 f"{self.figures.cases} 件 / simulated {i} of {len(workdays)} working days "
                                 f"({wall.perf_counter() - started:.1f} s)")
                self._flush_cases(None)
                self._close_rest_days()
                self._write()
                self._save_book()
                self._save_devices()
                self.say(f"建立索引 {len(indexes)} 个 / building {len(indexes)} indexes")
                for sql in indexes:
                    db.execute(sql)
            db.execute("PRAGMA journal_mode=WAL")  # as the hub keeps its journal
        finally:
            db.close()
            if collecting:
                gc.enable()
        self.figures.days = len(workdays)
        return self.figures

    # ------------------------------------------------------------ events and rows

    def _event_id(self, at: datetime) -> str:
        return _ulid(int(at.timestamp() * 1000), self.rng)

    def _event(self, device: str, kind: str, at: datetime, data: dict, answer_text: str | None,
               event_id: str | None = None) -> str:
        event_id = event_id or self._event_id(at)
        self._seq[device] += 1
        moment = queue_store.iso(at)
        res = None if answer_text is None else '{"re":"' + event_id + '",' + answer_text[1:]
        self._rows["events"].append((event_id, device, kind, self._seq[device], moment, moment,
                                     pydantic_core.to_json(data).decode("utf-8"), res))
        self._last_seen[device] = moment
        self.figures.events += 1
        return event_id

    def _queue_op(self, name: str, device: str, at: datetime, data: dict, args: dict):
        """A queue operation as the hub carries it out: the domain's operation on the engine, its answer, the event
        with that answer, the journal row."""
        op = OPERATIONS[name]
        out, answer = op.carry_out(self.domain, args, at)
        text = json_text(answer)
        event_id = self._event(device, op.event, at, data, text)
        self._rows["queue_journal"].append((event_id, self._day_text, queue_store.iso(at), name,
                                            json_text(args), text))
        if name == "issue" and out.ok:
            self._issued[out.ticket.no] = (device, event_id)
        if name == "rating" and out.ok:
            self._rating_id += 1
            self._rows["ratings"].append((self._rating_id, event_id, device, self._day_text,
                                          queue_store.iso(at), args["window"], out.ticket.no, out.staff,
                                          args["score"], int(args["score"] >= 3)))
            if args["score"] <= self.hall.alerts.poor_rating_max:
                self._case_ops.append((at + timedelta(seconds=1), self._next(), "rating_followup",
                                       {"rating": self._rating_id, "window": args["window"],
                                        "ticket": out.ticket.no, "staff": out.staff, "score": args["score"]},
                                       None, None))
        return out

    def _next(self) -> int:
        self._n += 1
        return self._n

    # ------------------------------------------------------------ attendance

    def _plan_leave(self, workdays: list[date]) -> None:
        """Whole days of leave for each person, by kind, through the year."""
        a = self.sim.attendance
        kinds = list(a.leave_kinds)
        weights = [a.leave_kinds[k] for k in kinds]
        self.on_leave: set[tuple[str, date]] = set()
        share = len(workdays) / 250.0
        for person in self.punching:
            n = _poisson(self.rng, a.leave_days * share) if sum(weights) > 0 else 0
            for day in self.rng.sample(workdays, min(n, len(workdays))):
                kind = self.rng.choices(kinds, weights)[0]
                self.on_leave.add((person, day))
                start = datetime.combine(day, time(8, 0), tzinfo=self.tz)
                end = datetime.combine(day, time(18, 0), tzinfo=self.tz)
                self._rows["leave"].append((person, start.isoformat(), end.isoformat(), kind))
        self._leave_of: dict[tuple[str, date], Leave] = {
            (s, datetime.fromisoformat(a_).date()): Leave(s, datetime.fromisoformat(a_), datetime.fromisoformat(b), k)
            for s, a_, b, k in self._rows["leave"]}

    def _attendance_day(self, day: date) -> set[str]:
        """Each person's punches of the day, judged and stored as the hub closes a date; who is at the hall."""
        a, rng, tz = self.sim.attendance, self.rng, self.tz
        present = set()
        punches: list[Punch] = []
        rows = self._rows["punches"]
        for person in self.punching:
            if (person, day) in self.on_leave:
                continue
            if rng.random() < a.absent:
                continue
            present.add(person)
            terminal = self.terminal_of[person]
            for slot in self.schedule.slots:
                if rng.random() < a.missing:
                    continue
                scheduled = datetime.combine(day, slot.scheduled, tzinfo=tz)
                if slot.arrival:
                    if rng.random() < a.late:
                        moment = scheduled + timedelta(minutes=rng.lognormvariate(math.log(a.late_minutes), 0.8))
                    else:
                        moment = scheduled - timedelta(seconds=rng.randint(60, 1800))
                elif rng.random() < a.early:
                    moment = scheduled - timedelta(minutes=rng.lognormvariate(math.log(a.late_minutes), 0.8))
                else:
                    moment = scheduled + timedelta(seconds=rng.randint(0, 1500))
                moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
                text = moment.isoformat(timespec="milliseconds")
                event_id = self._event(terminal, "punch", moment, {"staff": person, "at": text,
                                                                   "score": rng.randint(60, 250)}, None)
                rows.append((event_id, person, text, day.isoformat(), terminal, None, text, None))
                punches.append(Punch(moment, person))
        self.figures.punches += len(punches)
        leaves = [lv for (s, d), lv in self._leave_of.items() if d == day]
        self._judge(day, punches, leaves)
        return present

    def _judge(self, day: date, punches: list[Punch], leaves: list[Leave]) -> None:
        closed_at = datetime.combine(day + timedelta(days=1), time(0, 5), tzinfo=self.tz)
        days = evaluate(punches, leaves, staff=self.punching, dates=[day], schedule=self.schedule,
                        calendar=self.calendar, tz=self.tz)
        for d in days:
            self._rows["attendance_days"].append(
                (d.staff, d.date.isoformat(), int(d.workday), d.status,
                 None if d.slots is None else json.dumps(d.to_dict()["slots"]),
                 json.dumps([t.isoformat() for t in d.overtime]), closed_at.isoformat(timespec="seconds"), 0))
        self._rows["attendance_dates"].append((day.isoformat(), 1, "[]", None, closed_at.isoformat(timespec="seconds")))

    def _close_rest_days(self) -> None:
        """Rest days are closed too (everyone `rest`), as the hub closes every date."""
        for day in _dates(self.first, self.last):
            if not self.calendar.is_workday(day):
                self._judge(day, [], [])

    # ------------------------------------------------------------ the queue's day

    def _day(self, day: date) -> None:
        present = self._attendance_day(day)
        tz, rng = self.tz, self.rng
        engine = self.domain.engine
        self.domain.engine = engine = (QueueEngine(self.layout, self.domain.rules, day) if engine.day is None
                                       else engine.next_day(day))
        start = datetime.combine(day, time(0, 0, 1), tzinfo=tz)
        self._day_text = day.isoformat()
        self._rows["queue_journal"].append((None, day.isoformat(), queue_store.iso(start), "open_day",
                                            json_text({"staff": {}}), json_text({"ok": True})))
        at = lambda clock: datetime.combine(day, clock, tzinfo=tz)  # noqa: E731
        self.heap = heap = []
        push = self._push
        # who sits at each window today: the present colleagues take turns
        self.staffed: dict[str, str] = {}
        for w in self.layout.windows:
            here = sorted(p for p in self.staff_by_window.get(w, ()) if p in present)
            if here:
                who = here[day.toordinal() % len(here)]
                self.staffed[w] = who
                push(at(time(8, 40)) + timedelta(seconds=rng.randint(0, 900)), "login", w, who)
        booking = self.booking_rules
        arr = self.sim.arrivals
        self.appointments.tick(self.db, datetime.combine(day, time(0, 0, 30), tzinfo=tz), Emit())  # no-shows
        for moment in self._arrivals(day):
            queue = self.queue_ids[bisect_right(self.queue_cum, rng.random() * self.queue_cum[-1])]
            slot = next((s for s in booking.slots(queue) if s.start <= moment.time() < s.end), None)
            if slot is not None and rng.random() < arr.booked:
                # booked on the citizens' site before the hall opens, checked in at a kiosk within the slot
                holder = {"queue": queue, "slot": slot.label}
                push(at(time(7, 0)) + timedelta(seconds=rng.randint(0, 5000)), "book", holder)
                if rng.random() >= arr.booking_no_show:
                    push(moment, "checkin", holder)
                continue
            push(moment, "arrive", queue)
        push(at(time(9, 0)), "open")
        push(at(time(13, 0)), "open")
        if len(self._opens) > 1:  # the windows pause for lunch (午休) between the opening spans
            push(datetime.combine(day, self._opens[0][1], tzinfo=tz), "lunch")
        self.idle: set[str] = set()
        self.serving: dict[str, tuple] = {}
        last = at(time(17, 0))
        while heap:
            moment, _, kind, payload = heapq.heappop(heap)
            last = max(last, moment)
            getattr(self, "_on_" + kind)(moment, *payload)
        for w, who in self.staffed.items():
            self._queue_op("logout", self.pc_of.get(w, "win-01"), last + timedelta(minutes=5),
                           {"window": w, "staff": who}, {"window": w, "staff": who})
        self._days_done.append((day, [(t, *self._issued.get(t.no, (None, None))) for t in engine.tickets.values()],
                                list(engine.calls)))
        self._issued = {}

    def _arrivals(self, day: date) -> list[datetime]:
        arr, rng, tz = self.sim.arrivals, self.rng, self.tz
        ww = arr.weekday_weights
        expected = arr.tickets_per_day * ww[day.weekday()] / (sum(ww[:5]) / 5)
        n = max(0, round(rng.gauss(expected, math.sqrt(expected))))
        spans = [(s.start, s.end) for s in self.hall.hours.issuing] or [(time(0, 0), time(23, 59, 59))]
        hours = []
        for i, weight in enumerate(arr.hour_weights):
            h = arr.first_hour + i
            inside = sum(_overlap(h, a, b) for a, b in spans)
            if h < 24 and inside > 0 and weight > 0:
                hours.append((h, weight * inside / 3600))
        if not hours:
            return []
        out = []
        for h in rng.choices([h for h, _ in hours], [w for _, w in hours], k=n):
            for _ in range(20):
                moment = time(h, *divmod(rng.randint(0, 3599), 60))
                if any(a <= moment < b for a, b in spans):
                    out.append(datetime.combine(day, moment, tzinfo=tz))
                    break
        return out

    def _callable(self, moment: datetime) -> bool:
        """Windows call in opening hours, and after the last opening time they finish the line."""
        clock = moment.time()
        return any(a <= clock < b for a, b in self._opens) or clock >= self._opens[-1][0]

    def _on_login(self, moment: datetime, window: str, who: str) -> None:
        self._queue_op("login", self.pc_of.get(window, "win-01"), moment, {"window": window, "staff": who},
                       {"window": window, "staff": who})
        self.idle.add(window)

    def _on_open(self, moment: datetime) -> None:
        engine = self.domain.engine
        for w in sorted(self.staffed):
            if engine.windows[w].paused:
                self._queue_op("resume", self.caller_of.get(w, "caller-01"), moment, {"window": w}, {"window": w})
        for w in sorted(self.idle):
            self._try_call(w, moment)

    def _on_lunch(self, moment: datetime) -> None:
        """午休: each window pauses with the reason (one still serving finishes its ticket first, then calls no one
        until the afternoon opens)."""
        if "午休" not in self.domain.rules.pause_reasons and self.domain.rules.pause_reasons:
            return
        for w in sorted(self.staffed):
            args = {"window": w, "reason": "午休"}
            self._queue_op("pause", self.caller_of.get(w, "caller-01"), moment, dict(args), args)

    def _on_book(self, moment: datetime, holder: dict) -> None:
        """A booking (网上预约) through the appointments domain, as the citizens' site sends it."""
        key, name, _ = self._citizen()
        phone = f"1{self.rng.choice('3578')}{self.rng.randrange(10**9):09d}"
        data = {"queue": holder["queue"], "date": moment.date().isoformat(), "time": holder["slot"], "name": name,
                "id_number": key, "phone": phone}
        answer = self._domain_event(self.appointments, "web-01", "web", "booking_request", moment, data)
        if answer.ok:
            holder["code"] = answer.booking.code

    def _on_checkin(self, moment: datetime, holder: dict) -> None:
        """预约签到 at a kiosk with the booking's code: the queue domain's own check-in issues the booked ticket."""
        code = holder.get("code")
        if code is None:  # the slot was full: they came all the same, as walk-ins
            self._on_arrive(moment, holder["queue"])
            return
        kiosk = self.rng.choice(self.kiosks)
        op = OPERATIONS["checkin"]
        event_id = self._event_id(moment)
        event = self._make_event(event_id, kiosk, "kiosk", "checkin", moment, {"code": code})
        args = op.read(self.domain, event)
        answer = op.refused(self.domain, event, args)
        out = None
        if answer is None:
            out, answer = op.carry_out(self.domain, args, moment)
        text = json_text(answer)
        self._event(kiosk, "checkin", moment, {"code": code}, text, event_id)
        self._rows["queue_journal"].append((event_id, self._day_text, queue_store.iso(moment), "checkin",
                                            json_text(args), text))
        if out is not None and out.ok:
            op.record(self.db, self.domain.engine.day, moment, args, out, event)
            self._issued[out.ticket.no] = (kiosk, event_id)
            self.figures.tickets += 1
            self._wake(out.ticket.queue, moment)

    def _make_event(self, event_id: str, device: str, kind: str, event_type: str, at: datetime, data: dict):
        from hall.protocol import EVENT_MODELS
        from hub.domain import Event

        return Event(id=event_id, device=device, kind=kind, type=event_type, seq=self._seq[device] + 1, ts=at,
                     received_at=at, data=EVENT_MODELS[event_type].model_validate(data), raw=data)

    def _domain_event(self, domain, device: str, kind: str, event_type: str, at: datetime, data: dict):
        """An event through a domain's own apply(), stored as ingest stores it (its data as the domain redacts it)."""
        event_id = self._event_id(at)
        answer = domain.apply(self.db, self._make_event(event_id, device, kind, event_type, at, data), Emit())
        self._event(device, event_type, at, domain.redact(event_type, data), json_text(answer), event_id)
        return answer

    def _on_arrive(self, moment: datetime, queue: str) -> None:
        arr, rng = self.sim.arrivals, self.rng
        items = self.services_of.get(queue)
        service = rng.choice(items).id if items else None
        priority = rng.random() < arr.priority
        data = {"service": service, "priority": priority} if service else {"queue": queue, "priority": priority}
        args = {"queue": queue, "service": service, "priority": priority, "channel": "kiosk",
                "device": rng.choice(self.kiosks)}
        if priority is False:
            data.pop("priority")
        out = self._queue_op("issue", args["device"], moment, data, args)
        if out.ok:
            self.figures.tickets += 1
            self._wake(queue, moment)

    def _wake(self, queue: str, moment: datetime) -> None:
        for w in self._windows_for(queue):
            if w in self.idle:
                self._try_call(w, moment)

    def _windows_for(self, queue: str) -> list[str]:
        cache = self._for
        if queue not in cache:
            cache[queue] = [w.id for w in self.layout.windows.values() if queue in w.queues] + \
                           [w.id for w in self.layout.windows.values() if queue in w.backup]
        return cache[queue]

    def _try_call(self, window: str, moment: datetime, finishing: bool = False) -> None:
        engine = self.domain.engine
        if (window not in self.staffed or not self._callable(moment) or engine.windows[window].paused
                or engine.next_for(window) is None):  # paused: the afternoon's opening resumes it, then it calls
            if finishing:
                self._queue_op("complete", self.caller_of.get(window, "caller-01"), moment, {"window": window},
                               {"window": window})
            self.idle.add(window)
            return
        out = self._queue_op("call_next", self.caller_of.get(window, "caller-01"), moment, {"window": window},
                             {"window": window})
        if not out.ok or out.ticket is None:
            # refused (journaled with its refusal, as the hub keeps one) or nobody to call: the window waits
            self.idle.add(window)
            return
        self.idle.discard(window)
        ticket = out.ticket
        rng = self.rng
        if rng.random() < self.sim.arrivals.no_show and ticket.requeues == 0:
            self._push(moment + timedelta(seconds=rng.randint(40, 90)), "recall", window)
            self._push(moment + timedelta(seconds=rng.randint(120, 200)), "skip", window, ticket.no)
            return
        h = self.sim.handling
        item = self.sim.handling.services.get(ticket.service or "")
        median = item or self.layout.queues[ticket.queue].standard_minutes * h.scale
        minutes = rng.lognormvariate(math.log(max(median, 0.5)), h.sigma) if h.sigma else median
        self._push(moment + timedelta(seconds=max(30, round(minutes * 60))), "served", window, ticket.no)

    def _push(self, moment: datetime, kind: str, *payload) -> None:
        heapq.heappush(self.heap, (moment, self._next(), kind, payload))

    def _on_recall(self, moment: datetime, window: str) -> None:
        self._queue_op("recall", self.caller_of.get(window, "caller-01"), moment, {"window": window},
                       {"window": window})

    def _on_skip(self, moment: datetime, window: str, ticket: str) -> None:
        self._queue_op("skip", self.caller_of.get(window, "caller-01"), moment, {"window": window},
                       {"window": window})
        if self.rng.random() < self.sim.arrivals.requeue:
            self._push(moment + timedelta(seconds=self.rng.randint(120, 1500)), "requeue", ticket)
        self._try_call(window, moment + timedelta(seconds=2))

    def _on_requeue(self, moment: datetime, ticket: str) -> None:
        kiosk = self.rng.choice(self.kiosks)
        out = self._queue_op("requeue", kiosk, moment, {"ticket": ticket}, {"ticket": ticket})
        if out.ok:
            self._wake(out.ticket.queue, moment)

    def _on_served(self, moment: datetime, window: str, ticket_no: str) -> None:
        engine, rng, arr = self.domain.engine, self.rng, self.sim.arrivals
        ticket = engine.tickets[ticket_no]
        if rng.random() < arr.transfer and ticket.transfers == 0:
            others = [q for q in self.queue_ids if q != ticket.queue]
            target = rng.choice(others) if others else ticket.queue
            self._queue_op("transfer", self.caller_of.get(window, "caller-01"), moment,
                           {"window": window, "queue": target}, {"window": window, "queue": target})
            self._wake(target, moment + timedelta(seconds=1))
            self._try_call(window, moment + timedelta(seconds=3))
            return
        # the clerk accepts the case at the start of the service: a case done on the spot (即办件) is finished
        # within its acceptance day even when its service runs past the closing time
        self._accept_cases(engine.windows[window].call.called_at + timedelta(seconds=20), window, ticket)
        self._try_call(window, moment, finishing=True)
        if rng.random() < arr.rating:
            score = rng.choices((1, 2, 3, 4, 5), arr.scores)[0]
            self._push(moment + timedelta(seconds=rng.randint(3, 60)), "rate", window, ticket_no, score)

    def _on_rate(self, moment: datetime, window: str, ticket: str, score: int) -> None:
        self._queue_op("rating", self.caller_of.get(window, "caller-01"), moment,
                       {"window": window, "ticket": ticket, "score": score},
                       {"window": window, "ticket": ticket, "score": score})

    # ------------------------------------------------------------ cases

    def _accept_cases(self, moment: datetime, window: str, ticket) -> None:
        c = self.sim.cases
        n = int(c.per_ticket) + (self.rng.random() < c.per_ticket - int(c.per_ticket))
        items = self.services_of.get(ticket.queue)
        service = ticket.service or (self.rng.choice(items).id if items else None)
        if not service:
            return
        for _ in range(n):
            self._accept(moment, window, service, ticket.no, self.staffed.get(window))

    def _accept(self, moment: datetime, window: str, service: str, ticket: str | None, staff: str | None,
                number_key: str | None = None, approve: bool = False) -> None:
        rng, c = self.rng, self.sim.cases
        key, name, hashed = self._citizen(number_key)
        for _ in range(5):  # someone refused this item comes back for it only when the refusal is corrected
            if number_key is not None or (key, service) not in self._refused:
                break
            key, name, hashed = self._citizen()
        args = {"service": service, "days": None, "reason": None, "ticket": ticket, "window": window,
                "applicant": masked_name(name), "id_hash": hashed,
                "id_last4": key[-4:], "device": self.pc_of.get(window, "win-01"), "by": staff}
        spec = self.book.services.get(service)
        if spec is not None and spec.promised_days == 0 and moment >= self.clock.closes(moment.date()) and \
                (spec.legal_days is None or spec.legal_days >= 1):
            # served after the closing time (the staff finish the line): an on-the-spot item cannot be finished
            # on its acceptance day any more, so it is promised for the next working day, with the reason
            args["days"], args["reason"] = 1, "闭厅后受理，次日办结 accepted after closing, done the next working day"
        out = self.book.accept(moment, days=args["days"], service=service, reason=args["reason"], ticket=ticket,
                               window=window, applicant=args["applicant"], id_hash=args["id_hash"],
                               id_last4=args["id_last4"])
        if not out.ok:
            return
        case = out.case
        args["days"] = case.days
        data = {"service": service, "applicant_name": name, "id_hash": args["id_hash"], "id_last4": args["id_last4"],
                "ticket": ticket, "window": window}
        self._case_event("accept", "case_accept", moment, args, data, args["device"], out)
        self.figures.cases += 1
        self._case_who[case.number] = (args["device"], staff)
        # its future: a suspension for documents, then its end, each at its moment
        wd = self.clock.workdays
        day_i = wd.index(moment.date())
        suspensions = []
        if case.days > 0 and rng.random() < c.suspend:
            s = self._moment_on(wd.day(day_i + 1))
            e = self._moment_on(wd.day(day_i + 1 + rng.randint(1, 3)))
            suspensions.append((s, e))
        deadline = deadline_of(self.clock, moment, case.days, suspensions)
        if case.days == 0:
            end = moment + timedelta(seconds=rng.randint(10, 120))
            closes = self.clock.closes(moment.date())
            if moment < closes <= end:
                end = closes
        else:
            last_i = wd.index(deadline)
            lo = wd.index_after(suspensions[-1][1].date()) if suspensions else day_i + 1
            hi = max(lo, day_i + max(1, math.floor(case.days * c.use_of_limit)))
            pick = rng.randint(min(lo, last_i), min(hi, last_i))
            end = self._moment_on(wd.day(pick))
            if rng.random() < c.late:
                end = self._moment_on(wd.day(last_i + rng.randint(1, 3)))
        for s, e in suspensions:
            self._case_ops.append((s, self._next(), "suspend", {"case": case.number}, args["device"], staff))
            self._case_ops.append((e, self._next(), "resume", {"case": case.number}, args["device"], staff))
        r = rng.random()
        if r < c.withdrawn:
            self._case_ops.append((end, self._next(), "withdraw", {"case": case.number}, args["device"], staff))
        else:
            refused = not approve and r < c.withdrawn + c.refused
            if refused:
                self._refused.add((key, service))
            result = REFUSED if refused else APPROVED
            self._case_ops.append((end, self._next(), "finish", {"case": case.number, "result": result},
                                   args["device"], staff))
            if refused and rng.random() < c.corrected:
                again = self._moment_on(wd.day(wd.index(end.date()) + rng.randint(2, 6)))
                self._case_ops.append((again, self._next(), "again",
                                       {"window": window, "service": service, "key": key}, None, staff))

    def _citizen(self, key: str | None = None) -> tuple[str, str, str]:
        """An applicant: (ID number, name, its keyed hash). The town's people come back, so they are drawn from
        a population of CITIZENS, each made the first time they come; a returning applicant is the same person."""
        if key is not None:
            return self._people[self._person_of[key]]
        i = self.rng.randrange(CITIZENS)
        person = self._people.get(i)
        if person is None:
            rng = self.rng
            key = _id_number(rng, self.first)
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
            person = self._people[i] = (key, name, id_number_hash(key, self.key))
            self._person_of[key] = i
        return person

    def _moment_on(self, day: date) -> datetime:
        return datetime.combine(day, time(9, 30), tzinfo=self.tz) + timedelta(seconds=self.rng.randint(0, 6 * 3600))

    def _case_event(self, op: str, kind: str | None, moment: datetime, args: dict, data: dict, device: str,
                    out) -> None:
        """A case operation's event and journal row, with the answer the cases domain gives (its fields in the
        order hub/cases/domain.py builds them)."""
        answer: dict = {"ok": True}
        if out.case is not None:
            c = out.case
            deadline = self.book.shown_deadline(c)
            answer["case"] = {"case": c.number, "service": c.service, "status": c.status,
                              "deadline": deadline.isoformat() if deadline else None, "days": c.days,
                              "result": c.result, "on_time": self.book.on_time(c)}
        if out.followup is not None:
            f = out.followup
            answer["followup"] = {"id": f.id, "kind": f.kind, "department": f.department,
                                  "due": self.book.followup_deadline(f).isoformat(),
                                  "answered_at": queue_store.iso(f.answered_at), "answered_by": f.answered_by}
        text = json_text(answer)
        event_id = self._event(device, kind, moment, data, text) if kind else None
        self._rows["cases_journal"].append((event_id, queue_store.iso(moment), op, json_text(args), text))

    def _flush_cases(self, until: datetime | None) -> None:
        """Carry out the cases' operations due by `until` (all of them with None), in time order."""
        ops = self._case_ops
        ops.sort(key=lambda o: (o[0], o[1]))
        keep = []
        for entry in ops:
            moment, _, op, args, device, staff = entry
            if until is not None and moment > until:
                keep.append(entry)
                continue
            if op == "again":
                self._accept(moment, args["window"], args["service"], None, staff, number_key=args["key"],
                             approve=True)
                continue
            if op == "rating_followup":
                self._rating_followup(moment, args)
                continue
            if op == "complaint":
                out = self.book.open_followup(COMPLAINT, moment, department=args["department"],
                                              window=args["window"], detail=args["detail"], by="督查室")
                self._case_event("open_followup", "complaint", moment,
                                 {"kind": COMPLAINT, "department": args["department"], "window": args["window"],
                                  "ticket": None, "detail": args["detail"], "by": "督查室"},
                                 {"department": args["department"], "window": args["window"],
                                  "detail": args["detail"], "by": "督查室"}, self.console, out)
                self._answer_later(out.followup)
                continue
            if op == "answer":
                out = self.book.answer_followup(args["followup"], moment, by="科长", contact="已电话联系 called",
                                                cause="服务态度 manner", correction="已整改 corrected")
                self._case_event("answer_followup", "followup_answer", moment,
                                 {"followup": args["followup"], "by": "科长", "contact": "已电话联系 called",
                                  "cause": "服务态度 manner", "correction": "已整改 corrected"},
                                 {"followup": args["followup"], "by": "科长", "contact": "已电话联系 called",
                                  "cause": "服务态度 manner", "correction": "已整改 corrected"}, self.console, out)
                continue
            book_op = getattr(self.book, op)
            if op == "finish":
                out = book_op(args["case"], moment, args["result"])
            else:
                out = book_op(args["case"], moment)
            if not out.ok:
                continue
            full = {"case": args["case"], "by": staff, "device": device}
            data = {"case": args["case"]}
            if op == "finish":
                full["result"] = data["result"] = args["result"]
            elif op in ("suspend", "withdraw"):
                full["reason"] = data["reason"] = "补正材料 documents" if op == "suspend" else "申请人撤回 withdrawn"
            self._case_event(op, "case_" + op, moment, full, data, device, out)
        self._case_ops = keep

    def _rating_followup(self, moment: datetime, args: dict) -> None:
        """A poor rating's follow-up, as the cases domain opens it from the ratings table, answered next day."""
        window = args["window"]
        full = {"kind": RATING, "rating": args["rating"], "window": window, "ticket": args["ticket"],
                "staff": args["staff"], "score": args["score"],
                "department": self.department_of_window.get(window) or None}
        out = self.book.open_followup(RATING, moment, department=full["department"], window=window,
                                      ticket=args["ticket"], staff=args["staff"], score=args["score"],
                                      rating=args["rating"])
        if out.followup is None:
            return
        self._case_event("open_followup", None, moment, full, {}, self.console, out)
        self._answer_later(out.followup)

    def _answer_later(self, followup) -> None:
        wd = self.clock.workdays
        when = self._moment_on(wd.next_after(followup.opened_at.date()))
        self._case_ops.append((when, self._next(), "answer", {"followup": followup.id}, self.console, None))

    def _plan_complaints(self, workdays: list[date]) -> None:
        windows = list(self.layout.windows)
        for _ in range(self.sim.cases.complaints):
            day = self.rng.choice(workdays)
            window = self.rng.choice(windows)
            self._case_ops.append((self._moment_on(day), self._next(), "complaint",
                                   {"window": window, "department": self.department_of_window.get(window),
                                    "detail": "群众来电投诉办事等候时间长 a citizen's complaint about the wait"},
                                   self.console, None))

    def _save_book(self) -> None:
        book = self.book
        now = datetime.combine(self.last, time(23, 59), tzinfo=self.tz)
        cards = book.cards(now)
        cases = list(book.cases.values())
        for i in range(0, len(cases), 20000):
            cases_store.save_cases(self.db, book, cases[i:i + 20000], cards, self._case_who)
        cases_store.save_followups(self.db, book, list(book.followups.values()), {})
        self.figures.rows += len(cases) + len(book.followups)

    # ------------------------------------------------------------ writing

    def _write(self) -> None:
        """The rows held so far, into the hub's tables (inside the run's one transaction)."""
        db, rows = self.db.conn, self._rows
        statements = {
            "events": "INSERT INTO events(id, device, type, seq, ts, received_at, data, res) VALUES (?,?,?,?,?,?,?,?)",
            "queue_journal": "INSERT INTO queue_journal(event, day, at, op, args, result) VALUES (?,?,?,?,?,?)",
            "ratings": "INSERT INTO ratings(id, event, device, day, at, window, ticket, staff, score, good) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?)",
            "punches": "INSERT INTO punches(event_id, staff, at, date, terminal, score, received_at, flag) "
                       "VALUES (?,?,?,?,?,?,?,?)",
            "leave": "INSERT INTO leave(staff, start, end, kind) VALUES (?,?,?,?)",
            "attendance_days": "INSERT OR REPLACE INTO attendance_days(staff, date, workday, status, slots, overtime, "
                               "evaluated_at, revised) VALUES (?,?,?,?,?,?,?,?)",
            "attendance_dates": "INSERT OR REPLACE INTO attendance_dates(date, final, waiting_for, warning, "
                                "closed_at) VALUES (?,?,?,?,?)",
            "cases_journal": "INSERT INTO cases_journal(event, at, op, args, result) VALUES (?,?,?,?,?)",
        }
        for table, sql in statements.items():
            batch = rows.pop(table, [])
            if batch:
                db.executemany(sql, batch)
                self.figures.rows += len(batch)
        for day, tickets, calls in self._days_done:
            queue_store.save_tickets(self.db, [(day, *row) for row in tickets], follow=self.domain.follow_token)
            queue_store.save_calls(self.db, [(day, c) for c in calls])
            self.figures.rows += len(tickets) + len(calls)
        self._days_done = []

    def _save_devices(self) -> None:
        kinds = {d.id: d.kind for d in self.hall.devices}
        self.db.conn.executemany(
            "INSERT INTO devices(id, kind, watermark, last_seen, status) VALUES (?,?,?,?,'offline') "
            "ON CONFLICT(id) DO UPDATE SET watermark=excluded.watermark, last_seen=excluded.last_seen",
            [(d, kinds.get(d), seq, self._last_seen.get(d)) for d, seq in self._seq.items()])


def bulk_load(db) -> None:
    """A new journal written once, in one transaction: a crash means running it again, so no flush to the disk
    (synchronous OFF), pages written straight into the file instead of into the WAL first and then again by its
    checkpoint (a rollback journal, which a new file's appended pages do not need), and a cache that holds a
    month's pages. The caller puts the journal back in WAL mode when it is done."""
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA journal_mode=TRUNCATE")
    db.execute("PRAGMA cache_size=-262144")


# tables the domains read while the year is written: their indexes stay (a check-in looks its booking up)
READ_DURING_LOAD = ("bookings",)


def set_indexes_aside(db) -> list[str]:
    """The secondary indexes of the tables only written during the load, dropped, their statements returned to make
    them again after it: an index built once over sorted rows costs a fraction of one kept up row by row."""
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name "
                      f"NOT IN ({', '.join('?' * len(READ_DURING_LOAD))})", READ_DURING_LOAD).fetchall()
    for name, _ in rows:
        db.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def _overlap(hour: int, start: time, end: time) -> int:
    """Seconds of the hour [hour:00, hour+1:00) inside [start, end)."""
    lo, hi = hour * 3600, (hour + 1) * 3600
    a = start.hour * 3600 + start.minute * 60 + start.second
    b = end.hour * 3600 + end.minute * 60 + end.second
    return max(0, min(hi, b) - max(lo, a))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def simulate(hall, sim, data_dir: Path | str, first: date, last: date, *, seed: int | None = None,
             progress: Callable[[str], None] | None = None) -> Figures:
    """Write a simulated span of days into data_dir/hub.db (an empty data folder)."""
    return YearSimulator(hall, sim, data_dir, first, last, seed=seed, progress=progress).run()
