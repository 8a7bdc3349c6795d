"""The hall's Mosquitto: its config, credentials, ACL and TLS files, generated from the hall config.

Layout of a data directory (default `./var`):

    broker/mosquitto.conf   broker/passwd (Mosquitto's own hashed format)   broker/acl
    broker/tls/ca.crt, server.crt, server.key (when TLS is on)     broker/mosquitto.db (persistence)
    broker/mosquitto.pid (written by the running Mosquitto itself, removed when it stops)
    secrets.toml (mode 0600: one password per device and the hub; what agents log in with)

Revoking or rotating a login takes effect on the running broker at once: the command rewrites the password file
and sends the broker SIGHUP. Mosquitto 2.0 (Debian's 2.0.11 checked) then re-reads the password file and the ACL
and checks every connected client against them again: a client whose login is gone or whose password changed is
disconnected there and then, and cannot log in again. So the per-device password file stays the one source of
logins; no dynamic-security plugin is needed.
"""

from __future__ import annotations

import os
import pwd
import secrets as _secrets
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from hall.credentials import Secrets
from hall.settings import HUB_ID, Hall

PASSWORD_BYTES = 24  # 192 bits


@dataclass(frozen=True)
class BrokerFiles:
    data_dir: Path

    @property
    def dir(self) -> Path:
        return self.data_dir / "broker"

    @property
    def conf(self) -> Path:
        return self.dir / "mosquitto.conf"

    @property
    def passwd(self) -> Path:
        return self.dir / "passwd"

    @property
    def acl(self) -> Path:
        return self.dir / "acl"

    @property
    def tls_dir(self) -> Path:
        return self.dir / "tls"

    @property
    def ca(self) -> Path:
        return self.tls_dir / "ca.crt"

    @property
    def pid(self) -> Path:
        return self.dir / "mosquitto.pid"

    @property
    def log(self) -> Path:
        return self.dir / "mosquitto.log"

    @property
    def secrets(self) -> Path:
        return self.data_dir / "secrets.toml"


def new_password() -> str:
    return _secrets.token_urlsafe(PASSWORD_BYTES)


def provision(hall: Hall, files: BrokerFiles) -> dict[str, str]:
    """Give every device in the config (and the hub) a password, keeping existing ones. Returns what changed."""
    sec = Secrets.load(files.secrets)
    changed = {}
    for user in [HUB_ID, *(d.id for d in hall.devices)]:
        if user not in sec.passwords and user not in sec.revoked:
            sec.passwords[user] = new_password()
            changed[user] = "new"
    sec.save()
    write_passwd(sec, files)
    write_acl(hall, files)
    return changed


def revoke(files: BrokerFiles, device: str) -> None:
    sec = Secrets.load(files.secrets)
    if device == HUB_ID:
        raise ValueError("the hub's login cannot be revoked; rotate it instead")
    sec.passwords.pop(device, None)
    sec.revoked.add(device)
    sec.save()
    write_passwd(sec, files)


def rotate(files: BrokerFiles, device: str) -> str:
    sec = Secrets.load(files.secrets)
    sec.revoked.discard(device)
    sec.passwords[device] = new_password()
    sec.save()
    write_passwd(sec, files)
    return sec.passwords[device]


def write_passwd(sec: Secrets, files: BrokerFiles) -> None:
    """Mosquitto's hashed password file, made by Mosquitto's own tool from a plain one in place."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise RuntimeError("mosquitto_passwd not found: install the 'mosquitto' package")
    files.dir.mkdir(parents=True, exist_ok=True)
    tmp = files.passwd.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for user, pw in sorted(sec.passwords.items()):
            if user not in sec.revoked:
                f.write(f"{user}:{pw}\n")
    subprocess.run([tool, "-U", str(tmp)], check=True, capture_output=True)
    os.replace(tmp, files.passwd)


def acl_text(hall: Hall) -> str:
    """One block per login: the hub reads and writes the hall; a device writes only its own events and status and
    reads only its own answers and the hub's state. Anything not listed is denied."""
    root = f"hall/v1/{hall.id}"
    lines = [f"# Generated from {hall.path.name}: each device writes only its own topics and reads the hub's.",
             f"user {HUB_ID}", f"topic readwrite {root}/#", ""]
    for d in hall.devices:
        mine = f"{root}/{d.id}"
        lines += [f"user {d.id}", f"topic write {mine}/evt/#", f"topic write {mine}/status",
                  f"topic read {mine}/ack", f"topic read {mine}/err", f"topic read {mine}/res",
                  f"topic read {root}/hub/#"]
        if d.kind == "console":  # the managers' console shows every device's retained online/offline state
            lines.append(f"topic read {root}/+/status")
        lines.append("")
    return "\n".join(lines)


def write_acl(hall: Hall, files: BrokerFiles) -> None:
    files.dir.mkdir(parents=True, exist_ok=True)
    files.acl.write_text(acl_text(hall), encoding="utf-8")


def config_text(hall: Hall, files: BrokerFiles, port: int, *, bind: str | None = None, secure: bool = True,
                tls_port: int | None = None) -> str:
    b = hall.broker
    lines = [
        f"# Generated for hall {hall.id!r} from {hall.path}",
        # run as whoever runs the hall (as root, Mosquitto would otherwise switch to 'mosquitto' and lose its files)
        f"user {pwd.getpwuid(os.geteuid()).pw_name}",
        "per_listener_settings false",
        "persistence true",
        f"persistence_location {files.dir}/",
        "persistence_file mosquitto.db",
        f"autosave_interval {b.autosave_interval}",
        # a day of hub downtime must not drop anything: queue per session, no byte cap
        f"max_queued_messages {b.max_queued_messages}",
        "max_queued_bytes 0",
        # the hub acknowledges after each batch commit; room for a whole batch in flight
        "max_inflight_messages 1000",
        "persistent_client_expiration 14d",
        "max_packet_size 2097152",
        "set_tcp_nodelay true",
        f"log_dest file {files.log}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages true",
        # Mosquitto writes its own pid (also when systemd or `hall broker` runs it in the foreground) and removes
        # the file when it stops: `hall devices revoke|rotate` find the running broker by it and reload it
        f"pid_file {files.pid.resolve()}",
        "",
    ]
    # With TLS on, everything from the hall LAN comes over TLS: plain MQTT serves only the hub and agents on this
    # server, whatever --bind or the config's host say (the TLS listener takes that address instead)
    plain_bind = "127.0.0.1" if b.tls else (bind or b.host)
    lines += [f"listener {port} {plain_bind}" if plain_bind else f"listener {port}"]
    if secure:
        lines += ["allow_anonymous false", f"password_file {files.passwd}", f"acl_file {files.acl}",
                  "use_username_as_clientid true"]
    else:
        lines += ["allow_anonymous true"]
    if b.tls and tls_port:
        lines += ["", f"listener {tls_port}" + (f" {bind}" if bind else ""),
                  f"cafile {files.ca}", f"certfile {files.tls_dir / 'server.crt'}",
                  f"keyfile {files.tls_dir / 'server.key'}", "tls_version tlsv1.2"]
        if secure:
            lines += ["allow_anonymous false", "use_username_as_clientid true"]
    return "\n".join(lines) + "\n"


def write_config(hall: Hall, files: BrokerFiles, port: int, **kw) -> Path:
    files.dir.mkdir(parents=True, exist_ok=True)
    files.conf.write_text(config_text(hall, files, port, **kw), encoding="utf-8")
    return files.conf


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None)


def start_mosquitto(files: BrokerFiles, port: int, *, wait: float = 10.0) -> subprocess.Popen:
    """Run Mosquitto on the generated config and wait until it listens."""
    exe = mosquitto_path()
    if exe is None:
        raise RuntimeError("mosquitto not found: install the 'mosquitto' package")
    # the generated config makes Mosquitto write (and on exit remove) files.pid itself. A session of its own: a
    # Ctrl-C in the terminal (or `timeout`) signals the whole process group, and a broker gone before the hub and
    # the devices that use it leaves them nothing to hand their last events to; whoever started it stops it, last
    proc = subprocess.Popen([exe, "-c", str(files.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    import time
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            log = files.log.read_text(errors="replace")[-2000:] if files.log.exists() else ""
            raise RuntimeError(f"mosquitto exited with {proc.returncode}: {err.strip()} {log.strip()}")
        if port_in_use(port):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"mosquitto did not listen on port {port} within {wait} s")


def running_broker(files: BrokerFiles) -> int | None:
    """The pid of the Mosquitto running this data directory's config, or None.

    The pid file may be stale (a broker killed with SIGKILL cannot remove it) and its number may since belong to
    another program: only a process whose command line is Mosquitto with this very config file counts, so a
    reload never signals anything else."""
    try:
        pid = int(files.pid.read_text().strip())
        argv = [os.fsdecode(a) for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except (OSError, ValueError):
        return None
    if pid <= 0 or not argv or Path(argv[0]).name != "mosquitto":
        return None
    for flag, value in pairwise(argv):
        if flag in ("-c", "--config-file") and Path(cwd, value).resolve() == files.conf.resolve():
            return pid
    return None


def reload(files: BrokerFiles) -> bool:
    """Have the running broker re-read its password and ACL files (SIGHUP); it drops clients whose login no
    longer holds (see the module docstring). False when no broker of this data directory is running."""
    pid = running_broker(files)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGHUP)
    except (ProcessLookupError, PermissionError):
        return False
    return True
