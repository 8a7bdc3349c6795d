"""The attendance tables: a closed day judged again when what it was judged from changes, and a private file."""

import os
from datetime import date

import pytest
import sqlite_utils

from hall.settings import load_hall
from hub.attendance import store
from hub.attendance.rules import Schedule, WorkCalendar
from tests.helpers.attendance import at


@pytest.fixture(scope="module")
def hall():
    return load_hall()


def closed_hub_db(hall, data, day=date(2026, 11, 30)):
    """A hub database where s001 punched all day on `day`, which the hub closed; everyone else was absent."""
    db = sqlite_utils.Database(data / "hub.db")
    store.create_tables(db)
    with db.conn:
        for i, t in enumerate(("08:50", "11:45", "12:50", "17:10")):
            moment = at(f"{day} {t}")
            store.insert_punch(db, f"e{i}", "s001", moment, "fp-01", 100, moment, None)
        store.close_date(db, day, [s.id for s in hall.staff], schedule=Schedule.from_rules(hall.attendance),
                         calendar=WorkCalendar.from_rules(hall.attendance), tz=hall.tz, now=at("2026-12-01 00:10"))
    return db


def stored(db, staff, day="2026-11-30"):
    return db.execute("SELECT status, revised, evaluated_at FROM attendance_days WHERE staff=? AND date=?",
                      (staff, day)).fetchone()


def test_closing_a_date_stores_every_persons_day(hall, tmp_path):
    db = closed_hub_db(hall, tmp_path)
    assert stored(db, "s001") == ("ok", 0, "2026-12-01T00:10:00+08:00")
    assert stored(db, "s005")[:2] == ("absent", 0)
    days = store.closed_days(db, date(2026, 11, 1), date(2026, 11, 30))
    assert len(days) == len(hall.staff) and days["s001"][date(2026, 11, 30)].status == "ok"


def test_leave_entered_after_the_day_closed_judges_it_again(hall, tmp_path):
    db = closed_hub_db(hall, tmp_path)
    leave = tmp_path / "leave.csv"
    leave.write_text("staff,start,end,kind\ns005,2026-11-30,2026-12-02,公出\n", encoding="utf-8")
    added, strangers = store.import_leave(hall, tmp_path, leave, now=at("2026-12-01 09:30"))
    assert (added, strangers) == (1, [])
    assert stored(db, "s005") == ("leave", 1, "2026-12-01T09:30:00+08:00")
    # the dates not closed yet are left to the hub, which reads the leave when it closes them
    assert db.execute("SELECT count(*) FROM attendance_days WHERE date > '2026-11-30'").fetchone()[0] == 0
    assert stored(db, "s006")[:2] == ("absent", 0)


def test_a_punch_revises_only_that_persons_closed_day(hall, tmp_path):
    db = closed_hub_db(hall, tmp_path)
    moment = at("2026-11-30 08:55")
    store.insert_punch(db, "late", "s005", moment, "fp-01", 100, moment, None)
    revised = store.revise_days(db, ["s005"], date(2026, 11, 30), date(2026, 11, 30),
                                schedule=Schedule.from_rules(hall.attendance),
                                calendar=WorkCalendar.from_rules(hall.attendance), tz=hall.tz, at=at("2026-12-01 08:00"))
    assert [(d.staff, d.status) for d in revised] == [("s005", "abnormal")]
    assert stored(db, "s005")[:2] == ("abnormal", 1) and stored(db, "s001")[:2] == ("ok", 0)


def test_leave_import_creates_a_private_hub_database(hall, tmp_path):
    leave = tmp_path / "leave.csv"
    leave.write_text("staff,start,end,kind\ns005,2026-11-30,2026-11-30,请假\n", encoding="utf-8")
    data = tmp_path / "var"  # the hub has never run here
    before = os.umask(0o022)
    try:
        assert store.import_leave(hall, data, leave) == (1, [])
    finally:
        os.umask(before)
    assert data.stat().st_mode & 0o777 == 0o700
    journal = [data / name for name in ("hub.db", "hub.db-wal", "hub.db-shm") if (data / name).exists()]
    assert journal and all(f.stat().st_mode & 0o777 == 0o600 for f in journal)
