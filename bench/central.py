"""Central ingest benchmark: halls' journals → uplinks → JetStream (3 servers, R3, TLS) → consumers → PostgreSQL,
beside a raw JetStream publish → consume on the same cluster, in one run.

    .venv/bin/python bench/central.py [--halls 50] [--rows 1200] [--live-seconds 20] [--consumers 2]

1. Raw: the same number of messages, of the journal's own bodies, published (publish_async, acknowledged by
   JetStream) to a stream of their own (R3) and pulled by a durable consumer in batches and acknowledged: messages
   per second from the first publish to the last acknowledgement.
2. Ingest: every hall holds `--rows` journal rows not yet sent (the halls were cut off); the uplinks and the
   consumers start together: rows per second from the start until every row is stored in PostgreSQL. Ratio
   ingest / raw (aim ≥ 0.5).
3. Live: the halls write at 10× a busy day's rate (a county centre: ≈ 5,000 rows over 6.7 opening hours, so
   ≈ 2 rows a second each at 10×) for `--live-seconds`: lag from a row's commit in its hall (the hub's
   received_at) to its commit in PostgreSQL, p50 and p99.
4. Backlog drain: a day of one hall (≈ 5,000 rows) held back, then sent and stored: seconds.

Each simulated hall is `SimulatedHall`: a real hub journal (the hub's own tables) with tickets, calls, ratings,
punches, cases and alerts. Progress is printed as it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # not bench/: its queue.py would shadow the standard one

BUSY_DAY_ROWS = 5000
OPEN_HOURS = 6.7


def say(text: str) -> None:
    print(text, flush=True)


def stored_rows(conninfo: str) -> int:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        try:
            return conn.execute("SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM decisions) + "
                                "(SELECT count(*) FROM alerts)").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0


async def wait_rows(conninfo: str, expected: int, label: str, timeout: float) -> tuple[int, float]:
    started = time.perf_counter()
    last_said = started
    got = 0
    while time.perf_counter() - started < timeout:
        got = await asyncio.to_thread(stored_rows, conninfo)
        if got >= expected:
            break
        if time.perf_counter() - last_said > 3:
            say(f"  … {label}: {got}/{expected} stored")
            last_said = time.perf_counter()
        await asyncio.sleep(0.05)
    return got, time.perf_counter() - started


# ------------------------------------------------------------------------------------------------ 1. raw

async def raw_publish(login: dict, bodies: list[bytes]) -> None:
    """As an uplink does: a batch of 500 published at once, then its acknowledgements awaited."""
    import nats

    nc = await nats.connect(**login)
    js = nc.jetstream()
    window = []
    for i, body in enumerate(bodies):
        window.append(await js.publish_async(f"rawbench.h{i % 50}", body, headers={"Nats-Msg-Id": f"raw{i}"}))
        if len(window) == 500:
            await asyncio.gather(*window)
            window = []
    await asyncio.gather(*window)
    await nc.close()


async def raw_consume(login: dict, n: int) -> None:
    """As a consumer does, without PostgreSQL: batches of 500 pulled and acknowledged, until `n`."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

    nc = await nats.connect(**login)
    js = nc.jetstream()
    try:
        await js.delete_stream("RAWBENCH")
    except Exception:
        pass
    await js.add_stream(StreamConfig(name="RAWBENCH", subjects=["rawbench.>"], num_replicas=3))
    sub = await js.pull_subscribe("rawbench.>", durable="raw", stream="RAWBENCH",
                                  config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=50_000))
    print("ready", flush=True)
    received = 0
    while received < n:
        try:
            msgs = await sub.fetch(500, timeout=1)
        except Exception:
            continue
        for m in msgs:
            await m.ack()
        received += len(msgs)
    await js.delete_stream("RAWBENCH")
    await nc.close()


# ------------------------------------------------------------------------------------------------ CPU

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system seconds a running process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def pg_pids(data: Path) -> list[int]:
    """The postmaster and its backends."""
    try:
        master = int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return pids


class Cpu:
    """CPU seconds of the servers (NATS, PostgreSQL) over a phase; processes of the phase added by pid."""

    def __init__(self, up):
        self.up = up

    def servers(self) -> dict[str, float]:
        return {"nats": sum(cpu_s(n.proc.pid) for n in self.up.cluster.nodes if n.proc),
                "postgres": sum(cpu_s(p) for p in pg_pids(self.up.pg.data))}


def per_thousand(spent: dict[str, float], rows: int) -> dict[str, float]:
    return {k: round(v * 1000 / rows, 3) for k, v in spent.items()}


def child(role: str, folder: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--role", role, "--folder", str(folder), *extra],
                            stdout=subprocess.PIPE, text=True)


def raw_rate(folder: Path, n: int, cpu: Cpu) -> tuple[float, dict]:
    """Publisher and consumer each a process of its own, as the halls and the consumers are: msgs/s end to end,
    and CPU seconds per 1,000 messages of each part."""
    consumer = child("raw-consume", folder, "--count", str(n))
    assert consumer.stdout.readline().strip() == "ready"
    before = cpu.servers()
    started = time.perf_counter()
    publisher = child("raw-publish", folder)
    _, _, consumer_use = os.wait4(consumer.pid, 0)
    elapsed = time.perf_counter() - started
    after = cpu.servers()
    _, _, publisher_use = os.wait4(publisher.pid, 0)
    consumer.returncode = publisher.returncode = 0  # reaped above
    spent = {"publisher": publisher_use.ru_utime + publisher_use.ru_stime,
             "consumer": consumer_use.ru_utime + consumer_use.ru_stime, "nats": after["nats"] - before["nats"]}
    return n / elapsed, per_thousand(spent, n)


async def run_uplinks_with(folder: Path, names: list[str], logins: dict) -> None:
    """The halls' uplinks (in a process of their own: in a province each is on its hall's machine)."""
    import signal

    from central.uplink import Uplink

    uplinks = [Uplink(n, folder / "halls" / n / "hub.db", logins[n]) for n in names]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: [u.stop() for u in uplinks])
    await asyncio.gather(*[u.run() for u in uplinks])


# ------------------------------------------------------------------------------------------------ the run

def write_backlogs(folder: Path, names: list[str], rows: int) -> int:
    from hallctl.commands.central import SimulatedHall

    total = 0
    for i, name in enumerate(names):
        hall = SimulatedHall(name, folder / name, seed=i)
        hall.backlog(int(rows / 1.6))
        total += sum(hall.counts().values())
        hall.close()
        if (i + 1) % 10 == 0:
            say(f"  … {i + 1}/{len(names)} halls' journals written")
    return total


def journal_bodies(folder: Path, names: list[str], limit: int) -> list[bytes]:
    """The messages the uplinks will send, as they will send them (the raw run's payloads)."""
    from central.uplink import alert_rows, decision_rows, event_rows, read_journal

    bodies: list[bytes] = []
    for name in names:
        db = read_journal(folder / name / "hub.db")
        try:
            for rows in (event_rows(db, name, 0, limit), decision_rows(db, name, 0, limit),
                         alert_rows(db, name, 0, limit)):
                bodies += [r.body for r in rows]
        finally:
            db.close()
    return bodies


def login_file(folder: Path, cluster) -> None:
    """The logins the child processes use (their TLS context is made again from the CA file)."""
    logins = {}
    for user in cluster.passwords:
        login = cluster.login(user)
        login.pop("tls", None)
        logins[user] = login
    (folder / "logins.json").write_text(json.dumps({**logins, "ca": str(cluster.ca_file)}))
    (folder / "central.pass").write_text(cluster.passwords["central"])


def child_login(folder: Path, user: str) -> dict:
    from central.tls import client_context

    logins = json.loads((folder / "logins.json").read_text())
    return {**logins[user], "tls": client_context(logins["ca"])}


async def run(args) -> dict:
    from central.uplink import Uplink
    from hallctl.commands.central import CentralUp, hall_names, run_traffic

    folder = Path(tempfile.mkdtemp(prefix="bench-central-"))
    names = hall_names(args.halls)
    day_hall = "hall-day"
    up = CentralUp(folder, [*names, day_hall], tls=True)
    say(f"starting 3 NATS servers (JetStream, TLS) and PostgreSQL in {folder} …")
    await asyncio.to_thread(up.start)
    login_file(folder, up.cluster)
    results: dict = {"halls": args.halls, "consumers": args.consumers}
    procs: list[subprocess.Popen] = []
    try:
        halls = folder / "halls"
        say(f"writing {args.halls} halls' journals, {args.rows} rows each …")
        written = await asyncio.to_thread(write_backlogs, halls, names, args.rows)
        bodies = journal_bodies(halls, names, 10**9)
        assert len(bodies) == written
        (folder / "bodies.bin").write_bytes(b"\n".join(bodies))

        say(f"1. raw JetStream publish → consume, {len(bodies)} messages (a publisher and a consumer process) …")
        cpu = Cpu(up)
        raw, raw_cpu = await asyncio.to_thread(raw_rate, folder, len(bodies), cpu)
        results["raw_msgs_per_s"] = round(raw)
        results["raw_cpu_s_per_1000"] = raw_cpu
        say(f"   raw: {raw:,.0f} msgs/s; CPU seconds per 1,000 messages: {raw_cpu}")

        say(f"2. ingest: {written} rows from {args.halls} halls → JetStream → {args.consumers} consumer processes "
            "→ PostgreSQL …")
        ca = up.cluster.ca_file
        for _ in range(args.consumers):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "hallctl.cli", "central", "consume", "--nats", ",".join(up.cluster.urls),
                 "--password-file", str(folder / "central.pass"), "--ca-file", str(ca), "--pg", up.pg.conninfo,
                 "--fetch", str(args.fetch)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        await wait_rows_table(up.pg.conninfo)
        consumers_before = sum(cpu_s(p.pid) for p in procs)
        before = cpu.servers()
        started = time.perf_counter()
        procs.append(child("halls", folder, "--names", ",".join(names)))
        got, _ = await wait_rows(up.pg.conninfo, written, "ingest", 600)
        ingest_s = time.perf_counter() - started
        after = cpu.servers()
        spent = {"uplinks": cpu_s(procs[-1].pid), "consumers": sum(cpu_s(p.pid) for p in procs[:-1]) - consumers_before,
                 "nats": after["nats"] - before["nats"], "postgres": after["postgres"] - before["postgres"]}
        rate = got / ingest_s
        results.update(ingest_rows=got, ingest_s=round(ingest_s, 2), ingest_rows_per_s=round(rate),
                       ratio=round(rate / raw, 2), ingest_cpu_s_per_1000=per_thousand(spent, got))
        say(f"   ingest: {got} rows in {ingest_s:.1f} s = {rate:,.0f} rows/s; ratio ingest / raw "
            f"{rate / raw:.2f} (aim ≥ 0.5); CPU seconds per 1,000 rows: {per_thousand(spent, got)}")

        per_hall = BUSY_DAY_ROWS / (OPEN_HOURS * 3600) * 10
        say(f"3. live: {args.halls} halls at 10× a busy day ({per_hall:.2f} rows/s each, "
            f"{per_hall * args.halls:.0f} rows/s in all) for {args.live_seconds:.0f} s …")
        mark = await asyncio.to_thread(stored_rows, up.pg.conninfo)
        live_start = time.time()
        written_live = await asyncio.to_thread(_live, halls, names, per_hall, args.live_seconds, run_traffic)
        got, _ = await wait_rows(up.pg.conninfo, mark + written_live, "live", 120)
        lag = await asyncio.to_thread(_lag, up.pg.conninfo, live_start)
        results.update(live_rows=written_live, live_stored=got - mark, lag_p50_ms=lag[0], lag_p99_ms=lag[1])
        say(f"   live: {written_live} rows written, {got - mark} stored; lag commit → PostgreSQL "
            f"p50 {lag[0]} ms, p99 {lag[1]} ms")

        say(f"4. backlog drain: a day of one hall ({BUSY_DAY_ROWS} rows) held back, then its uplink started …")
        day_rows = await asyncio.to_thread(write_backlogs, halls, [day_hall], BUSY_DAY_ROWS)
        mark = await asyncio.to_thread(stored_rows, up.pg.conninfo)
        started = time.perf_counter()
        day = await Uplink(day_hall, halls / day_hall / "hub.db", up.cluster.login(day_hall)).drain()
        sent_s = time.perf_counter() - started
        got, _ = await wait_rows(up.pg.conninfo, mark + day_rows, "drain", 300)
        drain_s = time.perf_counter() - started
        results.update(day_rows=day_rows, day_sent_s=round(sent_s, 2), day_stored_s=round(drain_s, 2))
        say(f"   drain: {day.events + day.decisions + day.alerts} rows sent in {sent_s:.1f} s, {got - mark} of "
            f"{day_rows} stored in {drain_s:.1f} s")

        results["stored_total"] = await asyncio.to_thread(stored_rows, up.pg.conninfo)
        results["beyond_written"] = results["stored_total"] - written - written_live - day_rows  # 0: each once
        results["pg_bytes_per_row"] = await asyncio.to_thread(_pg_bytes_per_row, up.pg.conninfo)
        results["stream_bytes_per_msg"] = await _stream_bytes_per_msg(up.cluster.login("central"))
        return results
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        await asyncio.to_thread(up.stop, True)
        shutil.rmtree(folder, ignore_errors=True)


async def wait_rows_table(conninfo: str) -> None:
    """Until a consumer has made the tables."""
    import psycopg

    for _ in range(300):
        with psycopg.connect(conninfo) as conn:
            if conn.execute("SELECT to_regclass('alerts')").fetchone()[0]:
                return
        await asyncio.sleep(0.1)


def _live(halls: Path, names: list[str], rate: float, seconds: float, run_traffic) -> int:
    from hallctl.commands.central import SimulatedHall

    opened = [SimulatedHall(n, halls / n, seed=100 + i) for i, n in enumerate(names)]
    for h in opened:  # numbers after the backlog's, on the same day
        h.issued = dict.fromkeys(h.issued, 5000)
    before = sum(sum(h.counts().values()) for h in opened)
    try:
        run_traffic(opened, rate, seconds, threading.Event())
        return sum(sum(h.counts().values()) for h in opened) - before
    finally:
        for h in opened:
            h.close()


def _lag(conninfo: str, since: float) -> tuple[float, float]:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        p50, p99 = conn.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) "
            "FROM (SELECT extract(epoch FROM stored_at - committed_at) * 1000 AS lag FROM events "
            "      WHERE committed_at >= to_timestamp(%s) UNION ALL "
            "      SELECT extract(epoch FROM stored_at - committed_at) * 1000 FROM decisions "
            "      WHERE committed_at >= to_timestamp(%s)) t", (since, since)).fetchone()
    return round(p50 or 0, 1), round(p99 or 0, 1)


def _pg_bytes_per_row(conninfo: str) -> float:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return round(size / max(1, stored_rows(conninfo)))


async def _stream_bytes_per_msg(login: dict) -> float:
    import nats

    from central import STREAM

    nc = await nats.connect(**login)
    try:
        info = await nc.jetstream().stream_info(STREAM)
        return round(info.state.bytes / max(1, info.state.messages))
    finally:
        await nc.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--halls", type=int, default=50)
    p.add_argument("--rows", type=int, default=1200, help="journal rows held back in each hall for the ingest run")
    p.add_argument("--live-seconds", type=float, default=20.0)
    p.add_argument("--consumers", type=int, default=2)
    p.add_argument("--fetch", type=int, default=1000, help="messages a consumer takes per batch")
    p.add_argument("--json", action="store_true")
    p.add_argument("--role", help=argparse.SUPPRESS)  # a child process of the benchmark
    p.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, help=argparse.SUPPRESS)
    p.add_argument("--names", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.role:
        from hallctl.commands.central import _quiet_tls_eof

        _quiet_tls_eof()
        if args.role == "raw-publish":
            bodies = (args.folder / "bodies.bin").read_bytes().split(b"\n")
            asyncio.run(raw_publish(child_login(args.folder, "central"), bodies))
        elif args.role == "raw-consume":
            asyncio.run(raw_consume(child_login(args.folder, "central"), args.count))
        elif args.role == "halls":
            names = args.names.split(",")
            logins = {n: child_login(args.folder, n) for n in names}
            asyncio.run(run_uplinks_with(args.folder, names, logins))
        return
    from central.services import missing

    if missing():
        sys.exit(f"bench/central.py: {missing()}")
    from hallctl.commands.central import _quiet_tls_eof

    _quiet_tls_eof()
    results = asyncio.run(run(args))
    say(json.dumps(results) if args.json else
        f"central: raw {results['raw_msgs_per_s']:,} msgs/s, ingest {results['ingest_rows_per_s']:,} rows/s "
        f"(ratio {results['ratio']:.2f}, aim ≥ 0.5), live lag p99 {results['lag_p99_ms']} ms, a day of one hall "
        f"stored in {results['day_stored_s']} s")


if __name__ == "__main__":
    main()
