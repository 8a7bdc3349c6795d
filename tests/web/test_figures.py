"""The Today and History figures on a known journal (tests/helpers/figures_journal.py), to the second."""

from __future__ import annotations

import sqlite3
import time
from datetime import date, timedelta

import pytest

from hall.settings import load_hall
from tests.helpers.figures_journal import DAY, NEXT_DAY, write_days
from web.figures import Scope, buckets, day_figures, history_figures, median, p90


@pytest.fixture(scope="module")
def hall():
    return load_hall()


@pytest.fixture(scope="module")
def journal(hall, tmp_path_factory):
    path = write_days(hall, tmp_path_factory.mktemp("journal") / "hub.db")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    yield conn
    conn.close()


def test_median_is_the_middle_and_p90_the_nearest_rank():
    assert median([1, 3, 2]) == 2 and median([1, 2, 3, 4]) == 2.5 and median([]) is None
    assert p90(list(range(1, 11))) == 9 and p90([5]) == 5 and p90([1, 2, 3, 4]) == 4 and p90([]) is None


def test_the_day_by_hour(journal, hall):
    hours = {h["hour"]: h for h in day_figures(journal, DAY, hall)["hours"]}
    assert sorted(hours) == list(range(9, 17))  # the hall's opening hours, 09:00–17:00
    assert [hours[h]["issued"] for h in range(9, 17)] == [3, 1, 0, 0, 1, 0, 0, 0]
    assert [hours[h]["served"] for h in range(9, 17)] == [1, 2, 0, 0, 0, 0, 0, 0]
    assert hours[10]["no_show"] == 1
    # waits of the tickets issued at 09: 30, 55 and 25 minutes
    assert (hours[9]["wait_median_s"], hours[9]["wait_p90_s"], hours[9]["wait_longest_s"]) == (1800, 3300, 3300)
    assert hours[10]["wait_median_s"] == 600 and hours[13]["wait_median_s"] is None  # B002 still waits


def test_the_day_by_queue_and_window_and_its_totals(journal, hall):
    f = day_figures(journal, DAY, hall)
    a, b = (next(q for q in f["queues"] if q["queue"] == k) for k in "AB")
    assert (a["issued"], a["served"], a["no_show"], a["waiting"]) == (3, 2, 1, 0)
    assert (a["wait_median_s"], a["wait_p90_s"], a["wait_longest_s"], a["handling_avg_s"]) == (1800, 3300, 3300, 660)
    assert (b["issued"], b["served"], b["waiting"], b["wait_median_s"], b["handling_avg_s"]) == (2, 1, 1, 1500, 1800)
    w = {x["window"]: x for x in f["windows"]}
    assert (w["1"]["called"], w["1"]["served"], w["1"]["no_show"], w["1"]["handling_avg_s"]) == (2, 1, 1, 600)
    assert (w["1"]["ratings"], w["1"]["satisfaction"]) == (1, 1.0)
    assert (w["4"]["handling_avg_s"], w["4"]["avg_score"], w["4"]["satisfaction"]) == (1800, 2.0, 0.0)
    assert len(f["windows"]) == len(hall.catalogue.windows)  # every window, idle ones too
    t = f["totals"]
    assert (t["issued"], t["served"], t["no_show"], t["waiting"]) == (5, 3, 1, 1)
    assert (t["wait_median_s"], t["wait_p90_s"], t["wait_longest_s"]) == (1650, 3300, 3300)
    assert (t["handling_median_s"], t["handling_avg_s"]) == (720, 1040)
    assert (t["ratings"], t["good"], t["satisfaction"], t["avg_score"]) == (3, 2, 0.6667, 3.67)


def test_the_day_agrees_with_the_queue_day_report(journal, hall, tmp_path):
    from hub.queue.report import day_report

    path = journal.execute("PRAGMA database_list").fetchone()[2]
    report = day_report(path, DAY, hall)
    f = day_figures(journal, DAY, hall)
    assert report["totals"]["issued"] == f["totals"]["issued"]
    assert report["totals"]["served"] == f["totals"]["served"]
    assert report["totals"]["no_show"] == f["totals"]["no_show"]
    assert report["totals"]["longest_wait_s"] == f["totals"]["wait_longest_s"]
    assert report["totals"]["avg_handling_s"] == f["totals"]["handling_avg_s"]


def test_a_department_head_sees_only_their_queues_and_windows(journal, hall):
    scope = Scope.of(hall, "bdc")
    f = day_figures(journal, DAY, hall, scope)
    assert {q["queue"] for q in f["queues"]} == {q.id for q in hall.catalogue.queues if q.department == "bdc"}
    assert all(w["department"] == "bdc" for w in f["windows"])
    assert (f["totals"]["issued"], f["totals"]["served"], f["totals"]["ratings"]) == (2, 1, 1)
    assert sum(h["issued"] for h in f["hours"]) == 2
    h = history_figures(journal, DAY, NEXT_DAY, hall, by="queue", scope=scope)
    assert [g["key"] for g in h["groups"]] == ["B"] and h["totals"]["issued"] == 2


def test_history_by_day_week_month_and_year(journal, hall):
    by_day = history_figures(journal, DAY, NEXT_DAY, hall, period="day")
    assert [(p["period"], p["issued"], p["served"]) for p in by_day["periods"]] == [
        ("2026-11-30", 5, 3), ("2026-12-01", 1, 1)]
    by_week = history_figures(journal, DAY, NEXT_DAY, hall, period="week")
    assert [(p["period"], p["issued"], p["wait_median_s"]) for p in by_week["periods"]] == [("2026-W49", 6, 1500)]
    by_month = history_figures(journal, DAY, NEXT_DAY, hall, period="month")
    assert [p["period"] for p in by_month["periods"]] == ["2026-11", "2026-12"]
    by_year = history_figures(journal, date(2026, 1, 1), date(2026, 12, 31), hall, period="year")
    [year] = by_year["periods"]
    assert (year["period"], year["issued"], year["served"], year["no_show"]) == ("2026", 6, 4, 1)
    assert (year["ratings"], year["satisfaction"]) == (3, 0.6667)


def test_history_per_queue_department_service_and_staff(journal, hall):
    q = history_figures(journal, DAY, NEXT_DAY, hall, by="queue")
    assert [(g["key"], g["issued"], g["served"]) for g in q["groups"]] == [("A", 4, 3), ("B", 2, 1)]
    d = history_figures(journal, DAY, NEXT_DAY, hall, by="department")
    assert [(g["key"], g["issued"], g["satisfaction"]) for g in d["groups"]] == [("scjg", 4, 1.0), ("bdc", 2, 0.0)]
    s = {g["key"]: g for g in history_figures(journal, DAY, NEXT_DAY, hall, by="service")["groups"]}
    assert (s["scjg-001"]["issued"], s["scjg-001"]["served"]) == (3, 3)
    assert (s["scjg-002"]["issued"], s["scjg-002"]["no_show"]) == (1, 1)
    assert s[None]["issued"] == 2 and s[None]["name"] == "（未注明）"   # B's tickets named no service item
    staff = {g["key"]: g for g in history_figures(journal, DAY, NEXT_DAY, hall, by="staff")["groups"]}
    assert (staff["s001"]["served"], staff["s001"]["no_show"], staff["s001"]["handling_avg_s"]) == (2, 1, 600)
    assert staff["s001"]["issued"] is None and staff["s016"]["avg_score"] == 2.0
    cells = history_figures(journal, DAY, NEXT_DAY, hall, by="queue", period="day")["cells"]
    assert {(c["key"], c["period"]): c["served"] for c in cells} == {
        ("A", "2026-11-30"): 2, ("A", "2026-12-01"): 1, ("B", "2026-11-30"): 1}


def test_every_period_is_listed_even_an_empty_one_and_bad_asks_are_refused(journal, hall):
    assert buckets(date(2026, 12, 28), date(2027, 1, 4), "week") == ["2026-W53", "2027-W01"]
    h = history_figures(journal, date(2026, 11, 29), NEXT_DAY, hall, period="day")
    assert [p["issued"] for p in h["periods"]] == [0, 5, 1]
    with pytest.raises(ValueError):
        history_figures(journal, NEXT_DAY, DAY, hall)
    with pytest.raises(ValueError):
        history_figures(journal, DAY, NEXT_DAY, hall, period="fortnight")
    with pytest.raises(ValueError):
        history_figures(journal, date(2020, 1, 1), date(2026, 1, 1), hall, period="day")  # 2,000 columns


def test_an_empty_or_missing_journal_reads_as_nothing(hall):
    conn = sqlite3.connect(":memory:")
    assert day_figures(conn, DAY, hall)["totals"]["issued"] == 0
    assert history_figures(conn, DAY, NEXT_DAY, hall)["groups"] == []


def year_of_tickets(path, hall, per_day: int = 500) -> int:
    """A busy year written straight into the queue's tables (250 workdays × `per_day` tickets, their calls and a
    rating for one in five): only for timing."""
    from hub.queue import store
    from hub.store import create_schema, open_db

    db = open_db(path)
    create_schema(db)
    store.create_tables(db)
    queues = [q.id for q in hall.catalogue.queues]
    windows = {q.id: next(w.id for w in hall.catalogue.windows if q.id in w.queues) for q in hall.catalogue.queues}
    day, days, rows, calls, ratings = date(2025, 1, 1), 0, [], [], []
    while days < 250:
        if day.weekday() < 5:
            days += 1
            for i in range(per_day):
                q = queues[i % len(queues)]
                issued = f"{day}T{9 + i * 7 // per_day:02d}:{i % 60:02d}:00.000+08:00"
                called = f"{day}T{9 + i * 7 // per_day:02d}:{i % 60:02d}:{i % 50 + 5:02d}.000+08:00"
                no = f"{q}{i:03d}"
                rows.append((day.isoformat(), no, q, q, None, 0, "kiosk", "kiosk-01", None, issued, "done",
                             windows[q], called, called, None, 0, 0))
                calls.append((day.isoformat(), i + 1, no, q, windows[q], None, called, 0, called, "done"))
                if i % 5 == 0:
                    ratings.append((None, "rater", day.isoformat(), called, windows[q], no, None, 4, 1))
        day += timedelta(days=1)
    with db.conn:
        # by name: the hub's tickets table grows columns (the page token, the phone, the booked slot)
        db.conn.executemany("INSERT INTO tickets(day, no, queue, origin, service, priority, channel, device, event, "
                            "issued_at, status, window, called_at, done_at, no_show_at, transfers, requeues) "
                            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.conn.executemany("INSERT INTO calls VALUES (?,?,?,?,?,?,?,?,?,?)", calls)
        db.conn.executemany("INSERT INTO ratings(event, device, day, at, window, ticket, staff, score, good) "
                            "VALUES (?,?,?,?,?,?,?,?,?)", ratings)
    db.close()
    return len(rows)


def test_a_year_by_week_month_and_year_stays_fast(hall, tmp_path):
    count = year_of_tickets(tmp_path / "hub.db", hall)
    conn = sqlite3.connect(f"file:{tmp_path / 'hub.db'}?mode=ro", uri=True)
    timings = {}
    for period in ("week", "month", "year"):
        started = time.perf_counter()
        h = history_figures(conn, date(2025, 1, 1), date(2025, 12, 31), hall, period=period, by="queue")
        timings[period] = time.perf_counter() - started
        assert h["totals"]["issued"] == count
    started = time.perf_counter()
    day_figures(conn, date(2025, 6, 2), hall)
    timings["today"] = time.perf_counter() - started
    conn.close()
    print("a year of", count, "tickets:", {k: f"{v * 1000:.0f} ms" for k, v in timings.items()})
    assert max(timings[p] for p in ("week", "month", "year")) < 5.0, timings  # two shared cores: generous
    assert timings["today"] < 0.5, timings
