"""Simulated appointments for `hall up` and demos: citizens booking on the citizens' site and checking in at a kiosk.

    traffic = BookingTraffic(hall, site_url="http://127.0.0.1:8900", kiosk=link_kiosk3, speed=60.0, seed=7)
    traffic.start()        # a background thread
    ...
    traffic.stop()
    traffic.stats          # {"booked": …, "full": …, "checked_in": …, "refused": …}

Citizens book through the site's own JSON API (`POST /api/bookings`, the path a phone takes; the site sends the
booking to the hub as its `web` device) a slot of today that begins within the next half hour, when there is one
(the hall is open), about `per_hour` bookings an hour of the hall; a few minutes of the hall later each checks in
at the kiosk with the booking code (`checkin`, as the kiosk's 预约签到 sends it) and gets a ticket that the
simulated clerks call ahead of the walk-ins; now and then one does not come. The hub decides everything, as for
the walk-in traffic (hallctl/traffic/queue.py).
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import datetime, timedelta

import httpx

log = logging.getLogger("hallctl.traffic.bookings")

# the ID numbers of simulated citizens: a valid check character (GB 11643) on made-up digits
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"


def simulated_id(rand: random.Random) -> str:
    body = f"430681{rand.randint(1950, 2005)}{rand.randint(1, 12):02d}{rand.randint(1, 28):02d}{rand.randint(0, 999):03d}"
    total = sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True))
    return body + ID_CHECK[total % 11]


class BookingTraffic:
    def __init__(self, hall, *, site_url: str, kiosk, speed: float = 60.0, per_hour: float = 8.0,
                 no_show: float = 0.1, seed: int | None = None, clock=None):
        self.hall = hall
        self.clock = clock or (lambda: datetime.now(hall.tz))  # the hall's time, as the hub keeps it
        self.site_url = site_url.rstrip("/")
        self.kiosk = kiosk
        self.speed = speed
        self.per_hour = per_hour
        self.no_show = no_show
        self.rand = random.Random(seed)
        self.stats = {"booked": 0, "full": 0, "checked_in": 0, "refused": 0, "unreachable": 0}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queues = list(hall.appointments.queues)

    def start(self) -> BookingTraffic:
        self._thread = threading.Thread(target=self.run, name="booking-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run(self) -> None:
        if not self._queues:
            return
        check_ins: list[tuple[float, str]] = []  # (when, code), real seconds of the monotonic clock
        with httpx.Client(base_url=self.site_url, timeout=10) as client:
            next_booking = 0.0
            clock = 0.0
            while not self._stop.wait(0.5):
                clock += 0.5
                if clock >= next_booking:
                    next_booking = clock + self.rand.expovariate(self.per_hour / 3600 * self.speed)
                    code = self._book(client)
                    if code is not None and self.rand.random() >= self.no_show:
                        check_ins.append((clock + self.rand.uniform(60, 600) / self.speed, code))
                due = [c for c in check_ins if c[0] <= clock]
                check_ins = [c for c in check_ins if c[0] > clock]
                for _, code in due:
                    self._check_in(code)

    def _book(self, client: httpx.Client) -> str | None:
        queue = self.rand.choice(self._queues)
        try:
            slots = client.get("/api/slots", params={"queue": queue})
            if slots.status_code != 200:
                return None
            now = self.clock()
            soon = [(d["date"], s["time"]) for d in slots.json()["dates"] for s in d["slots"]
                    if d["date"] == now.date().isoformat() and s["left"]
                    and datetime.fromisoformat(f"{d['date']}T{s['time']}").replace(tzinfo=self.hall.tz)
                    - now <= timedelta(minutes=30)]
            if not soon:
                return None  # the hall is closed, or nothing begins within half an hour
            day, slot = soon[0]
            name = self.rand.choice(SURNAMES) + "".join(self.rand.choice(GIVEN) for _ in range(self.rand.randint(1, 2)))
            answer = client.post("/api/bookings", json={
                "queue": queue, "date": day, "time": slot, "name": name, "id_number": simulated_id(self.rand),
                "phone": f"13{self.rand.randint(0, 999999999):09d}"})
        except httpx.HTTPError as err:
            self.stats["unreachable"] += 1
            log.debug("booking traffic: the site did not answer: %s", err)
            return None
        if answer.status_code == 201:
            self.stats["booked"] += 1
            return answer.json()["code"]
        self.stats["full"] += 1
        return None

    def _check_in(self, code: str) -> None:
        try:
            answer = self.kiosk.request("checkin", {"code": code}, timeout=10)
        except Exception:  # a full outbox: the citizen goes to the desk instead
            log.exception("booking traffic: check-in not sent")
            return
        if answer and answer.get("ok"):
            self.stats["checked_in"] += 1
        else:
            self.stats["refused"] += 1
