"""The central side: `hall uplink` (a hall's journal up to the central cluster), `hall central consume` (the
cluster into PostgreSQL) and `hall central up` (all of it on one machine with simulated halls).

The simulated halls write real hub journals: the hub's own `events` and `queue_journal` tables, made by
`hub.store` and `hub.queue.store`, with the rows a hub stores for a ticket request and its issue, a call and its
decision, a rating and a punch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import ssl
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hall.clock import HALL_TZ
from hall.clock import now as clock_now
from hallctl.commands import add_hall_args, hall_and_data
from hallctl.serving import ThreadedServer


def register(sub) -> None:
    p = sub.add_parser("uplink", help="send this hall's journal to the central NATS cluster ([central] url)")
    add_hall_args(p)
    p.add_argument("--url", help="the cluster's servers, comma-separated (default: hall.toml's [central] url)")
    p.add_argument("--user", help="the hall's NATS user (default: [central] user, else the hall id)")
    p.add_argument("--password-file", type=Path, help="a file holding the password (default: [central] password_file)")
    p.add_argument("--drain", action="store_true", help="stop once the journal is all sent")
    p.set_defaults(func=cmd_uplink)

    p = sub.add_parser("central", help="the central side: many halls' journals in one PostgreSQL")
    csub = p.add_subparsers(dest="central_command", metavar="ACTION", required=True)
    c = csub.add_parser("consume", help="store the cluster's messages in PostgreSQL (run as many as you like)")
    c.add_argument("--nats", required=True, help="the cluster's servers, comma-separated")
    c.add_argument("--user", default="central", help="the consumers' NATS user (default central)")
    c.add_argument("--password-file", type=Path, help="a file holding its password")
    c.add_argument("--pg", required=True, help="PostgreSQL connection string (host=… dbname=… user=…)")
    c.add_argument("--replicas", type=int, default=3, help="the stream's replicas when it is created (default 3)")
    c.add_argument("--ca-file", help="the cluster's CA for tls:// servers")
    c.add_argument("--ack-wait", type=float, default=30.0,
                   help="seconds before a batch taken by a consumer that died is handed out again (default 30)")
    c.add_argument("--fetch", type=int, default=1000,
                   help="messages taken and written per transaction (default 1000)")
    c.set_defaults(func=cmd_consume)

    c = csub.add_parser("console", help="the central console: every hall side by side, over PostgreSQL (read-only)")
    c.add_argument("--pg", required=True, help="PostgreSQL connection string (host=… dbname=… user=…)")
    c.add_argument("--users", type=Path, default=Path("central-users.json"),
                   help="the console's logins, argon2 hashes (default ./central-users.json; a first admin is made)")
    c.add_argument("--add-user", metavar="NAME", help="add (or reset) a login, its password read from standard input")
    c.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    c.add_argument("--port", type=int, default=8900, help="port (default 8900; 0 for a free one)")
    c.add_argument("--tz", default=HALL_TZ.key, help="the halls' time zone for days and months")
    c.set_defaults(func=cmd_central_console)

    c = csub.add_parser("up", help="a 3-node NATS cluster, a private PostgreSQL, the consumer and simulated halls")
    c.add_argument("--halls", type=int, default=3, help="simulated halls (default 3)")
    c.add_argument("--duration", type=float, default=10.0, help="seconds of traffic (default 10)")
    c.add_argument("--rate", type=float, default=5.0, help="journal rows a second per hall (default 5)")
    c.add_argument("--consumers", type=int, default=2, help="consumer instances sharing the work (default 2)")
    c.add_argument("--data", type=Path, help="folder for the cluster and the database (default: a temporary one)")
    c.add_argument("--json", action="store_true", help="print the figures as JSON")
    c.add_argument("--console-port", type=int, default=0, help="the central console's port (default: a free one)")
    c.add_argument("--stay", action="store_true",
                   help="after the figures, keep the cluster, the database and the console up until Ctrl-C")
    c.set_defaults(func=cmd_central_up)


# ---------------------------------------------------------------------------------------------- connections

def connect_options(servers: str, user: str, password: str | None, ca_file: str | None = None,
                    inbox: bool = True) -> dict:
    options = {"servers": [s.strip() for s in servers.split(",") if s.strip()], "user": user}
    if password is not None:
        options["password"] = password
    if inbox:
        options["inbox_prefix"] = f"_INBOX.{user}"
    if ca_file or any(s.startswith("tls://") for s in options["servers"]):
        options["tls"] = ssl.create_default_context(cafile=ca_file)
    return options


def hall_connect_options(hall, args) -> dict:
    central = hall.central
    url = getattr(args, "url", None) or central.url
    if not url:
        raise SystemExit("hall uplink: no central address: give --url or set [central] url in hall.toml")
    password_file = getattr(args, "password_file", None) or (hall.relative(central.password_file)
                                                             if central.password_file else None)
    password = Path(password_file).read_text().strip() if password_file else None
    ca = hall.relative(central.ca_file) if central.ca_file else None
    return connect_options(url, getattr(args, "user", None) or central.user or hall.id, password,
                           str(ca) if ca else None)


def _quiet_tls_eof() -> None:
    """asyncio logs a warning each time a TLS peer closes a connection nats-py reads (a known, harmless remark of
    asyncio's SSL transport); the central commands leave it out so that their own lines can be read."""
    import logging

    logging.getLogger("asyncio").addFilter(lambda record: "eof_received" not in record.getMessage())


def _run_until_signal(coro_factory, stop) -> object:
    _quiet_tls_eof()

    async def main():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        return await coro_factory()
    return asyncio.run(main())


def cmd_uplink(args) -> int:
    from central.uplink import Uplink

    hall, data = hall_and_data(args)
    uplink = Uplink(hall.id, data / "hub.db", hall_connect_options(hall, args))
    sent = _run_until_signal(uplink.drain if args.drain else uplink.run, uplink.stop)
    print(json.dumps({"hall": hall.id, **sent.as_dict()}, ensure_ascii=False))
    return 0


def cmd_consume(args) -> int:
    from central.consumer import Consumer

    password = args.password_file.read_text().strip() if args.password_file else None
    consumer = Consumer(args.pg, connect_options(args.nats, args.user, password, args.ca_file, inbox=False),
                        replicas=args.replicas, ack_wait_s=args.ack_wait, fetch=args.fetch)
    stored = _run_until_signal(consumer.run, consumer.stop)
    print(json.dumps(stored.as_dict()))
    return 0


# ---------------------------------------------------------------------------------------------- simulated halls

class SimulatedHall:
    """A hall's journal written as its hub writes it: events, and the queue decisions they led to."""

    QUEUES = "ABCDEFGH"

    def __init__(self, hall_id: str, folder: Path, seed: int = 0, tz: ZoneInfo = HALL_TZ):
        from hub.alerts.store import create_tables as create_alert_tables
        from hub.queue.store import create_tables
        from hub.store import open_db

        self.id = hall_id
        self.folder = Path(folder)
        self.journal = self.folder / "hub.db"
        self.db = open_db(self.journal)
        create_tables(self.db)
        create_alert_tables(self.db)
        self.random = random.Random(seed)
        self.offline: dict[str, object] = {}  # device → its device_offline alert, while it lasts
        # the hall's own clock, as a hub keeps it (its hall's time zone, not the machine's): the days of its rows
        # are the hall's days, which the central console counts in that zone too
        self.tz = tz
        self.clock: datetime | None = None  # a backlog's own time; None: the real time
        self.open_cases: list[str] = []
        self.cases = 0
        self.seq = self.db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        self.issued = {q: 0 for q in self.QUEUES}
        self.waiting: list[tuple[str, str]] = []
        self.rows = 0

    def _event(self, device: str, event_type: str, data: dict, res: dict | None = None) -> str:
        from ulid import ULID

        from hall.protocol import json_text

        self.seq += 1
        event_id = str(ULID())
        now = self.now().isoformat(timespec="milliseconds")
        self.db.execute("INSERT INTO events(id, device, type, seq, ts, received_at, data, res) "
                        "VALUES (?,?,?,?,?,?,?,?)",
                        (event_id, device, event_type, self.seq, now, now, json_text(data),
                         json_text(res) if res else None))
        self.rows += 1
        return event_id

    def _decision(self, event_id: str, op: str, args: dict, result: dict) -> None:
        from hub.queue.store import journal

        now = self.now()
        journal(self.db, event=event_id, day=now.date(), at=now, op=op, args=args, result=result)
        self.rows += 1

    def step(self) -> None:
        """One thing happening in the hall (one transaction, as the hub commits one event at a time)."""
        with self.db.conn:
            self._step()

    def now(self) -> datetime:
        return self.clock or clock_now(self.tz)

    def backlog(self, steps: int, spacing_s: float = 8.0) -> None:
        """Many things at once: a day of traffic written fast, for a backlog. Its times are spread over the hours
        before now, `spacing_s` apart on average, so waits and days are as a day's would be."""
        gaps = [self.random.uniform(0, 2 * spacing_s) for _ in range(steps)]
        self.clock = clock_now(self.tz) - timedelta(seconds=sum(gaps))  # the last one now, none later
        try:
            with self.db.conn:
                for gap in gaps:
                    day = self.clock.date()
                    self.clock += timedelta(seconds=gap)
                    if self.clock.date() != day:  # a new day: the hub starts its queues again
                        self.waiting.clear()
                        self.issued = dict.fromkeys(self.QUEUES, 0)
                    self._step()
        finally:
            self.clock = None

    def _step(self) -> None:
        roll = self.random.random()
        if roll < 0.4 or not self.waiting:
            queue = self.random.choice(self.QUEUES)
            self.issued[queue] += 1
            no = f"{queue}{self.issued[queue]:03d}"
            event = self._event("kiosk-01", "ticket_request", {"queue": queue, "priority": False,
                                                                "channel": "kiosk"})
            at = self.now().isoformat(timespec="milliseconds")
            self._decision(event, "issue", {"queue": queue},
                           {"ok": True, "ticket": {"no": no, "queue": queue, "issued_at": at}})
            self.waiting.append((no, queue))
        elif roll < 0.75:
            no, queue = self.waiting.pop(0)
            window = str(self.random.randint(1, 34))
            event = self._event("caller-01", "call_next", {"window": window})
            at = self.now().isoformat(timespec="milliseconds")
            self._decision(event, "call_next", {"window": window},
                           {"ok": True, "ticket": {"no": no, "queue": queue, "window": window,
                                                   "called_at": at}})
        elif roll < 0.76:
            self._device_offline_or_back()
        elif roll < 0.79:
            self._case()
        elif roll < 0.9:
            self._event("rater-01", "rating", {"window": str(self.random.randint(1, 34)),
                                               "score": self.random.choice([5, 5, 5, 4, 3, 1])})
        else:
            self._event("fp-01", "punch", {"staff": f"s{self.random.randint(1, 149):03d}",
                                           "at": self.now().isoformat(timespec="seconds")})

    def _case(self) -> None:
        """A case accepted at a window, or one finished (nine in ten on time), with the hub's answer journaled."""
        if self.open_cases and self.random.random() < 0.5:
            number = self.open_cases.pop(0)
            on_time = self.random.random() < 0.9
            self._event("window-01", "case_finish", {"case": number, "result": "approved"},
                        {"ok": True, "case": {"case": number, "status": "finished", "result": "approved",
                                              "on_time": on_time}})
            return
        self.cases += 1
        number = f"{self.now():%Y%m%d}{self.id[-3:]}{self.cases:04d}"
        self._event("window-01", "case_accept", {"service": "s-001", "window": "1"},
                    {"ok": True, "case": {"case": number, "status": "accepted", "days": 5, "on_time": None}})
        self.open_cases.append(number)

    def _device_offline_or_back(self) -> None:
        """A rating pad goes silent (the hub raises device_offline) or comes back (the alert clears)."""
        from ulid import ULID

        from hub.alerts.rules import CRITICAL, Alert, Change
        from hub.alerts.store import journal as journal_alert

        now = self.now()
        if self.offline and self.random.random() < 0.8:  # most go back soon: a hall has one or two away at a time
            device = self.random.choice(sorted(self.offline))
        else:
            device = f"rater-{self.random.randint(1, 34):02d}"
        alert = self.offline.pop(device, None)
        if alert is None:
            alert = Alert(id=str(ULID()), key=f"device_offline:{device}", rule="device_offline", subject=device,
                          title=f"设备 {device} 离线", title_en=f"device {device} offline", raised_at=now,
                          severity=CRITICAL)
            self.offline[device] = alert
            journal_alert(self.db, Change("raised", alert, now))
        else:
            journal_alert(self.db, Change("cleared", alert, now))
        self.rows += 1

    def counts(self) -> dict[str, int]:
        return {table: self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (our names)
                for table in ("events", "queue_journal", "alerts_journal")}

    def close(self) -> None:
        self.db.close()


def hall_names(n: int) -> list[str]:
    return [f"hall-{i + 1:03d}" for i in range(n)]


def run_traffic(halls: list[SimulatedHall], rate: float, duration: float, stop: threading.Event) -> None:
    """Each hall writes `rate` rows a second (an event and, for a request, its decision) for `duration` seconds."""
    end = time.monotonic() + duration
    owed = 0.0
    last = time.monotonic()
    while not stop.is_set() and time.monotonic() < end:
        now = time.monotonic()
        owed += (now - last) * rate / 1.6  # a step writes 1.6 rows on average
        last = now
        while owed >= 1:
            for hall in halls:
                hall.step()
            owed -= 1
        time.sleep(0.02)


def simulate(folder: Path, names: list[str], rate: float, duration: float) -> int:
    """The halls' traffic in this thread (SQLite connections stay in the thread that opened them): rows written."""
    halls = [SimulatedHall(name, folder / name, seed=i) for i, name in enumerate(names)]
    try:
        run_traffic(halls, rate, duration, threading.Event())
        return sum(sum(h.counts().values()) for h in halls)
    finally:
        for h in halls:
            h.close()


class CentralUp:
    """The cluster, PostgreSQL and the consumers, started and stopped together (tests and `hall central up`)."""

    def __init__(self, folder: Path, halls: list[str], tls: bool = True):
        from central.services import NatsCluster, Postgres

        self.folder = Path(folder)
        self.halls = halls
        self.cluster = NatsCluster(self.folder / "nats", halls=halls, tls=tls)
        self.pg = Postgres(self.folder)

    def start(self) -> CentralUp:
        from central.consumer import create_stream

        self.cluster.start()
        create_stream(self.cluster.login("central"))
        self.pg.start()
        return self

    def consumer(self):
        from central.consumer import Consumer

        return Consumer(self.pg.conninfo, self.cluster.login("central"))

    def stop(self, remove: bool = False) -> None:
        self.cluster.stop()
        self.pg.stop()
        if remove:
            self.pg.remove()


async def central_up(folder: Path, n_halls: int, duration: float, rate: float, consumers: int,
                     console_port: int = 0, stay: bool = False, say=print, keep: bool = False) -> dict:
    import psycopg

    from central.console.users import first_user
    from central.uplink import Uplink

    names = hall_names(n_halls)
    up = CentralUp(folder, names)
    console = None
    try:
        await asyncio.to_thread(up.start)  # it runs its own loop to make the stream
        users_file = Path(folder) / "central-users.json"
        password = first_user(users_file)
        console = ConsoleServer(up.pg.conninfo, users_file, port=console_port).start()
        say(f"中心控制台 central console: {console.url}/" + (f"  登录 login admin / {password}" if password else ""))
        workers = [up.consumer() for _ in range(consumers)]
        consumer_tasks = [asyncio.create_task(w.run()) for w in workers]
        for i, name in enumerate(names):  # each journal exists before its uplink starts
            SimulatedHall(name, folder / "halls" / name, seed=i).close()
        uplinks = [Uplink(name, folder / "halls" / name / "hub.db", up.cluster.login(name)) for name in names]
        uplink_tasks = [asyncio.create_task(u.run()) for u in uplinks]
        written = await asyncio.to_thread(simulate, folder / "halls", names, rate, duration)
        # the halls are quiet: wait for every row to be acknowledged and stored
        end = time.monotonic() + 60 + written / 500
        stored = 0
        while time.monotonic() < end and not all(t.done() for t in consumer_tasks):
            stored = await asyncio.to_thread(_stored, up.pg.conninfo)
            if stored >= written:
                break
            await asyncio.sleep(0.3)
        for u in uplinks:
            u.stop()
        for w in workers:
            w.stop()
        for failed in await asyncio.gather(*uplink_tasks, *consumer_tasks, return_exceptions=True):
            if isinstance(failed, BaseException):
                print(f"hall central up: {type(failed).__name__}: {failed}", file=sys.stderr)
        with psycopg.connect(up.pg.conninfo) as conn:
            lag = conn.execute(
                "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - committed_at)) "
                "FROM (SELECT stored_at, committed_at FROM events UNION ALL "
                "SELECT stored_at, committed_at FROM decisions UNION ALL "
                "SELECT stored_at, committed_at FROM alerts) t").fetchone()[0]
            rejected = conn.execute("SELECT count(*) FROM rejected").fetchone()[0]
        result = {"halls": n_halls, "sent": sum(u.sent.events + u.sent.decisions + u.sent.alerts for u in uplinks),
                  "written": written, "stored": stored, "duplicates": sum(w.stored.duplicates for w in workers),
                  "rejected": rejected, "lag_p99_ms": round(lag * 1000, 1) if lag is not None else None,
                  "duration_s": duration, "console": f"{console.url}/"}
        if stay:
            say(f"{json.dumps(result)}\n中心控制台仍在运行 the console stays up at {console.url}/ — Ctrl-C 停止 to stop")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):  # either one: the servers are stopped, not left behind
                loop.add_signal_handler(sig, stop.set)
            with contextlib.suppress(asyncio.CancelledError):
                await stop.wait()
        return result
    finally:
        if console is not None:
            console.stop()
        up.stop(remove=not keep)  # `--data`: the database is kept for another run


def _stored(conninfo: str) -> int:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        try:
            return conn.execute("SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM decisions) + "
                                "(SELECT count(*) FROM alerts)").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0


class ConsoleServer(ThreadedServer):
    """The central console on uvicorn in a thread (for `hall central up` and the tests)."""

    def __init__(self, conninfo: str, users_file: Path, host: str = "127.0.0.1", port: int = 0,
                 tz: str = HALL_TZ.key):
        from central.console.app import create_app
        from central.services import free_port

        self.conninfo, self.users_file, self.tz = conninfo, Path(users_file), tz
        super().__init__(create_app(conninfo, self.users_file, tz=tz), host=host, port=port or free_port(),
                         name="central-console", what="the central console", grace=1)

    @property
    def url(self) -> str:  # without the closing slash: the callers add the page's path
        return f"http://{self.host}:{self.port}"


def cmd_central_console(args) -> int:
    import uvicorn

    from central.console.app import create_app
    from central.console.users import UserError, Users, first_user

    if args.add_user:
        password = sys.stdin.readline().rstrip("\n")
        try:
            Users(args.users).add(args.add_user, password)
        except UserError as err:
            print(f"hall central console: {err}", file=sys.stderr)
            return 2
        print(f"中心控制台用户已保存 login saved: {args.add_user}")
        return 0
    password = first_user(args.users)
    if password:
        print(f"首个登录 first login: admin / {password}  (保存在 kept in {args.users})")
    port = args.port
    if port == 0:
        from central.services import free_port
        port = free_port()
    print(f"中心控制台 central console: http://{args.host}:{port}/", flush=True)
    uvicorn.run(create_app(args.pg, args.users, tz=args.tz), host=args.host, port=port, log_level="warning")
    return 0


def cmd_central_up(args) -> int:
    from central.services import missing

    why = missing()
    if why:
        print(f"hall central up: {why}", file=sys.stderr)
        return 1
    folder = args.data or Path(tempfile.mkdtemp(prefix="hall-central-"))
    _quiet_tls_eof()
    if not args.data:  # a folder of its own: gone with the run
        import atexit
        import shutil

        atexit.register(shutil.rmtree, folder, True)
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if args.json else print
    try:
        result = asyncio.run(central_up(Path(folder), args.halls, args.duration, args.rate, args.consumers,
                                        args.console_port, args.stay, say, keep=bool(args.data)))
    except KeyboardInterrupt:
        return 0
    if args.json:
        print(json.dumps(result))
    else:
        print(f"中心汇聚 central: {result['halls']} 个大厅 halls, 发送 sent {result['sent']}, "
              f"入库 stored {result['stored']} (重复 duplicates {result['duplicates']}, "
              f"拒收 rejected {result['rejected']}), 延迟 lag p99 {result['lag_p99_ms']} ms")
    return 0 if result["stored"] >= result["written"] else 1
