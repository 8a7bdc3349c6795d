"""A device's outbox holds personal data (staff punches, citizens' requests): its files are the owner's alone,
0600 in a 0700 folder, whatever the umask, and wider modes left from before are tightened when it opens."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from hall.link import Outbox


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0)  # the widest: nothing masked
    yield
    os.umask(old)


def test_a_new_outbox_is_private_whatever_the_umask(tmp_path, open_umask):
    folder = tmp_path / "devices" / "fp-01"
    outbox = Outbox(folder / "outbox.db")
    outbox.add("punch", {"staff": "s023"})
    try:
        assert _mode(folder) == 0o700
        files = sorted(folder.iterdir())
        assert {f.name for f in files} >= {"outbox.db", "outbox.db-wal", "outbox.db-shm"}
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        outbox.close()


def test_an_outbox_left_readable_by_all_is_tightened_when_it_opens(tmp_path):
    folder = tmp_path / "devices" / "fp-01"
    folder.mkdir(parents=True)
    path = folder / "outbox.db"
    older = sqlite3.connect(path)  # kept open, so its -wal and -shm stay as an older version left them
    older.execute("PRAGMA journal_mode=WAL")
    older.execute("CREATE TABLE t (x)")
    older.commit()
    for f in (folder, path, folder / "outbox.db-wal", folder / "outbox.db-shm"):
        os.chmod(f, 0o777 if f.is_dir() else 0o644)

    outbox = Outbox(path)
    try:
        assert _mode(folder) == 0o700
        for name in ("outbox.db", "outbox.db-wal", "outbox.db-shm"):
            assert _mode(folder / name) == 0o600, name
    finally:
        outbox.close()
        older.close()
