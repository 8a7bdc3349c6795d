"""`hall up` runs a whole hall headless and accounts for every event it made."""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.helpers.cli import run_hall


@pytest.mark.slow
def test_hall_up_headless_runs_and_stops_with_a_summary(tmp_path):
    data = tmp_path / "hall"
    result = run_hall("up", "--headless", "--duration", "25", "--data", str(data), "--speed", "120",
                      env={"DISPLAY": ""}, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    port = int(re.search(r"broker\s+127\.0\.0\.1:(\d+)", out).group(1))
    assert port != 1883  # never the system broker's port
    m = re.search(r"sent (\d+) events, stored (\d+) \(\+(\d+) resends absorbed\), rejected (\d+), "
                  r"still queued on devices (\d+)", out)
    assert m, out
    sent, stored, _dups, rejected, pending = map(int, m.groups())
    assert rejected == 0
    assert sent > 100 and sent == stored + pending
    with sqlite3.connect(data / "hub.db") as db:
        types = dict(db.execute("SELECT type, count(*) FROM events GROUP BY type").fetchall())
        tickets = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    assert {"health", "punch", "ticket_request", "call_next", "login"} <= set(types), types
    assert tickets > 0

    assert len(list((data / "led").glob("screen-*.png"))) == 36  # 34 window screens and 2 strips, rendered

    stats = run_hall("stats", "--data", str(data), "--json")
    assert stats.returncode == 0 and '"events": ' in stats.stdout
    text = run_hall("stats", "--data", str(data))
    assert "events stored" in text.stdout and "kiosk-02" in text.stdout


def test_hall_up_refuses_a_port_in_use(tmp_path, rig):
    result = run_hall("up", "--headless", "--duration", "1", "--data", str(tmp_path / "x"), "--port", str(rig.port))
    assert result.returncode != 0 and "already in use" in (result.stderr + result.stdout)
