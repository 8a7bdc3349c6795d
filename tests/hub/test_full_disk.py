"""The hub on a full disk: it says so, waits instead of spinning, and carries on by itself when space returns,
with nothing lost."""

from __future__ import annotations

import json
import sqlite3
import time

from hall.protocol import hub_topic
from tests.helpers.disk import fill, small_disk
from tests.helpers.rig import wait_for


def test_a_full_disk_degrades_the_hub_and_space_returning_heals_it(rig, tmp_path, monkeypatch):
    import hub.ingest
    from hub.ingest import Hub

    monkeypatch.setattr(hub.ingest, "BACKOFF_MAX", 2.0)  # the test need not wait the field's 30 s
    with small_disk(tmp_path / "hubdisk", 4096) as disk:
        the_hub = Hub(rig.hall, disk, port=rig.port, password=rig.password("hub")).start()
        try:
            assert the_hub.wait_ready(10)
            _, statuses = rig.listen("display-01", hub_topic(rig.hall.id, "status"), decode=False)
            kiosk = rig.link("kiosk-01")
            assert kiosk.wait_connected(10)
            for n in range(5):
                kiosk.send("health", {"n": n})
            assert kiosk.wait_drained(10)

            filler = fill(disk)
            sent = [kiosk.send("health", {"n": n, "pad": "x" * 2000}) for n in range(5, 40)]
            wait_for(lambda: json.loads(statuses[-1][1])["state"] == "degraded", 15, "the hub says it is degraded")
            last = json.loads(statuses[-1][1])
            assert last["cause"] == "disk_full" and "full" in last["error"]
            failures_then = the_hub.counts["storage_failures"]
            wait_for(lambda: the_hub.counts["storage_failures"] > failures_then, 10, "another try")
            tries_in = the_hub.counts["storage_failures"]
            time.sleep(3)
            # backing off, not spinning (it tried about sixty times a second before)
            assert the_hub.counts["storage_failures"] - tries_in <= 4
            assert the_hub.is_alive()
            assert kiosk.outbox.count() > 0  # nothing acknowledged that is not stored

            filler.unlink()
            wait_for(lambda: json.loads(statuses[-1][1])["state"] == "online", 15, "online again by itself")
            assert kiosk.wait_drained(30)
        finally:
            the_hub.stop()
        db = sqlite3.connect(disk / "hub.db")
        try:
            stored = {r[0] for r in db.execute("SELECT id FROM events WHERE device='kiosk-01'")}
            assert set(sent) <= stored and len(stored) == 40  # every event once
            assert db.execute("SELECT count(*) FROM rejected").fetchone()[0] == 0
        finally:
            db.close()
