"""Citizens' site benchmark: 1,000 phones following their tickets at once, on a real broker and hub.

    .venv/bin/python bench/public.py [--phones 1000] [--calls 200] [--gap 0.1] [--seconds 20] [--keep DIR]

Sets up a throw-away hall (the shipped one, issuing all day, no limit per address: every phone here has the same
one) with its generated, secured Mosquitto config, runs `hall hub` as its own process, takes --phones tickets at a
kiosk (spread over the windows' queues), runs the citizens' site as its own process (the app `hall public` serves,
on uvicorn) and opens one push stream (`/api/t/<token>/events`, Server-Sent Events) per ticket from this process,
each a plain asyncio connection reading the stream as a phone's EventSource would. Then, in one run, on the same
broker and server:

1. A call on the phone: a window PC publishes `call_next`; the hub answers and announces `hub/call`; the site's
   device link hears it and pushes the called ticket's page to the one stream that follows it. Timed from the
   moment `call_next` is published to the moment the stream's `called` page is read here, so the figure is an
   upper bound of `hub/call` → phone (the phone's radio is not in it). Beside it, in the same run: a paho screen
   hearing the same `hub/call` (the hub's share), and the raw MQTT one hop (a paho publisher → a paho subscriber
   on the same broker). Aim: p99 < 1 s.
2. The site's process (CPU: user + system, % of one core, from /proc/PID/stat; memory: VmRSS): with no stream
   open (the reference), with every stream open and the hall quiet, and with every stream open while the calls of
   part 1 go on; memory per phone = (RSS with the streams − without) ÷ phones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# run from the repository, not from bench/ (whose queue.py would shadow the standard library's)
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

import httpx  # noqa: E402

from bench._hall import BenchHall, close, cpu_seconds, ms, paho_client, percentile, subscribe, wait_until  # noqa: E402
from bench.console import Device, bench_config, raw_one_hop  # noqa: E402
from hall.credentials import Secrets  # noqa: E402
from hub import broker  # noqa: E402

# the site as `hall public` serves it (hallctl/commands/public.py)
SERVE = """
import logging, resource, sys
import uvicorn
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket per phone
from hall.settings import load_hall
from public.app import create_app
config, data, port, broker_port = sys.argv[1:]
logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
app = create_app(load_hall(config), data, port=int(broker_port))
uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", backlog=4096)
"""


def public_bench_config(dest: Path) -> Path:
    """The console bench's hall (issuing all day, the raw one hop's logins), with no limit per address."""
    path = bench_config(dest)
    text = path.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^lookups_per_minute = .*$", "lookups_per_minute = 100000", text)
    assert n == 1
    path.write_text(text, encoding="utf-8")
    return path


class SiteProcess:
    """The site on uvicorn in a process of its own, so /proc tells its CPU and memory apart."""

    def __init__(self, hall, data: Path, broker_port: int):
        self.port = broker.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(hall.path), str(data), str(self.port),
                                      str(broker_port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def rss_kb(self) -> int:
        return int(re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{self.proc.pid}/status").read_text()).group(1))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def cpu_over(site: SiteProcess, seconds: float) -> tuple[float, int]:
    c0, t0 = site.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return 100 * (site.cpu_seconds() - c0) / (time.monotonic() - t0), site.rss_kb()


# ---------------------------------------------------------------- the phones

class Phones:
    """One push stream per ticket on an asyncio loop in a thread: `called[no]` is when its `called` page was read."""

    def __init__(self, port: int, tokens: dict[str, str]):
        self.port, self.tokens = port, tokens
        self.opened = 0
        self.pages = 0
        self.called: dict[str, float] = {}
        self.failed: list[str] = []
        self.loop = asyncio.new_event_loop()
        self._tasks: list[asyncio.Task] = []
        self._thread = threading.Thread(target=self.loop.run_forever, name="phones", daemon=True)
        self._thread.start()

    def open_all(self, timeout: float = 120) -> None:
        def start():
            for no, token in self.tokens.items():
                self._tasks.append(self.loop.create_task(self._follow(no, token)))
        self.loop.call_soon_threadsafe(start)
        last = -1
        end = time.monotonic() + timeout
        while self.opened + len(self.failed) < len(self.tokens):
            if time.monotonic() > end:
                raise RuntimeError(f"only {self.opened} of {len(self.tokens)} streams open")
            if self.opened // 100 != last // 100:
                print(f"  … {self.opened} of {len(self.tokens)} phones following", flush=True)
                last = self.opened
            time.sleep(0.1)
        if self.failed:
            raise RuntimeError(f"{len(self.failed)} streams failed, the first: {self.failed[0]}")

    async def _follow(self, no: str, token: str) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.write(f"GET /api/t/{token}/events HTTP/1.1\r\nHost: hall\r\nAccept: text/event-stream\r\n\r\n"
                         .encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            self.opened += 1
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"data: "):
                    read = time.time()
                    self.pages += 1
                    if b'"status":"called"' in line and no not in self.called:
                        self.called[no] = read
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 — counted and reported
            self.failed.append(f"{no}: {type(err).__name__}: {err}")

    def close(self) -> None:
        def stop():
            for task in self._tasks:
                task.cancel()
        self.loop.call_soon_threadsafe(stop)
        time.sleep(0.5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


# ---------------------------------------------------------------- the run

def take_tickets(hall, port: int, secrets: Secrets, n: int) -> tuple[dict[str, str], list]:
    """n tickets spread over the windows' first queues: number → token."""
    windows = list(hall.catalogue.windows)
    kiosk = Device(hall.id, "kiosk-01", secrets.password("kiosk-01"), port)
    tokens = {}
    try:
        for i in range(n):
            answer, _ = kiosk.request("ticket_request", {"queue": windows[i % len(windows)].queues[0]})
            if not answer.get("ok"):
                raise RuntimeError(f"ticket refused: {answer}")
            tokens[answer["ticket"]["no"]] = answer["ticket"]["follow"]
            if (i + 1) % 250 == 0:
                print(f"  … {i + 1} of {n} tickets taken", flush=True)
    finally:
        close(kiosk.c)
    return tokens, windows


class Windows:
    """Every window's PC logged in, and a screen hearing `hub/call`. Made before the phones' streams are open:
    paho waits on its socket with select(), which takes no descriptor above 1,023, and the phones take a thousand."""

    def __init__(self, hall, port: int, secrets: Secrets, windows: list):
        staff = {}
        for s in hall.staff:
            staff.setdefault(s.window, s.id)
        self.pcs = {}
        for w in windows:
            user = f"win-{int(w.id):02d}"
            self.pcs[w.id] = Device(hall.id, user, secrets.password(user), port)
            answer, _ = self.pcs[w.id].request("login", {"window": w.id, "staff": staff[w.id]})
            if not answer.get("ok"):
                raise RuntimeError(f"window {w.id} login refused: {answer}")
        self.heard: dict[str, float] = {}
        self.screen = paho_client("display-01", secrets.password("display-01"), port,
                                  lambda cl, u, m: self.heard.setdefault(json.loads(m.payload)["ticket"], time.time()))
        subscribe(self.screen, f"hall/v1/{hall.id}/hub/call")

    def close(self) -> None:
        close(self.screen)
        for pc in self.pcs.values():
            close(pc.c)


def calls_to_the_phones(desks: Windows, windows: list, phones: Phones, site: SiteProcess, n: int,
                        gap: float) -> dict:
    pcs, heard = desks.pcs, desks.heard
    published: dict[str, float] = {}
    c0, t0 = site.cpu_seconds(), time.monotonic()
    try:
        for i in range(n + 1):
            w = windows[i % len(windows)]
            answer, t = pcs[w.id].request("call_next", {"window": w.id})
            ticket = (answer.get("ticket") or {}).get("no")
            if not answer.get("ok") or not ticket:
                raise RuntimeError(f"window {w.id} called nothing: {answer}")
            published[ticket] = t
            wait_until(lambda ticket=ticket: ticket in phones.called, 10, f"{ticket} on its phone", step=0.001)
            time.sleep(gap)
        cpu = 100 * (site.cpu_seconds() - c0) / (time.monotonic() - t0)
        rss = site.rss_kb()
    finally:
        desks.close()
    timed = list(published)[1:]  # the first call warms the path up
    return {"screen": [heard[t] - published[t] for t in timed], "phone": [phones.called[t] - published[t]
                                                                         for t in timed],
            "cpu": cpu, "rss": rss}


def line(label: str, figures: str) -> None:
    print(f"  {label:<52} {figures}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phones", type=int, default=1000, help="tickets followed at once, one push stream each")
    ap.add_argument("--calls", type=int, default=200, help="calls timed from the window PC to the phone")
    ap.add_argument("--gap", type=float, default=0.1, help="seconds between calls (and raw messages)")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each quiet CPU measurement")
    ap.add_argument("--keep", type=Path, help="keep the hall's data directory here")
    args = ap.parse_args(argv)
    import resource

    # a socket per phone here and in the site: more than the usual 1,024 open files
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.phones + 200:
        raise SystemExit(f"bench/public.py: {args.phones} phones need {args.phones + 200} open files; "
                         f"the limit is {hard} (ulimit -Hn)")

    work = Path(tempfile.mkdtemp(prefix="hall-bench-public-"))
    data = args.keep or work / "var"
    bench = BenchHall(public_bench_config(work / "config"), data, raw_logins=True)
    hall, port, secrets = bench.hall, bench.port, bench.secrets
    site = phones = None
    try:
        hop = raw_one_hop(port, secrets, args.calls, args.gap)
        bench.start_hub()
        tokens, windows = take_tickets(hall, port, secrets, args.phones)
        site = SiteProcess(hall, data, port)
        first = next(iter(tokens.values()))
        with httpx.Client(base_url=site.url) as client:
            wait_until(lambda: _answers(client, f"/api/t/{first}"), 30, "the site listening", step=0.1)
        time.sleep(2)
        none_cpu, none_rss = cpu_over(site, args.seconds)
        desks = Windows(hall, port, secrets, windows)
        phones = Phones(site.port, tokens)
        opened_at = time.monotonic()
        phones.open_all()
        open_s = time.monotonic() - opened_at
        time.sleep(2)
        open_cpu, open_rss = cpu_over(site, args.seconds)
        call = calls_to_the_phones(desks, windows, phones, site, args.calls, args.gap)
        report(args, port, hop, call, (none_cpu, none_rss), (open_cpu, open_rss), open_s, phones)
        return 0
    finally:
        if phones is not None:
            phones.close()
        if site is not None:
            site.stop()
        bench.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


def report(args, port: int, hop: list[float], call: dict, none: tuple, opened: tuple, open_s: float,
           phones: Phones) -> None:
    hop50, hop99 = ms(hop)
    scr50, scr99 = ms(call["screen"])
    ph50, ph99 = ms(call["phone"])
    print(f"hallkit citizens' site benchmark: Mosquitto on 127.0.0.1:{port}, the hub as `hall hub`, the site on "
          f"uvicorn in its own process, {args.phones} phones following their tickets (SSE)")
    print(f"1. a call on the phone: {len(call['phone'])} calls, {args.gap * 1000:.0f} ms apart, timed from "
          f"call_next published")
    line("raw MQTT one hop, paho → paho (reference)", f"p50 {hop50:7.2f} ms   p99 {hop99:7.2f} ms")
    line("call_next → hub → hub/call at a paho screen", f"p50 {scr50:7.2f} ms   p99 {scr99:7.2f} ms")
    line("call_next → hub → site → SSE → the phone's stream", f"p50 {ph50:7.2f} ms   p99 {ph99:7.2f} ms   "
         f"max {max(call['phone']) * 1000:7.2f} ms")
    line("phone ÷ raw one hop", f"p50 ×{ph50 / hop50:6.1f}      p99 ×{ph99 / hop99:6.1f}")
    line("phone − screen (the site's share)", f"p50 {ph50 - scr50:7.2f} ms   p99 {ph99 - scr99:7.2f} ms")
    print(f"  aim: p99 < 1 s: {'met' if ph99 < 1000 else 'missed'}")
    (none_cpu, none_rss), (open_cpu, open_rss) = none, opened
    print(f"2. the site's process ({args.seconds:.0f} s quiet; the calls of part 1)")
    line("no phone following (reference)", f"CPU {none_cpu:5.1f} % of a core   RSS {none_rss / 1024:6.1f} MB")
    line(f"{args.phones} phones following, hall quiet", f"CPU {open_cpu:5.1f} % of a core   "
         f"RSS {open_rss / 1024:6.1f} MB")
    line(f"{args.phones} phones following, {1 / args.gap:.0f} calls/s", f"CPU {call['cpu']:5.1f} % of a core   "
         f"RSS {call['rss'] / 1024:6.1f} MB")
    line("memory per phone", f"{(open_rss - none_rss) / args.phones:6.1f} kB")
    line(f"{args.phones} streams opened in", f"{open_s:6.1f} s ({args.phones / open_s:.0f} a second)")
    line("pages pushed in all", f"{phones.pages}")
    print(f"  p50 of the calls: {percentile(call['phone'], 50) * 1000:.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
