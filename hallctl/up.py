"""`hall up`: a whole hall on one machine, for trying hallkit out and for showing what works.

It runs the broker (Mosquitto with the hall's generated config, secured by default; an embedded Python broker when
Mosquitto is missing), the hub, and simulated devices that speak the same protocols as the hardware:

- citizens taking tickets at kiosks and clerks serving at window PCs (hallctl.traffic.queue);
- clerks pressing keys on caller keypads and citizens scoring on rating pads, on a simulated RS-485 bus that the
  real `hall caller` bus master drives (devices.bus, hallctl.traffic.keypads);
- LED window screens and guide strips on a simulated bus that the real `hall led` master drives;
- staff punching simulated fingerprint sensors through the real terminal agent (hallctl.traffic.punches);
- citizens booking on the citizens' site and checking in at a kiosk (hallctl.traffic.bookings);
- every other configured device reporting `health`.

With a screen (and without --headless) it also opens the kiosk and the calling board. With --duration it stops by
itself and prints what was sent, stored and rejected.

Some of the hall is left to people trying things: the windows of `manual_windows` (one by default, printed with
the command that opens its clerk's screen) have no simulated clerk, and one kiosk, one display and one terminal
login are never used by a simulation (`FREE_KINDS`), for an outside device; `hall devices list` names them
(`up-logins.json` in the data folder). Simulated clerks at the caller keypads log in by their keys first: the hub
refuses calls at a window nobody is logged in at.

Every process it starts (Mosquitto, the bus masters, the screens) is watched: one that dies is started again after
1 s, then 2, 4 … up to 30 s while it keeps dying at once, and every death and restart is printed when it happens,
again in the closing summary, and kept in `up.json` in the data folder, which `hall stats` shows. A hall that lost
a device says so; it never reports success with windows silently closed.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from hall.clock import now as hall_now
from hall.credentials import Endpoint
from hall.settings import DEFAULT_HALL, Hall

log = logging.getLogger("hallctl.up")

GUI_KIOSK = "kiosk-01"
GUI_BOARD = "display-01"
BUS_CALLER = "caller-01"      # windows 1–17 on keypads; the other windows are served from window PCs
LED_MASTER = "led-01"


RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
STEADY_S = 60.0               # a child that ran this long before dying is restarted after RESTART_FIRST_S again
RECORD_NAME = "up.json"       # in the data folder: this run's children, their deaths and restarts
RECORD_EVENTS_KEPT = 500      # a child dying every 30 s all day must not grow the record without end
LOGINS_NAME = "up-logins.json"  # in the data folder: the windows and device logins this run leaves to people
FREE_KINDS = ("kiosk", "display", "terminal")  # of each, the last configured device is left free


def parse_windows(text: str | None, hall: Hall) -> list[str]:
    """`1-4,7` → ["1", "2", "3", "4", "7"], each a window of the catalogue; None → the first window (one free)."""
    known = [w.id for w in hall.catalogue.windows]
    if text is None:
        return known[:1]
    out: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        if last:
            if not (first.isdigit() and last.isdigit()) or int(last) < int(first):
                raise ValueError(f"--manual-windows: {part!r} is not a range like 1-4")
            ids = [str(n) for n in range(int(first), int(last) + 1)]
        else:
            ids = [first]
        for w in ids:
            if w not in known:
                raise ValueError(f"--manual-windows: 没有 {w} 号窗口 · window {w!r} is not in the catalogue")
            if w not in out:
                out.append(w)
    return out


def free_logins(hall: Hall, manual_windows: list[str]) -> list[str]:
    """Device logins no simulation uses: the window PCs of the manual windows and the last of each FREE_KINDS."""
    free = [d.id for d in hall.devices_of("window") if set(d.windows) & set(manual_windows)]
    for kind in FREE_KINDS:
        devices = hall.devices_of(kind)
        if len(devices) > 1:
            free.append(devices[-1].id)
    return free


def read_logins(data: Path) -> dict | None:
    """What the last `hall up` on this data folder left to people, or None."""
    try:
        return json.loads((Path(data) / LOGINS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def restart_delay(deaths_in_a_row: int) -> float:
    """How long to wait before starting a child again after its n-th death in a row (n >= 1): 1 s, 2 s, 4 s …
    30 s. One that crashes now and then is back at once; one that dies at start (a broken install, a missing
    serial port) is retried without spinning the CPU or filling its log."""
    return min(RESTART_FIRST_S * 2 ** max(deaths_in_a_row - 1, 0), RESTART_MAX_S)


def how_it_ended(returncode: int) -> tuple[int | None, str | None]:
    """(exit code, signal name) from a Popen return code, which is minus the signal for a killed process."""
    if returncode < 0:
        try:
            return None, signal.Signals(-returncode).name
        except ValueError:
            return None, f"signal {-returncode}"
    return returncode, None


@dataclass(frozen=True)
class ChildEvent:
    """A child of `hall up` died or was started again."""

    child: str
    event: str                  # "died", "restarted" or "restart_failed"
    at: str                     # local time, ISO 8601 with its offset
    pid: int
    exit_code: int | None = None
    signal: str | None = None
    after_s: float | None = None    # restarted this long after the death
    error: str | None = None        # why a restart failed

    def describe(self) -> str:
        when = self.at[:19].replace("T", " ")
        if self.event == "died":
            how = f"signal {self.signal}" if self.signal else f"exit code {self.exit_code}"
            return f"{when}  {self.child:<10} 退出 died       pid {self.pid}, {how}"
        if self.event == "restarted":
            return f"{when}  {self.child:<10} 重启 restarted  pid {self.pid}, {self.after_s:g} s after it died"
        return f"{when}  {self.child:<10} 重启失败 restart failed: {self.error}"


@dataclass
class Child:
    name: str
    start: Callable[[], subprocess.Popen]
    proc: subprocess.Popen
    started: float = field(default_factory=time.monotonic)
    deaths_in_a_row: int = 0
    deaths: int = 0
    restarts: int = 0


class Supervisor:
    """Watches the processes `hall up` started: one thread per child waits for it to end (no polling), records the
    death, waits out the back-off and starts it again, until `stop()`. What it saw is written to `up.json` after
    every change, so `hall stats` can show it while the hall runs and after."""

    def __init__(self, record: Path, now: Callable[[], datetime] = lambda: datetime.now().astimezone()):
        self.record = record
        self.now = now
        self.children: dict[str, Child] = {}
        self.events: list[ChildEvent] = []
        self.started_at = now().isoformat(timespec="seconds")
        self.stopped_at: str | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def add(self, name: str, start: Callable[[], subprocess.Popen]) -> subprocess.Popen:
        with self._lock:
            child = self.children[name] = Child(name, start, start())
            self._write()
        threading.Thread(target=self._watch, args=(child,), name=f"watch-{name}", daemon=True).start()
        return child.proc

    def procs(self) -> dict[str, subprocess.Popen]:
        with self._lock:
            return {name: c.proc for name, c in self.children.items()}

    def stop(self) -> dict[str, bool]:
        """No more restarts; which children were alive at that moment (the caller then ends them)."""
        with self._lock:
            self._stopping.set()
            alive = {name: c.proc.poll() is None for name, c in self.children.items()}
            self.stopped_at = self.now().isoformat(timespec="seconds")
            self._write(alive)
        return alive

    def _watch(self, child: Child) -> None:
        while True:
            returncode = child.proc.wait()
            if self._stopping.is_set():
                return
            exit_code, signal_name = how_it_ended(returncode)
            with self._lock:
                child.deaths += 1
                steady = time.monotonic() - child.started >= STEADY_S
                child.deaths_in_a_row = 1 if steady else child.deaths_in_a_row + 1
                self._note(ChildEvent(child.name, "died", self._stamp(), child.proc.pid, exit_code, signal_name))
            if not self._restart(child):
                return

    def _restart(self, child: Child) -> bool:
        """Start the child again after its back-off; False once `hall up` is stopping."""
        while True:
            delay = restart_delay(child.deaths_in_a_row)
            if self._stopping.wait(delay):
                return False
            with self._lock:
                if self._stopping.is_set():
                    return False
                try:
                    child.proc = child.start()
                except Exception as err:  # e.g. Mosquitto not listening in time: wait longer, try again
                    child.deaths_in_a_row += 1
                    self._note(ChildEvent(child.name, "restart_failed", self._stamp(), child.proc.pid,
                                          error=str(err)[:200]))
                    continue
                child.started = time.monotonic()
                child.restarts += 1
                self._note(ChildEvent(child.name, "restarted", self._stamp(), child.proc.pid, after_s=delay))
                return True

    def _stamp(self) -> str:
        return self.now().isoformat(timespec="milliseconds")

    def _note(self, event: ChildEvent) -> None:
        self.events = [*self.events[1 - RECORD_EVENTS_KEPT:], event]
        print(f"hall up: {event.describe()}", file=sys.stderr, flush=True)
        self._write()

    def _write(self, alive: dict[str, bool] | None = None) -> None:
        """The record, replaced whole (a reader never sees half of it), readable by the hall's owner only."""
        alive = alive if alive is not None else {n: c.proc.poll() is None for n, c in self.children.items()}
        body = {
            "started_at": self.started_at, "stopped_at": self.stopped_at, "pid": os.getpid(),
            "children": {n: {"pid": c.proc.pid, "alive": alive[n], "deaths": c.deaths, "restarts": c.restarts}
                         for n, c in self.children.items()},
            "deaths": sum(c.deaths for c in self.children.values()),
            "restarts": sum(c.restarts for c in self.children.values()),
            "events": [asdict(e) for e in self.events],
        }
        try:
            fd, tmp = tempfile.mkstemp(prefix=".up-", suffix=".json", dir=self.record.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(body, out, ensure_ascii=False, indent=1)
            os.replace(tmp, self.record)
        except OSError:
            log.exception("writing %s", self.record)


def read_record(data: Path) -> dict | None:
    """What the last `hall up` on this data folder recorded about its children, or None."""
    try:
        return json.loads((Path(data) / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def children_lines(record: dict) -> list[str]:
    """The children of a `hall up` run, their deaths and restarts, as people read them (summary and stats)."""
    children = record.get("children", {})
    down = [n for n, c in children.items() if not c.get("alive")]
    head = (f"子进程 children {', '.join(children)}: 退出 deaths {record.get('deaths', 0)}, "
            f"重启 restarts {record.get('restarts', 0)}")
    if down:
        head += f"; 未运行 not running: {', '.join(down)}"
    else:
        head += "; 全部运行 all running"
    return [head] + ["  " + ChildEvent(**e).describe() for e in record.get("events", [])]


def screen_places(screen: tuple[int, int]) -> dict[str, tuple[tuple[int, int], tuple[int, int]]]:
    """Where `hall up` opens its two windows on one screen, as name → ((left, top), (width, height)): the kiosk
    upright (9:16) and as tall as the screen at the left, the board (16:9) in the rest to its right."""
    width, height = screen
    kiosk = (height * 9 // 16, height)
    board_w = max(320, width - kiosk[0])
    board = (board_w, min(height, board_w * 9 // 16))
    return {"kiosk": ((0, 0), kiosk), "display": ((kiosk[0], 0), board)}


def screen_present() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_all_day(hall: Hall) -> Hall:
    """The same hall issuing tickets at any hour, so a demo at night still shows a working day."""
    file = hall.file.model_copy(update={"hours": hall.file.hours.model_copy(update={"issuing": []})})
    return Hall(hall.path, file, hall.catalogue, hall.staff)


def outbox_counts(data: Path) -> dict[str, int]:
    """Events each device has ever created (its next seq − 1), read from the outboxes on disk."""
    out = {}
    for db in sorted((data / "devices").glob("*/outbox.db")):
        try:
            with sqlite3.connect(db, timeout=5) as conn:
                out[db.parent.name] = conn.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0] - 1
        except sqlite3.Error:
            continue
    return out


class HealthReporter:
    """Devices with nothing else simulated still report health now and then, as real ones do."""

    def __init__(self, links: list, every: float = 5.0, seed: int = 7):
        self.links = links
        self.every = every
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)

    def start(self) -> HealthReporter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self.every):
            for link in self.links:
                metrics = {"cpu_temp": round(self.rng.uniform(42, 61), 1), "uptime_s": int(time.monotonic() - started),
                           "mem_free_mb": self.rng.randint(300, 900)}
                if link.device.kind == "kiosk":
                    metrics["printer"] = "ok"
                link.send("health", metrics)


class HallUp:
    def __init__(self, hall: Hall, data: Path, *, port: int | None = None, speed: float = 60.0,
                 secure: bool = True, screens: bool = False, real_hours: bool = False,
                 manual_windows: list[str] | None = None):
        self.hall = hall if real_hours else open_all_day(hall)
        self.manual_windows = list(manual_windows) if manual_windows is not None else parse_windows(None, hall)
        self.free = free_logins(hall, self.manual_windows)
        self.config_hall = hall
        self.data = Path(data).resolve()
        self.requested_port = port
        self.speed = speed
        self.secure = secure
        self.screens = screens
        self.parts: list = []          # things with stop(), stopped in reverse order
        self.children = Supervisor(self.data / RECORD_NAME, now=lambda: datetime.now(hall.tz))
        self.links: dict[str, object] = {}
        self.embedded = False

    # ---------------------------------------------------------------- start

    def start(self) -> HallUp:
        from hub import broker

        self.data.mkdir(parents=True, exist_ok=True)
        self.port = self.requested_port or broker.free_port()
        if self.requested_port and broker.port_in_use(self.requested_port):
            raise SystemExit(f"hall up: port {self.requested_port} is already in use; leave out --port to pick a free one")
        self.sent_before = outbox_counts(self.data)
        self.journal_before = _journal_end(self.data)
        self._start_broker()
        (self.data / LOGINS_NAME).write_text(json.dumps(
            {"manual_windows": self.manual_windows, "free": self.free, "port": self.port}, ensure_ascii=False))
        self._start_hub()
        if self.config_hall.central.url:  # the journal also goes up to the central cluster (docs/central.md)
            self._spawn("uplink", ["uplink"])
        self._start_devices()
        if self.screens:
            self._start_screens()
        self._start_console()
        self._start_public()
        self._start_bookings()
        return self

    def _start_console(self) -> None:
        """The managers' console in this process, with a first admin when the data folder's console has none."""
        from hallctl.commands.web import ConsoleServer, ensure_first_admin
        from hub import broker

        self.admin_password = ensure_first_admin(self.data)
        self.console = ConsoleServer(self.config_hall, self.data, port=broker.free_port(), broker_port=self.port)
        self.parts.append(self.console.start())

    def _start_public(self) -> None:
        """The citizens' site in this process, on the port of `[public] base_url` when it is free (the tickets'
        QR codes then open it), else on a free one."""
        from urllib.parse import urlsplit

        from hallctl.commands.public import PublicServer
        from hub import broker

        port = urlsplit(self.config_hall.public.base_url).port or 80
        if port < 1024 or broker.port_in_use(port):
            port = broker.free_port()
        self.public = PublicServer(self.config_hall, self.data, port=port, broker_port=self.port)
        self.parts.append(self.public.start())

    def _start_bookings(self) -> None:
        """Citizens booking on the citizens' site and checking in at a kiosk (docs/appointments.md)."""
        from hallctl.traffic.bookings import BookingTraffic

        gui = {GUI_KIOSK} if self.screens else set()
        kiosks = [d.id for d in self.hall.devices_of("kiosk") if d.id not in gui | set(self.free)]
        if not kiosks or not self.hall.appointments.queues:
            return
        self.booking_traffic = BookingTraffic(self.hall, site_url=self.public.url, kiosk=self._link(kiosks[0]),
                                              speed=self.speed, seed=7)
        self.parts.append(self.booking_traffic.start())

    def _start_broker(self) -> None:
        from hub import broker

        files = broker.BrokerFiles(self.data)
        if self.secure:
            broker.provision(self.config_hall, files)
        if broker.mosquitto_path():
            broker.write_config(self.config_hall, files, self.port, bind="127.0.0.1", secure=self.secure)
            self.children.add("mosquitto", lambda: broker.start_mosquitto(files, self.port))
            Endpoint(port=self.port).save(self.data)
        else:
            from hub.embedded_broker import EmbeddedBroker

            print("hall up: warning: Mosquitto is not installed; using the embedded Python broker "
                  "(MQTT 3.1.1, no logins, memory only)", file=sys.stderr)
            self.parts.append(EmbeddedBroker(port=self.port).start())
            Endpoint(port=self.port, protocol=4).save(self.data)
            self.embedded = True

    def _start_hub(self) -> None:
        from hub.ingest import Hub

        self.hub = Hub(self.hall, self.data, port=self.port).start()
        self.parts.append(self.hub)
        if not self.hub.wait_ready(15):
            raise SystemExit("hall up: the hub could not connect to the broker")

    def _link(self, device_id: str):
        from hall.link import DeviceLink

        link = self.links.get(device_id)
        if link is None:
            link = self.links[device_id] = DeviceLink(self.hall, device_id, self.data, port=self.port).start()
        return link

    def _spawn(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        logs = self.data / "logs"
        logs.mkdir(exist_ok=True)
        # -P (Python 3.11+, which hallkit requires): `python -m` would otherwise put the current folder first on
        # the import path, and a folder there named `hall` or `hallctl` (a data folder started with `--data ./hall`)
        # hides the package, so the child dies at import. -P drops exactly that entry and nothing else: the child keeps the
        # environment (PYTHONPATH, the venv's editable install) the parent imported hallkit from. -I would also
        # drop PYTHON* variables and the user site, breaking a hall run from a source tree; the `hall` entry
        # point exists only once the package is installed.
        cmd = [sys.executable, "-P", "-m", "hallctl.cli", *args, "--data", str(self.data)]
        if self.config_hall.path != DEFAULT_HALL:
            cmd += ["--config", str(self.config_hall.path)]

        def start() -> subprocess.Popen:
            with open(logs / f"{name}.log", "a") as out:  # the child holds its own copy of the descriptor
                return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                        env=None if env is None else {**os.environ, **env})

        return self.children.add(name, start)

    def _start_devices(self) -> None:
        from devices.bus.simulator import BusSimulator
        from devices.led.config import load_led_config
        from hallctl.traffic.keypads import Traffic as KeypadTraffic
        from hallctl.traffic.punches import Traffic as PunchTraffic
        from hallctl.traffic.queue import HallTraffic

        hall = self.hall
        gui = {GUI_KIOSK, GUI_BOARD} if self.screens else set()
        # caller keypads and rating pads on a simulated bus, driven by the real bus master
        caller_bus = BusSimulator.for_caller(hall, BUS_CALLER).start()
        self.parts.append(caller_bus)
        self._spawn("caller", ["caller", "--device", BUS_CALLER, "--port", caller_bus.port,
                               "--broker-port", str(self.port)])
        from devices.caller import CallerLayout

        keypads = CallerLayout.for_windows(hall.device(BUS_CALLER).windows).keypads  # window → keypad address
        staff = {}
        for s in hall.staff:
            staff.setdefault(s.window, s.id)
        for w, addr in keypads.items():
            if w not in self.manual_windows and staff.get(w):
                # the clerk logs in at the keypad first: 登录, the staff number, 确认
                caller_bus.press(addr, "login", "".join(ch for ch in staff[w] if ch.isdigit()), "enter")
        simulated = {addr: (addr + 100 if addr + 100 in caller_bus.devices else None)
                     for w, addr in keypads.items() if w not in self.manual_windows}
        # keypad clerks follow the waiting count their keypads show, as a person would
        self.parts.append(KeypadTraffic(caller_bus, keypads=simulated, speed=self.speed, seed=3).start())
        # LED window screens and strips
        led_bus = BusSimulator.for_screens(load_led_config(None, hall).of_backend("bus")).start()
        self.led_bus = led_bus
        self.parts.append(led_bus)
        self._spawn("led", ["led", "--device", LED_MASTER, "--port", led_bus.port, "--broker-port", str(self.port)])
        # citizens at the kiosks, clerks at window PCs for the windows not on the keypad bus
        bus_windows = set(hall.device(BUS_CALLER).windows)
        kiosks = [self._link(d.id) for d in hall.devices_of("kiosk") if d.id not in gui | set(self.free)]
        windows = [self._link(d.id) for d in hall.devices_of("window")
                   if not set(d.windows) & (bus_windows | set(self.manual_windows))]
        # a window PC never rates its own clerk: the citizens at those windows rate on the other bus's pads
        raters = [self._link(d.id) for d in hall.devices_of("caller") if d.id != BUS_CALLER]
        self.queue_traffic = HallTraffic(hall, kiosks=kiosks, windows=windows, raters=raters, speed=self.speed,
                                         seed=1, manual=self.manual_windows)
        self.queue_traffic.start()
        self.parts.append(self.queue_traffic)
        # staff punching at the fingerprint terminals
        terminals = [d.id for d in hall.devices_of("terminal") if d.id not in self.free]
        self.punch_traffic = PunchTraffic(hall, self.data, terminals=terminals, speed=self.speed, port=self.port,
                                          seed=5)
        self.punch_traffic.start()
        self.parts.append(self.punch_traffic)
        # everything else still reports its health
        busy = {BUS_CALLER, LED_MASTER, *gui, *self.links, *self.free, *(d.id for d in hall.devices_of("terminal"))}
        # the console and web devices are the managers' console and the citizens' site themselves (started below),
        # which log in with their own logins
        quiet = [self._link(d.id) for d in hall.devices
                 if d.id not in busy and d.kind not in ("window", "console", "web")]
        self.parts.append(HealthReporter(quiet + kiosks).start())

    def _start_screens(self) -> None:
        from devices.printer.simulator import PrinterSimulator

        printer = PrinterSimulator().start()
        self.printer = printer
        self.parts.append(printer)
        from display.board import screen_size

        # side by side on the one screen, never on top of each other
        places = screen_places(screen_size() or (1920, 1080))
        (kx, ky), (kw, kh) = places["kiosk"]
        (bx, by), (bw, bh) = places["display"]
        self._spawn("kiosk", ["kiosk", "--device", GUI_KIOSK, "--port", str(self.port), "--printer", printer.port,
                              "--size", f"{kw}x{kh}"],
                    env={"KCFG_GRAPHICS_POSITION": "custom", "KCFG_GRAPHICS_LEFT": str(kx),
                         "KCFG_GRAPHICS_TOP": str(ky)})
        self._spawn("display", ["display", "--device", GUI_BOARD, "--port", str(self.port),
                                "--size", f"{bw}x{bh}", "--position", f"{bx},{by}"])

    # ---------------------------------------------------------------- stop

    def stop(self) -> dict:
        # no restarts from here on; which children were still alive is part of the summary
        self.alive_at_end = self.children.stop()
        procs = self.children.procs()
        # what the LED window screens and strips show at the end, as a person would see them
        self.led_pngs = self.led_bus.render_all(self.data / "led") if getattr(self, "led_bus", None) else []
        for name, proc in procs.items():
            if name != "mosquitto" and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in procs.items():
            if name != "mosquitto":
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        for part in reversed(self.parts):
            if part is self.hub:
                continue
            try:
                part.stop()
            except Exception:
                log.exception("stopping %s", type(part).__name__)
        # let the links hand over what they hold before the hub stops
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(link.pending() for link in self.links.values()):
            time.sleep(0.1)
        for link in self.links.values():
            link.stop()
        time.sleep(0.3)
        counts = dict(self.hub.counts)
        self.hub.stop()
        if "mosquitto" in procs:
            procs["mosquitto"].terminate()
            procs["mosquitto"].wait(10)
        after = outbox_counts(self.data)
        sent = sum(after.get(k, 0) - self.sent_before.get(k, 0) for k in after)
        pending = _not_stored(self.data, after)
        return {"sent": sent, "stored": counts["stored"], "duplicates": counts["duplicates"],
                "rejected": counts["rejected"], "pending": pending,
                "windows_at_work": _windows_at_work(self.data, self.journal_before),
                "windows": len(self.hall.catalogue.windows), "children": read_record(self.data) or {}}


def _journal_end(data: Path) -> int:
    """The journal's last row before this run, so the summary counts only what this run did."""
    try:
        with sqlite3.connect(f"file:{data / 'hub.db'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
    except sqlite3.Error:
        return 0


def _windows_at_work(data: Path, after_row: int) -> int:
    """Windows whose staff logged in or called a ticket during this run: a window on a bus master that died is
    not among them."""
    with sqlite3.connect(data / "hub.db", timeout=5) as db:
        return db.execute("SELECT count(DISTINCT json_extract(data, '$.window')) FROM events "
                          "WHERE rowid > ? AND type IN ('login', 'call_next')", (after_row,)).fetchone()[0]


def _not_stored(data: Path, devices) -> int:
    """Events still in the outboxes that the hub has not stored (an outbox may still hold a few that the hub
    committed but whose ack had not arrived when the device stopped: those are not counted twice)."""
    count = 0
    with sqlite3.connect(data / "hub.db", timeout=5) as hub:
        for device in devices:
            try:
                with sqlite3.connect(data / "devices" / device / "outbox.db", timeout=5) as conn:
                    ids = [r[0] for r in conn.execute("SELECT id FROM outbox")]
            except sqlite3.Error:
                continue
            for event_id in ids:
                if not hub.execute("SELECT 1 FROM events WHERE id=?", (event_id,)).fetchone():
                    count += 1
    return count


def run_up(hall: Hall, data: Path, *, port: int | None, duration: float | None, headless: bool, speed: float,
           secure: bool, real_hours: bool = False, manual_windows: str | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    screens = screen_present() and not headless
    try:
        manual = parse_windows(manual_windows, hall)
    except ValueError as err:
        print(f"hall up: {err}", file=sys.stderr)
        return 2
    up = HallUp(hall, data, port=port, speed=speed, secure=secure, screens=screens, real_hours=real_hours,
                manual_windows=manual)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    up.start()
    print(f"hall up: {hall.info.name} ({hall.info.name_en})")
    print(f"  broker   127.0.0.1:{up.port}" + (" (embedded)" if up.embedded else " (Mosquitto, logins and ACL)"
                                               if secure else " (Mosquitto, open)"))
    print(f"  data     {up.data}  (hub journal hub.db, logs/, secrets.toml)")
    print(f"  devices  {len(hall.devices)} configured; simulated at {speed:g}× hall time"
          + ("; kiosk and calling board windows open" if screens else "; headless"))
    if not real_hours:
        print("  hours    tickets issued at any hour in this run (--real-hours keeps the configured hours)")
    config = f" --config {hall.path}" if hall.path != DEFAULT_HALL else ""
    if manual:
        print(f"  windows  留给你 free for you: {', '.join(manual)} (no simulated clerk); open one with")
        print(f"           hall window --window {manual[0]} --data {up.data} --port {up.port}{config}")
    if up.free:
        print(f"  logins   未被模拟使用 free for outside devices: {', '.join(up.free)}  "
              f"(hall devices list --data {up.data}; broker port {up.port})")
    print(f"  console  {up.console.url}")
    if hall.central.url:
        print(f"  central  上传中心 uplink to {hall.central.url} as {hall.central.user or hall.id}  "
              f"(logs/uplink.log; cursor {up.data / 'uplink.db'})")
    print(f"  public   {up.public.url}  (公众服务 citizens' site; tickets' QR codes open "
          f"{hall.public.base_url}/t/<token>)")
    if up.admin_password:
        print(f"  admin    控制台用户 admin, 密码 password {up.admin_password}  (shown once; hall users reset admin)")
    print(f"  watch    hall stats --data {up.data}    hall queue report --data {up.data} --date today", flush=True)
    print(f"  year     hall report year --year {hall_now(hall.tz).year} --data {up.data} --format html --out year.html"
          f"    (console: 年度 Year)", flush=True)
    started = time.monotonic()
    try:
        while not stop.wait(1.0):
            if duration is not None and time.monotonic() - started >= duration:
                break
    finally:
        summary = up.stop()
    if up.led_pngs:
        print(f"  LED screens as they were at the end: {up.data / 'led'} ({len(up.led_pngs)} PNG files)")
    print(f"hall up: sent {summary['sent']} events, stored {summary['stored']} "
          f"(+{summary['duplicates']} resends absorbed), rejected {summary['rejected']}, "
          f"still queued on devices {summary['pending']}")
    print(f"hall up: 窗口 windows at work {summary['windows_at_work']} of {summary['windows']} "
          "(staff logged in or called a ticket)")
    for line in children_lines(summary["children"]):
        print(f"hall up: {line}" if not line.startswith(" ") else line)
    sys.stdout.flush()
    return 0
