"""The hub's journal (`hub.db`), read-only with plain SQL: what the console shows that the hub does not publish.

The console never writes here; it opens the file with `mode=ro` and a missing journal (a hub not started yet)
reads as empty. Columns are the hub's (hub/store.py, hub/queue/store.py).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import date
from pathlib import Path

log = logging.getLogger("web.journal")


class Journal:
    def __init__(self, data_dir: Path | str):
        self.path = Path(data_dir) / "hub.db"

    def _connect(self) -> sqlite3.Connection | None:
        if not self.path.exists():
            return None
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            return conn
        except sqlite3.Error as err:
            log.warning("hub journal %s not readable: %s", self.path, err)
            return None

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self._connect()
        if conn is None:
            return []
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as err:  # a table the hub has not made yet
            log.debug("hub journal: %s", err)
            return []
        finally:
            conn.close()

    def oldest_waiting(self, day: date, queues: list[str]) -> dict[str, str]:
        """queue → issued_at of its first waiting ticket today, for the queues that have one."""
        if not queues:
            return {}
        marks = ",".join("?" * len(queues))
        rows = self._rows(f"SELECT queue, min(issued_at) FROM tickets WHERE day=? AND status='waiting' "
                          f"AND queue IN ({marks}) GROUP BY queue", (day.isoformat(), *queues))
        return {q: at for q, at in rows if at}

    def paused_since(self, day: date, window: str) -> str | None:
        """When the window's last pause today was carried out."""
        rows = self._rows("SELECT at FROM queue_journal WHERE op='pause' AND day=? "
                          "AND json_extract(args, '$.window')=? AND json_extract(result, '$.ok') "
                          "ORDER BY id DESC LIMIT 1", (day.isoformat(), window))
        return rows[0][0] if rows else None

    def devices(self) -> dict[str, dict]:
        rows = self._rows("SELECT id, kind, status, version, last_seen, clock_skew_s, skew_flagged, seq_restarts "
                          "FROM devices")
        keys = ("id", "kind", "status", "version", "last_seen", "clock_skew_s", "skew_flagged", "seq_restarts")
        return {r[0]: dict(zip(keys, r, strict=True)) for r in rows}

    def latest_health(self, device_ids: list[str]) -> dict[str, dict]:
        """device → {"at", "metrics"} of its latest `health` event (by the device's seq, on the hub's index)."""
        conn = self._connect()
        if conn is None:
            return {}
        out = {}
        try:
            for device in device_ids:
                row = conn.execute("SELECT received_at, data FROM events WHERE device=? AND type='health' "
                                   "ORDER BY seq DESC LIMIT 1", (device,)).fetchone()
                if row:
                    try:
                        out[device] = {"at": row[0], "metrics": json.loads(row[1])}
                    except ValueError:
                        continue
        except sqlite3.OperationalError as err:
            log.debug("hub journal: %s", err)
        finally:
            conn.close()
        return out
