"""Which terminals a waiting date names as silent: only those the hub has received nothing from for a while."""

from datetime import timedelta

import pytest
import sqlite_utils

from hall.settings import load_hall
from hub.store import create_schema
from tests.helpers.attendance import at
from tests.hub.attendance.test_domain import Feed


@pytest.fixture
def feed(tmp_path):
    db = sqlite_utils.Database(tmp_path / "hub.db")
    create_schema(db)
    return Feed(load_hall(), db)


def received(feed, device: str, when: str) -> None:
    feed.db.execute("UPDATE devices SET last_seen=? WHERE id=?", (at(when).isoformat(), device))
    feed.db.conn.commit()


def test_a_terminal_still_sending_with_a_clock_behind_holds_the_date_without_a_warning(feed, caplog):
    # a simulated day two days back, as `hall up` plays at a weekend: the terminals send now, stamped then
    feed.punch("s001", "2026-12-04 08:58")
    feed.heartbeat("fp-02", "2026-12-04 09:10")
    for device in ("fp-01", "fp-02"):
        received(feed, device, "2026-12-06 07:25")
    payload = feed.tick("2026-12-06 07:26")[-1][1]
    assert payload == {"date": "2026-12-04", "final": False, "waiting_for": ["fp-01", "fp-02"], "warning": None}
    assert "not heard from" not in caplog.text


def test_only_the_silent_terminal_is_named(feed):
    feed.punch("s001", "2026-11-30 08:58")
    feed.punch("s002", "2026-11-30 09:01", device="fp-02")
    received(feed, "fp-01", "2026-12-01 01:55")       # draining a backlog still stamped the day before
    received(feed, "fp-02", "2026-11-30 17:30")       # unplugged in the afternoon
    payload = feed.tick("2026-12-01 02:30")[-1][1]
    assert payload["waiting_for"] == ["fp-01", "fp-02"]
    assert "fp-02" in payload["warning"] and "fp-01" not in payload["warning"]


def test_a_terminal_quiet_since_the_window_closed_is_named_after_the_grace(feed):
    feed.punch("s001", "2026-11-30 08:58")
    for device in ("fp-01", "fp-02"):
        feed.heartbeat(device, "2026-11-30 23:00")
        received(feed, device, "2026-11-30 23:00")
    assert feed.tick("2026-12-01 01:00")[-1][1]["warning"] is None
    later = at("2026-11-30 23:59") + timedelta(hours=2)
    assert "fp-01、fp-02" in feed.tick(later.strftime("%Y-%m-%d %H:%M"))[-1][1]["warning"]
