"""The hub's journal (`hub.db`), read-only: the tickets the citizens' site shows, found by their page's token.

The site never writes here: it opens the file with `mode=ro`, and a missing journal or a table or column the hub
has not made yet reads as nothing. Columns are the hub's (hub/queue/store.py); `phone` is there once the kiosk
takes phone numbers.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from public.follow import TicketRow

log = logging.getLogger("public.journal")

COLUMNS = ("day", "no", "queue", "service", "priority", "issued_at", "status", "window", "called_at", "done_at",
           "no_show_at", "transfers", "requeues", "follow")
# columns of a later hub: the phone left at the kiosk, the slot of a booked ticket (预约签到)
LATER_COLUMNS = ("phone", "booked")


class TicketBook:
    """Reads kept open, one connection per thread (the network thread's and the web server's): opening the file
    for each read was most of a push's cost with a thousand pages open (bench/public.py)."""

    def __init__(self, data_dir: Path | str):
        self.path = Path(data_dir) / "hub.db"
        self._later: set[str] = set()
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection | None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if not self.path.exists():
            return None
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as err:
            log.warning("hub journal %s not readable: %s", self.path, err)
            return None
        self._local.conn = conn
        return conn

    def _forget(self) -> None:
        """After an error: the next read opens the file again (a hub that made its journal anew)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _columns(self, conn: sqlite3.Connection) -> str:
        if not self._later:  # looked at until the hub has them: a hub upgraded while the site runs
            have = {r[1] for r in conn.execute("PRAGMA table_info(tickets)")}
            self._later = {c for c in LATER_COLUMNS if c in have}
        return ", ".join((*COLUMNS, *(c if c in self._later else "NULL" for c in LATER_COLUMNS)))

    def _tickets(self, where: str, params: tuple) -> list[TicketRow]:
        conn = self._connect()
        if conn is None:
            return []
        try:
            rows = conn.execute(f"SELECT {self._columns(conn)} FROM tickets WHERE {where}", params).fetchall()
        except sqlite3.Error as err:  # a table or column the hub has not made yet
            log.debug("hub journal: %s", err)
            self._forget()
            return []
        return [TicketRow(day=r[0], no=r[1], queue=r[2], service=r[3], priority=bool(r[4]), issued_at=r[5],
                          status=r[6], window=r[7], called_at=r[8], done_at=r[9], no_show_at=r[10],
                          transfers=r[11] or 0, requeues=r[12] or 0, follow=r[13], phone=r[14], booked=r[15])
                for r in rows]

    def by_token(self, token: str) -> TicketRow | None:
        found = self._tickets("follow=?", (token,))
        return found[0] if found else None

    def ticket(self, day: str, no: str) -> TicketRow | None:
        found = self._tickets("day=? AND no=?", (day, no))
        return found[0] if found else None

    def waiting(self, day: str, queue: str) -> list[TicketRow]:
        """The queue's waiting tickets of the day, in no particular order (follow.people_ahead orders them)."""
        return self._tickets("day=? AND queue=? AND status='waiting'", (day, queue))

    def rating_of(self, day: str, no: str) -> int | None:
        """The score a ticket was given (from a pad or a phone), None while it has none."""
        conn = self._connect()
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT score FROM ratings WHERE day=? AND ticket=? ORDER BY id LIMIT 1",
                               (day, no)).fetchone()
        except sqlite3.Error:
            self._forget()
            return None
        return row[0] if row else None
