"""`hall uplink` reads its central address and login from hall.toml's [central] (as `hall up` runs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from hall.settings import load_hall
from hallctl.commands.central import SimulatedHall
from tests.helpers.central import journal_rows, needs_central

pytestmark = needs_central

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_hall_uplink_sends_the_journal_named_by_hall_toml(tmp_path, cluster):
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    hall_id = load_hall(CONFIG / "hall.toml").id
    (config / "central.pass").write_text(cluster.passwords[hall_id])
    with open(config / "hall.toml", "a") as f:
        f.write(f'\n[central]\nurl = "{",".join(cluster.urls)}"\npassword_file = "central.pass"\n')
    assert load_hall(config / "hall.toml").central.url
    data = tmp_path / "data"
    hall = SimulatedHall(hall_id, data)
    hall.backlog(40)
    hall.close()
    done = subprocess.run([sys.executable, "-m", "hallctl.cli", "uplink", "--drain", "--config",
                           str(config / "hall.toml"), "--data", str(data)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    sent = json.loads(done.stdout.strip().splitlines()[-1])
    assert sent["hall"] == hall_id
    assert sent["events"] + sent["decisions"] + sent["alerts"] == journal_rows(data / "hub.db")


def test_a_hall_without_a_central_address_has_no_uplink(tmp_path):
    assert load_hall(CONFIG / "hall.toml").central.url is None
    done = subprocess.run([sys.executable, "-m", "hallctl.cli", "uplink", "--data", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "no central address" in done.stderr
