"""Private instances of the central engines, started from Debian's own binaries: a NATS cluster with JetStream and
a PostgreSQL server, each in its own folder on free loopback ports. Never the machine's own NATS (4222) or
PostgreSQL (5432): a central test or `hall central up` must not touch a server it did not start.

The NATS cluster gives every hall a user allowed to publish only on its own subjects (`hall.<hall>.>`) and to read
only its own replies (its inbox prefix `_INBOX.<hall>`), and one `central` user for the consumers and the stream's
set-up. `no_advertise` keeps the servers from telling clients of one another: a client uses the addresses it was
given (a hall behind a relay stays behind it).
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CENTRAL_USER = "central"


class ServiceError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def nats_server_path() -> str | None:
    return shutil.which("nats-server") or next(iter(glob.glob("/usr/sbin/nats-server")), None)


def postgres_bin() -> Path | None:
    """The folder with initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin (newest)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def missing() -> str | None:
    """Why the central engines cannot run here, or None."""
    if not nats_server_path():
        return "nats-server is not installed (Debian package nats-server)"
    if not postgres_bin():
        return "PostgreSQL's initdb is not installed (Debian package postgresql)"
    return None


# ------------------------------------------------------------------------------------------------------- NATS

START_TRIES = 3

@dataclass
class NatsNode:
    name: str
    port: int
    route_port: int
    monitor_port: int
    folder: Path
    proc: subprocess.Popen | None = None
    log_from: int = 0  # where this start's lines begin in its log (a restart appends)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"tls://127.0.0.1:{self.port}"


@dataclass
class NatsCluster:
    """A JetStream cluster of `size` nodes under `folder`; `halls` names the halls given a login. With `tls`,
    every client connection and every route between the servers is TLS with a private CA (central/tls.py), and a
    plain connection is refused."""
    folder: Path
    halls: list[str]
    size: int = 3
    tls: bool = False
    nodes: list[NatsNode] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.folder = Path(self.folder)
        saved = self.folder / "logins.json"
        if saved.exists():  # a restarted cluster keeps its logins: the halls' uplinks hold them
            self.passwords = json.loads(saved.read_text())
        for user in [CENTRAL_USER, *self.halls]:
            self.passwords.setdefault(user, secrets.token_urlsafe(18))
        self._own_ports = not self.nodes  # chosen here, so they may be chosen again (start)
        if not self.nodes:
            self.nodes = self._new_nodes()

    def _new_nodes(self) -> list[NatsNode]:
        """The nodes on free ports, none twice."""
        ports: list[int] = []
        while len(ports) < 3 * self.size:
            port = free_port()
            if port not in ports:
                ports.append(port)
        return [NatsNode(f"n{i + 1}", *ports[3 * i:3 * i + 3], self.folder / f"n{i + 1}") for i in range(self.size)]

    @property
    def urls(self) -> list[str]:
        return [n.tls_url if self.tls else n.url for n in self.nodes]

    @property
    def ca_file(self) -> Path | None:
        return self.folder / "tls" / "ca.crt" if self.tls else None

    def login(self, user: str) -> dict:
        """Connect options for nats-py: the servers, the user, its password, its inbox prefix (and the CA)."""
        options = {"servers": self.urls, "user": user, "password": self.passwords[user]}
        if user != CENTRAL_USER:
            options["inbox_prefix"] = f"_INBOX.{user}"
        if self.tls:
            from central.tls import client_context

            options["tls"] = client_context(self.ca_file)
        return options

    def config(self, node: NatsNode) -> str:
        routes = ", ".join(f'"nats-route://127.0.0.1:{n.route_port}"' for n in self.nodes if n is not node)
        users = [{"user": CENTRAL_USER, "password": self.passwords[CENTRAL_USER]}]
        for hall in self.halls:
            users.append({"user": hall, "password": self.passwords[hall], "permissions": {
                "publish": {"allow": [f"hall.{hall}.>"]},
                "subscribe": {"allow": [f"_INBOX.{hall}.>"]},
            }})
        store = (node.folder / "jetstream").as_posix()
        tls = ""
        if self.tls:
            certs = self.folder / "tls"
            tls = (f'tls {{ cert_file: "{(certs / "server.crt").as_posix()}", '
                   f'key_file: "{(certs / "server.key").as_posix()}", ca_file: "{(certs / "ca.crt").as_posix()}", '
                   f"verify: {{verify}}, timeout: 3 }}")
        return "\n".join([
            f"server_name: {node.name}",
            f"listen: 127.0.0.1:{node.port}",
            f"http: 127.0.0.1:{node.monitor_port}",
            tls.replace("{verify}", "false"),  # clients: TLS, then a user and a password
            f'jetstream {{ store_dir: "{store}", max_memory_store: 64MB, max_file_store: 4GB }}',
            # routes: both servers show the CA's certificate
            f"cluster {{ name: central, listen: 127.0.0.1:{node.route_port}, no_advertise: true, "
            f"routes: [{routes}]{', ' + tls.replace('{verify}', 'true') if tls else ''} }}",
            # JSON is valid NATS configuration syntax
            f"accounts {{ HALLS: {{ jetstream: enabled, users: {json.dumps(users)} }} }}",
            "max_payload: 1MB",
            "",
        ])

    def start(self) -> NatsCluster:
        exe = nats_server_path()
        if not exe:
            raise ServiceError("nats-server is not installed (Debian package nats-server)")
        for user in [CENTRAL_USER, *self.halls]:  # halls added since: their own logins
            self.passwords.setdefault(user, secrets.token_urlsafe(18))
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)  # the logins are in here
        if self.tls:
            from central.tls import make_ca

            make_ca(self.folder / "tls")
        (self.folder / "logins.json").write_text(json.dumps(self.passwords))
        for attempt in range(START_TRIES):
            for node in self.nodes:
                self.start_node(node, wait=False)
            try:
                for node in self.nodes:
                    self._wait_port(node)
                return self
            except ServiceError:
                # a port found free a moment before was taken meanwhile (by any program's outgoing connection):
                # the whole cluster again on new ports, since each node's routes name the others' ports
                if not (self._own_ports and self._port_taken()) or attempt == START_TRIES - 1:
                    raise
                self.stop()
                self.nodes = self._new_nodes()
        return self

    def _port_taken(self) -> bool:
        """A node that ended at this start because its port was in use."""
        for node in self.nodes:
            if node.proc is None or node.proc.poll() is None:
                continue
            with open(node.folder / "nats.log", "rb") as log:
                log.seek(node.log_from)
                if b"address already in use" in log.read():
                    return True
        return False

    def start_node(self, node: NatsNode, wait: bool = True) -> None:
        node.folder.mkdir(parents=True, exist_ok=True)
        conf = node.folder / "nats.conf"
        conf.write_text(self.config(node))
        with open(node.folder / "nats.log", "a") as log:
            node.log_from = log.tell()
            node.proc = subprocess.Popen([nats_server_path(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        if wait:
            self._wait_port(node)

    def _wait_port(self, node: NatsNode, timeout: float = 20) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if node.proc and node.proc.poll() is not None:
                raise ServiceError(f"nats-server {node.name} exited: see {node.folder / 'nats.log'}")
            if port_open(node.port):
                return
            time.sleep(0.05)
        raise ServiceError(f"nats-server {node.name} did not listen on {node.port} in {timeout:.0f}s")

    def kill_node(self, node: NatsNode) -> None:
        """As a crash would: SIGKILL, no goodbye to the cluster."""
        if node.proc and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait(10)

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            if node.proc:
                try:
                    node.proc.wait(10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait(5)


# -------------------------------------------------------------------------------------------------- PostgreSQL

@dataclass
class Postgres:
    """A private PostgreSQL: `initdb` into `folder/pg`, `pg_ctl` on a free port, listening only on a socket in
    its own folder (no TCP), trusted there. PostgreSQL refuses to run as root: under root the server runs as the
    `postgres` user of Debian's package, in a folder of its own under the system's temporary folder when
    `folder` is not reachable by that user (a pytest folder is the owner's alone); `folder/pg.path` names it."""
    folder: Path
    port: int = 0
    dbname: str = "central"
    user: str = "central"
    data: Path | None = None

    def __post_init__(self):
        self.folder = Path(self.folder)
        self.port = self.port or free_port()

    @property
    def socket_dir(self) -> Path:
        return self.data / "run"

    @property
    def conninfo(self) -> str:
        return f"host={self.socket_dir} port={self.port} dbname={self.dbname} user={self.user}"

    def _run_as(self) -> dict:
        return {"user": "postgres"} if os.geteuid() == 0 else {}

    def _place(self) -> Path:
        pointer = self.folder / "pg.path"
        if pointer.exists():
            return Path(pointer.read_text().strip())
        self.folder.mkdir(parents=True, exist_ok=True)
        data = self.folder / "pg"
        if os.geteuid() == 0 and not _reachable_by_postgres(self.folder):
            data = Path(tempfile.mkdtemp(prefix="hall-central-pg-")) / "pg"
        pointer.write_text(str(data))
        return data

    def start(self) -> Postgres:
        bin_dir = postgres_bin()
        if not bin_dir:
            raise ServiceError("PostgreSQL's initdb is not installed (Debian package postgresql)")
        self.data = self._place()
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            self.data.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                if self.data.parent.name.startswith("hall-central-pg-"):
                    shutil.chown(self.data.parent, "postgres")
                shutil.chown(self.data, "postgres")
            os.chmod(self.data, 0o700)
            self._run([bin_dir / "initdb", "-D", self.data, "-U", self.user, "--auth=trust", "-E", "UTF8",
                       "--locale=C.UTF-8"])
        (self.data / "run").mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data / "run", "postgres")
        options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses='' -c fsync=on "
                   f"-c max_connections=60 -c shared_buffers=64MB")
        self._run([bin_dir / "pg_ctl", "-D", self.data, "-o", options, "-l", self.data / "server.log",
                   "-w", "-t", "60", "start"])
        if fresh:
            self._run([bin_dir / "createdb", "-h", self.socket_dir, "-p", str(self.port), "-U", self.user,
                       self.dbname])
        return self

    def stop(self, mode: str = "fast") -> None:
        bin_dir = postgres_bin()
        if self.data and (self.data / "postmaster.pid").exists():
            self._run([bin_dir / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"], check=False)

    def remove(self) -> None:
        """The data folder too (a temporary one under root)."""
        if self.data and self.data.parent.name.startswith("hall-central-pg-"):
            shutil.rmtree(self.data.parent, ignore_errors=True)

    def _run(self, cmd: list, check: bool = True) -> None:
        done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd="/", **self._run_as())
        if check and done.returncode != 0:
            raise ServiceError(f"{Path(str(cmd[0])).name} failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-800:]}")


def _reachable_by_postgres(folder: Path) -> bool:
    """Every folder above `folder` can be passed through by anyone (o+x), and `folder` is ours to hand over."""
    for parent in [folder.resolve(), *folder.resolve().parents]:
        if not os.stat(parent).st_mode & 0o001:
            return False
    return True
