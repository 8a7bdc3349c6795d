"""The central side under test: a real NATS cluster and a real PostgreSQL (central/services.py), simulated halls
writing real hub journals (hallctl/commands/central.py), and a relay that can cut a hall's link."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from pathlib import Path

import pytest

from central.services import missing

needs_central = pytest.mark.skipif(missing() is not None, reason=f"the central engines are missing: {missing()}")

_names = itertools.count(1)

TEST_HALLS = ("hall-a", "hall-b")
CONFIG = Path(__file__).resolve().parents[2] / "config"


def _config_hall() -> str:
    from hall.settings import load_hall

    return load_hall(CONFIG / "hall.toml").id


CONFIG_HALL = _config_hall()  # the example hall's id: `hall uplink` and `hall up` tests log in as it


def run_apart(coro_factory):
    """`asyncio.run` in a thread of its own: the caller's thread may hold a loop already (Playwright's sync API)."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()


def fresh_stream(login: dict, replicas: int = 3) -> None:
    """The stream deleted (with its consumers and its duplicate window) and made again, on a running cluster."""
    import nats

    from central import STREAM
    from central.consumer import ensure_stream

    async def remake():
        nc = await nats.connect(**login)
        try:
            js = nc.jetstream()
            with contextlib.suppress(Exception):  # none yet
                await js.delete_stream(STREAM)
            await ensure_stream(js, replicas)
        finally:
            await nc.close()

    run_apart(remake)


def fresh_database(pg) -> str:
    """A new database on the shared test server: its connection string."""
    import psycopg

    name = f"t{next(_names)}_{int(time.time() * 1000) % 100000}"
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg.conninfo.replace(f"dbname={pg.dbname}", f"dbname={name}")


def count(conninfo: str, sql: str, *params):
    import psycopg

    with psycopg.connect(conninfo) as conn:
        try:
            return conn.execute(sql, params).fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0


def stored(conninfo: str, hall: str | None = None) -> int:
    if hall is None:
        return count(conninfo, "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM decisions) + "
                               "(SELECT count(*) FROM alerts)")
    return count(conninfo, "SELECT (SELECT count(*) FROM events WHERE hall=%s) + "
                           "(SELECT count(*) FROM decisions WHERE hall=%s) + "
                           "(SELECT count(*) FROM alerts WHERE hall=%s)", hall, hall, hall)


async def wait_stored(conninfo: str, expected: int, timeout: float = 40.0) -> int:
    end = time.monotonic() + timeout
    got = 0
    while time.monotonic() < end:
        got = await asyncio.to_thread(stored, conninfo)
        if got >= expected:
            return got
        await asyncio.sleep(0.2)
    return got


def journal_rows(journal: Path) -> int:
    import sqlite3

    db = sqlite3.connect(journal)
    try:
        return db.execute("SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM queue_journal) + "
                          "(SELECT count(*) FROM alerts_journal)").fetchone()[0]
    finally:
        db.close()


async def stream_bodies(login: dict, subject: str) -> list[dict]:
    """Every message on `subject` in the stream, in the stream's order (an ordered ephemeral consumer)."""
    import json

    import nats

    from central import STREAM

    nc = await nats.connect(**login)
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM, subjects_filter=subject)
        sub = await js.subscribe(subject, ordered_consumer=True, stream=STREAM)
        total = sum((info.state.subjects or {}).values())
        bodies = []
        with contextlib.suppress(TimeoutError):
            while len(bodies) < total:
                msg = await sub.next_msg(timeout=5)
                bodies.append(json.loads(msg.data))
        await sub.unsubscribe()
        return bodies
    finally:
        await nc.close()


class Relay:
    """A TCP relay in front of one NATS server: a hall's link, which `cut()` breaks (open connections dropped,
    new ones refused) and `restore()` mends, on the same port."""

    def __init__(self, target_port: int):
        from central.services import free_port

        self.target = target_port
        self.port = free_port()
        self.server = None
        self.pipes: set[asyncio.Task] = set()
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self) -> Relay:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        return self

    async def _client(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src, dst):
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        for task in (asyncio.create_task(pipe(reader, up_writer)), asyncio.create_task(pipe(up_reader, writer))):
            self.pipes.add(task)
            task.add_done_callback(self.pipes.discard)

    async def cut(self) -> None:
        self.server.close()
        for w in list(self.writers):
            w.close()
        self.writers.clear()
        for t in list(self.pipes):
            t.cancel()
        await self.server.wait_closed()

    async def restore(self) -> None:
        await self.start()
