"""Cases benchmark (not a test): a year of cases judged for the report, and the cards of the open cases at a moment.

    .venv/bin/python bench/cases.py [--cases 120000] [--open 5000]

1. Report: a year (2026) of 120,000 cases of the shipped catalogue, one in eight suspended once (补正) across one
   or more closing times, a few withdrawn, written to a hub database as the hub keeps them; then the same rows read
   from SQLite alone, and `hall cases report`'s work (read the rows, judge deadline, on-time, days used and card
   with the rules, tally by department and item), in this process and as the command a manager or the console
   runs (`hall cases report --format json`, a process of its own: start-up, the hall's config and the calendar
   included). Target < 2 s.
2. Cards: 5,000 open cases judged at one moment, as the hub does once a minute (deadlines cached as the hub keeps
   them between changes, then a first pass with every deadline computed). Target < 50 ms.

Each figure is printed with its ratio to the target (below 1.00 is within it).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: its queue.py would shadow the standard library's queue

REPORT_TARGET = 2.0
CARDS_TARGET = 0.050


def year_of_cases(book, services, n: int, rng: random.Random, tz) -> None:
    workdays = [d for d in (date(2026, 1, 1) + timedelta(days=i) for i in range(365)) if book.clock.workdays.is_workday(d)]
    for i in range(n):
        day = workdays[i * len(workdays) // n]
        at = datetime(day.year, day.month, day.day, 9, 0, tzinfo=tz) + timedelta(minutes=rng.randrange(470))
        spec = services[rng.randrange(len(services))]
        case = book.accept(at, service=spec.id, days=None if spec.promised_days is not None or spec.legal_days else 5,
                           reason="bench").case
        if rng.random() < 0.125:
            s = at + timedelta(hours=rng.randrange(1, 30))
            book.suspend(case.number, s, "补正")
            book.resume(case.number, s + timedelta(hours=rng.randrange(2, 100)))
        end = at + timedelta(days=rng.randrange(0, max(2, case.days * 2)), hours=rng.randrange(1, 8))
        if rng.random() < 0.02:
            book.withdraw(case.number, end)
        elif end.year == 2026 and end.month < 12:
            book.finish(case.number, end)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=120_000)
    parser.add_argument("--open", type=int, default=5_000)
    args = parser.parse_args()

    import sqlite_utils

    from hall.settings import load_hall
    from hub.cases import store
    from hub.cases.report import cases_report
    from hub.cases.rules import CaseBook, clock_from_hall, services_from_hall

    hall = load_hall()
    services = services_from_hall(hall)
    rng = random.Random(14)
    book = CaseBook(clock_from_hall(hall), services)
    year_of_cases(book, list(services.values()), args.cases, rng, hall.tz)
    now = datetime(2026, 12, 31, 17, 30, tzinfo=hall.tz)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "hub.db"
        db = sqlite_utils.Database(db_path)
        store.create_tables(db)
        store.save_cases(db, book, list(book.cases.values()), {}, {})
        db.conn.commit()
        db.close()

        t0 = time.perf_counter()
        raw = sqlite3.connect(db_path)
        rows = raw.execute("SELECT number, service, department, accepted_at, days, legal_days, status, suspensions, "
                           "finished_at, result, withdrawn_at FROM cases WHERE accepted_at >= ? AND accepted_at < ?",
                           ("2026-01-01", "2027-01-01")).fetchall()
        raw.close()
        read_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        report = cases_report(db_path, hall, date(2026, 1, 1), date(2026, 12, 31), now)
        report_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-P", "-m", "hallctl.cli", "cases", "report", "--from", "2026-01-01", "--to",
                        "2026-12-31", "--format", "json", "--out", os.devnull, "--data", tmp], check=True, cwd=ROOT)
        command_s = time.perf_counter() - t0
    t = report["totals"]
    print(f"report: {len(rows)} cases ({sum(1 for c in book.cases.values() if c.suspensions)} suspended once): "
          f"SQLite read alone {read_s * 1000:.0f} ms, report {report_s * 1000:.0f} ms "
          f"(×{report_s / read_s:.1f} the read), target {REPORT_TARGET:.0f} s, ratio {report_s / REPORT_TARGET:.2f}")
    print(f"        the command (hall cases report --format json, its own process) {command_s * 1000:.0f} ms, "
          f"ratio {command_s / REPORT_TARGET:.2f}")
    print(f"        on-time rate {t['on_time_rate']}, compression {t['compression']}, open by card {t['open_by_card']}")

    # 5,000 open cases at a moment in late November
    open_book = CaseBook(clock_from_hall(hall), services)
    moment = datetime(2026, 11, 30, 10, 0, tzinfo=hall.tz)
    for _ in range(args.open):
        at = moment - timedelta(days=rng.randrange(0, 30), minutes=rng.randrange(600))
        case = open_book.accept(at, days=rng.choice((1, 3, 5, 10, 20))).case
        if rng.random() < 0.1:
            open_book.suspend(case.number, at + timedelta(hours=2))
            open_book.resume(case.number, at + timedelta(hours=30))
    t0 = time.perf_counter()
    open_book.cards(moment)
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        cards = open_book.cards(moment + timedelta(minutes=1))
        times.append(time.perf_counter() - t0)
    cached_s = min(times)
    counts = {c: list(cards.values()).count(c) for c in ("green", "yellow", "red")}
    print(f"cards: {args.open} open cases {counts}: first pass (every deadline computed) {first_s * 1000:.1f} ms, "
          f"each minute after {cached_s * 1000:.1f} ms, target {CARDS_TARGET * 1000:.0f} ms, "
          f"ratio {first_s / CARDS_TARGET:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
