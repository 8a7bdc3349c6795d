"""Console benchmark: the managers' console on a real broker and hub, measured in Chromium and at the server.

    .venv/bin/python bench/console.py [--calls 200] [--pages 50] [--seconds 30] [--speed 60] [--daily-tickets 1000]
                                      [--loads 10] [--keep DIR]

Sets up a throw-away hall (the shipped one, issuing all day) with its generated, secured Mosquitto config, runs
`hall hub` as its own process and the console as its own process (the app `hall web` serves, on uvicorn, plus one
bare static page under /bench/ as a reference), then measures in one run, on the same broker and server:

1. A call on the live page: a window PC publishes `call_next`; the hub answers and publishes `hub/call`; the
   console's device link hears it and pushes it over Server-Sent Events; the live page in headless Chromium puts
   the ticket in its list of last calls. The page times that itself (a MutationObserver notes
   `performance.timeOrigin + performance.now()`, and the next animation frame), so Playwright's polling adds
   nothing; the page's clock is set against ours by the shortest of 30 round trips. The clock starts when
   `call_next` is published, before the hub's work, so the figure is an upper bound of `hub/call` → DOM.
   Beside it, in the same run: a paho screen hearing the same `hub/call` (the hub's share), and the raw MQTT one
   hop (a paho publisher → a paho subscriber on the same broker). Aim: DOM p99 < 250 ms.
2. Open live pages at a busy hall's traffic: the hall's simulated traffic (hallctl.traffic.queue, every window
   calling and serving, at --speed simulated seconds per second and --daily-tickets) runs while N plain HTTP
   clients hold `/api/events` open with a session cookie. The console process's CPU (user + system, % of one core,
   from /proc/PID/stat) and memory (VmRSS): idle (no traffic, no stream, the reference), busy with no stream, busy
   with N streams; memory per page = (RSS with N streams − with none) ÷ N. Aim: CPU < 10 % of a core.
3. First load of the live page, a fresh browser each time (no cache) with a session cookie: first contentful paint
   (`performance.getEntriesByType('paint')`) and page weight (every response of the load, headers and bodies, as
   Chromium counts them; the push stream never ends and is left out), beside a bare static page from the same
   server. Aim: first paint < 1 s.
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

from bench._hall import (  # noqa: E402
    BenchHall,
    close,
    cpu_seconds,
    ms,
    paho_client,
    percentile,
    subscribe,
    wait_until,
)
from hall.credentials import Secrets  # noqa: E402
from hall.link import DeviceLink  # noqa: E402
from hall.protocol import dumps, envelope, new_event_id  # noqa: E402
from hub import broker  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
MANAGER = ("inspector", "inspector-password")  # a supervisor: sees the whole hall
BARE_PAGE = ('<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>静态 bare</title></head>\n'
             "<body><p>静态页 <span>a bare static page</span></p></body></html>\n")

# the console as `hall web` serves it (hallctl/commands/web.py), plus the bare page beside it
SERVE = """
import logging, sys
import uvicorn
from fastapi.staticfiles import StaticFiles
from hall.settings import load_hall
from web.app import create_app
config, data, port, broker_port, bare = sys.argv[1:]
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
app = create_app(load_hall(config), data, port=int(broker_port))
app.mount("/bench", StaticFiles(directory=bare, html=True))
uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", proxy_headers=True)
"""

# in the page: when each ticket first appears in the list of last calls, and the next frame after it
OBSERVE_CALLS = """() => {
  window.__seen = {}; window.__framed = {};
  const clock = () => performance.timeOrigin + performance.now();
  new MutationObserver(records => {
    const t = clock();
    for (const r of records) for (const n of r.addedNodes) {
      const b = n.querySelector && n.querySelector("b");
      const ticket = b && b.textContent;
      if (ticket && !(ticket in window.__seen)) {
        window.__seen[ticket] = t;
        requestAnimationFrame(() => { window.__framed[ticket] = clock(); });
      }
    }
  }).observe(document.getElementById("calls"), {childList: true});
}"""


def bench_config(dest: Path) -> Path:
    """The shipped hall, issuing all day, plus two bench-only logins for the raw one hop."""
    src = ROOT / "config"
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("catalogue.json", "staff.csv"):
        shutil.copy(src / name, dest / name)
    text = (src / "hall.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^issuing = .*$", "issuing = []", text)
    extra = "".join(f'  {{ id = "{u}", kind = "display" }},\n' for u in ("raw-pub", "raw-sink"))
    text = text.replace("devices = [\n", "devices = [\n" + extra, 1)
    (dest / "hall.toml").write_text(text, encoding="utf-8")
    return dest / "hall.toml"


class Device:
    """A hall device speaking the wire protocol by hand: it notes when each event is published."""

    def __init__(self, hall_id: str, user: str, password: str, port: int):
        self.hall_id, self.user, self.seq = hall_id, user, 0
        self.answers: dict[str, dict] = {}
        self.c = paho_client(user, password, port, self._on_message)
        subscribe(self.c, f"hall/v1/{hall_id}/{user}/res")

    def _on_message(self, cl, u, m) -> None:
        answer = json.loads(m.payload)
        self.answers[answer.get("re")] = answer

    def request(self, event_type: str, data: dict, timeout: float = 10.0) -> tuple[dict, float]:
        """The hub's answer and the wall-clock time the event was published."""
        self.seq += 1
        event_id = new_event_id()
        body = dumps(envelope(event_id, self.seq, data))
        published = time.time()
        self.c.publish(f"hall/v1/{self.hall_id}/{self.user}/evt/{event_type}", body, qos=1)
        answer = wait_until(lambda: self.answers.pop(event_id, None), timeout, f"{self.user} {event_type} answered",
                            step=0.001)
        return answer, published


# ---------------------------------------------------------------- the console's process

class ConsoleProcess:
    """The console on uvicorn in a process of its own, so /proc tells its CPU and memory apart."""

    def __init__(self, hall, data: Path, broker_port: int, bare: Path):
        self.port = broker.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(hall.path), str(data), str(self.port),
                                      str(broker_port), str(bare)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def session(self) -> str:
        """Log in through the form as a browser does; the session cookie's value."""
        with httpx.Client(base_url=self.url) as client:
            wait_until(lambda: _answers(client, "/login"), 30, "the console listening", step=0.1)
            form = client.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]*)"', form.text).group(1)
            done = client.post("/login", data={"username": MANAGER[0], "password": MANAGER[1], "csrf": csrf,
                                               "next": "/"})
            if done.status_code != 303:
                raise RuntimeError(f"login refused: {done.status_code}")
            return client.cookies["hall_session"]

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


def cpu_over(console: ConsoleProcess, seconds: float) -> tuple[float, int]:
    """% of one core the console used over `seconds`, and its RSS (kB) at the end."""
    c0, t0 = console.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    c1, t1 = console.cpu_seconds(), time.monotonic()
    return 100 * (c1 - c0) / (t1 - t0), console.rss_kb()


# ---------------------------------------------------------------- 1. a call, from the window PC to the page

def raw_one_hop(port: int, secrets: Secrets, n: int, gap: float) -> list[float]:
    heard: dict[bytes, float] = {}
    sink = paho_client("raw-sink", secrets.password("raw-sink"), port,
                       lambda cl, u, m: heard.setdefault(m.payload, time.time()))
    subscribe(sink, "bench/raw-pub/ping")
    pub = paho_client("raw-pub", secrets.password("raw-pub"), port)
    samples = []
    try:
        for i in range(n + 1):
            key = str(i).encode()
            sent = time.time()
            pub.publish("bench/raw-pub/ping", key, qos=1)
            at = wait_until(lambda key=key: heard.get(key), 5, "a raw message heard", step=0.0005)
            if i:  # the first warms the path up
                samples.append(at - sent)
            time.sleep(gap)
    finally:
        close(pub)
        close(sink)
    return samples


def clock_offset(page) -> tuple[float, float]:
    """The page's clock minus ours (s), from the shortest of 30 round trips, and its uncertainty (± s)."""
    best = None
    for _ in range(30):
        t0 = time.time()
        theirs = page.evaluate("performance.timeOrigin + performance.now()") / 1000
        t1 = time.time()
        if best is None or t1 - t0 < best[1]:
            best = (theirs - (t0 + t1) / 2, t1 - t0)
    return best[0], best[1] / 2


def calls_to_the_page(hall, port: int, secrets: Secrets, browser, console: ConsoleProcess, cookie: str,
                      n: int, gap: float) -> dict:
    windows = [w for w in hall.catalogue.windows]
    plan = [windows[i % len(windows)] for i in range(n + 1)]
    # the tickets the windows will call, one per call in each window's own queue
    kiosk = Device(hall.id, "kiosk-01", secrets.password("kiosk-01"), port)
    for w in plan:
        answer, _ = kiosk.request("ticket_request", {"queue": w.queues[0]})
        if not answer.get("ok"):
            raise RuntimeError(f"ticket refused: {answer}")
    close(kiosk.c)
    staff = {}
    for s in hall.staff:
        staff.setdefault(s.window, s.id)
    pcs = {}
    for w in windows:
        user = f"win-{int(w.id):02d}"
        pcs[w.id] = Device(hall.id, user, secrets.password(user), port)
        answer, _ = pcs[w.id].request("login", {"window": w.id, "staff": staff[w.id]})
        if not answer.get("ok"):
            raise RuntimeError(f"window {w.id} login refused: {answer}")

    screen_heard: dict[str, float] = {}
    screen = paho_client("display-01", secrets.password("display-01"), port,
                         lambda cl, u, m: screen_heard.setdefault(json.loads(m.payload)["ticket"], time.time()))
    subscribe(screen, f"hall/v1/{hall.id}/hub/call")

    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.add_cookies([{"name": "hall_session", "value": cookie, "url": console.url}])
    page = context.new_page()
    page.goto(f"{console.url}/")
    page.wait_for_function("document.body.dataset.push === 'connected'", timeout=10_000)
    time.sleep(0.5)  # the snapshot drawn
    page.evaluate(OBSERVE_CALLS)
    offset, uncertainty = clock_offset(page)

    published: dict[str, float] = {}
    try:
        for w in plan:
            answer, t = pcs[w.id].request("call_next", {"window": w.id})
            ticket = (answer.get("ticket") or {}).get("no")
            if not answer.get("ok") or not ticket:
                raise RuntimeError(f"window {w.id} called nothing: {answer}")
            published[ticket] = t
            wait_until(lambda ticket=ticket: ticket in screen_heard, 5, f"{ticket} heard by the screen", step=0.001)
            time.sleep(gap)  # windows call every few minutes, not in a tight loop
        wait_until(lambda: page.evaluate("t => Object.keys(window.__framed).length >= t", len(published)), 10,
                   "every call on the page")
        seen = page.evaluate("window.__seen")
        framed = page.evaluate("window.__framed")
        drift = clock_offset(page)[0] - offset
    finally:
        context.close()
        close(screen)
        for pc in pcs.values():
            close(pc.c)
    first = next(iter(published))  # the first call warms the path up
    timed = [t for t in published if t != first]
    return {
        "screen": [screen_heard[t] - published[t] for t in timed],
        "dom": [seen[t] / 1000 - offset - published[t] for t in timed],
        "frame": [framed[t] / 1000 - offset - published[t] for t in timed],
        "uncertainty": uncertainty, "drift": drift,
    }


# ---------------------------------------------------------------- 2. open live pages at a busy hall's traffic

class Streams:
    """N live pages as the server sees them: HTTP clients holding /api/events open with a session cookie, each
    reading every byte it is sent (on one asyncio loop in a thread of the bench)."""

    def __init__(self, console: ConsoleProcess, cookie: str, n: int):
        self.n, self.port, self.cookie = n, console.port, cookie
        self.events = [0] * n
        self.bytes = [0] * n
        self.loop = asyncio.new_event_loop()
        self._tasks: list[asyncio.Task] = []
        self._thread = threading.Thread(target=self.loop.run_forever, name="streams", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self.loop).result(30)
        wait_until(lambda: all(self.events), 30, f"{n} streams' snapshots")

    async def _open(self) -> None:
        for i in range(self.n):
            self._tasks.append(asyncio.ensure_future(self._read(i)))

    async def _read(self, i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAccept: text/event-stream\r\n"
                     f"Cookie: hall_session={self.cookie}\r\n\r\n".encode())
        await writer.drain()
        try:
            while chunk := await reader.read(65536):
                self.bytes[i] += len(chunk)
                self.events[i] += chunk.count(b"event: ")
        finally:
            writer.close()

    def close(self) -> None:
        for task in self._tasks:
            self.loop.call_soon_threadsafe(task.cancel)
        time.sleep(0.2)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def busy_hall(hall, data: Path, port: int, speed: float, daily_tickets: int):
    """The hall's simulated traffic through every kiosk, window PC and rating pad's own link."""
    from hallctl.traffic.queue import HallTraffic

    links = []
    for d in [*hall.devices_of("kiosk"), *hall.devices_of("window"), *hall.devices_of("caller")]:
        link = DeviceLink(hall, d.id, data, port=port).start()
        links.append(link)
    for link in links:
        if not link.wait_connected(10):
            raise RuntimeError(f"{link.device.id}: not connected")
    by_kind = {k: [x for x in links if x.device.kind == k] for k in ("kiosk", "window", "caller")}
    traffic = HallTraffic(hall, kiosks=by_kind["kiosk"], windows=by_kind["window"], raters=by_kind["caller"],
                          speed=speed, daily_tickets=daily_tickets, seed=1)
    return traffic.start(), links


class HubMessages:
    """Counts what the hub publishes (hub/#), as a screen would hear it."""

    def __init__(self, hall, port: int, secrets: Secrets):
        self.count, self.calls = 0, 0
        self.c = paho_client("display-02", secrets.password("display-02"), port, self._on_message)
        subscribe(self.c, f"hall/v1/{hall.id}/hub/#")

    def _on_message(self, cl, u, m) -> None:
        self.count += 1
        self.calls += m.topic.endswith("/hub/call")


def busy_figures(hall, data: Path, port: int, secrets: Secrets, console: ConsoleProcess, cookie: str, *,
                 pages: int, seconds: float, speed: float, daily_tickets: int) -> dict:
    out = {}
    time.sleep(2)
    out["idle"] = cpu_over(console, seconds)
    heard = HubMessages(hall, port, secrets)
    traffic, links = busy_hall(hall, data, port, speed, daily_tickets)
    try:
        time.sleep(min(10.0, seconds))  # every clerk logged in, the first calls made
        n0, c0 = heard.count, heard.calls
        out["busy"] = cpu_over(console, seconds)
        out["rate"] = ((heard.count - n0) / seconds, (heard.calls - c0) / seconds * 60)
        streams = Streams(console, cookie, pages)
        try:
            time.sleep(2)
            e0 = sum(streams.events)
            n0 = heard.count
            out["streams"] = cpu_over(console, seconds)
            out["stream_events"] = (sum(streams.events) - e0) / pages / seconds
            out["rate_streams"] = (heard.count - n0) / seconds
        finally:
            streams.close()
    finally:
        traffic.stop()
        for link in links:
            link.stop()
        close(heard.c)
    out["traffic"] = dict(traffic.stats)
    return out


# ---------------------------------------------------------------- 3. first load

PAINT = """() => Object.fromEntries(performance.getEntriesByType("paint").map(e => [e.name, e.startTime]))"""
# when the document's first byte came: the server's share of the first paint
FIRST_BYTE = """() => performance.getEntriesByType("navigation")[0].responseStart"""


def first_loads(browser, url: str, cookie: str, base: str, loads: int) -> dict:
    """First contentful paint (ms) and page weight (bytes) of `url` in a fresh browser each time."""
    paints, weights, counts, first_bytes = [], [], [], []
    for _ in range(loads + 1):
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        context.add_cookies([{"name": "hall_session", "value": cookie, "url": base}])
        page = context.new_page()
        finished = []
        page.on("requestfinished", lambda request, finished=finished: finished.append(request))
        page.goto(url, wait_until="load")
        paint = wait_until(lambda page=page: page.evaluate(PAINT).get("first-contentful-paint"), 10, "the first paint")
        time.sleep(0.3)  # the script's own requests done
        sizes = [r.sizes() for r in finished]
        weights.append(sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes))
        counts.append(len(sizes))
        paints.append(paint)
        first_bytes.append(page.evaluate(FIRST_BYTE))
        context.close()
    # the first load also starts Chromium's own machinery: left out
    return {"paint": paints[1:], "weight": weights[1:], "count": counts[1:], "first_byte": first_bytes[1:]}


# ---------------------------------------------------------------- the figures

def line(label: str, figures: str) -> None:
    print(f"  {label:<50} {figures}")


def report(args, port: int, hop: list[float], call: dict, busy: dict, live_load: dict, bare_load: dict) -> None:
    hop50, hop99 = ms(hop)
    scr50, scr99 = ms(call["screen"])
    dom50, dom99 = ms(call["dom"])
    frm50, frm99 = ms(call["frame"])
    print(f"hallkit console benchmark: Mosquitto on 127.0.0.1:{port}, the hub as `hall hub`, the console on uvicorn "
          f"in its own process, Chromium headless")
    print(f"1. a call on the live page: {len(call['dom'])} calls, {args.gap * 1000:.0f} ms apart, timed from "
          f"call_next published")
    line("raw MQTT one hop, paho → paho (reference)", f"p50 {hop50:7.2f} ms   p99 {hop99:7.2f} ms")
    line("call_next → hub → hub/call at a paho screen", f"p50 {scr50:7.2f} ms   p99 {scr99:7.2f} ms")
    line("call_next → hub → console → SSE → the page's DOM", f"p50 {dom50:7.2f} ms   p99 {dom99:7.2f} ms")
    line("… → the next animation frame", f"p50 {frm50:7.2f} ms   p99 {frm99:7.2f} ms")
    line("DOM ÷ raw one hop", f"p50 ×{dom50 / hop50:6.1f}      p99 ×{dom99 / hop99:6.1f}")
    line("DOM − screen (the console's and the page's share)", f"p50 {dom50 - scr50:7.2f} ms   "
         f"p99 {dom99 - scr99:7.2f} ms")
    print(f"  the page's clock set to ± {call['uncertainty'] * 1000:.2f} ms, drifted {call['drift'] * 1000:+.2f} ms "
          f"over the calls")
    print(f"  aim: DOM p99 < 250 ms: {'met' if dom99 < 250 else 'missed'}")

    (idle_cpu, idle_rss), (busy_cpu, busy_rss) = busy["idle"], busy["busy"]
    open_cpu, open_rss = busy["streams"]
    msgs, calls_min = busy["rate"]
    per_page = (open_rss - busy_rss) / args.pages
    print(f"2. the console's process, {args.seconds:.0f} s each; the busy hall (speed {args.speed:g}, "
          f"{args.daily_tickets} tickets a day): {msgs:.1f} hub messages/s, {calls_min:.0f} calls/min")
    line("idle, no page open (reference)", f"CPU {idle_cpu:5.1f} % of a core   RSS {idle_rss / 1024:6.1f} MB")
    line("busy hall, no page open", f"CPU {busy_cpu:5.1f} % of a core   RSS {busy_rss / 1024:6.1f} MB")
    line(f"busy hall, {args.pages} live pages ({busy['stream_events']:.1f} events/s each)",
         f"CPU {open_cpu:5.1f} % of a core   RSS {open_rss / 1024:6.1f} MB")
    line(f"{args.pages} pages ÷ idle", f"CPU ×{open_cpu / max(idle_cpu, 0.1):5.1f}")
    line("memory per page", f"{per_page:6.0f} kB")
    print(f"  aim: CPU < 10 % of a core with {args.pages} pages: {'met' if open_cpu < 10 else 'missed'}")

    lp50, bp50 = percentile(live_load["paint"], 50), percentile(bare_load["paint"], 50)
    lp_max, bp_max = max(live_load["paint"]), max(bare_load["paint"])
    lw, bw = percentile(live_load["weight"], 50), percentile(bare_load["weight"], 50)
    print(f"3. first load, a fresh browser context each time, {args.loads} loads of each")
    line("bare static page, same server (reference)", f"first paint median {bp50:6.1f} ms  max {bp_max:6.1f} ms   "
         f"{bw / 1024:5.1f} kB in {bare_load['count'][0]} responses")
    line("live page", f"first paint median {lp50:6.1f} ms  max {lp_max:6.1f} ms   "
         f"{lw / 1024:5.1f} kB in {live_load['count'][0]} responses")
    line("live ÷ bare", f"first paint ×{lp50 / bp50:5.1f}                        weight ×{lw / bw:5.1f}")
    line("first byte of the document, bare · live", f"median {percentile(bare_load['first_byte'], 50):6.1f} ms · "
         f"{percentile(live_load['first_byte'], 50):6.1f} ms")
    print(f"  aim: first paint < 1 s: {'met' if lp_max < 1000 else 'missed'}")


# ---------------------------------------------------------------- the run

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200, help="calls timed from the window PC to the page")
    ap.add_argument("--gap", type=float, default=0.1, help="seconds between calls (and raw messages)")
    ap.add_argument("--pages", type=int, default=50, help="live pages (push streams) open at the busy hall")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each CPU measurement")
    ap.add_argument("--speed", type=float, default=60.0, help="simulated seconds per second of the busy hall")
    ap.add_argument("--daily-tickets", type=int, default=1000, help="tickets a simulated day (Miluo's: 500)")
    ap.add_argument("--loads", type=int, default=10, help="first loads timed of each page")
    ap.add_argument("--keep", type=Path, help="keep the hall's data directory here")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from web import users

    work = Path(tempfile.mkdtemp(prefix="hall-bench-"))
    data = args.keep or work / "var"
    bench = BenchHall(bench_config(work / "config"), data, raw_logins=True)
    hall, port, secrets = bench.hall, bench.port, bench.secrets
    db = users.open_db(data)
    users.add_user(db, MANAGER[0], "supervisor", None, MANAGER[1])
    db.close()
    bare = work / "bare"
    bare.mkdir()
    (bare / "index.html").write_text(BARE_PAGE, encoding="utf-8")

    console = None
    try:
        hop = raw_one_hop(port, secrets, args.calls, args.gap)
        bench.start_hub()
        console = ConsoleProcess(hall, data, port, bare)
        cookie = console.session()
        with httpx.Client(base_url=console.url, cookies={"hall_session": cookie}) as client:
            wait_until(lambda: (lambda live: live["connected"] and live["hub"] == "online")(
                client.get("/api/live").json()), 30, "the console following the hub")

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                call = calls_to_the_page(hall, port, secrets, browser, console, cookie, args.calls, args.gap)
                busy = busy_figures(hall, data, port, secrets, console, cookie, pages=args.pages,
                                    seconds=args.seconds, speed=args.speed, daily_tickets=args.daily_tickets)
                live_load = first_loads(browser, f"{console.url}/", cookie, console.url, args.loads)
                bare_load = first_loads(browser, f"{console.url}/bench/", cookie, console.url, args.loads)
            finally:
                browser.close()

        report(args, port, hop, call, busy, live_load, bare_load)
        return 0
    finally:
        if console is not None:
            console.stop()
        bench.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
