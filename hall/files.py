"""Files only their owner may read: the hub's journal and the devices' outboxes hold staff punches and citizens'
requests (personal data), so they are 0600 in 0700 folders, whatever the umask or an older install left."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def private_folder(path: Path) -> Path:
    """Create `path` (and its parents) and make it the owner's alone (0700), whatever the umask or its old mode."""
    path.mkdir(parents=True, exist_ok=True)
    _restrict(path, PRIVATE_FOLDER)
    return path


def private_sqlite_file(path: Path) -> Path:
    """Create a SQLite database file 0600 before SQLite opens it, and tighten it and its -wal and -shm if older
    versions left them wider. SQLite gives the -wal and -shm it creates the main file's mode, so they follow."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            _restrict(file, PRIVATE_FILE)
    return path


def _restrict(path: Path, mode: int) -> None:
    if path.stat().st_mode & 0o777 != mode:
        os.chmod(path, mode)
