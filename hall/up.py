"""`hall up`: a whole hall on one machine, for trying hallkit out and for showing what works.

It runs the broker (Mosquitto with the hall's generated config, secured by default; an embedded Python broker when
Mosquitto is missing), the hub, and simulated devices that speak the same protocols as the hardware:

- citizens taking tickets at kiosks and clerks serving at window PCs (hub.queue.traffic);
- clerks pressing keys on caller keypads and citizens scoring on rating pads, on a simulated RS-485 bus that the
  real `hall caller` bus master drives (devices.bus);
- LED window screens and guide strips on a simulated bus that the real `hall led` master drives;
- staff punching simulated fingerprint sensors through the real terminal agent (devices.fingerprint.traffic);
- every other configured device reporting `health`.

With a screen (and without --headless) it also opens the kiosk and the calling board. With --duration it stops by
itself and prints what was sent, stored and rejected.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from hall.credentials import Endpoint
from hall.settings import Hall

log = logging.getLogger("hall.up")

GUI_KIOSK = "kiosk-01"
GUI_BOARD = "display-01"
BUS_CALLER = "caller-01"      # windows 1–17 on keypads; the other windows are served from window PCs
LED_MASTER = "led-01"


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
                 secure: bool = True, screens: bool = False, real_hours: bool = False):
        self.hall = hall if real_hours else open_all_day(hall)
        self.config_hall = hall
        self.data = Path(data).resolve()
        self.requested_port = port
        self.speed = speed
        self.secure = secure
        self.screens = screens
        self.parts: list = []          # things with stop(), stopped in reverse order
        self.procs: dict[str, subprocess.Popen] = {}
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
        self._start_broker()
        self._start_hub()
        self._start_devices()
        if self.screens:
            self._start_screens()
        return self

    def _start_broker(self) -> None:
        from hub import broker

        files = broker.BrokerFiles(self.data)
        if self.secure:
            broker.provision(self.config_hall, files)
        if broker.mosquitto_path():
            broker.write_config(self.config_hall, files, self.port, bind="127.0.0.1", secure=self.secure)
            proc = broker.start_mosquitto(files, self.port)
            self.procs["mosquitto"] = proc
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

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        logs = self.data / "logs"
        logs.mkdir(exist_ok=True)
        out = open(logs / f"{name}.log", "a")
        cmd = [sys.executable, "-m", "hall.cli", *args, "--data", str(self.data)]
        if self.config_hall.path != Path(__file__).resolve().parent.parent / "config" / "hall.toml":
            cmd += ["--config", str(self.config_hall.path)]
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def _start_devices(self) -> None:
        from devices.bus.simulator import BusSimulator
        from devices.bus.traffic import Traffic as KeypadTraffic
        from devices.fingerprint.traffic import Traffic as PunchTraffic
        from display.led import load_led_config
        from hub.queue.traffic import HallTraffic

        hall = self.hall
        gui = {GUI_KIOSK, GUI_BOARD} if self.screens else set()
        # caller keypads and rating pads on a simulated bus, driven by the real bus master
        caller_bus = BusSimulator.for_caller(hall, BUS_CALLER).start()
        self.parts.append(caller_bus)
        self._spawn("caller", ["caller", "--device", BUS_CALLER, "--port", caller_bus.port,
                               "--broker-port", str(self.port)])
        self.parts.append(KeypadTraffic(caller_bus, speed=self.speed, seed=3).start())
        # LED window screens and strips
        led_bus = BusSimulator.for_screens(load_led_config(None, hall).of_backend("bus")).start()
        self.led_bus = led_bus
        self.parts.append(led_bus)
        self._spawn("led", ["led", "--device", LED_MASTER, "--port", led_bus.port, "--broker-port", str(self.port)])
        # citizens at the kiosks, clerks at window PCs for the windows not on the keypad bus
        bus_windows = set(hall.device(BUS_CALLER).windows)
        kiosks = [self._link(d.id) for d in hall.devices_of("kiosk") if d.id not in gui]
        windows = [self._link(d.id) for d in hall.devices_of("window") if not set(d.windows) & bus_windows]
        self.queue_traffic = HallTraffic(hall, kiosks=kiosks, windows=windows, speed=self.speed, seed=1)
        self.queue_traffic.start()
        self.parts.append(self.queue_traffic)
        # staff punching at the fingerprint terminals
        self.punch_traffic = PunchTraffic(hall, self.data, speed=self.speed, port=self.port, seed=5)
        self.punch_traffic.start()
        self.parts.append(self.punch_traffic)
        # everything else still reports its health
        busy = {BUS_CALLER, LED_MASTER, *gui, *self.links, *(d.id for d in hall.devices_of("terminal"))}
        quiet = [self._link(d.id) for d in hall.devices if d.id not in busy and d.kind != "window"]
        self.parts.append(HealthReporter(quiet + kiosks).start())

    def _start_screens(self) -> None:
        from devices.printer.simulator import PrinterSimulator

        printer = PrinterSimulator().start()
        self.printer = printer
        self.parts.append(printer)
        self._spawn("kiosk", ["kiosk", "--device", GUI_KIOSK, "--port", str(self.port), "--printer", printer.port])
        self._spawn("display", ["display", "--device", GUI_BOARD, "--port", str(self.port)])

    # ---------------------------------------------------------------- stop

    def stop(self) -> dict:
        # what the LED window screens and strips show at the end, as a person would see them
        self.led_pngs = self.led_bus.render_all(self.data / "led") if getattr(self, "led_bus", None) else []
        for name, proc in self.procs.items():
            if name != "mosquitto" and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in self.procs.items():
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
        if "mosquitto" in self.procs:
            self.procs["mosquitto"].terminate()
            self.procs["mosquitto"].wait(10)
        after = outbox_counts(self.data)
        sent = sum(after.get(k, 0) - self.sent_before.get(k, 0) for k in after)
        pending = _not_stored(self.data, after)
        return {"sent": sent, "stored": counts["stored"], "duplicates": counts["duplicates"],
                "rejected": counts["rejected"], "pending": pending}


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
           secure: bool, real_hours: bool = False) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    screens = screen_present() and not headless
    up = HallUp(hall, data, port=port, speed=speed, secure=secure, screens=screens, real_hours=real_hours)
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
    print(f"  watch    hall stats --data {up.data}    hall queue report --data {up.data} --date today", flush=True)
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
          f"still queued on devices {summary['pending']}", flush=True)
    return 0
