"""The examples of docs/protocol.md for a device of one's own, run as they are written against a real Mosquitto (the
hall's secured config) and the real hub: the `mosquitto_rr` request lifted out of the doc and run by a shell with
the port and the data folder substituted, and docs/examples/device.py run as its own process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hall.protocol import Answer, DeviceStatus, read_from_hub
from tests.helpers.queueing import MosquittoTools, all_day_hall
from tests.helpers.rig import wait_for

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
DEVICE = ROOT / "docs" / "examples" / "device.py"
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)


def rr_example() -> str:
    """The one shell block of the doc that runs mosquitto_rr."""
    [block] = [b for b in SHELL_BLOCK.findall(DOC) if "mosquitto_rr" in b]
    return block


@pytest.fixture
def hall(make_rig, tmp_path):
    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    rig.start_hub()
    return rig


def test_the_mosquitto_rr_example_gets_its_ticket_on_one_connection(hall):
    block = rr_example()
    assert re.search(r"^PORT=\d+ ", block, re.M), "the example sets the port hall up prints"
    assert '-p "$PORT"' in block, "without -p the example tries port 1883"
    script = re.sub(r"^PORT=\d+", f"PORT={hall.port}", block, flags=re.M).replace("var/secrets.toml",
                                                                                 str(hall.files.secrets))
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=30,
                         cwd=hall.data_dir)
    assert out.returncode == 0, out.stderr
    answer = read_from_hub(Answer, out.stdout.strip().splitlines()[-1])
    assert answer.ok and answer.ticket.no == "A001" and answer.ticket.queue == "A", out.stdout
    with hall.db() as db:
        assert db.execute("SELECT device, type, seq FROM events").fetchall() == [("kiosk-03", "ticket_request", 1)]


def test_the_example_device_asks_for_a_ticket_reports_its_health_and_says_offline_when_done(hall, tmp_path):
    tools = MosquittoTools(hall)
    assert tools.request("kiosk-01", "ticket_request", {"queue": "A"})["ticket"]["no"] == "A001"
    seq_file = tmp_path / "kiosk-03.seq"
    cmd = [sys.executable, str(DEVICE), "--port", str(hall.port), "--device", "kiosk-03",
           f"--password={hall.password('kiosk-03')}", "--queue", "A", "--seq-file", str(seq_file)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines() == ["hub online 中心在线", "ticket 取号 A002 (1 ahead 前面 1 人)",
                                       "health stored 健康报告已存 (ack through_seq 2)"]
    assert seq_file.read_text() == "2"
    with hall.db() as db:
        rows = db.execute("SELECT type, seq, json_extract(res, '$.ticket.no') FROM events WHERE device='kiosk-03' "
                          "ORDER BY seq").fetchall()
        assert rows == [("ticket_request", 1, "A002"), ("health", 2, None)]
    # its goodbye (offline) is stored by the hub a moment after the device has gone
    wait_for(lambda: hall.count("SELECT count(*) FROM devices WHERE id='kiosk-03' AND status='offline'") == 1, 10,
             "the device's offline status stored")

    # run again: its counter goes on from its file, and the hub stores the next events
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ticket 取号 A003" in out.stdout and "ack through_seq 4" in out.stdout


def test_the_example_devices_last_will_says_offline_when_it_dies(hall, tmp_path):
    """Killed between its steps (no goodbye), the broker publishes its will: the device is not online for ever."""
    status_topic = "hall/v1/miluo/kiosk-03/status"
    _, heard = hall.listen("console-01", "hall/v1/miluo/+/status", decode=False)  # the console reads every status
    hall.stop_hub(hall._hubs[0])  # the device connects, says online and waits for the hub until it is killed
    proc = subprocess.Popen([sys.executable, str(DEVICE), "--port", str(hall.port), "--device", "kiosk-03",
                             f"--password={hall.password('kiosk-03')}", "--seq-file", str(tmp_path / "seq"),
                             "--timeout", "30"], cwd=tmp_path)
    try:
        def states() -> list[str]:
            return [read_from_hub(DeviceStatus, p).state for t, p in list(heard) if t == status_topic and p]
        wait_for(lambda: "online" in states(), 10, "the device online")
        proc.kill()
        proc.wait(5)
        # its socket closed without a DISCONNECT: the broker publishes the will at once
        wait_for(lambda: states()[-1] == "offline", 10, "its last will")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads([p for t, p in heard if t == status_topic][-1])["kind"] == "kiosk"
