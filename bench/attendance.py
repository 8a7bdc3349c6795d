"""Attendance benchmark (not a test): how long a month takes to evaluate, and how long a punch takes to arrive.

    .venv/bin/python bench/attendance.py [--punches 10] [--staff 179]

1. Month: one month (November 2026) for 179 staff, about 16,000 punches planned by the traffic model, evaluated
   by the rules (pure), then as `hall attendance report` does it from a hub database. Target < 1 s.
2. Punch path: a simulated R307 answering at a real sensor's speed (image capture, feature extraction, search
   over 179 templates, wire time at 57600 baud) → the terminal agent → its outbox → a real Mosquitto → the hub,
   until the punch is committed in hub.db. From the moment the finger lands. Target < 1.5 s.

Each figure is printed with its ratio to the target (below 1.00 is within it).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: its queue.py would shadow the standard library's queue

MONTH_TARGET = 1.0
PUNCH_TARGET = 1.5


def bench_month(hall, staff_count: int) -> None:
    import sqlite_utils

    from hallctl.traffic.punches import plan_period
    from hub.attendance import store
    from hub.attendance.report import build_report
    from hub.attendance.rules import Punch, Schedule, WorkCalendar, date_range, evaluate

    first, last = date(2026, 11, 1), date(2026, 11, 30)
    people = [s.id for s in hall.staff[:staff_count]]
    calendar = WorkCalendar.from_rules(hall.attendance)
    plan = plan_period(people, first, last, tz=hall.tz, is_workday=calendar.is_workday, seed=2016)
    punches = [Punch(p.at, p.staff) for p in plan]
    schedule = Schedule.from_rules(hall.attendance)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        days = evaluate(punches, staff=people, dates=date_range(first, last), schedule=schedule,
                        calendar=WorkCalendar.from_rules(hall.attendance), tz=hall.tz)
        runs.append(time.perf_counter() - started)
    best = min(runs)
    print(f"month, rules only: {len(people)} staff, {len(punches)} punches, {len(days)} person-days: "
          f"{best:.3f} s (target < {MONTH_TARGET} s, ratio {best / MONTH_TARGET:.2f})")

    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite_utils.Database(Path(tmp) / "hub.db")
        store.create_tables(db)
        with db.atomic():
            for i, p in enumerate(plan):
                store.insert_punch(db, f"e{i:07d}", p.staff, p.at, "fp-01", 100, p.at, None)
            for d in date_range(first, last):
                db.execute("INSERT INTO attendance_dates(date, final) VALUES (?, 1)", (d.isoformat(),))
        db.close()
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            build_report(hall, tmp, "2026-11", today=date(2026, 12, 1))
            runs.append(time.perf_counter() - started)
    best = min(runs)
    print(f"month, report from hub.db ({len(hall.staff)} people, windows, ranking): {best:.3f} s "
          f"(target < {MONTH_TARGET} s, ratio {best / MONTH_TARGET:.2f})")


def bench_punch(hall, count: int, staff_count: int) -> None:
    from bench._hall import start_broker
    from devices.fingerprint.simulator import SensorSimulator
    from devices.fingerprint.station import Enrolled, TemplateMap
    from devices.fingerprint.terminal import TerminalAgent
    from hall.link import DeviceLink
    from hub.ingest import Hub

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        port, mosquitto = start_broker(hall, data)
        hub = link = agent = sim = None
        try:
            hub = Hub(hall, data, port=port).start()
            assert hub.wait_ready(15), "the hub did not come up"
            sim = SensorSimulator("r307", realistic_timing=True).start()
            templates = TemplateMap.of(data, "fp-01")
            people = [s.id for s in hall.staff[:staff_count]]
            for position, person in enumerate(people):
                sim.enrol_directly(person, position)
                templates.entries[position] = Enrolled(position, person)
            templates.save()
            link = DeviceLink(hall, "fp-01", data, port=port).start()
            assert link.wait_connected(15), "the terminal did not connect"
            sent: dict[str, float] = {}
            agent = TerminalAgent(hall, "fp-01", sim.port, data, link=link, console=lambda text: None,
                                  heartbeat=0, on_outcome=lambda o: sent.__setitem__(o.event_id, time.monotonic()))
            agent.start()
            conn = sqlite3.connect(data / "hub.db", timeout=10)
            totals, identify, deliver = [], [], []
            for i in range(count):
                person = people[(i * 37) % len(people)]
                before = len(agent.outcomes)
                time.sleep(0.3)  # the previous person steps away
                landed = time.monotonic()
                sim.touch(person)
                while len(agent.outcomes) == before:
                    time.sleep(0.001)
                outcome = agent.outcomes[before]
                assert outcome.staff == person, outcome
                while conn.execute("SELECT 1 FROM punches WHERE event_id=?", (outcome.event_id,)).fetchone() is None:
                    time.sleep(0.002)
                committed = time.monotonic()
                totals.append(committed - landed)
                identify.append(sent[outcome.event_id] - landed)
                deliver.append(committed - sent[outcome.event_id])
            conn.close()
        finally:
            for part in (agent, link, hub, sim):
                if part is not None:
                    part.stop()
            mosquitto.terminate()
            mosquitto.wait(10)
    worst = max(totals)
    print(f"punch, finger placed → committed at the hub ({count} punches, {len(people)} templates on an R307 at "
          f"a real sensor's speed): median {statistics.median(totals):.3f} s, worst {worst:.3f} s "
          f"(target < {PUNCH_TARGET} s, ratio {worst / PUNCH_TARGET:.2f})")
    print(f"  of which on the terminal (capture, extract, search): median {statistics.median(identify):.3f} s; "
          f"outbox → broker → hub commit: median {statistics.median(deliver) * 1000:.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--punches", type=int, default=10)
    parser.add_argument("--staff", type=int, default=179)
    parser.add_argument("--skip-punch", action="store_true", help="only the month (no broker needed)")
    args = parser.parse_args()
    from hall.settings import load_hall

    hall = load_hall()
    bench_month(hall, args.staff)
    if not args.skip_punch:
        bench_punch(hall, args.punches, args.staff)
    return 0


if __name__ == "__main__":
    sys.exit(main())
