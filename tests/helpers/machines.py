"""A throwaway machine for `hall install --root`: a folder with what useradd and systemctl need of /etc, the
distribution's Mosquitto enabled as a fresh Debian has it; a snapshot of a folder's tree to compare before and
after; a small SNTP server on a free port, for the clock check of `hall doctor`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

ACCOUNT_FILES = ["passwd", "group", "shadow", "gshadow", "login.defs"]
# useradd and userdel leave a copy of the previous file and a lock file: a real /etc has them already
BACKUPS = ["passwd-", "group-", "shadow-", "gshadow-", ".pwd.lock"]
MOSQUITTO_UNIT = Path("/lib/systemd/system/mosquitto.service")


@pytest.fixture
def machine(tmp_path) -> Path:
    """A folder standing for a fresh Debian machine's root."""
    if os.geteuid() != 0:
        pytest.skip("useradd --root and chown need root")
    if not (shutil.which("useradd") and shutil.which("systemctl")):
        pytest.skip("useradd or systemctl is not installed")
    root = tmp_path / "machine"
    etc = root / "etc"
    etc.mkdir(parents=True)
    for name in ACCOUNT_FILES:
        shutil.copy2(f"/etc/{name}", etc / name)
    for name in BACKUPS:
        source = etc / name.rstrip("-")
        shutil.copy2(source, etc / name) if name.endswith("-") else (etc / name).touch()
    for d in ("home", "srv", "etc/chrony", "etc/systemd/system/multi-user.target.wants", "lib/systemd/system"):
        (root / d).mkdir(parents=True, exist_ok=True)
    unit = root / "lib/systemd/system/mosquitto.service"
    if MOSQUITTO_UNIT.exists():
        shutil.copy2(MOSQUITTO_UNIT, unit)
    else:
        unit.write_text("[Unit]\nDescription=Mosquitto\n[Service]\nExecStart=/usr/sbin/mosquitto\n"
                        "[Install]\nWantedBy=multi-user.target\n")
    (root / "etc/systemd/system/multi-user.target.wants/mosquitto.service").symlink_to(
        "/lib/systemd/system/mosquitto.service")
    return root


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root with its kind, mode, owner and content (the account files' backups by name only:
    their content is whatever the last change left)."""
    out = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(base) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", st.st_mode, st.st_uid, st.st_gid)
            elif name in BACKUPS:
                out[rel] = ("file",)
            else:
                out[rel] = ("file", st.st_mode, st.st_uid, st.st_gid, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


class TimeServer:
    """Answers SNTP requests with this machine's clock plus `offset` seconds."""

    def __init__(self, offset: float = 0.0):
        self.offset = offset
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @staticmethod
    def _stamp(t: float) -> bytes:
        t += 2208988800
        return struct.pack("!II", int(t), int((t % 1) * 2**32))

    def _serve(self) -> None:
        while True:
            try:
                request, peer = self.sock.recvfrom(512)
            except OSError:
                return
            now = self._stamp(time.time() + self.offset)
            # server mode, stratum 2; originate = the client's transmit time; receive and transmit = now
            reply = b"\x24\x02\x00\x00" + bytes(20) + request[40:48] + now + now
            self.sock.sendto(reply, peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def time_server():
    servers: list[TimeServer] = []

    def start(offset: float = 0.0) -> TimeServer:
        servers.append(TimeServer(offset))
        return servers[-1]

    yield start
    for s in servers:
        s.close()
