"""Running `hall …` commands for the console: the attendance figures and the workbooks the command line makes.

The console may not import the hub's parts (the attendance rules, the report writers), and it need not: the hall's
command line already computes them. A command runs as a child of this same interpreter (`python -P -m hallctl.cli`,
so a folder named like a package in the working directory cannot stand in for ours) with the console's own
--config and --data, within a timeout; what it writes on standard error is kept for the message a manager sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_S = 60.0
STDERR_KEEP = 2000


class HallCommandError(Exception):
    """A `hall` command failed: the command, its exit code and what it said."""

    def __init__(self, args: list[str], code: int | None, stderr: str):
        self.args_ = args
        self.code = code
        self.stderr = stderr.strip()[-STDERR_KEEP:]
        why = f"退出码 exit {code}" if code is not None else "超时 timed out"
        super().__init__(f"hall {' '.join(args)}: {why}: {self.stderr or '（无输出 no output）'}")


@dataclass(frozen=True)
class HallCommand:
    """`hall` commands against one hall: its config file and data folder."""

    config: Path
    data_dir: Path
    timeout_s: float = TIMEOUT_S

    @classmethod
    def of(cls, hall, data_dir: Path | str) -> HallCommand:
        return cls(Path(hall.path), Path(data_dir))

    def command(self, *args: str) -> list[str]:
        # every hall command that reads the hub's journal takes --config and --data after its own arguments
        return [sys.executable, "-P", "-m", "hallctl.cli", *args, "--config", str(self.config),
                "--data", str(self.data_dir)]

    def run(self, *args: str) -> str:
        """Standard output of `hall ARGS…`; HallCommandError when it fails or takes too long."""
        cmd = self.command(*args)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout_s,
                                  stdin=subprocess.DEVNULL, cwd=self.data_dir if self.data_dir.is_dir() else None)
        except subprocess.TimeoutExpired as err:
            stderr = err.stderr.decode("utf-8", "replace") if isinstance(err.stderr, bytes) else (err.stderr or "")
            raise HallCommandError(list(args), None, stderr) from None
        if done.returncode != 0:
            raise HallCommandError(list(args), done.returncode, done.stderr)
        return done.stdout

    def json(self, *args: str) -> dict:
        out = self.run(*args)
        try:
            return json.loads(out)
        except ValueError:
            raise HallCommandError(list(args), 0, f"不是 JSON not JSON: {out[:200]!r}") from None

    def write(self, out: Path, *args: str) -> Path:
        """Run a command that writes a file (its arguments name `out`); the file, checked to be there."""
        self.run(*args)
        if not out.exists() or out.stat().st_size == 0:
            raise HallCommandError(list(args), 0, f"没有写出文件 no file written at {out}")
        return out
