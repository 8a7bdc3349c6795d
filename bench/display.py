"""Calling board benchmark (not a test): call latency to the screen, and the CPU of a board left alone.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python bench/display.py [--calls 100] [--seconds 30]
        [--size 1920x1080] [--keep]

Sets up a throw-away hall data directory with the generated, secured Mosquitto config, publishes the retained
state a hub would (34 windows, every queue, the calls list, hub online) with the hub's login, then runs three
subprocesses side by side on the same screen:

- the calling board (`display-01`, through its own DeviceLink, exactly as `hall display` runs it, with the
  shipped playlist: the band turns a page every few seconds),
- a bare Kivy app showing one static label (Kivy's defaults), the reference, and
- for scale, the same bare app scrolling one line of text across the screen without pause (what the band used
  to do): what any moving text costs on this machine. It is stopped before the latency is measured.

1. CPU: after a warm-up, all three are left alone for `--seconds`; the CPU time of each process (all its threads,
   from /proc/<pid>/stat) is compared: board / bare, and the board's share of one core. The board's frames in
   that time are counted too. Aim: board < 2 × bare and < 25 % of one core.
2. Latency: `hub/call` messages published one at a time (at hall pace, a few a second); the board reports when it
   received each one and when the frame showing the new ticket on its tile had been handed to the screen (after
   the buffer swap). Prints p50/p99 of received → on screen, and of published → on screen (the broker included).
   Aim: p99 < 100 ms.
3. Burst: opening time, every window (34) calls within one second. Prints the time from each call's publishing
   to its tile on screen (p50, p100; aim p100 < 1 s), and when the voice would say the last of them: the
   announcement queue run over the real clips (`hall voice build` with espeak-ng, the short form under a
   backlog), each announcement as long as its WAV, beside the lengths of the full and the short form (aim: the
   last said within 2 minutes of the first call).

On a machine without a GPU driver (Xvfb, Mesa llvmpipe) every frame is rasterised in software in the process:
there a 1920×1080 frame costs tens of milliseconds of CPU, even one that only clears the screen and swaps, so
both figures are set by how few frames the board draws and how little each one redraws.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- children

def child_board(args) -> None:
    from display.board import BoardController, configure_kivy

    configure_kivy(False, args.size)
    from kivy.clock import Clock
    from kivy.core.window import Window

    from display.board import BoardApp
    from hall.link import DeviceLink
    from hall.settings import load_hall

    received: dict[str, float] = {}
    waiting: dict[str, float] = {}
    original = BoardController._from_network

    def from_network(self, topic, payload):
        if topic.endswith("/hub/call"):
            received[payload.get("ticket")] = time.monotonic()
        original(self, topic, payload)

    BoardController._from_network = from_network
    hall = load_hall()
    link = DeviceLink(hall, "display-01", args.data, port=args.port)
    app = BoardApp(hall, link=link)

    def on_applied(changes):
        for key in changes:
            if key.startswith("tile:"):
                tile = app.model.tiles[key[5:]]
                if tile.ticket in received:
                    waiting[tile.ticket] = received.pop(tile.ticket)

    swap = Window.flip

    def flip():
        """The window's buffer swap (Window.on_flip calls it after its listeners): the frame is on screen."""
        swap()
        now = time.monotonic()
        print(json.dumps({"frame": now}), flush=True)
        if waiting:
            for ticket, got in list(waiting.items()):
                print(json.dumps({"drawn": ticket, "received": got, "flipped": now}), flush=True)
            waiting.clear()

    def ready(_dt):
        if app.model.online and app.board.tiles.get("3") and app.board.tiles["3"].ticket:
            print(json.dumps({"ready": True}), flush=True)
            return False
        return True

    def hook(_dt):
        app.controller.listeners.append(on_applied)
        Window.flip = flip
        Clock.schedule_interval(ready, 0.2)

    Clock.schedule_once(hook, 0)
    link.start()
    app.run()


def child_bare(args, moving: bool = False) -> None:
    """A bare Kivy app (Kivy's defaults) with one label: static, or (`moving`) scrolled like the band's text."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "width", str(args.size[0]))
    Config.set("graphics", "height", str(args.size[1]))
    from kivy.animation import Animation
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.label import Label

    from hall.fonts import cjk_font

    text = "欢迎来到汨罗市政务服务中心。请先在自助取号机取号，听到叫号后到对应窗口办理。"

    class Bare(App):
        def build(self):
            Clock.schedule_once(lambda _dt: print(json.dumps({"ready": True}), flush=True), 0.5)
            root = FloatLayout()
            label = Label(text=text if moving else "汨罗市政务服务中心", font_size=34 if moving else 64,
                          font_name=cjk_font(), size_hint=(None, None))
            label.texture_update()
            label.size = label.texture_size
            root.add_widget(label)
            if moving:
                def again(*_):
                    label.x = args.size[0]
                    anim = Animation(x=-label.width, duration=(args.size[0] + label.width) / 120, t="linear")
                    anim.bind(on_complete=again)
                    anim.start(label)
                Clock.schedule_once(again, 0)
            else:
                label.center = (args.size[0] / 2, args.size[1] / 2)
            return root

    Bare().run()


# ---------------------------------------------------------------- parent

def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class Child:
    def __init__(self, kind: str, args, env: dict, data: Path, port: int, log: Path):
        cmd = [sys.executable, __file__, "--child", kind, "--data", str(data), "--port", str(port),
               "--size", f"{args.size[0]}x{args.size[1]}"]
        self.log = open(log, "w")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self.log)
        self.buf = ""

    def lines(self, timeout: float) -> list[dict]:
        """The JSON lines the child printed within `timeout` seconds (read unbuffered: select sees them all)."""
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            left = end - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self.buf += chunk.decode()
            if left <= 0 or not ready:
                break
        *complete, self.buf = self.buf.split("\n")
        out = []
        for line in complete:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_ready(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise SystemExit(f"child exited with {self.proc.returncode}; see {self.log.name}")
            if any(m.get("ready") for m in self.lines(1.0)):
                return
        raise SystemExit(f"child not ready in {timeout} s; see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def setup_hall(data: Path):
    from bench._hall import start_broker
    from hall.settings import load_hall

    hall = load_hall()
    port, proc = start_broker(hall, data)
    return hall, port, proc


def hub_client(hall, data: Path, port: int):
    from hall.credentials import Endpoint, Secrets
    from hall.mqtt import new_client

    client = new_client("hub", Endpoint(port=port), Secrets.load(data / "secrets.toml").password("hub"))
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    end = time.monotonic() + 10
    while not client.is_connected() and time.monotonic() < end:
        time.sleep(0.02)
    return client


def publish(client, hall, suffix: str, payload: dict, retain: bool = True) -> None:
    client.publish(f"hall/v1/{hall.id}/{suffix}", json.dumps(payload, ensure_ascii=False), qos=1,
                   retain=retain).wait_for_publish(5)


def retained_state(client, hall) -> None:
    publish(client, hall, "hub/status", {"state": "online", "kind": "hub", "version": "0.1.0", "ts": "bench"})
    publish(client, hall, "hub/catalogue", hall.catalogue.wire())
    for i, w in enumerate(hall.catalogue.windows):
        prefix = hall.catalogue.queue(w.queues[0]).prefix
        publish(client, hall, f"hub/state/window/{w.id}", {"window": w.id, "status": "serving",
                                                           "ticket": f"{prefix}{i + 1:03d}", "staff": None,
                                                           "queues": list(w.queues)})
    for q in hall.catalogue.queues:
        publish(client, hall, f"hub/state/queue/{q.id}", {"queue": q.id, "waiting": 9, "est_wait_s": 900,
                                                          "last_called": None})
    publish(client, hall, "hub/calls", {"calls": []})


def run(args) -> dict:
    env = dict(os.environ, KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1", KIVY_NO_ARGS="1",
               KIVY_HOME=tempfile.mkdtemp(prefix="kivy-bench-"))
    if not os.environ.get("DISPLAY"):
        raise SystemExit("no X display: run the bench under xvfb-run (see the top of this file)")
    tmp = tempfile.mkdtemp(prefix="hall-display-bench-")
    try:
        data = Path(tmp) / "var"
        hall, port, broker_proc = setup_hall(data)
        client = hub_client(hall, data, port)
        children: list[Child] = []
        try:
            retained_state(client, hall)
            board = Child("board", args, env, data, port, Path(tmp) / "board.log")
            bare = Child("bare", args, env, data, port, Path(tmp) / "bare.log")
            moving = Child("moving", args, env, data, port, Path(tmp) / "moving.log")
            children += [board, bare, moving]
            for c in children:
                c.wait_ready()
            time.sleep(args.warmup)
            # 1. CPU, all left alone; the board's band turns its pages
            board.lines(0)
            c0 = {c: cpu_seconds(c.proc.pid) for c in children}
            t0 = time.monotonic()
            time.sleep(args.seconds)
            wall = time.monotonic() - t0
            cpu = {c: (cpu_seconds(c.proc.pid) - c0[c]) / wall for c in children}
            frames = sum(1 for m in board.lines(0.5) if t0 <= m.get("frame", 0) <= t0 + wall)
            moving.stop()  # the latency is the board's alone, not shared with a scrolling app
            # 2. latency, one call at a time at hall pace
            published: dict[str, float] = {}
            drawn: list[dict] = []
            rng = random.Random(7)
            windows = [w.id for w in hall.catalogue.windows]
            for i in range(args.calls):
                window = rng.choice(windows)
                prefix = hall.catalogue.queue(hall.catalogue.window(window).queues[0]).prefix
                ticket = f"{prefix}{100 + i:03d}"
                published[ticket] = time.monotonic()
                publish(client, hall, "hub/call", {"ticket": ticket, "window": window, "queue": prefix,
                                                   "at": f"bench-{i}", "recall": 0}, retain=False)
                drawn += [m for m in board.lines(rng.uniform(0.15, 0.35)) if "drawn" in m]
            drawn += [m for m in board.lines(3.0) if "drawn" in m]
            # 3. a burst: every window calls within one second
            burst_published: dict[str, float] = {}
            burst_drawn: list[dict] = []
            t_burst = time.monotonic()
            for i, window in enumerate(windows):
                prefix = hall.catalogue.queue(hall.catalogue.window(window).queues[0]).prefix
                ticket = f"{prefix}{500 + i:03d}"
                while time.monotonic() < t_burst + i / len(windows):
                    burst_drawn += [m for m in board.lines(0.005) if "drawn" in m]
                burst_published[ticket] = time.monotonic()
                publish(client, hall, "hub/call", {"ticket": ticket, "window": window, "queue": prefix,
                                                   "at": f"burst-{i}", "recall": 0}, retain=False)
            burst_drawn += [m for m in board.lines(3.0) if "drawn" in m]
        finally:
            for c in children:
                c.stop()
            client.disconnect()
            client.loop_stop()
            broker_proc.terminate()
            broker_proc.wait(10)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    burst = [m["flipped"] - burst_published[m["drawn"]] for m in burst_drawn if m["drawn"] in burst_published]
    offsets = sorted(t - t_burst for t in burst_published.values())
    on_screen = [1000 * (m["flipped"] - m["received"]) for m in drawn]
    end_to_end = [1000 * (m["flipped"] - published[m["drawn"]]) for m in drawn if m["drawn"] in published]
    return {"board_cpu": cpu[board], "bare_cpu": cpu[bare], "moving_cpu": cpu[moving],
            "frames": frames, "seconds": wall, "calls": args.calls,
            "drawn": len(drawn), "recv_p50": pct(on_screen, 0.5) if on_screen else float("nan"),
            "recv_p99": pct(on_screen, 0.99) if on_screen else float("nan"),
            "pub_p50": pct(end_to_end, 0.5) if end_to_end else float("nan"),
            "pub_p99": pct(end_to_end, 0.99) if end_to_end else float("nan"),
            "recv_mean": statistics.mean(on_screen) if on_screen else float("nan"),
            "burst_calls": len(burst_published), "burst_drawn": len(burst),
            "burst_p50": pct(burst, 0.5) if burst else float("nan"), "burst_p100": max(burst, default=float("nan")),
            "burst_span": offsets[-1] if offsets else float("nan"),
            "voice": voice_burst(offsets, windows)}


def voice_burst(offsets: list[float], windows: list[str]) -> dict:
    """The announcement queue over a burst, timed by the real clips: when each call would be said."""
    from display.voice import (
        Announcement,
        AnnouncementQueue,
        ClipSet,
        announcement_frames,
        build_clips,
        seconds,
    )

    with tempfile.TemporaryDirectory(prefix="hall-voice-bench-") as tmp:
        build_clips(tmp)
        clips = ClipSet(tmp)
        queue = AnnouncementQueue()
        arrivals = [(t, Announcement.for_call(f"A{500 + i:03d}", w)) for i, (t, w) in enumerate(zip(offsets, windows, strict=True))]
        t, ends, forms = 0.0, [], {}
        while arrivals or len(queue):
            while arrivals and arrivals[0][0] <= t:
                at, item = arrivals.pop(0)
                queue.offer(item, at)
            if not len(queue):
                t = arrivals[0][0]
                continue
            item = queue.pop()
            length = seconds(announcement_frames(item, clips))
            kind = "full" if not item.short else ("short+chime" if item.plan[0] == "chime" else "short")
            forms.setdefault(kind, length)
            t += length
            ends.append(t)
        return {"last_said": ends[-1] if ends else float("nan"), "said": len(ends), "forms": forms,
                "skipped": queue.skipped}


def report(r: dict) -> None:
    ratio = r["board_cpu"] / r["bare_cpu"] if r["bare_cpu"] else float("inf")
    print(f"cpu    board {100 * r['board_cpu']:.1f} % of a core, bare app with a static label "
          f"{100 * r['bare_cpu']:.1f} %: ratio {ratio:.2f}  (aim: < 2 and board < 25 %)"
          f"  {'ok' if ratio < 2 and r['board_cpu'] < 0.25 else 'MISSED'}")
    print(f"       the board drew {r['frames']} frames in {r['seconds']:.0f} s (page turns, the minute)")
    print(f"       for scale: a bare app scrolling one label without pause {100 * r['moving_cpu']:.1f} %: "
          f"board / that {r['board_cpu'] / r['moving_cpu'] if r['moving_cpu'] else float('inf'):.2f}")
    print(f"call   {r['drawn']}/{r['calls']} calls drawn; received → on screen p50 {r['recv_p50']:.1f} ms "
          f"p99 {r['recv_p99']:.1f} ms; published → on screen p50 {r['pub_p50']:.1f} ms p99 {r['pub_p99']:.1f} ms"
          f"  (aim: p99 < 100 ms)  {'ok' if r['recv_p99'] < 100 else 'MISSED'}")
    print(f"burst  {r['burst_drawn']}/{r['burst_calls']} calls published within {r['burst_span']:.2f} s all on screen; "
          f"published → on screen p50 {1000 * r['burst_p50']:.0f} ms p100 {1000 * r['burst_p100']:.0f} ms"
          f"  (aim: p100 < 1 s)  {'ok' if r['burst_p100'] < 1 and r['burst_drawn'] == r['burst_calls'] else 'MISSED'}")
    vb = r["voice"]
    forms = ", ".join(f"{k} {v:.1f} s" for k, v in vb["forms"].items())
    print(f"voice  {vb['said']} calls said, {vb['skipped']} skipped; the last said {vb['last_said']:.0f} s after the "
          f"first call ({forms})  (aim: < 120 s)  {'ok' if vb['last_said'] < 120 else 'MISSED'}")


def parse_size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--seconds", type=float, default=30.0, help="CPU measuring time")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--size", type=parse_size, default=(1920, 1080))
    p.add_argument("--keep", action="store_true", help="keep the data directory and the children's logs")
    p.add_argument("--child", choices=("board", "bare", "moving"), help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "board":
        child_board(args)
        return 0
    if args.child in ("bare", "moving"):
        child_bare(args, moving=args.child == "moving")
        return 0
    print(f"calling board benchmark: {args.size[0]}×{args.size[1]}, {args.seconds:.0f} s of CPU, {args.calls} calls")
    report(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
