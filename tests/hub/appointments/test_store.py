"""The bookings table: a person's bookings of a day are found by the person's index, whatever the queue's day holds,
and a database made by an earlier version gets that index."""

from __future__ import annotations

import sqlite_utils

from hub.appointments import store


def plan(db: sqlite_utils.Database, sql: str) -> str:
    """SQLite's plan for a statement as the trace gave it (its values written in)."""
    return " / ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall())


def test_a_persons_bookings_of_a_day_are_found_by_the_person_not_by_walking_the_queues_day(tmp_path):
    db = sqlite_utils.Database(tmp_path / "hub.db")
    store.create_tables(db)
    asked = []
    db.conn.set_trace_callback(asked.append)
    store.person_on(db, "h", "2026-12-07", "B")
    store.person_on(db, "h", "2026-12-07", statuses=("booked", "no_show", "checked_in"))
    db.conn.set_trace_callback(None)
    # a busy slot's day holds thousands of bookings: one booking's checks must not read them all
    assert [plan(db, sql) for sql in asked] == [
        "SEARCH bookings USING INDEX bookings_person_day (id_hash=? AND date=? AND queue=?) / "
        "USE TEMP B-TREE FOR ORDER BY",
        "SEARCH bookings USING INDEX bookings_person_day (id_hash=? AND date=?) / USE TEMP B-TREE FOR ORDER BY"]


def test_the_earlier_person_index_gives_way(tmp_path):
    db = sqlite_utils.Database(tmp_path / "hub.db")
    store.create_tables(db)
    db.execute("DROP INDEX bookings_person_day")
    db.execute("CREATE INDEX bookings_person ON bookings(id_hash, date)")
    store.create_tables(db)
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'bookings'")}
    assert "bookings_person" not in names and "bookings_person_day" in names
