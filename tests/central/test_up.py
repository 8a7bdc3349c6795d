"""`hall up` starts the uplink when hall.toml names a central address, and `hall central up --json` prints its
figures."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from central.consumer import Consumer
from central.uplink import CURSOR_FILE
from tests.helpers.central import CONFIG, CONFIG_HALL, fresh_database, needs_central, run_apart, stored

pytestmark = needs_central


def acknowledged(data) -> int:
    """Rows the uplink's cursor has passed (each source's ids run from 1 without gaps)."""
    cursor = sqlite3.connect(data / CURSOR_FILE)
    try:
        return sum(last for (last,) in cursor.execute("SELECT last FROM cursor"))
    finally:
        cursor.close()


@pytest.mark.slow
def test_hall_up_starts_the_uplink_when_hall_toml_names_a_central_address(tmp_path, cluster, pg):
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    (config / "central.pass").write_text(cluster.passwords[CONFIG_HALL])
    with open(config / "hall.toml", "a") as f:
        f.write(f'\n[central]\nurl = "{",".join(cluster.urls)}"\npassword_file = "central.pass"\n')
    data = tmp_path / "data"
    done = subprocess.run([sys.executable, "-m", "hallctl.cli", "up", "--headless", "--duration", "15",
                           "--config", str(config / "hall.toml"), "--data", str(data)],
                          capture_output=True, text=True, timeout=180, env={**os.environ, "DISPLAY": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"central  上传中心 uplink to {cluster.urls[0]}" in done.stdout
    assert "uplink" in done.stdout  # among the children hall up ran
    database = fresh_database(pg)
    got = run_apart(lambda: Consumer(database, cluster.login("central")).run(idle_exit_s=2))
    sent = acknowledged(data)
    assert sent > 50, (data / "logs" / "uplink.log").read_text()[-2000:]
    assert stored(database, CONFIG_HALL) == sent == got.stored


def test_hall_central_up_prints_its_figures_as_json():
    # no --data: a temporary folder, removed with the run (with --data the database would be kept for another run)
    done = subprocess.run([sys.executable, "-m", "hallctl.cli", "central", "up", "--halls", "2", "--duration", "5",
                           "--json"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"halls", "sent", "stored", "duplicates", "lag_p99_ms"} <= set(result)
    assert result["halls"] == 2
    assert result["sent"] == result["stored"] == result["written"] > 0
    assert result["duplicates"] == 0 and result["rejected"] == 0
    assert 0 <= result["lag_p99_ms"] < 10_000
    assert "中心控制台 central console: http://127.0.0.1:" in done.stderr  # the console's address, beside the JSON
