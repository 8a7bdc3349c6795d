"""What the benchmarks share: a throw-away hall (its generated, secured Mosquitto config on a free port and `hall hub`
as a process of its own, waited for until online), the bench's own MQTT clients, percentiles and CPU seconds."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hall.clock import stamp
from hall.credentials import Endpoint, Secrets
from hall.settings import load_hall
from hub import broker

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# two logins of the raw one-hop reference (a paho publisher and a paho reader), beside the hall's own
RAW_LOGINS = "\nuser raw-pub\ntopic write bench/raw-pub/#\nuser raw-sink\ntopic read bench/#\n"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def ms(values_s: list[float]) -> tuple[float, float]:
    return percentile(values_s, 50) * 1000, percentile(values_s, 99) * 1000


def wait_until(done, timeout: float, what: str, step: float = 0.02):
    end = time.monotonic() + timeout
    while True:
        value = done()
        if value:
            return value
        if time.monotonic() > end:
            raise RuntimeError(f"{what}: not within {timeout} s")
        time.sleep(step)


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has spent so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


# ---------------------------------------------------------------- MQTT clients of the bench

def paho_client(user: str, password: str, port: int, on_message=None) -> mqtt.Client:
    """A paho client on its own network thread, connected; small messages both ways, so no Nagle."""
    connected = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password)
    c.on_socket_open = lambda cl, u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.on_connect = lambda cl, u, f, rc, p=None: connected.set() if not rc.is_failure else None
    if on_message:
        c.on_message = on_message
    c.connect("127.0.0.1", port, keepalive=60)
    c.loop_start()
    if not connected.wait(10):
        raise RuntimeError(f"{user}: not connected")
    return c


def subscribe(c: mqtt.Client, topic: str) -> None:
    done = threading.Event()
    c.on_subscribe = lambda cl, u, mid, rcs, p=None: done.set()
    c.subscribe(topic, qos=1)
    if not done.wait(10):
        raise RuntimeError(f"subscription to {topic}: not acknowledged")


def close(c: mqtt.Client) -> None:
    c.disconnect()
    c.loop_stop()


# ---------------------------------------------------------------- the hall

def start_broker(hall, data: Path, *, acl_extra: str = "", **config) -> tuple[int, subprocess.Popen]:
    """The hall's own generated Mosquitto (every login provisioned, its ACL; `config` for write_config, e.g.
    secure=False) on a free port of 127.0.0.1, the endpoint saved in `data` for the hall's programs to find:
    (port, process)."""
    files = broker.BrokerFiles(data)
    broker.provision(hall, files)
    if acl_extra:
        with files.acl.open("a", encoding="utf-8") as acl:
            acl.write(acl_extra)
    port = broker.free_port()
    broker.write_config(hall, files, port, bind="127.0.0.1", **config)
    Endpoint(port=port).save(data)
    return port, broker.start_mosquitto(files, port)


class BenchHall:
    """The hall of `config` with its data in `data`: Mosquitto started at once, the hub by `start_hub()`; `close()`
    (or leaving the `with`) stops both. `raw_logins` adds the raw one-hop reference's two logins to the ACL."""

    def __init__(self, config: Path, data: Path, *, raw_logins: bool = False):
        self.hall = load_hall(config)
        self.data = data
        self.port, self.mosquitto = start_broker(self.hall, data, acl_extra=RAW_LOGINS if raw_logins else "")
        self.secrets = Secrets.load(broker.BrokerFiles(data).secrets)
        self.hub: subprocess.Popen | None = None

    def start_hub(self) -> subprocess.Popen:
        """`hall hub` as a process of its own, returned once it says it is online."""
        started = stamp()
        status: dict = {}
        watcher = paho_client("display-02", self.secrets.password("display-02"), self.port,
                              lambda cl, u, m: status.update(json.loads(m.payload)))
        try:
            subscribe(watcher, f"hall/v1/{self.hall.id}/hub/status")
            self.hub = subprocess.Popen([sys.executable, "-m", "hallctl.cli", "hub", "--config", str(self.hall.path),
                                         "--data", str(self.data), "--port", str(self.port)], cwd=ROOT,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_until(lambda: status.get("state") == "online" and status.get("ts", "") >= started, 30,
                       "hub online")
        finally:
            close(watcher)
        return self.hub

    def close(self) -> None:
        if self.hub is not None and self.hub.poll() is None:
            self.hub.send_signal(signal.SIGTERM)
            try:
                self.hub.wait(10)
            except subprocess.TimeoutExpired:
                self.hub.kill()
        self.mosquitto.terminate()
        self.mosquitto.wait(10)

    def __enter__(self) -> BenchHall:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
