"""A year at the hall, benchmarked (not a test): the simulated year and the annual table over it.

    .venv/bin/python bench/year.py [--year 2016] [--keep DIR]

1. `hall simulate year`'s work: a whole year of the shipped hall (≈120,000 tickets, ≈145,000 punches, ≈120,000
   cases, ≈800,000 events with their journal rows) through the real queue operations, case book and attendance
   rules into a hub database. Target < 60 s. Beside it, in the same run, the reference: the raw SQLite insert
   rate of the very same rows (every table copied with executemany in one transaction into an empty database of
   the same schema), so the figure says what the rules and the bookkeeping cost over the bare writes.
2. `hall report year --format json` over that journal, as a manager runs it (a process of its own: start-up, the
   hall's config and the calendar included), and the same work in this process. Target < 5 s.

Each figure is printed with its ratio to the target (below 1.00 is within it).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: its queue.py would shadow the standard library's queue

SIMULATE_TARGET = 60.0
REPORT_TARGET = 5.0
TABLES = ("events", "queue_journal", "tickets", "calls", "ratings", "punches", "leave", "attendance_days",
          "attendance_dates", "cases_journal", "cases", "case_cards", "followups", "devices")


def raw_copy(source: Path, target: Path) -> tuple[int, float]:
    """Every row of the simulated journal inserted again into an empty database of the same schema: (rows, s)."""
    from hub.attendance import store as attendance_store
    from hub.cases import store as cases_store
    from hub.queue import store as queue_store
    from hub.store import open_db
    from hub.year.simulate import bulk_load, set_indexes_aside

    db = open_db(target)
    queue_store.create_tables(db)
    attendance_store.create_tables(db)
    cases_store.create_tables(db)
    bulk_load(db)  # as the simulation writes
    src = sqlite3.connect(source)
    batches = []
    for table in TABLES:
        columns = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
        rows = src.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
        batches.append((f"INSERT INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows))
    src.close()
    count = sum(len(rows) for _, rows in batches)
    started = time.perf_counter()
    with db.conn:
        indexes = set_indexes_aside(db)  # as the simulation loads: indexes built once at the end
        for sql, rows in batches:
            db.conn.executemany(sql, rows)
        for sql in indexes:
            db.execute(sql)
    seconds = time.perf_counter() - started
    db.close()
    return count, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2016)
    parser.add_argument("--keep", type=Path, default=None, help="write the journal here and keep it")
    args = parser.parse_args()

    from hall.settings import load_hall, load_year_simulation
    from hub.year.report import year_report
    from hub.year.simulate import simulate

    hall = load_hall()
    sim = load_year_simulation(hall=hall)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.keep or Path(tmp) / "sim"
        print(f"1. simulated year {args.year} → {data / 'hub.db'}", flush=True)
        started = time.perf_counter()
        figures = simulate(hall, sim, data, date(args.year, 1, 1), date(args.year, 12, 31),
                           progress=lambda text: print("   " + text, flush=True))
        seconds = time.perf_counter() - started
        print(f"   {figures.days} working days, {figures.tickets:,} tickets, {figures.punches:,} punches, "
              f"{figures.cases:,} cases, {figures.events:,} events, {figures.rows:,} rows")
        print(f"   simulated year: {seconds:.1f} s, {figures.events / seconds:,.0f} events/s, "
              f"{figures.rows / seconds:,.0f} rows/s — target {SIMULATE_TARGET:.0f} s: ratio "
              f"{seconds / SIMULATE_TARGET:.2f}", flush=True)
        rows, raw = raw_copy(data / "hub.db", Path(tmp) / "raw" / "hub.db")
        print(f"   reference, the same {rows:,} rows inserted raw (executemany, one transaction): {raw:.1f} s, "
              f"{rows / raw:,.0f} rows/s — the simulation takes {seconds / raw:.1f}× the bare writes", flush=True)

        print(f"2. hall report year --year {args.year} over that journal")
        started = time.perf_counter()
        table, _ = year_report(hall, data / "hub.db", args.year)
        inside = time.perf_counter() - started
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "hallctl.cli", "report", "year", "--year", str(args.year),
                              "--data", str(data), "--format", "json"], capture_output=True, text=True, cwd=ROOT,
                             env={**os.environ})
        command = time.perf_counter() - started
        if out.returncode != 0:
            print(out.stderr)
            return 1
        t = table["totals"]
        print(f"   {t['cases_accepted']:,} cases, on time {t['on_time_rate']:.2%}, satisfaction "
              f"{t['satisfaction']['rate']:.2%}, {t['tickets_issued']:,} tickets, wait median {t['median_wait_min']} "
              f"p90 {t['p90_wait_min']} min, {table['red_flag_windows']} red flag windows, {table['service_stars']} "
              f"stars, allowance {table['allowance_total']:,} yuan")
        print(f"   in this process: {inside:.2f} s — target {REPORT_TARGET:.0f} s: ratio {inside / REPORT_TARGET:.2f}")
        print(f"   as the command (start-up included): {command:.2f} s — target {REPORT_TARGET:.0f} s: ratio "
              f"{command / REPORT_TARGET:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
