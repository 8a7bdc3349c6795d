"""AttendanceDomain on a real SQLite journal, fed events as ingest would."""

import json
from datetime import datetime, timedelta

import pytest
import sqlite_utils

from hall.protocol import Punch as PunchData
from hall.protocol import dumps
from hall.settings import load_hall
from hub.attendance.domain import AttendanceDomain
from hub.domain import Emit, Event
from hub.store import create_schema
from tests.helpers.attendance import TZ, at


@pytest.fixture(scope="module")
def hall():
    return load_hall()


@pytest.fixture
def db(tmp_path):
    d = sqlite_utils.Database(tmp_path / "hub.db")
    create_schema(d)
    return d


class Feed:
    """Events into the domain the way ingest gives them, plus the journal rows ingest would write."""

    def __init__(self, hall, db):
        self.db = db
        self.domain = AttendanceDomain(hall)
        self.emit = Emit()
        self.domain.setup(db, self.emit)

    def event(self, device: str, event_type: str, data, ts: datetime, received: datetime | None = None) -> str:
        seq = (self.db.execute("SELECT max(seq) FROM events WHERE device=?", (device,)).fetchone()[0] or 0) + 1
        event_id = f"{device}-{seq:08d}"
        received = received or ts
        ev = Event(event_id, device, "terminal", event_type, seq, ts, received, data,
                   data.model_dump(mode="json") if hasattr(data, "model_dump") else data)
        if event_type == "punch":
            with self.db.conn:
                self.domain.apply(self.db, ev, self.emit)
        self.db.execute("INSERT INTO events(id, device, type, seq, ts, received_at, data) VALUES (?,?,?,?,?,?,?)",
                        (event_id, device, event_type, seq, ts.isoformat(), received.isoformat(), "{}"))
        self.db.execute("INSERT INTO devices(id, kind, watermark) VALUES (?, 'terminal', ?) "
                        "ON CONFLICT(id) DO UPDATE SET watermark=excluded.watermark", (device, seq))
        self.db.conn.commit()
        return event_id

    def punch(self, staff: str, when: str, device: str = "fp-01", delay: timedelta = timedelta(0)) -> str:
        moment = at(when)
        return self.event(device, "punch", PunchData(staff=staff, at=moment.isoformat(), score=120), moment, moment + delay)

    def heartbeat(self, device: str, when: str) -> None:
        self.event(device, "health", {"sensor": "ok"}, at(when))

    def tick(self, when: str) -> list:
        self.emit = Emit()
        with self.db.conn:
            self.domain.tick(self.db, at(when), self.emit)
        # as the wire carries them
        return [(suffix, json.loads(dumps(payload)), retain) for suffix, payload, retain in self.emit.drain()]

    def day(self, staff: str, date_: str):
        row = self.db.execute("SELECT status, slots, revised FROM attendance_days WHERE staff=? AND date=?",
                              (staff, date_)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]) if row[1] else None, row[2])


def test_punches_are_stored_with_event_terminal_and_score(hall, db):
    feed = Feed(hall, db)
    eid = feed.punch("s023", "2026-11-30 08:59:12", delay=timedelta(seconds=2))
    row = db.execute("SELECT event_id, staff, at, date, terminal, score, received_at, flag FROM punches").fetchone()
    assert row == (eid, "s023", "2026-11-30T08:59:12.000+08:00", "2026-11-30", "fp-01", 120,
                   "2026-11-30T08:59:14.000+08:00", None)


def test_unknown_staff_is_stored_and_flagged(hall, db, caplog):
    feed = Feed(hall, db)
    feed.punch("s999", "2026-11-30 08:59")
    assert db.execute("SELECT staff, flag FROM punches").fetchall() == [("s999", "unknown_staff")]
    assert "s999" in caplog.text


def test_a_day_closes_once_every_terminal_is_heard_after_the_evening_window(hall, db):
    feed = Feed(hall, db)
    for t in ("08:58", "11:41", "12:59", "17:02"):
        feed.punch("s001", f"2026-11-30 {t}")
    feed.punch("s002", "2026-11-30 09:05", device="fp-02")
    feed.tick("2026-11-30 23:00")
    assert feed.day("s001", "2026-11-30") is None  # the evening window is still open
    feed.heartbeat("fp-01", "2026-12-01 00:05")
    messages = feed.tick("2026-12-01 00:06")
    assert feed.day("s001", "2026-11-30") is None  # fp-02 not heard from yet
    assert messages[-1][1] == {"date": "2026-11-30", "final": False, "waiting_for": ["fp-02"], "warning": None}
    feed.heartbeat("fp-02", "2026-12-01 00:10")
    messages = feed.tick("2026-12-01 00:11")
    assert feed.day("s001", "2026-11-30")[0] == "ok"
    assert feed.day("s002", "2026-11-30")[1]["am_in"] == {"status": "late", "at": "09:05:00", "minutes": 5}
    assert feed.day("s003", "2026-11-30")[0] == "absent"
    assert db.execute("SELECT count(*) FROM attendance_days").fetchone()[0] == len(hall.staff)
    (suffix, payload, retain), = messages
    assert suffix == ("hub", "state", "attendance") and retain and payload["final"] is True
    assert payload["counts"]["absent"] == len(hall.staff) - 2


def test_a_silent_terminal_is_named_instead_of_marking_people_absent(hall, db, caplog):
    feed = Feed(hall, db)
    feed.heartbeat("fp-02", "2026-11-29 20:00")  # in service: heard from before, silent since
    feed.punch("s001", "2026-11-30 08:58")
    feed.heartbeat("fp-01", "2026-12-01 00:05")
    feed.tick("2026-12-01 01:00")
    assert "fp-02" not in caplog.text
    messages = feed.tick("2026-12-01 02:30")
    assert feed.day("s003", "2026-11-30") is None
    payload = messages[-1][1]
    assert payload["waiting_for"] == ["fp-02"] and "fp-02" in payload["warning"]
    assert payload["warning"].startswith("考勤机")
    assert "fp-02" in caplog.text
    assert db.execute("SELECT final, waiting_for FROM attendance_dates").fetchone() == (0, '["fp-02"]')


def test_a_punch_delivered_after_the_day_closed_revises_that_day(hall, db):
    feed = Feed(hall, db)
    feed.punch("s001", "2026-11-30 08:58")
    for device in ("fp-01", "fp-02"):
        feed.heartbeat(device, "2026-12-01 00:05")
    feed.tick("2026-12-01 00:10")
    assert feed.day("s004", "2026-11-30")[0] == "absent"
    feed.punch("s004", "2026-11-30 08:50", delay=timedelta(hours=10))
    status, slots, revised = feed.day("s004", "2026-11-30")
    assert (status, slots["am_in"]["status"], revised) == ("abnormal", "ok", 1)


def test_rest_days_close_too_and_the_hub_resumes_after_a_restart(hall, db):
    feed = Feed(hall, db)
    feed.punch("s001", "2026-11-28 10:00")  # a Saturday
    for device in ("fp-01", "fp-02"):
        feed.heartbeat(device, "2026-11-29 00:01")
    feed.tick("2026-11-29 00:02")
    assert feed.day("s001", "2026-11-28") == ("rest", None, 0)
    again = Feed(hall, db)  # a restarted hub
    assert again.domain._open.isoformat() == "2026-11-29"
    for device in ("fp-01", "fp-02"):
        again.heartbeat(device, "2026-12-01 00:01")
    again.tick("2026-12-01 00:02")
    assert again.day("s001", "2026-11-29")[0] == "rest"
    assert again.day("s001", "2026-11-30")[0] == "absent"
    assert db.execute("SELECT count(*) FROM attendance_dates WHERE final=1").fetchone()[0] == 3


def test_leave_in_the_hub_database_counts(hall, db):
    feed = Feed(hall, db)
    db.execute("INSERT INTO leave(staff, start, end, kind) VALUES ('s005', ?, ?, 'business')",
               (at("2026-11-30 00:00").isoformat(), at("2026-11-30 23:59").isoformat()))
    feed.punch("s001", "2026-11-30 08:58")
    for device in ("fp-01", "fp-02"):
        feed.heartbeat(device, "2026-12-01 00:05")
    feed.tick("2026-12-01 00:10")
    assert feed.day("s005", "2026-11-30")[0] == "leave"


def test_tick_is_cheap_while_nothing_closes(hall, db):
    feed = Feed(hall, db)
    feed.tick("2026-11-30 10:00")
    calls = []
    feed.domain.heard_since = lambda *a: calls.append(a)
    for minute in range(10):
        feed.tick(f"2026-11-30 10:{minute:02d}")
    assert calls == []
    assert TZ  # the hall's zone is the one the tests write times in


def test_an_earlier_date_that_never_closed_is_closed_in_turn(hall, db):
    feed = Feed(hall, db)
    feed.tick("2026-12-02 10:00")  # a hub started on the 2nd: it would begin there
    feed.punch("s001", "2026-11-30 08:58")  # a terminal's backlog from before
    for device in ("fp-01", "fp-02"):
        feed.heartbeat(device, "2026-12-02 10:01")
    feed.tick("2026-12-02 10:02")
    assert feed.day("s001", "2026-11-30")[0] == "abnormal"
    assert feed.day("s001", "2026-12-01")[0] == "absent"
    assert feed.day("s001", "2026-12-02") is None  # still open


def test_a_terminal_never_heard_from_is_not_waited_for(hall, db):
    """A terminal that has never reported (just configured, or a login left free for an outside device) holds no
    punches of this hall: dates close without it."""
    feed = Feed(hall, db)
    feed.punch("s001", "2026-11-30 08:58")
    feed.heartbeat("fp-01", "2026-12-01 00:05")
    payload = feed.tick("2026-12-01 02:30")[-1][1]
    assert payload["date"] == "2026-11-30" and payload["final"] is True

