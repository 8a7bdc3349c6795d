"""Booking benchmark: 200 concurrent clients booking on the citizens' site, beside a bare endpoint of the same
framework in the same run.

    .venv/bin/python bench/booking.py [--clients 200] [--per-client 5] [--keep DIR]

Sets up a throw-away hall (the shipped one, issuing all day, no limit per address: every client here has the same
one; queue B's slots take 10,000 bookings each, so every request is a real booking and none is refused as full)
with its generated, secured Mosquitto config, runs `hall hub` as its own process and the citizens' site as its own
process (uvicorn, as `hall public` serves it). Then, in one run:

1. The reference: a bare FastAPI endpoint on uvicorn in a process of its own (`POST /api/bare`, JSON in, 201 JSON
   out, nothing else), driven exactly as below.
2. Booking: --clients clients at once, each posting --per-client bookings one after the other to
   `POST /api/bookings` (a different person each time, slots spread over the bookable days): the site validates,
   sends `booking_request` to the hub over its own link and answers 201 with the code once the hub has decided
   and committed it. Timed per request, from send to the answer read. Aim: p99 < 100 ms.

Prints p50 / p99 of both, the ratio, and how many bookings the hub stored (it must be every one answered 201).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

import httpx  # noqa: E402

from bench.console import close, ms, paho_client, subscribe, wait_until  # noqa: E402
from bench.public import CLOCK_TICKS, SiteProcess, public_bench_config  # noqa: E402
from hall.clock import stamp  # noqa: E402
from hall.credentials import Endpoint, Secrets  # noqa: E402
from hall.settings import load_hall  # noqa: E402
from hub import broker  # noqa: E402
from hub.cases.rules import ID_CHECK, ID_WEIGHTS  # noqa: E402

BARE = """
import sys
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
app = FastAPI()

@app.post("/api/bare")
async def bare(request: Request):
    body = await request.json()
    return JSONResponse({"code": "00000000", "queue": body.get("queue")}, status_code=201)

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", backlog=4096)
"""


def booking_bench_config(dest: Path) -> Path:
    path = public_bench_config(dest)
    text = path.read_text(encoding="utf-8")
    text, n = re.subn(r"(?ms)^(\[appointments\.queues\.B\].*?^capacity = )\d+", r"\g<1>10000", text)
    assert n == 1
    path.write_text(text, encoding="utf-8")
    return path


def id_number(n: int) -> str:
    """A different valid ID number (GB 11643) for each n: born on a different day, sequence n % 1000."""
    born = 19500101 + (n // 1000)  # days 01..28 of January 1950 onwards are enough for 28,000 people
    body = f"110101{born}{n % 1000:03d}"
    total = sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True))
    return body + ID_CHECK[total % 11]


class Bare:
    def __init__(self):
        self.port = broker.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-c", BARE, str(self.port)], cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


async def post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str,
               body: bytes) -> int:
    """One HTTP/1.1 POST on a kept-alive connection; the status once the whole answer is read. A client this small
    costs the measuring process little, so the figures are the server's, not the client library's."""
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    await reader.readexactly(length)
    return status


async def drive(url: str, path: str, bodies: list[list[dict]]) -> tuple[list[float], dict[int, int]]:
    """Each list of bodies is one client on a connection of its own, posting them one after the other; all
    clients at once."""
    import json

    host, port = url.removeprefix("http://").split(":")
    times: list[float] = []
    statuses: dict[int, int] = {}
    start = asyncio.Event()

    async def one(mine: list[dict]) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            await start.wait()
            for body in mine:
                data = json.dumps(body, ensure_ascii=False).encode()
                t0 = time.perf_counter()
                status = await post(reader, writer, f"{host}:{port}", path, data)
                times.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(one(b)) for b in bodies]
    await asyncio.sleep(0.5)  # every connection open before the first request
    start.set()
    await asyncio.gather(*tasks)
    return times, statuses


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200, help="concurrent clients")
    ap.add_argument("--per-client", type=int, default=5, help="bookings each client makes, one after the other")
    ap.add_argument("--keep", type=Path, help="keep the hall's data directory here")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="hall-bench-booking-"))
    data = args.keep or work / "var"
    hall = load_hall(booking_bench_config(work / "config"))
    files = broker.BrokerFiles(data)
    broker.provision(hall, files)
    port = broker.free_port()
    broker.write_config(hall, files, port, bind="127.0.0.1")
    Endpoint(port=port).save(data)
    mosq = broker.start_mosquitto(files, port)
    secrets = Secrets.load(files.secrets)
    hub = site = bare = None
    try:
        started = stamp()
        status: dict = {}
        import json

        watcher = paho_client("display-02", secrets.password("display-02"), port,
                              lambda cl, u, m: status.update(json.loads(m.payload)))
        subscribe(watcher, f"hall/v1/{hall.id}/hub/status")
        print("starting the hub, the site and the bare endpoint…", flush=True)
        hub = subprocess.Popen([sys.executable, "-m", "hallctl.cli", "hub", "--config", str(hall.path), "--data",
                                str(data), "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        wait_until(lambda: status.get("state") == "online" and status.get("ts", "") >= started, 30, "hub online")
        close(watcher)
        site = SiteProcess(hall, data, port)
        bare = Bare()
        with httpx.Client(base_url=site.url) as c:
            slots = wait_until(lambda: _slots(c), 30, "the site's slots", step=0.1)
        with httpx.Client(base_url=bare.url) as c:
            wait_until(lambda: _answers(c), 30, "the bare endpoint", step=0.1)
        choices = [(d["date"], s["time"]) for d in slots for s in d["slots"]]
        n = args.clients * args.per_client
        people = [{"queue": "B", "date": choices[i % len(choices)][0], "time": choices[i % len(choices)][1],
                   "name": "王五", "id_number": id_number(i), "phone": "13900139000"} for i in range(n)]
        per_client = [people[c::args.clients] for c in range(args.clients)]
        print(f"1. the bare endpoint: {n} requests from {args.clients} clients at once…", flush=True)
        before_bare = cpu_seconds(bare.proc.pid)
        bare_times, bare_status = asyncio.run(drive(bare.url, "/api/bare", per_client))
        bare_cpu = (cpu_seconds(bare.proc.pid) - before_bare) / n * 1000
        print(f"2. booking: {n} bookings from {args.clients} clients at once…", flush=True)
        before = site.cpu_seconds(), cpu_seconds(hub.pid)
        book_times, book_status = asyncio.run(drive(site.url, "/api/bookings", per_client))
        cpu = [(b - a) / n * 1000 for a, b in zip(before, (site.cpu_seconds(), cpu_seconds(hub.pid)), strict=True)]
        stored = _stored(data)
        report(args, port, bare_times, bare_status, book_times, book_status, stored, cpu, bare_cpu)
        return 0
    finally:
        for p in (site, bare):
            if p is not None:
                p.stop()
        if hub is not None and hub.poll() is None:
            hub.send_signal(signal.SIGTERM)
            try:
                hub.wait(10)
            except subprocess.TimeoutExpired:
                hub.kill()
        mosq.terminate()
        mosq.wait(10)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _slots(client: httpx.Client):
    try:
        r = client.get("/api/slots?queue=B")
    except httpx.TransportError:
        return None
    return r.status_code == 200 and r.json()["dates"]


def _answers(client: httpx.Client) -> bool:
    try:
        return client.post("/api/bare", json={}).status_code == 201
    except httpx.TransportError:
        return False


def _stored(data: Path) -> int:
    conn = sqlite3.connect(f"file:{data / 'hub.db'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM bookings").fetchone()[0]
    finally:
        conn.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def report(args, port, bare_times, bare_status, book_times, book_status, stored, cpu, bare_cpu) -> None:
    b50, b99 = ms(bare_times)
    k50, k99 = ms(book_times)
    print(f"hallkit booking benchmark: Mosquitto on 127.0.0.1:{port}, the hub as `hall hub`, the site and the bare "
          f"endpoint on uvicorn in processes of their own; {args.clients} clients at once, {args.per_client} "
          f"requests each")
    print(f"  {'bare FastAPI endpoint (reference)':44s} p50 {b50:7.2f} ms   p99 {b99:7.2f} ms   {bare_status}")
    print(f"  {'POST /api/bookings (site → hub → answer)':44s} p50 {k50:7.2f} ms   p99 {k99:7.2f} ms   {book_status}")
    print(f"  ratio booking / bare: p50 ×{k50 / b50:.1f}, p99 ×{k99 / b99:.1f}; aim p99 < 100 ms: "
          f"{'met' if k99 < 100 else 'NOT met'}")
    print(f"  bookings stored by the hub: {stored} (answered 201: {book_status.get(201, 0)})")
    print(f"  CPU per request: the bare endpoint {bare_cpu:.3f} ms; a booking: the site {cpu[0]:.3f} ms, the hub "
          f"{cpu[1]:.3f} ms (at most {2000 / sum(cpu):.0f} bookings/s on two cores, the broker and the clients aside)")


if __name__ == "__main__":
    sys.exit(main())
