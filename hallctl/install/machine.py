"""The machine being set up, seen through a root folder: `/` for the real one, a throwaway folder in tests.

Every path written is prefixed with the root; `useradd`, `userdel` and `systemctl` get `--root` when it is not `/`,
so they edit that folder's /etc instead of the machine's. What install adds is recorded as it happens (the
`Record` becomes /etc/hallkit/install.json), so uninstall removes exactly that and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

MANIFEST = "/etc/hallkit/install.json"
SYSTEMD_UNITS = "/etc/systemd/system"
SYSTEMD_USER_UNITS = "/etc/systemd/user"
# the folders systemctl enable links into; removed again when install made them and they end up empty
WANTS = ("multi-user.target.wants", "timers.target.wants")


class InstallError(Exception):
    """Something the machine lacks or refuses; the message says what and what to do."""


@dataclass
class Record:
    """What one install added: read back by uninstall and by `hall doctor`."""

    part: str                               # server, kiosk, display, terminal, caller or led
    hallkit: str                            # the checkout the units run from
    data: str                               # the data directory
    user: str                               # who runs the hall's programs
    device: str | None = None
    server: str | None = None
    user_created: bool = False
    data_created: bool = False
    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)        # made by install, in the order made
    units: list[str] = field(default_factory=list)       # enabled by install
    mosquitto_disabled: bool = False

    @classmethod
    def load(cls, path: Path) -> Record | None:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None


@dataclass
class Account:
    name: str
    uid: int
    gid: int
    home: str


class Machine:
    def __init__(self, root: Path | str = "/", *, say=print):
        self.root = Path(root).resolve()
        self.say = say

    @property
    def live(self) -> bool:
        """The real machine (not a folder standing for one): services can be started and stopped."""
        return self.root == Path("/")

    @property
    def systemd_running(self) -> bool:
        return self.live and Path("/run/systemd/system").is_dir()

    def path(self, p: str | Path) -> Path:
        return self.root / str(p).lstrip("/")

    def exists(self, p: str | Path) -> bool:
        return self.path(p).exists()

    # ------------------------------------------------------------ commands

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        try:
            done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=120)
        except FileNotFoundError as err:
            raise InstallError(f"{cmd[0]} is not installed on this machine ({err})") from err
        if check and done.returncode:
            raise InstallError(f"{' '.join(cmd)} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")
        return done

    def _rooted(self) -> list[str]:
        return [] if self.live else ["--root", str(self.root)]

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("systemctl", *self._rooted(), *args, check=check)

    def enabled(self, unit: str) -> bool:
        return self.systemctl("is-enabled", "--quiet", unit, check=False).returncode == 0

    def start(self, *units: str) -> None:
        """Start (or restart) units on the real machine when systemd runs it; a folder has nothing to start."""
        if self.systemd_running:
            self.systemctl("daemon-reload")
            self.systemctl("restart", *units)

    def stop(self, *units: str) -> None:
        if self.systemd_running:
            self.systemctl("stop", *units, check=False)

    # ------------------------------------------------------------ accounts

    def account(self, name: str) -> Account | None:
        try:
            lines = self.path("/etc/passwd").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            f = line.split(":")
            if len(f) >= 7 and f[0] == name:
                return Account(f[0], int(f[2]), int(f[3]), f[5])
        return None

    def groups(self) -> set[str]:
        try:
            return {line.split(":")[0] for line in self.path("/etc/group").read_text(encoding="utf-8").splitlines()}
        except FileNotFoundError:
            return set()

    def add_user(self, name: str, *, system: bool, home: str, groups: list[str]) -> Account:
        present = [g for g in groups if g in self.groups()]
        cmd = ["useradd", *self._rooted(), "--user-group", "--home-dir", home, "--comment", "hallkit"]
        if system:
            cmd += ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        else:
            cmd += ["--create-home", "--shell", "/bin/bash"]
        if present:
            cmd += ["--groups", ",".join(present)]
        self.run(*cmd, name)
        return self.account(name)

    def remove_user(self, name: str, *, home: bool) -> None:
        self.run("userdel", *self._rooted(), *(["--remove"] if home else []), name, check=False)

    # ------------------------------------------------------------ files

    def make_dir(self, p: str, record: Record, *, owner: Account | None = None, mode: int = 0o755) -> None:
        """The folder and any missing parent, each noted in the record so uninstall can take them away."""
        missing = []
        here = Path(p)
        while not self.exists(here):
            missing.append(here)
            here = here.parent
        for d in reversed(missing):
            self.path(d).mkdir(mode=mode)
            os.chmod(self.path(d), mode)
            if owner:
                os.chown(self.path(d), owner.uid, owner.gid)
            record.dirs.append(str(d))

    def write(self, p: str, text: str, record: Record, *, mode: int = 0o644, owner: Account | None = None) -> None:
        self.make_dir(str(Path(p).parent), record)
        target = self.path(p)
        target.write_text(text, encoding="utf-8")
        os.chmod(target, mode)
        if owner:
            os.chown(target, owner.uid, owner.gid)
        if p not in record.files:
            record.files.append(p)

    def chown_tree(self, p: str, owner: Account) -> None:
        top = self.path(p)
        os.chown(top, owner.uid, owner.gid)
        for base, dirs, files in os.walk(top):
            for name in dirs + files:
                os.chown(os.path.join(base, name), owner.uid, owner.gid, follow_symlinks=False)

    def save(self, record: Record) -> None:
        self.make_dir(str(Path(MANIFEST).parent), record)  # noted before the record is written out
        if MANIFEST not in record.files:
            record.files.append(MANIFEST)
        self.write(MANIFEST, json.dumps(asdict(record), ensure_ascii=False, indent=2) + "\n", record)

    def record(self) -> Record | None:
        return Record.load(self.path(MANIFEST))

    def remove(self, record: Record, *, purge: bool) -> list[str]:
        """Take away what the record lists; the data folder (the journal, the logins) and the user stay unless
        `purge`. Returns what was kept."""
        kept = []
        for p in record.files:
            self.path(p).unlink(missing_ok=True)
        if purge and record.data_created:
            shutil.rmtree(self.path(record.data), ignore_errors=True)
        for d in reversed(record.dirs):
            try:
                self.path(d).rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                kept.append(d)
        return kept

    def wants_dirs(self) -> list[str]:
        return [f"{SYSTEMD_UNITS}/{w}" for w in WANTS if not self.exists(f"{SYSTEMD_UNITS}/{w}")]

    def drop_empty(self, dirs: list[str]) -> None:
        for d in dirs:
            try:
                self.path(d).rmdir()
            except OSError:
                pass
