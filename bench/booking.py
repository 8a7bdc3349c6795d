"""Booking benchmark: 200 concurrent clients booking on the citizens' site, beside a bare endpoint of the same
framework in the same run.

    .venv/bin/python bench/booking.py [--clients 200] [--bursts 5] [--per-client 5] [--keep DIR]

Sets up a throw-away hall (the shipped one, issuing all day, no limit per address: every client here has the same
one; queue B's slots take 10,000 bookings each, so every request is a real booking and none is refused as full)
with its generated, secured Mosquitto config, runs `hall hub` as its own process and the citizens' site as its own
process (uvicorn, as `hall public` serves it). The reference is a bare FastAPI endpoint on uvicorn in a process of
its own (`POST /api/bare`, JSON in, 201 JSON out, nothing else), driven exactly as the site.

A booking: the site validates, sends `booking_request` to the hub over its own link and answers 201 with the code
once the hub has decided and committed it (a different person each time, slots spread over the bookable days).
Timed per request, from send to the answer read. Aim: p99 < 100 ms. Two readings of "200 concurrent clients":

1. At once: --clients citizens press 预约 at the same moment, one booking each (the morning the slots open); the
   burst --bursts times, a second apart.
2. Back to back: --clients clients each posting --per-client bookings one after the other, the next as soon as
   the last is answered: a load that never lets up, so every request waits for the ones ahead of it, and the
   latency is the clients over the bookings a second the machine can make (Little's law). The CPU per booking of
   the site and of the hub says what that rate is on this machine.

Beside them, one client alone booking 50 times one after the other: the latency of a booking with nothing ahead.

The site answers `POST /api/bookings` at its front door, past FastAPI's routing (public/app.py `FrontDoor`, the
handler FastAPI documents); the bare endpoint is routed by FastAPI as any route is.

Prints p50 / p99 of every reading for both endpoints, the ratios, the CPU per request, and how many bookings the
hub stored (it must be every one answered 201).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

import httpx  # noqa: E402

from bench._hall import BenchHall, cpu_seconds, ms, wait_until  # noqa: E402
from bench.public import SiteProcess, public_bench_config  # noqa: E402
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


ALONE = 50  # bookings of the one client alone


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
    ap.add_argument("--bursts", type=int, default=5, help="bursts of one booking from each client, a second apart")
    ap.add_argument("--per-client", type=int, default=5, help="bookings each client makes, one after the other")
    ap.add_argument("--keep", type=Path, help="keep the hall's data directory here")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="hall-bench-booking-"))
    data = args.keep or work / "var"
    bench = BenchHall(booking_bench_config(work / "config"), data)
    hall, port = bench.hall, bench.port
    site = bare = None
    try:
        print("starting the hub, the site and the bare endpoint…", flush=True)
        hub = bench.start_hub()
        site = SiteProcess(hall, data, port)
        bare = Bare()
        with httpx.Client(base_url=site.url) as c:
            slots = wait_until(lambda: _slots(c), 30, "the site's slots", step=0.1)
        with httpx.Client(base_url=bare.url) as c:
            wait_until(lambda: _answers(c), 30, "the bare endpoint", step=0.1)
        choices = [(d["date"], s["time"]) for d in slots for s in d["slots"]]
        people = iter({"queue": "B", "date": choices[i % len(choices)][0], "time": choices[i % len(choices)][1],
                       "name": "王五", "id_number": id_number(i), "phone": "13900139000"} for i in itertools.count())
        readings = {}
        for name, clients, per_client, rounds in (("at once", args.clients, 1, args.bursts),
                                                  ("back to back", args.clients, args.per_client, 1),
                                                  ("alone", 1, ALONE, 1)):
            n = clients * per_client * rounds
            for label, proc, url, path in (("bare", bare.proc, bare.url, "/api/bare"),
                                           ("booking", site.proc, site.url, "/api/bookings")):
                print(f"{name}: {label}, {n} requests from {clients} clients…", flush=True)
                times, statuses = [], {}
                before = cpu_seconds(proc.pid), cpu_seconds(hub.pid)
                for _ in range(rounds):
                    bodies = [next(people) for _ in range(clients * per_client)]
                    t, st = asyncio.run(drive(url, path, [bodies[c::clients] for c in range(clients)]))
                    times += t
                    for code, count in st.items():
                        statuses[code] = statuses.get(code, 0) + count
                    if rounds > 1:
                        time.sleep(1.0)
                cpu = [(b - a) / n * 1000 for a, b in zip(before, (cpu_seconds(proc.pid), cpu_seconds(hub.pid)),
                                                          strict=True)]
                readings[name, label] = (times, statuses, cpu)
        report(args, port, readings, _stored(data))
        return 0
    finally:
        for p in (site, bare):
            if p is not None:
                p.stop()
        bench.close()
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


def report(args, port, readings, stored) -> None:
    print(f"hallkit booking benchmark: Mosquitto on 127.0.0.1:{port}, the hub as `hall hub`, the site and the bare "
          f"endpoint on uvicorn in processes of their own; {args.clients} clients")
    for name, how in (("at once", f"one request each, {args.bursts} bursts"),
                      ("back to back", f"{args.per_client} requests each, one after the other")):
        (bare, bare_status, _), (book, book_status, _) = readings[name, "bare"], readings[name, "booking"]
        b50, b99 = ms(bare)
        k50, k99 = ms(book)
        print(f"  {args.clients} {name} ({how}):")
        print(f"    {'bare FastAPI endpoint (reference)':42s} p50 {b50:7.2f} ms   p99 {b99:7.2f} ms   {bare_status}")
        print(f"    {'POST /api/bookings (site → hub → answer)':42s} p50 {k50:7.2f} ms   p99 {k99:7.2f} ms   "
              f"{book_status}")
        print(f"    ratio booking / bare: p50 ×{k50 / b50:.1f}, p99 ×{k99 / b99:.1f}; aim p99 < 100 ms: "
              f"{'met' if k99 < 100 else 'NOT met'}")
    (bare, _, _), (book, _, _) = readings["alone", "bare"], readings["alone", "booking"]
    print(f"  one client alone ({ALONE} requests one after the other): bare p50 {ms(bare)[0]:.2f} ms, "
          f"booking p50 {ms(book)[0]:.2f} ms, p99 {ms(book)[1]:.2f} ms")
    bare_cpu = readings["back to back", "bare"][2][0]
    site_cpu, hub_cpu = readings["back to back", "booking"][2]
    print(f"  CPU per request (back to back): the bare endpoint {bare_cpu:.3f} ms; a booking: the site "
          f"{site_cpu:.3f} ms, the hub {hub_cpu:.3f} ms: at most {2000 / (site_cpu + hub_cpu):.0f} bookings/s on "
          f"two cores, the broker and the clients aside, so {args.clients} clients back to back wait at least "
          f"{args.clients * (site_cpu + hub_cpu) / 2:.0f} ms on average")
    answered = sum(readings[name, "booking"][1].get(201, 0) for name in ("at once", "back to back", "alone"))
    print(f"  bookings stored by the hub: {stored} (answered 201: {answered})")


if __name__ == "__main__":
    sys.exit(main())
