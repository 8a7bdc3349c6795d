"""`hall public` serves the site on its own listener and logs in to the hall's broker as the `web` device."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from hub.broker import free_port
from tests.helpers.rig import wait_for
from tests.helpers.web_public import PublicHall


def test_hall_public_serves_the_site_as_the_web_device(tmp_path):
    hall = PublicHall(tmp_path)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hallctl.cli", "public", "--config", str(hall.rig.config),
                             "--data", str(hall.data_dir), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ticket = hall.issue("A")

        def page():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/t/{ticket['follow']}", timeout=5)
            except httpx.TransportError:
                return None

        answer = wait_for(lambda: (r := page()) is not None and r.status_code == 200 and r, 30, "the site")
        assert answer.json()["ticket"] == ticket["no"]
        # its own login, seen by the hub like any device's
        wait_for(lambda: hall.rig.count("SELECT count(*) FROM devices WHERE id='web-01' AND status='online'") == 1,
                 10, "web-01 online")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        hall.close()
    assert f"http://127.0.0.1:{port}/" in out and "/t/<token>" in out
