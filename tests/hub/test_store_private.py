"""hub.db holds the hall's personal data: the journal's files are the owner's alone, 0600 in a 0700 data folder,
whatever the umask, and wider modes left from before are tightened when the hub opens it."""

from __future__ import annotations

import os
import stat

from hub.store import open_db


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_journal_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        db = open_db(tmp_path / "var" / "hub.db")
        db.execute("INSERT INTO devices(id) VALUES ('kiosk-01')")
    finally:
        os.umask(old)
    try:
        assert _mode(tmp_path / "var") == 0o700
        for name in ("hub.db", "hub.db-wal", "hub.db-shm"):
            assert _mode(tmp_path / "var" / name) == 0o600, name
    finally:
        db.close()


def test_a_journal_left_readable_by_all_is_tightened_when_the_hub_opens_it(tmp_path):
    data = tmp_path / "var"
    older = open_db(data / "hub.db")  # kept open, so its -wal and -shm stay
    older.execute("INSERT INTO devices(id) VALUES ('kiosk-01')")
    for f in (data, data / "hub.db", data / "hub.db-wal", data / "hub.db-shm"):
        os.chmod(f, 0o755 if f.is_dir() else 0o644)

    db = open_db(data / "hub.db")
    try:
        assert _mode(data) == 0o700
        for name in ("hub.db", "hub.db-wal", "hub.db-shm"):
            assert _mode(data / name) == 0o600, name
    finally:
        db.close()
        older.close()
