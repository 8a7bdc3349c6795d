"""`hall up` runs the citizens' site beside the console and prints its address; a ticket the simulated kiosks
issue has its page there."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading

import httpx
import pytest

from tests.helpers.rig import wait_for


@pytest.mark.slow
def test_hall_up_serves_the_ticket_pages(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "hallctl.cli", "up", "--headless", "--duration", "40",
                             "--data", str(tmp_path / "hall"), "--speed", "120"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "DISPLAY": ""})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        found = wait_for(lambda: next((m for line in list(lines)
                                       if (m := re.search(r"^  public\s+(http://127\.0\.0\.1:\d+/)", line))), None),
                         90, "hall up printing the site's address")
        base = found.group(1)
        assert any("/t/<token>" in line for line in lines)  # where the QR codes point
        db = tmp_path / "hall" / "hub.db"

        def a_token():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                    row = conn.execute("SELECT follow FROM tickets WHERE follow IS NOT NULL LIMIT 1").fetchone()
                return row and row[0]
            except sqlite3.Error:
                return None

        token = wait_for(a_token, 30, "a ticket issued by the simulated kiosks")
        page = httpx.get(f"{base}api/t/{token}", timeout=10)
        assert page.status_code == 200 and page.json()["ticket"]
        assert "公众服务" in httpx.get(base, timeout=10).text
    finally:
        proc.send_signal(2)
        proc.wait(60)
        reader.join(5)
    assert proc.returncode == 0, proc.stderr.read()[-3000:]
