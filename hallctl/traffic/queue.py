"""Simulated hall traffic for `hall up` and demos: citizens taking tickets, clerks calling and serving them.

    traffic = HallTraffic(hall, kiosks=[link_kiosk1, link_kiosk2], windows=[link_win18, link_caller1],
                          raters=[link_caller2], speed=60.0, seed=1)
    traffic.start()        # a background thread; or traffic.run() to block in the calling thread
    ...
    traffic.stop()         # returns once the thread has ended; links stay open (their owner stops them)
    traffic.stats          # {"issued": …, "refused": …, "called": …, "served": …, "no_show": …, …}

Constructor:
- `kiosks`: started `hall.link.DeviceLink`s of kind kiosk (tickets and requeues go through them in turn).
- `windows`: started links of kind window or caller; each window of the catalogue is driven through the first
  link whose device lists it (window PCs before bus callers), windows no link may act for stay closed.
- `raters`: started links of kind rater or caller, the rating pads citizens score on. A window's ratings go through
  its clerk's link when that is a caller bus master (its rating pads hang on the same bus), else through the first
  of these whose device lists the window; a window with neither gets no ratings, since the hub refuses ratings from
  a window PC (its clerk is the one rated).
- `speed`: simulated seconds per real second (60: an hour of the hall per minute). Arrival rates are multiplied
  and handling times divided by it.
- `daily_tickets` (500, the Miluo hall's working day), `seed` for repeatable runs, and the behaviour rates
  `priority`, `no_show`, `requeue`, `transfer`, `rating`, `pause`.
- `manual`: windows left to people (`hall up --manual-windows`): no simulated clerk works them.

What it does: citizens arrive as a Poisson process per queue, weighted towards the busy queues (business
registration, social insurance, tax, vehicles …), with a morning peak in each issuing span when the hall has
issuing hours (arrivals stop outside them, by the hall's local clock) and a flat rate when it issues all day.
Each clerk logs in (the first staff member assigned to the window), calls the next ticket, and serves it for a
log-normal time around the queue's standard minutes; a clerk who found nobody waiting watches the queues on the
screen (the hub's retained `state/queue/…` of the window's queues) and calls again only once someone waits, as a
person would, with a look now and then in case the screen missed it; some citizens do not come (recalled once, then skipped)
and a few of those come back to requeue at a kiosk; a few tickets are transferred to another queue; most
citizens rate the service (好差评, about 97 % good); clerks take a short break now and then.

Everything is sent with `link.send()` (durable, never blocking); answers come back through `link.on_answer`.
The hub's own rules decide everything (numbers, who is called, refusals); this only plays the people.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

log = logging.getLogger("hallctl.traffic.queue")

# how much busier than an ordinary queue (weight 1) the hall's busiest ones are
QUEUE_WEIGHTS = {"A": 3.0, "B": 2.0, "C": 3.0, "D": 2.0, "E": 1.5, "F": 1.5, "G": 1.2, "H": 2.5, "J": 2.5,
                 "T": 1.2, "W": 0.8}
SCORES = [(5, 0.75), (4, 0.15), (3, 0.07), (2, 0.02), (1, 0.01)]
LOOK_AGAIN_S = 1800.0  # an idle clerk calls anyway after this long (hall seconds), in case the screen missed one


@dataclass
class Clerk:
    window: str
    link: object
    staff: str | None
    rater: object = None            # the link of the window's rating pad, if any
    serving: str | None = None
    queue: str | None = None
    waiting_for: str | None = None  # the event id of a call_next whose answer decides what comes next
    recalled: bool = False
    queues: tuple[str, ...] = ()    # the window's own and backup queues, watched when nobody waits
    idle: bool = False              # found nobody waiting: calls again when a watched queue has someone


@dataclass(order=True)
class _Due:
    at: float
    n: int
    action: object = field(compare=False)


class HallTraffic:
    def __init__(self, hall, kiosks: list, windows: list, *, raters: list = (), speed: float = 60.0,
                 seed: int | None = None,
                 daily_tickets: int = 500, priority: float = 0.05, no_show: float = 0.05, requeue: float = 0.3,
                 transfer: float = 0.03, rating: float = 0.6, pause: float = 0.01, manual=()):
        if speed <= 0:
            raise ValueError("speed must be positive")
        if not kiosks:
            raise ValueError("traffic needs at least one kiosk link")
        self.hall = hall
        self.kiosks = list(kiosks)
        self.speed = speed
        self.rand = random.Random(seed)
        self.rates = {"priority": priority, "no_show": no_show, "requeue": requeue, "transfer": transfer,
                      "rating": rating, "pause": pause}
        self.stats = {k: 0 for k in ("requested", "issued", "refused", "call_next", "called", "empty_calls",
                                     "served", "no_show", "requeued", "transferred", "ratings", "paused")}
        self._queues = {q.id: q for q in hall.catalogue.queues}
        self._per_second = self._arrival_rates(daily_tickets)
        self.manual = {str(w) for w in manual}
        self.clerks = self._assign(windows, raters)
        self.waiting: dict[str, int] = {}  # queue → waiting, from the hub's retained state
        self._heap: list[_Due] = []
        self._counter = itertools.count()
        self._answers: queue.Queue = queue.Queue()
        self._pending: dict[str, tuple[str, object]] = {}  # event id → (what, who)
        self._kiosk_turn = itertools.cycle(self.kiosks)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for link in {id(x): x for x in [*self.kiosks, *(c.link for c in self.clerks.values())]}.values():
            link.on_answer(self._heard)
        # what the clerks' screens show: the queues they serve (one subscription per queue and link)
        watched: set[tuple[int, str]] = set()
        for clerk in self.clerks.values():
            for q in clerk.queues:
                if (id(clerk.link), q) not in watched:
                    watched.add((id(clerk.link), q))
                    clerk.link.subscribe(f"hub/state/queue/{q}", self._saw)

    # ------------------------------------------------------------ set-up

    def _assign(self, links: list, raters: list) -> dict[str, Clerk]:
        ordered = sorted(links, key=lambda link: link.device.kind != "window")  # window PCs first
        staff_by_window: dict[str, str] = {}
        for s in self.hall.staff:
            if s.window and s.window not in staff_by_window:
                staff_by_window[s.window] = s.id
        clerks = {}
        for w in self.hall.catalogue.windows:
            link = next((x for x in ordered if w.id in x.device.windows), None)
            if link is None or w.id in self.manual:
                continue
            pads = [link] if link.device.kind == "caller" else [x for x in raters if w.id in x.device.windows]
            clerks[w.id] = Clerk(w.id, link, staff_by_window.get(w.id), rater=next(iter(pads), None),
                                 queues=(*w.queues, *w.backup))
        return clerks

    def _issuing_seconds(self) -> float:
        spans = self.hall.hours.issuing
        if not spans:
            return 8 * 3600.0
        return sum((datetime.combine(datetime.min, s.end) - datetime.combine(datetime.min, s.start)).total_seconds()
                   for s in spans)

    def _arrival_rates(self, daily_tickets: int) -> dict[str, float]:
        """Citizens per simulated second, per queue, at an intensity of 1."""
        weights = {q: QUEUE_WEIGHTS.get(q, 1.0) for q in self._queues}
        total = sum(weights.values())
        per_second = daily_tickets / self._issuing_seconds()
        return {q: per_second * w / total for q, w in weights.items()}

    def intensity(self, moment: datetime) -> float:
        """How busy the hall is at this local time, relative to its average: peaks early in each issuing span."""
        spans = self.hall.hours.issuing
        if not spans:
            return 1.0
        t = moment.time()
        for s in spans:
            if s.start <= t < s.end:
                since = (datetime.combine(moment.date(), t) - datetime.combine(moment.date(), s.start)).seconds
                left = (datetime.combine(moment.date(), s.end) - datetime.combine(moment.date(), t)).seconds
                if since < 5400:
                    return 1.4
                if left < 1800:
                    return 0.6
                return 1.0
        return 0.0

    # ------------------------------------------------------------ life

    def start(self) -> HallTraffic:
        self._thread = threading.Thread(target=self.run, name="hall-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._answers.put(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run(self) -> None:
        """Play the hall until stop() is called."""
        now = time.monotonic()
        for clerk in self.clerks.values():
            if clerk.staff:
                self._send(clerk.link, "login", {"window": clerk.window, "staff": clerk.staff})
            self._at(now + self.rand.uniform(0, 30) / self.speed, ("call", clerk))
        for q in self._queues:
            self._at(now + self._next_arrival(q), ("arrive", q))
        while not self._stop.is_set():
            wait = max(0.0, self._heap[0].at - time.monotonic()) if self._heap else 1.0
            try:
                item = self._answers.get(timeout=min(wait, 1.0))
            except queue.Empty:
                item = False
            if item is None or self._stop.is_set():
                return
            if item:
                self._on_answer(*item)
            while self._heap and self._heap[0].at <= time.monotonic():
                self._do(heapq.heappop(self._heap).action)

    # ------------------------------------------------------------ scheduling

    def _at(self, when: float, action) -> None:
        heapq.heappush(self._heap, _Due(when, next(self._counter), action))

    def _later(self, sim_seconds: float, action) -> None:
        self._at(time.monotonic() + sim_seconds / self.speed, action)

    def _next_arrival(self, q: str) -> float:
        """Real seconds to the next citizen of queue q (re-drawn at every arrival, so the rate follows the day)."""
        rate = self._per_second[q] * self.intensity(datetime.now(self.hall.tz)) * self.speed
        if rate <= 0:
            return 60.0 / self.speed + 1.0  # closed: look again later
        return self.rand.expovariate(rate)

    def _handling_seconds(self, q: str | None) -> float:
        mean = (self._queues[q].standard_minutes if q in self._queues else 10) * 60
        sigma = 0.5
        return self.rand.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)

    # ------------------------------------------------------------ the people

    def _do(self, action) -> None:
        kind, who = action[0], action[1]
        if kind == "arrive":
            if self.intensity(datetime.now(self.hall.tz)) > 0:
                data = {"queue": who, "channel": "kiosk"}
                if self.rand.random() < self.rates["priority"]:
                    data["priority"] = True
                self.stats["requested"] += 1
                self._send(next(self._kiosk_turn), "ticket_request", data, ("ticket", who))
            self._at(time.monotonic() + self._next_arrival(who), ("arrive", who))
        elif kind == "requeue":
            self._send(next(self._kiosk_turn), "requeue", {"ticket": who}, ("requeue", who))
        elif kind == "call":
            clerk: Clerk = who
            if clerk.waiting_for is not None or clerk.serving is not None:
                return  # a look at the screen and a planned call at once: one call
            clerk.idle = False
            self.stats["call_next"] += 1
            clerk.waiting_for = self._send(clerk.link, "call_next", {"window": clerk.window}, ("called", clerk))
        elif kind == "look":
            if who.idle:  # nothing came on the screen for a long while: call anyway, in case it was missed
                self._do(("call", who))
        elif kind == "recall":
            self._send(who.link, "recall", {"window": who.window})
            self._later(45, ("skip", who))
        elif kind == "skip":
            self._finish(who, "skip")
        elif kind == "complete":
            self._finish(who, "complete")
        elif kind == "transfer":
            self._finish(who, "transfer")
        elif kind == "resume":
            self._send(who.link, "resume", {"window": who.window})
            self._later(5, ("call", who))

    def _finish(self, clerk: Clerk, how: str) -> None:
        ticket, clerk.serving = clerk.serving, None
        if ticket is None:
            return
        if how == "skip":
            self.stats["no_show"] += 1
            self._send(clerk.link, "skip", {"window": clerk.window})
            if self.rand.random() < self.rates["requeue"]:
                self._later(self.rand.uniform(120, 2400), ("requeue", ticket))  # some come back too late
        elif how == "transfer":
            others = [q for q in self._queues if q != clerk.queue]
            self._send(clerk.link, "transfer", {"window": clerk.window, "queue": self.rand.choice(others)})
            self.stats["transferred"] += 1
        else:
            self._send(clerk.link, "complete", {"window": clerk.window})
            self.stats["served"] += 1
            if clerk.rater is not None and self.rand.random() < self.rates["rating"]:
                score = self.rand.choices([s for s, _ in SCORES], [w for _, w in SCORES])[0]
                self._send(clerk.rater, "rating", {"window": clerk.window, "ticket": ticket, "score": score})
                self.stats["ratings"] += 1
        if self.rand.random() < self.rates["pause"]:
            self.stats["paused"] += 1
            self._send(clerk.link, "pause", {"window": clerk.window})
            self._later(self.rand.uniform(180, 900), ("resume", clerk))
        else:
            self._later(self.rand.uniform(5, 20), ("call", clerk))

    # ------------------------------------------------------------ answers

    def _send(self, link, event_type: str, data: dict, expect=None) -> str | None:
        event_id = link.send(event_type, data)
        if expect is not None:
            self._pending[event_id] = expect
        return event_id

    def _heard(self, event_id: str, answer: dict) -> None:
        # the link's network thread: hand over to the traffic thread
        self._answers.put((event_id, answer))

    def _saw(self, topic: str, payload: dict) -> None:
        # the link's network thread: a queue's retained state, handed over to the traffic thread
        self._answers.put((None, {"queue": topic.rsplit("/", 1)[-1], "waiting": payload.get("waiting")}))

    def _on_state(self, queue_id: str, waiting) -> None:
        """A queue on the clerks' screens: idle clerks serving it call, after a moment, once someone waits."""
        if not isinstance(waiting, int):
            return
        self.waiting[queue_id] = waiting
        if waiting <= 0:
            return
        # one clerk a citizen waiting: the others see a colleague call and stay put
        serving = [c for c in self.clerks.values() if queue_id in c.queues]
        calling = sum(1 for c in serving if c.waiting_for is not None or (not c.idle and c.serving is None))
        idle = [c for c in serving if c.idle]
        for clerk in self.rand.sample(idle, min(len(idle), max(0, waiting - calling))):
            clerk.idle = False
            self._later(self.rand.uniform(3, 15), ("call", clerk))

    def _on_answer(self, event_id: str | None, answer: dict) -> None:
        if event_id is None:
            self._on_state(answer["queue"], answer["waiting"])
            return
        expect = self._pending.pop(event_id, None)
        if expect is None:
            return
        what, who = expect
        if what == "ticket":
            self.stats["issued" if answer.get("ok") else "refused"] += 1
        elif what == "requeue":
            if answer.get("ok"):
                self.stats["requeued"] += 1
        elif what == "called":
            self._on_called(who, event_id, answer)

    def _on_called(self, clerk: Clerk, event_id: str, answer: dict) -> None:
        if clerk.waiting_for != event_id:
            return
        clerk.waiting_for = None
        ticket = answer.get("ticket") if answer.get("ok") else None
        if ticket is None:
            if not answer.get("ok"):
                self._later(self.rand.uniform(20, 60), ("call", clerk))  # refused (paused, …): try again later
                return
            self.stats["empty_calls"] += 1
            # nobody waiting: watch the screen; someone joining a queue of the window brings the clerk back
            clerk.idle = True
            self._later(LOOK_AGAIN_S, ("look", clerk))
            return
        self.stats["called"] += 1
        clerk.serving, clerk.queue = ticket["no"], ticket["queue"]
        roll = self.rand.random()
        if roll < self.rates["no_show"]:
            self._later(40, ("recall", clerk))
        elif roll < self.rates["no_show"] + self.rates["transfer"]:
            self._later(self._handling_seconds(clerk.queue) / 3, ("transfer", clerk))
        else:
            self._later(self._handling_seconds(clerk.queue), ("complete", clerk))
