"""A hub journal with known days for the console's figures: scripted days run through the real queue engine and
written with the queue store's own functions (the rows the hub's queue domain writes), so every figure of the
Today, History and Reports pages can be checked to the second.

The known day, 2026-11-30 (a Monday), on the shipped hall (queue A at windows 1–3 of 市场监管 scjg, queue B at
windows 4–6 of 不动产 bdc):

    09:00 A001 issued   09:30 called at 1 (wait 30 min)   09:40 done (10 min)      rated 5
    09:10 A002 issued   10:05 called at 1 (wait 55 min)   10:06 skipped: no-show
    09:20 B001 issued   09:45 called at 4 (wait 25 min)   10:15 done (30 min)      rated 2
    10:20 A003 issued   10:30 called at 2 (wait 10 min)   10:42 done (12 min)      rated 4
    13:10 B002 issued   still waiting

and 2026-12-01: 09:00 A001 issued, 09:10 called at 1 (wait 10 min), 09:20 done (10 min).

Punches on 2026-11-30 (PUNCHES): s001 all four slots on time; s002 in at 09:07 (7 minutes late) and out at 11:30
(10 minutes early), nothing in the afternoon; s003 on leave all day (LEAVE); everyone else nothing.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

DAY = date(2026, 11, 30)
NEXT_DAY = date(2026, 12, 1)

SCRIPTS = {
    DAY: [
        ("09:00", "login", "1"), ("09:00", "login", "2"), ("09:00", "login", "4"),
        ("09:00", "issue", "A", "scjg-001"), ("09:10", "issue", "A", "scjg-002"), ("09:20", "issue", "B", None),
        ("09:30", "call_next", "1"), ("09:40", "complete", "1"), ("09:41", "rate", "1", 5),
        ("09:45", "call_next", "4"), ("10:05", "call_next", "1"), ("10:06", "skip", "1"),
        ("10:15", "complete", "4"), ("10:16", "rate", "4", 2),
        ("10:20", "issue", "A", "scjg-001"), ("10:30", "call_next", "2"), ("10:42", "complete", "2"),
        ("10:43", "rate", "2", 4), ("13:10", "issue", "B", None),
    ],
    NEXT_DAY: [
        ("09:00", "login", "1"), ("09:00", "issue", "A", "scjg-001"), ("09:10", "call_next", "1"),
        ("09:20", "complete", "1"),
    ],
}


PUNCHES = [("s001", "08:55"), ("s001", "11:45"), ("s001", "12:55"), ("s001", "17:02"),
           ("s002", "09:07"), ("s002", "11:30")]
LEAVE = [("s003", "2026-11-30T08:00:00+08:00", "2026-11-30T18:00:00+08:00", "leave")]


def write_punches(hall, db_path: Path) -> None:
    """The known day's punches and leave, with the attendance store's own functions (the hub's tables)."""
    from hub.attendance import store
    from hub.store import open_db

    db = open_db(db_path)
    store.create_tables(db)
    with db.conn:
        for i, (staff, clock) in enumerate(PUNCHES):
            at = datetime.combine(DAY, time.fromisoformat(clock), tzinfo=hall.tz)
            store.insert_punch(db, f"punch-{i}", staff, at, "fp-01", 90, at, None)
        for staff, start, end, kind in LEAVE:
            db.execute("INSERT INTO leave(staff, start, end, kind) VALUES (?,?,?,?)", (staff, start, end, kind))
        # the hub has closed the day (no terminal owed), so the month's report counts it
        db.execute("INSERT OR REPLACE INTO attendance_dates(date, final) VALUES (?, 1)", (DAY.isoformat(),))
    db.close()


def write_days(hall, db_path: Path, scripts: dict | None = None) -> Path:
    """Run each scripted day through the queue engine and write its tickets, calls and ratings into `db_path`."""
    from hub.queue import store
    from hub.queue.engine import QueueEngine, layout_from_hall, rules_from_hall
    from hub.store import create_schema, open_db

    db = open_db(db_path)
    create_schema(db)
    store.create_tables(db)
    for day, steps in (scripts or SCRIPTS).items():
        engine = QueueEngine(layout_from_hall(hall), rules_from_hall(hall), day)
        tickets, calls = {}, {}
        with db.conn:
            for clock, op, *args in steps:
                at = datetime.combine(day, time.fromisoformat(clock), tzinfo=hall.tz)
                if op == "login":
                    staff = next(s.id for s in hall.staff if s.window == args[0])
                    out = engine.login(args[0], staff, at)
                elif op == "issue":
                    out = engine.issue_ticket(args[0], at, service=args[1])
                elif op == "rate":
                    out = engine.rate(args[0], None, at)
                    assert out.ok, (clock, op, out.code)
                    store.save_rating(db, day=day, at=at, window=args[0], ticket=out.ticket.no, staff=out.staff,
                                      score=args[1], event=None, device=f"rater-{args[0]}")
                    continue
                else:
                    out = getattr(engine, op)(args[0], at)
                assert out.ok, (clock, op, out.code)
                for t in out.tickets + ([out.ticket] if out.ticket else []):
                    tickets[t.no] = t
                for c in out.calls + ([out.call] if out.call else []):
                    calls[c.n] = c
            store.save_tickets(db, [(day, t, "kiosk-01", None) for t in tickets.values()])
            store.save_calls(db, [(day, c) for c in calls.values()])
    db.close()
    return db_path


def figures_console(tmp: Path):
    """The console over a data folder holding the known days and the console's people, with no broker: the figure
    pages read only the journal. Returns (app, hall)."""
    from hall.settings import load_hall
    from tests.helpers.queueing import all_day_hall
    from tests.helpers.web import PEOPLE
    from web import users
    from web.app import create_app

    hall = load_hall(all_day_hall(tmp / "config"))
    data = tmp / "data"
    write_days(hall, data / "hub.db")
    write_punches(hall, data / "hub.db")
    db = users.open_db(data)
    for name, (role, dept, password) in PEOPLE.items():
        users.add_user(db, name, role, dept, password)
    db.close()
    return create_app(hall, data, connect=False), hall
