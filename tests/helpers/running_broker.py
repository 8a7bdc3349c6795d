"""The hall's broker as an operator runs it: `hall broker` in its own process, a TLS hall config, and a device
login watched from outside (when it connects, when the broker drops it, whether what it publishes arrives).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub import broker
from tests.helpers.rig import ROOT, wait_for

CONFIG = ROOT / "config"


class BrokerProcess:
    """`hall broker --data DIR --port P` as a process; stopped with SIGTERM as systemd would."""

    def __init__(self, data: Path, port: int | None = None, *, config: Path | None = None,
                 bind: str = "127.0.0.1"):
        self.data = Path(data)
        self.port = port or broker.free_port()
        self.files = broker.BrokerFiles(self.data)
        cmd = [sys.executable, "-m", "hallctl.cli", "broker", "--data", str(self.data), "--port", str(self.port),
               "--bind", bind]
        if config:
            cmd += ["--config", str(config)]
        self.data.mkdir(parents=True, exist_ok=True)
        self.log = self.data / "hall-broker.out"
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        wait_for(lambda: broker.port_in_use(self.port) or self.proc.poll() is not None, 15, "hall broker listening")
        assert self.proc.poll() is None, self.log.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(10)


def tls_hall(dest: Path, tls_port: int) -> Path:
    """A copy of the shipped hall with `tls = true` (and the given TLS port), as an operator would set it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("catalogue.json", "staff.csv"):
        shutil.copy(CONFIG / name, dest / name)
    text = (CONFIG / "hall.toml").read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^tls = false$", "tls = true", text)
    text, m = re.subn(r"(?m)^tls_port = \d+$", f"tls_port = {tls_port}", text)
    assert n == 1 and m == 1
    (dest / "hall.toml").write_text(text, encoding="utf-8")
    return dest / "hall.toml"


def lan_address() -> str | None:
    """An IPv4 address of this machine other than loopback, or None when it has none."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True,
                             text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.findall(r"\binet (\d+\.\d+\.\d+\.\d+)/", out)
    return found[0] if found else None


class WatchedLogin:
    """A raw MQTT v5 client logged in as one device, that records every CONNACK and disconnect with its time.
    It does not reconnect by itself: each `connect()` is one attempt."""

    def __init__(self, port: int, user: str, password: str, *, host: str = "127.0.0.1", tls_ca: str | None = None):
        self.port, self.host = port, host
        self.connects: list[str] = []
        self.drops: list[float] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, password)
        if tls_ca:
            self.client.tls_set(ca_certs=tls_ca)
        self.client.on_connect = lambda c, u, f, rc, p=None: self.connects.append(str(rc))
        self.client.on_disconnect = lambda c, u, f, rc, p=None: self.drops.append(time.monotonic())
        # paho's loop would log in again by itself after a drop; here each attempt is the test's to make
        self.client.reconnect_delay_set(min_delay=60, max_delay=60)

    def connect(self) -> str:
        """One attempt: 'Success' or the broker's reason."""
        self.client.loop_stop()
        before = len(self.connects)
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as err:
            return type(err).__name__
        self.client.loop_start()
        wait_for(lambda: len(self.connects) > before, 5, "CONNACK")
        return self.connects[-1]

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Observer:
    """The hub's login, subscribed to `topic`: collects (topic, payload) of what the broker lets through."""

    def __init__(self, port: int, password: str, topic: str):
        self.got: list[tuple[str, bytes]] = []
        subscribed = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hub", protocol=mqtt.MQTTv5)
        self.client.username_pw_set("hub", password)
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(topic, 1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p=None: subscribed.append(mid)
        self.client.on_message = lambda c, u, m: self.got.append((m.topic, m.payload))
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        wait_for(lambda: subscribed, 5, f"subscription to {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
