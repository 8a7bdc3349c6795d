"""A real hall for tests: Mosquitto on a free port with the project's generated (secured) config, a data directory,
the hub in-process or as a `hall hub` process, device links and raw clients with their own logins.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from hall.credentials import Endpoint, Secrets
from hall.mqtt import new_client
from hall.settings import load_hall
from hub import broker

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float = 10.0, message: str = "condition", interval: float = 0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{message} did not hold within {timeout} s")


class HallRig:
    def __init__(self, data_dir: Path, config: Path | str | None = None, secure: bool = True, tls: bool = False):
        self.data_dir = Path(data_dir)
        self.config = str(config) if config else None
        self.hall = load_hall(config)
        self.secure = secure
        self.tls = tls
        self.files = broker.BrokerFiles(self.data_dir)
        self.port = broker.free_port()
        self.tls_port = broker.free_port() if tls else None
        self.broker_proc: subprocess.Popen | None = None
        self._hubs: list = []
        self._procs: list[subprocess.Popen] = []
        self._links: list = []
        self._clients: list[mqtt.Client] = []
        if secure:
            broker.provision(self.hall, self.files)
        if tls:
            from hub.tls import make_tls
            make_tls(self.files.tls_dir, self.hall.id)
            # the hall config is frozen; the rig asks for the TLS listener directly
            self.hall.file.broker.__dict__["tls"] = True
        broker.write_config(self.hall, self.files, self.port, bind="127.0.0.1", secure=secure,
                            tls_port=self.tls_port)
        Endpoint(port=self.port).save(self.data_dir)

    # ---------------------------------------------------------------- broker

    def start_broker(self) -> HallRig:
        self.broker_proc = broker.start_mosquitto(self.files, self.port)
        if self.tls_port:
            wait_for(lambda: broker.port_in_use(self.tls_port), 5, "TLS listener")
        return self

    def stop_broker(self, kill: bool = False) -> None:
        if self.broker_proc and self.broker_proc.poll() is None:
            self.broker_proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.broker_proc.wait(10)
        self.broker_proc = None

    def restart_broker(self, kill: bool = False) -> None:
        self.stop_broker(kill)
        self.start_broker()

    def reload_broker(self) -> None:
        self.broker_proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)

    # ---------------------------------------------------------------- parts

    def password(self, user: str) -> str | None:
        return Secrets.load(self.files.secrets).password(user)

    def start_hub(self, **kw):
        from hub.ingest import Hub

        hub = Hub(self.hall, self.data_dir, port=self.port, **kw).start()
        self._hubs.append(hub)
        assert hub.wait_ready(10), "hub did not connect"
        return hub

    def stop_hub(self, hub) -> None:
        hub.stop()
        self._hubs.remove(hub)

    def hub_process(self, wait: bool = True) -> subprocess.Popen:
        """`hall hub` as its own process, to be killed like a real one; waits until it says it is online."""
        cmd = [sys.executable, "-m", "hallctl.cli", "hub", "--data", str(self.data_dir), "--port", str(self.port)]
        if self.config:
            cmd += ["--config", self.config]
        log_path = self.data_dir / f"hub-{len(self._procs)}.log"
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
        self._procs.append(proc)
        if wait:
            # no broker login is used to watch: the hub's own would replace the hub's session
            wait_for(lambda: "hub: online" in log_path.read_text() or proc.poll() is not None, 20, "hub online")
            assert proc.poll() is None, log_path.read_text()[-2000:]
        return proc

    def link(self, device_id: str, start: bool = True, **kw):
        from hall.link import DeviceLink

        link = DeviceLink(self.hall, device_id, self.data_dir, **{"port": self.port, **kw})
        self._links.append(link)
        return link.start() if start else link

    def mqtt(self, user: str, *, password: str | None = None, name: str | None = None, connect: bool = True,
             protocol: int = 5) -> mqtt.Client:
        """A raw paho client logged in as `user` (the hub, a device, or anyone)."""
        ep = Endpoint(port=self.port, protocol=protocol)
        pw = password if password is not None else self.password(user)
        client = new_client(name or user, ep, pw)
        if name and name != user and pw is not None:
            client.on_pre_connect = None  # `user` under another client id: not how the hall's clients log in
            client.username_pw_set(user, pw)
        self._clients.append(client)
        if connect:
            self._connect(client)
        return client

    def listen(self, user: str, topic: str, *, decode: bool = True) -> tuple[mqtt.Client, list]:
        """A raw client logged in as `user`, subscribed to `topic` (under hall/v1/{hall}/ unless it starts with
        "hall/"), and the list its messages land in: payloads as JSON, or (topic, bytes) with decode=False.
        Returns once the subscription stands."""
        full = topic if topic.startswith("hall/") else f"hall/v1/{self.hall.id}/{topic}"
        got: list = []
        subscribed = []
        c = self.mqtt(user, connect=False)
        c.on_message = lambda cl, u, m: got.append(json.loads(m.payload) if decode else (m.topic, m.payload))
        c.on_connect = lambda cl, u, f, rc, p=None: cl.subscribe(full, 1)
        c.on_subscribe = lambda cl, u, mid, rcs, p=None: subscribed.append(mid)
        self._connect(c)
        wait_for(lambda: subscribed, 5, f"subscription to {full}")
        return c, got

    def _connect(self, client: mqtt.Client, timeout: float = 5.0) -> None:
        client.connect("127.0.0.1", self.port, keepalive=15)
        client.loop_start()
        wait_for(client.is_connected, timeout, "raw client connected")

    def mosquitto_args(self, user: str) -> list[str]:
        args = ["-h", "127.0.0.1", "-p", str(self.port), "-V", "mqttv5", "-q", "1"]
        pw = self.password(user)
        if pw is not None:
            args += ["-u", user, "-i", user, "-P", pw]
        return args

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.data_dir / "hub.db", timeout=10)
        return conn

    def count(self, sql: str, *params) -> int:
        with self.db() as conn:
            return conn.execute(sql, params).fetchone()[0]

    def close(self) -> None:
        for link in self._links:
            try:
                link.stop()
            except Exception:
                pass
        for c in self._clients:
            c.disconnect()
            c.loop_stop()
        for hub in list(self._hubs):
            hub.stop()
        for p in self._procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        self.stop_broker()


@pytest.fixture
def rig(tmp_path):
    """A secured hall broker on a free port, nothing else started."""
    r = HallRig(tmp_path / "hall").start_broker()
    yield r
    r.close()


@pytest.fixture
def make_rig(tmp_path):
    """Factory for a rig with options: make_rig(secure=False), make_rig(tls=True), make_rig(config=path)."""
    made = []

    def make(**kw) -> HallRig:
        r = HallRig(tmp_path / f"hall{len(made)}", **kw).start_broker()
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
