"""Queue benchmark: 34 windows calling at once through a real broker and a real hub (not a test).

    .venv/bin/python bench/queue.py [--windows 34] [--calls 60] [--kiosks 3] [--keep DIR]

Sets up a throw-away hall (the shipped one, issuing all day) with its generated, secured Mosquitto config, runs
`hall hub` as its own process, then measures in one run, on the same broker:

1. raw MQTT, no hub, the same bursts of N clients publishing at QoS 1 at the same moment (bench-only topics):
   a. one hop: publisher → broker → screen;
   b. the round trip a call makes, publisher → broker → relay → broker → screen, where the relay is a bare
      paho client in a process of its own that republishes each message at QoS 1 (TCP_NODELAY, as the hub);
2. ticket_request → res: kiosks issuing the tickets the windows will call, each waiting for its answer;
3. call_next published → `hub/call` received by a display: bursts in which all N windows call at the same moment
   (the worst case of a real hall, where each window calls every few minutes). The hub in place of the relay.

The publishing side (windows, kiosks, raw publishers: each its own login and connection) is driven from one
thread by one select loop, so the harness adds no thread switching of its own. The receiving side of 1 and 3 is a
screen, as in a hall a device of its own: one client in a process of its own, timing each arrival with the same
monotonic clock (`time.perf_counter`, CLOCK_MONOTONIC on Linux, shared by all processes). It prints p50/p99 of
each path and the ratio of the call path to the raw round trip (1b: the same legs, without the hub's work).
Aim: call p99 < 25 ms and < 3 × raw round trip p99.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from bench._hall import ms  # noqa: E402
from hall.clock import stamp  # noqa: E402
from hall.credentials import Endpoint, Secrets  # noqa: E402
from hall.protocol import dumps, envelope, new_event_id  # noqa: E402
from hall.settings import load_hall  # noqa: E402
from hub import broker  # noqa: E402

RAW_USERS = [f"raw-{i:02d}" for i in range(1, 35)]


def bench_config(dest: Path) -> Path:
    """The shipped hall, issuing all day, plus bench-only logins for the raw round trip."""
    src = ROOT / "config"
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("catalogue.json", "staff.csv"):
        shutil.copy(src / name, dest / name)
    text = (src / "hall.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^issuing = .*$", "issuing = []", text)
    extra = "".join(f'  {{ id = "{u}", kind = "display" }},\n' for u in [*RAW_USERS, "raw-sink", "raw-relay"])
    text = text.replace("devices = [\n", "devices = [\n" + extra, 1)
    (dest / "hall.toml").write_text(text, encoding="utf-8")
    return dest / "hall.toml"


# ---------------------------------------------------------------- one thread, one select loop, many clients

class Loop:
    """paho clients on an external select loop (paho's on_socket_* hooks), all in the calling thread."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.clients: list[mqtt.Client] = []
        self._misc = time.monotonic()

    def client(self, user: str, password: str, port: int, on_message: Callable | None = None) -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
        c.username_pw_set(user, password)
        c.max_inflight_messages_set(1000)
        c.on_socket_open = self._opened
        c.on_socket_close = lambda cl, u, sock: self.sel.unregister(sock)
        c.on_socket_register_write = lambda cl, u, sock: self.sel.modify(
            sock, selectors.EVENT_READ | selectors.EVENT_WRITE, cl)
        c.on_socket_unregister_write = lambda cl, u, sock: self.sel.modify(sock, selectors.EVENT_READ, cl)
        c.user_data_set({"connected": False, "subscribed": 0})
        c.on_connect = lambda cl, u, f, rc, p=None: u.update(connected=not rc.is_failure)
        c.on_subscribe = lambda cl, u, mid, rcs, p=None: u.update(subscribed=u["subscribed"] + 1)
        if on_message:
            c.on_message = on_message
        c.connect("127.0.0.1", port, keepalive=60)
        self.clients.append(c)
        self.until(lambda: c.user_data_get()["connected"], 10, f"{user} connected")
        return c

    def _opened(self, cl, userdata, sock) -> None:
        # small messages both ways: without this, Nagle and delayed ACKs add ~40 ms stalls on the client side
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sel.register(sock, selectors.EVENT_READ, cl)

    def subscribe(self, c: mqtt.Client, topic: str) -> None:
        before = c.user_data_get()["subscribed"]
        c.subscribe(topic, qos=1)
        self.until(lambda: c.user_data_get()["subscribed"] > before, 10, f"subscription to {topic}")

    def step(self, timeout: float = 0.05) -> None:
        for key, events in self.sel.select(timeout):
            if events & selectors.EVENT_READ:
                # paho reads one packet per call here: read on while the socket holds more
                while key.data.loop_read() == 0 and _readable(key.fileobj):
                    pass
            if events & selectors.EVENT_WRITE:
                key.data.loop_write()
        if time.monotonic() - self._misc > 1.0:
            self._misc = time.monotonic()
            for c in self.clients:
                c.loop_misc()

    def flush(self) -> None:
        """Write what the clients have queued, reading nothing."""
        for _ in range(1000):
            pending = [c for c in self.clients if c.want_write()]
            if not pending:
                return
            for c in pending:
                c.loop_write()

    def until(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not done():
            if time.monotonic() > end:
                raise RuntimeError(f"{what}: not within {timeout} s")
            self.step()

    def close(self) -> None:
        for c in self.clients:
            c.disconnect()
        for _ in range(20):
            self.step(0.01)


def _readable(sock) -> bool:
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return False


class Screen:
    """One subscriber in a process of its own (a hall screen is a device of its own): it times every arrival
    and hands the times over when asked. `key` names a message: "topic:N" (its topic's level N) or "call"."""

    def __init__(self, user: str, password: str, port: int, topic: str, key: str):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_screen_main, args=(child, user, password, port, topic, key), daemon=True)
        self.proc.start()
        if not self.conn.poll(30) or self.conn.recv() != "ready":
            raise RuntimeError(f"{user}: the screen process did not subscribe to {topic}")
        self.heard: dict = {}

    def wait_alone(self, count: int, timeout: float, what: str) -> dict:
        """Wait for this screen to have heard `count` messages, leaving the publishing clients' sockets unread
        meanwhile (their PUBACKs and answers are read after the burst, in both the raw and the hub measurements).
        The screen answers once, when it has them: asking it after every message would cost the screen, the hub
        and the broker a process switch each."""
        self.conn.send(("until", count))
        if not self.conn.poll(timeout):
            raise RuntimeError(f"{what}: not within {timeout} s")
        self.heard.update(self.conn.recv())
        return self.heard

    def close(self) -> None:
        self.conn.send("stop")
        self.proc.join(10)


def _screen_main(conn, user: str, password: str, port: int, topic: str, key: str) -> None:
    loop = Loop()
    heard: dict = {}

    def on_message(cl, u, m):
        t = time.perf_counter()
        if key == "call":
            call = json.loads(m.payload)
            heard[(call["window"], call["ticket"])] = t
        else:  # "topic:N": the topic's level N
            heard[m.topic.split("/")[int(key.split(":")[1])]] = t

    c = loop.client(user, password, port, on_message)
    loop.subscribe(c, topic)
    conn.send("ready")
    until = None
    while True:
        loop.step(0.01)
        if until is not None and len(heard) >= until:
            conn.send(heard)
            heard, until = {}, None
        while conn.poll():
            cmd = conn.recv()
            if cmd == "stop":
                loop.close()
                return
            until = cmd[1]


# ---------------------------------------------------------------- the three measurements

def raw_bursts(loop: Loop, port: int, secrets: Secrets, n: int, rounds: int, relay: bool) -> list[float]:
    """Bursts: n clients publish at the same moment, a screen times every arrival, directly or through the
    relay; `rounds` bursts."""
    samples: list[float] = []
    topic, level = ("bench/raw-relay/+", 2) if relay else ("bench/+/ping", 1)
    sink = Screen("raw-sink", secrets.password("raw-sink"), port, topic, key=f"topic:{level}")
    echo = Relay("raw-relay", secrets.password("raw-relay"), port) if relay else None
    try:
        publishers = {user: loop.client(user, secrets.password(user), port) for user in RAW_USERS[:n]}
        for r in range(rounds + 1):
            sent: dict[str, float] = {}
            sink.heard.clear()
            for user, c in publishers.items():
                sent[user] = time.perf_counter()
                c.publish(f"bench/{user}/ping", b"x", qos=1)
            loop.flush()
            heard = sink.wait_alone(len(sent), 30, "a burst of raw messages")
            if r:  # the first burst warms the path up
                samples += [heard[user] - t for user, t in sent.items()]
            settle(loop)
        for c in publishers.values():
            c.disconnect()
        loop.clients = [c for c in loop.clients if c not in publishers.values()]
        settle(loop)
    finally:
        sink.close()
        if echo:
            echo.close()
    return samples


class Relay:
    """The hub's two legs without the hub: a bare paho client (its own process, its own network loop) that
    republishes every bench/<user>/ping at QoS 1 as bench/raw-relay/<user>."""

    def __init__(self, user: str, password: str, port: int):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_relay_main, args=(child, user, password, port), daemon=True)
        self.proc.start()
        if not self.conn.poll(30) or self.conn.recv() != "ready":
            raise RuntimeError(f"{user}: the relay did not subscribe")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


def _relay_main(conn, user: str, password: str, port: int) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.max_inflight_messages_set(0)
    client.on_socket_open = lambda c, u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.on_connect = lambda c, u, f, rc, p=None: c.subscribe("bench/+/ping", qos=1)
    client.on_subscribe = lambda c, u, mid, rcs, p=None: conn.send("ready")
    client.on_message = lambda c, u, m: c.publish(f"bench/{user}/{m.topic.split('/')[1]}", m.payload, qos=1)
    client.connect("127.0.0.1", port, keepalive=60)
    client.loop_forever()


def settle(loop: Loop, seconds: float = 0.05) -> None:
    """A breath between bursts: windows call every few minutes, not in a tight loop."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        loop.step(0.01)


class Device:
    """A hall device speaking the wire protocol by hand on the shared loop: envelopes out, answers in."""

    def __init__(self, loop: Loop, hall_id: str, user: str, password: str, port: int,
                 on_answer: Callable[[Device, dict, float], None]):
        self.hall_id, self.user, self.seq = hall_id, user, 0
        self.on_answer = on_answer
        self.sent_at: dict[str, float] = {}
        self.c = loop.client(user, password, port, self._on_message)
        loop.subscribe(self.c, f"hall/v1/{hall_id}/{user}/res")

    def request(self, event_type: str, data: dict) -> float:
        self.seq += 1
        event_id = new_event_id()
        body = dumps(envelope(event_id, self.seq, data))
        t0 = self.sent_at[event_id] = time.perf_counter()
        self.c.publish(f"hall/v1/{self.hall_id}/{self.user}/evt/{event_type}", body, qos=1)
        return t0

    def _on_message(self, cl, u, m):
        t = time.perf_counter()
        answer = json.loads(m.payload)
        t0 = self.sent_at.pop(answer.get("re"), None)
        if t0 is not None:
            self.on_answer(self, answer, t - t0)


def issue_tickets(loop: Loop, hall, port: int, secrets: Secrets, plan: list[str], kiosks: int) -> list[float]:
    samples: list[float] = []
    todo = list(plan)
    done = [0]

    def answered(dev: Device, answer: dict, elapsed: float) -> None:
        if not answer.get("ok"):
            raise RuntimeError(f"ticket refused: {answer}")
        samples.append(elapsed)
        done[0] += 1
        if todo:
            dev.request("ticket_request", {"queue": todo.pop()})

    devices = [Device(loop, hall.id, f"kiosk-{i:02d}", secrets.password(f"kiosk-{i:02d}"), port, answered)
               for i in range(1, kiosks + 1)]
    for dev in devices:
        if todo:
            dev.request("ticket_request", {"queue": todo.pop()})
    loop.until(lambda: done[0] >= len(plan), 300, "tickets issued")
    return samples


def call_windows(loop: Loop, hall, port: int, secrets: Secrets, windows: list[str], rounds: int,
                 display: Screen) -> list[float]:
    """Bursts: every window calls next at the same moment; a display times each call's announcement."""
    published: dict[str, float] = {}
    answered: dict[str, str | None] = {}

    def on_answer(dev: Device, answer: dict, elapsed: float) -> None:
        if not answer.get("ok"):
            raise RuntimeError(f"call_next refused: {answer}")
        answered[dev.window] = (answer.get("ticket") or {}).get("no")

    devices = []
    for w in windows:
        user = f"win-{int(w):02d}"
        dev = Device(loop, hall.id, user, secrets.password(user), port, on_answer)
        dev.window = w
        devices.append(dev)
    # only a window with someone logged in calls (hub/queue/engine.py): the first of each window's staff
    staff: dict[str, str] = {}
    for s in hall.staff:
        staff.setdefault(s.window, s.id)
    for dev in devices:
        dev.request("login", {"window": dev.window, "staff": staff[dev.window]})
    loop.flush()
    loop.until(lambda: len(answered) == len(devices), 60, "every window logged in")
    samples: list[float] = []
    everyone = set(windows)
    for r in range(rounds + 1):
        answered.clear()
        display.heard.clear()
        for dev in devices:
            published[dev.window] = dev.request("call_next", {"window": dev.window})
        loop.flush()
        # Each window is a PC of its own: it reads its answer on its own CPU. Here the 34 windows share the
        # bench's process, so they read their answers once the screen has heard the burst, instead of taking
        # the CPU from the screen (and the hub) while it is being announced.
        heard = display.wait_alone(len(everyone), 10, "every window's call heard")
        loop.until(lambda: len(answered) == len(devices), 60, "a burst of calls answered")
        called = [(w, no) for w, no in answered.items() if no]
        if len(called) != len(devices) or any(k not in heard for k in called):
            raise RuntimeError(f"the calls heard do not match the answers: {sorted(heard)} vs {sorted(called)}")
        if r:  # the first burst warms the path up
            samples += [heard[(w, no)] - published[w] for w, no in called]
        settle(loop)
    return samples


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=34)
    ap.add_argument("--calls", type=int, default=60,
                    help="timed bursts: each window calls once per burst (60: p99 from 2,040 calls, not 680)")
    ap.add_argument("--kiosks", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the hall's data directory here")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="hall-bench-"))
    data = args.keep or work / "var"
    hall = load_hall(bench_config(work / "config"))
    files = broker.BrokerFiles(data)
    broker.provision(hall, files)
    # bench-only: each raw client may publish under bench/<its login>/, the sink may read all of bench/, the
    # relay the pings
    with files.acl.open("a", encoding="utf-8") as acl:
        acl.write("\npattern write bench/%u/#\nuser raw-sink\ntopic read bench/#\nuser raw-relay\n"
                  "topic read bench/+/ping\n")
    port = broker.free_port()
    broker.write_config(hall, files, port, bind="127.0.0.1")
    Endpoint(port=port).save(data)
    mosq = broker.start_mosquitto(files, port)
    secrets = Secrets.load(files.secrets)
    loop = Loop()
    hub = None
    try:
        windows = [w.id for w in hall.catalogue.windows][: args.windows]
        hop = raw_bursts(loop, port, secrets, len(windows), args.calls, relay=False)
        raw = raw_bursts(loop, port, secrets, len(windows), args.calls, relay=True)

        started = stamp()
        status: dict = {}
        watcher = loop.client("display-02", secrets.password("display-02"), port,
                              lambda cl, u, m: status.update(json.loads(m.payload)))
        loop.subscribe(watcher, f"hall/v1/{hall.id}/hub/status")
        hub = subprocess.Popen([sys.executable, "-m", "hallctl.cli", "hub", "--config", str(hall.path), "--data",
                                str(data), "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        loop.until(lambda: status.get("state") == "online" and status.get("ts", "") >= started, 30, "hub online")
        display = Screen("display-01", secrets.password("display-01"), port, f"hall/v1/{hall.id}/hub/call",
                         key="call")

        # tickets for every window's own queue, in proportion to the windows serving it
        plan = [hall.catalogue.window(w).queues[0] for w in windows for _ in range(args.calls + 1)]
        issued = issue_tickets(loop, hall, port, secrets, plan, args.kiosks)
        try:
            called = call_windows(loop, hall, port, secrets, windows, args.calls, display)
        finally:
            display.close()
        loop.close()

        hop50, hop99 = ms(hop)
        raw50, raw99 = ms(raw)
        call50, call99 = ms(called)
        iss50, iss99 = ms(issued)
        n = len(windows)
        print(f"hallkit queue benchmark: {n} windows, {len(called)} calls timed, {len(issued)} tickets; "
              f"Mosquitto on 127.0.0.1:{port}, hub as `hall hub`")
        print(f"  raw MQTT one hop, {n} clients → screen             p50 {hop50:7.2f} ms   p99 {hop99:7.2f} ms")
        print(f"  raw MQTT round trip, {n} clients → relay → screen  p50 {raw50:7.2f} ms   p99 {raw99:7.2f} ms")
        print(f"  call_next → hub → hub/call, {n} windows → screen   p50 {call50:7.2f} ms   p99 {call99:7.2f} ms")
        print(f"  ticket_request → res, {args.kiosks} kiosks                    p50 {iss50:7.2f} ms   "
              f"p99 {iss99:7.2f} ms")
        print(f"  call ÷ raw round trip                             p50 ×{call50 / raw50:6.1f}      "
              f"p99 ×{call99 / raw99:6.1f}")
        print(f"  aim: call p99 < 25 ms: {'met' if call99 < 25 else 'missed'}; "
              f"call p99 < 3 × raw round trip p99 ({3 * raw99:.2f} ms): {'met' if call99 < 3 * raw99 else 'missed'}")
        return 0
    finally:
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


if __name__ == "__main__":
    sys.exit(main())
