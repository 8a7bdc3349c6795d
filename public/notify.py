"""The near-turn notice by SMS: an HTTP webhook (an SMS gateway or a WeChat Work robot) from `[public.notify]`.

Each notice is written to the site's own file (`public.db` in the data folder, 0600) before it is sent, with every
try beside it (when, the answer's status or the error, how long it took), so that "did the citizen get the SMS?"
has an answer. A notice is tried `attempts` times, waiting `backoff_ms`, then twice that, … between tries; one that
is still pending when the site stops is tried again when it starts. One notice per ticket and day, ever.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from hall.clock import now as clock_now
from hall.files import private_folder, private_sqlite_file

log = logging.getLogger("public.notify")

DB_NAME = "public.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL,
    ticket TEXT NOT NULL,
    phone TEXT NOT NULL,
    text TEXT NOT NULL,
    state TEXT NOT NULL,          -- pending, sent, failed (every try failed)
    tries INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    UNIQUE (day, ticket)
);
CREATE TABLE IF NOT EXISTS notice_tries (
    notice INTEGER NOT NULL REFERENCES notices(id),
    n INTEGER NOT NULL,           -- 1 for the first try
    at TEXT NOT NULL,
    status INTEGER,               -- the gateway's HTTP status, null when none came
    error TEXT,                   -- why it failed; null when it was sent
    ms INTEGER NOT NULL,
    PRIMARY KEY (notice, n)
);
"""


def open_db(data_dir: Path | str) -> sqlite3.Connection:
    path = Path(data_dir) / DB_NAME
    private_folder(path.parent)
    private_sqlite_file(path)
    db = sqlite3.connect(path, timeout=10, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=5000")
    db.executescript(SCHEMA)
    return db


def webhook_body(fmt: str, phone: str, text: str) -> dict:
    if fmt == "wecom":  # a WeChat Work group robot: the text, with the citizen's phone to mention
        return {"msgtype": "text", "text": {"content": text, "mentioned_mobile_list": [phone]}}
    return {"phone": phone, "text": text}


class Notifier:
    """Sends notices on a thread of its own; `submit` returns at once."""

    def __init__(self, hall, data_dir: Path | str, *, sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.hall = hall
        self.settings = hall.public.notify
        self.clock = clock or (lambda: clock_now(hall.tz))
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._lock = threading.Lock()
        self.db = open_db(data_dir)
        self._work: queue.Queue[int | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._token = None
        if self.settings.token_file:
            self._token = hall.relative(self.settings.token_file).read_text(encoding="utf-8").strip()

    @property
    def enabled(self) -> bool:
        return bool(self.settings.url)

    def start(self) -> Notifier:
        if self.enabled and self._thread is None:
            with self._lock:
                pending = [r[0] for r in self.db.execute("SELECT id FROM notices WHERE state='pending' ORDER BY id")]
            for notice in pending:
                self._work.put(notice)
            self._thread = threading.Thread(target=self._run, name="public-notify", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._work.put(None)
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            self.db.close()

    def noticed(self, day: str, ticket: str) -> bool:
        with self._lock:
            return self.db.execute("SELECT 1 FROM notices WHERE day=? AND ticket=?", (day, ticket)).fetchone() is not None

    def submit(self, day: str, ticket: str, phone: str, text: str) -> bool:
        """Record a notice and queue it; False when this ticket had one already (or notices are off)."""
        if not self.enabled:
            return False
        with self._lock:
            cur = self.db.execute("INSERT OR IGNORE INTO notices(day, ticket, phone, text, state, created_at) "
                                  "VALUES (?,?,?,?,'pending',?)",
                                  (day, ticket, phone, text, self.clock().isoformat(timespec="milliseconds")))
            self.db.commit()
            if not cur.rowcount:
                return False
            notice = cur.lastrowid
        self._work.put(notice)
        return True

    def notices(self) -> list[dict]:
        """Every notice with its tries, oldest first (for `hall public notices` and tests)."""
        with self._lock:
            rows = self.db.execute("SELECT id, day, ticket, phone, state, tries, created_at, sent_at FROM notices "
                                   "ORDER BY id").fetchall()
            tries = self.db.execute("SELECT notice, n, at, status, error, ms FROM notice_tries ORDER BY notice, n"
                                    ).fetchall()
        out = []
        for i, day, ticket, phone, state, n, created, sent in rows:
            out.append({"day": day, "ticket": ticket, "phone": phone, "state": state, "tries": n,
                        "created_at": created, "sent_at": sent,
                        "log": [{"n": t[1], "at": t[2], "status": t[3], "error": t[4], "ms": t[5]}
                                for t in tries if t[0] == i]})
        return out

    # ------------------------------------------------------------ the sending thread

    def _run(self) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        with httpx.Client(timeout=self.settings.timeout_s, headers=headers) as client:
            while not self._stop.is_set():
                notice = self._work.get()
                if notice is None:
                    return
                try:
                    self._send(client, notice)
                except Exception:  # one bad notice must not end the notices of the day
                    log.exception("notice %s", notice)

    def _send(self, client, notice: int) -> None:
        with self._lock:
            row = self.db.execute("SELECT phone, text, tries FROM notices WHERE id=? AND state='pending'",
                                  (notice,)).fetchone()
        if row is None:
            return
        phone, text, done = row
        body = json.dumps(webhook_body(self.settings.format, phone, text), ensure_ascii=False).encode()
        wait = self.settings.backoff_ms / 1000
        for n in range(done + 1, self.settings.attempts + 1):
            started = time.perf_counter()
            status, error = None, None
            try:
                answer = client.post(self.settings.url, content=body,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
                status = answer.status_code
                if not answer.is_success:
                    error = f"HTTP {status}: {answer.text[:200]}"
                elif self.settings.format == "wecom":
                    error = _wecom_error(answer)
            except Exception as err:  # noqa: BLE001 — the gateway down, a timeout, a refused connection: try again
                error = f"{type(err).__name__}: {err}"[:300]
            ms = round((time.perf_counter() - started) * 1000)
            at = self.clock().isoformat(timespec="milliseconds")
            state = "sent" if error is None else ("failed" if n == self.settings.attempts else "pending")
            with self._lock:
                self.db.execute("INSERT INTO notice_tries(notice, n, at, status, error, ms) VALUES (?,?,?,?,?,?)",
                                (notice, n, at, status, error, ms))
                self.db.execute("UPDATE notices SET tries=?, state=?, sent_at=? WHERE id=?",
                                (n, state, at if error is None else None, notice))
                self.db.commit()
            if error is None:
                log.info("notice %s sent on try %d", notice, n)
                return
            log.warning("notice %s, try %d of %d: %s", notice, n, self.settings.attempts, error)
            if state == "failed":
                return
            self._sleep(wait)
            if self._stop.is_set():
                return
            wait *= 2


def _wecom_error(answer) -> str | None:
    """A robot answers 200 with {"errcode": 0} when it took the message, another errcode when it did not."""
    try:
        code = answer.json().get("errcode", 0)
    except ValueError:
        return None
    return None if code == 0 else f"errcode {code}: {answer.text[:200]}"
