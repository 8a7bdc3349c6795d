"""A small real disk for full-disk tests: a tmpfs of a given size mounted inside the test's temporary folder, and a
filler that takes every byte left on it.

    with small_disk(tmp_path / "outbox", 1024) as disk:   # 1 MiB, mounted at tmp_path/outbox
        filler = fill(disk)                                # the disk is now full
        ...
        filler.unlink()                                    # and has room again

Mounting needs root: without it (or where the mount is refused) the test is skipped, saying why.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(at: Path, size_kb: int) -> Iterator[Path]:
    """Mount a tmpfs of `size_kb` KiB at `at` (created, and left empty), yield it, unmount it afterwards.

    Files still open on it when the block ends (a link not yet stopped) do not keep it mounted: it is detached
    lazily and goes once they are closed."""
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs root to mount a small tmpfs")
    if shutil.which("mount") is None:
        pytest.skip("no mount command to make a small tmpfs")
    at = Path(at)
    at.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(at)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {size_kb} KiB tmpfs at {at}: {done.stderr.strip() or done.returncode}")
    try:
        yield at
    finally:
        if subprocess.run(["umount", str(at)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(at)], capture_output=True, check=True)


def fill(disk: Path, name: str = "filler") -> Path:
    """Write a file on `disk` until not one more byte fits; returns it (unlink it to give the room back)."""
    filler = Path(disk) / name
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 64 << 10, 4096, 512, 1):  # ever smaller, so the last few bytes go too
            chunk = b"\xff" * size
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as err:
                if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
    finally:
        os.close(fd)
    return filler


def free_bytes(disk: Path) -> int:
    """Bytes an ordinary write could still take on `disk`."""
    st = os.statvfs(disk)
    return st.f_bavail * st.f_frsize
