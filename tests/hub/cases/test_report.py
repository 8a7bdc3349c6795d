"""The cases report judges the stored rows with the rules: its figures are those of the book's own verdicts, case
by case (`CaseBook.on_time`, `days_used`, `card`), for every kind of case: on time, late, suspended across
closing times and resumed, still suspended, withdrawn, open with each card, limits of 0 days."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta

import sqlite_utils

from hall.settings import load_hall
from hub.cases import store
from hub.cases.report import cases_report
from hub.cases.rules import FINISHED, SUSPENDED, WITHDRAWN, CaseBook, clock_from_hall, services_from_hall


def varied_book(hall, n: int, rng: random.Random) -> CaseBook:
    services = services_from_hall(hall)
    items = list(services.values())
    book = CaseBook(clock_from_hall(hall), services)
    start = datetime(2026, 9, 1, 8, 0, tzinfo=hall.tz)
    for _ in range(n):
        at = start + timedelta(days=rng.randrange(90), minutes=rng.randrange(24 * 60))
        spec = rng.choice(items)
        days = None if spec.promised_days is not None or spec.legal_days else rng.choice((0, 1, 3))
        case = book.accept(at, service=spec.id, days=days, reason="r").case
        moment = at
        for _ in range(rng.choice((0, 0, 0, 1, 2))):
            moment += timedelta(hours=rng.randrange(1, 60))
            book.suspend(case.number, moment, "补正")
            if rng.random() < 0.15:
                break  # still suspended
            moment += timedelta(hours=rng.randrange(1, 80), minutes=rng.choice((0, 17)))
            book.resume(case.number, moment)
        if case.status == SUSPENDED and rng.random() < 0.5:
            book.withdraw(case.number, moment + timedelta(hours=1))
        elif case.status != SUSPENDED:
            end = moment + timedelta(days=rng.randrange(0, 2 * case.days + 3), hours=rng.randrange(0, 10))
            roll = rng.random()
            if roll < 0.05:
                book.withdraw(case.number, end)
            elif roll < 0.8:
                book.finish(case.number, end, rng.choice(("approved", "refused")))
            elif roll < 0.9:
                book.start(case.number, end)
    return book


def book_figures(book: CaseBook, now: datetime, first: date, last: date) -> tuple[dict, dict, dict]:
    """The figures from the book's own verdicts, case by case."""
    def tally():
        return defaultdict(int)
    total, depts, items = tally(), defaultdict(tally), defaultdict(tally)
    for case in book.cases.values():
        if not first <= case.accepted_at.astimezone(book.clock.tz).date() <= last:
            continue
        for t in (total, depts[case.department or "-"], items[case.service or "-"]):
            t["accepted"] += 1
            t["promised"] += case.days
            if case.status == FINISHED:
                t["finished"] += 1
                t["used"] += book.days_used(case, now)
                t["on_time" if book.on_time(case) else "late"] += 1
            elif case.status in (WITHDRAWN, SUSPENDED):
                t[case.status] += 1
            else:
                t[book.card(case, now)] += 1
    return total, depts, items


def same(figures: dict, t: dict) -> None:
    assert (figures["accepted"], figures["finished"], figures["on_time"], figures["late"], figures["withdrawn"],
            figures["suspended"]) == (t["accepted"], t["finished"], t["on_time"], t["late"], t["withdrawn"],
                                      t["suspended"])
    assert figures["open_by_card"] == {"green": t["green"], "yellow": t["yellow"], "red": t["red"]}
    assert figures["avg_days_used"] == (round(t["used"] / t["finished"], 2) if t["finished"] else None)
    assert figures["avg_days_promised"] == round(t["promised"] / t["accepted"], 2)


def test_the_report_says_what_the_book_says_case_by_case(tmp_path):
    hall = load_hall()
    book = varied_book(hall, 1500, random.Random(7))
    assert {c.status for c in book.cases.values()} == {"accepted", "in_progress", "suspended", "finished",
                                                       "withdrawn"}
    assert sum(1 for c in book.cases.values() if len(c.suspensions) > 1) > 50
    db = sqlite_utils.Database(tmp_path / "hub.db")
    store.create_tables(db)
    store.save_cases(db, book, list(book.cases.values()), {}, {})
    db.conn.commit()
    first, last = date(2026, 9, 15), date(2026, 11, 15)
    for now in (datetime(2026, 10, 20, 16, 59, tzinfo=hall.tz), datetime(2026, 12, 31, 17, 30, tzinfo=hall.tz)):
        report = cases_report(tmp_path / "hub.db", hall, first, last, now)
        total, depts, items = book_figures(book, now, first, last)
        assert total["accepted"] > 500 and total["green"] + total["yellow"] + total["red"] > 0
        same(report["totals"], total)
        assert [d["department"] for d in report["departments"]] == sorted(depts)
        for d in report["departments"]:
            same(d, depts[d["department"]])
        assert [s["service"] for s in report["services"]] == sorted(items)
        for s in report["services"]:
            same(s, items[s["service"]])
