"""A device's disk fills up: new events are refused with a clear error, the link keeps running, acknowledgements
still clear the outbox, and once there is room again everything flows. A real full disk (a small tmpfs), a real
broker and hub."""

from __future__ import annotations

import sqlite3
import time

import pytest

from hall.link import Outbox, OutboxFull
from tests.helpers.disk import fill, small_disk
from tests.helpers.rig import wait_for


def _send_until_full(link, disk) -> tuple[list[str], OutboxFull]:
    """Fill the disk, and again after any event that still found room (a checkpoint may free a little)."""
    sent = []
    for attempt in range(20):
        fill(disk, f"filler-{attempt}")
        try:
            sent.append(link.send("health", {"n": attempt}))
        except OutboxFull as err:
            return sent, err
    pytest.fail("the outbox kept taking events on a full disk")


def test_a_full_disk_refuses_events_clearly_and_acknowledgements_still_clear_the_outbox(rig, tmp_path):
    with small_disk(rig.data_dir / "devices" / "kiosk-01", 2048) as disk:
        link = rig.link("kiosk-01")  # the hub is away: events wait in the outbox
        assert link.wait_connected(10, hub=False)
        sent = [link.send("health", {"n": i}) for i in range(50)]
        refused = link.send("ticket_request", {"queue": ""})  # to be a dead letter, written on the full disk

        more, err = _send_until_full(link, disk)
        sent += more
        message = str(err)
        assert message.startswith("设备存储已满 outbox disk full: ")
        assert str(disk / "outbox.db") in message and "full" in message.split(": ", 2)[2]
        assert err.path == disk / "outbox.db"

        rig.start_hub()  # its acknowledgements reach a link whose disk is full
        assert link.wait_drained(20), f"{link.pending()} acknowledged events still in the outbox on a full disk"
        assert [d.id for d in link.dead_letters()] == [refused]
        assert link._relay.is_alive() and link.connected

        for filler in disk.glob("filler-*"):
            filler.unlink()
        late = [link.send("health", {"late": i}) for i in range(5)]
        assert link.wait_drained(10)
        stored = {r[0] for r in rig.db().execute("SELECT id FROM events WHERE device='kiosk-01'")}
        assert stored == set(sent + late)
        link.stop()


def test_acknowledged_events_are_cleared_once_the_disk_lets_them(tmp_path):
    """Not even the reserve helps (it is gone and the log is empty): the delete is owed, not forgotten, and the
    acknowledged events are not offered for sending again meanwhile."""
    with small_disk(tmp_path / "disk", 1024) as disk:
        outbox = Outbox(disk / "outbox.db")
        first = [outbox.add("health", {"n": i})[1] for i in range(300)][0]
        (disk / "outbox.db-reserve").unlink()
        with sqlite3.connect(disk / "outbox.db") as other:  # the log checkpointed away: nothing left to give back
            assert other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        filler = fill(disk)

        with pytest.raises(OutboxFull):
            outbox.acknowledge(250)
        assert outbox.owes() and outbox.count() == 300
        assert [seq for seq, *_ in outbox.pending()] == list(range(251, 301))  # not sent again meanwhile
        assert outbox.get(first) is None
        with pytest.raises(OutboxFull):
            outbox.maintain()  # still full: still owed

        filler.unlink()
        outbox.maintain()
        assert outbox.count() == 50 and not outbox.owes()
        assert (disk / "outbox.db-reserve").stat().st_size == Outbox.RESERVE_BYTES  # taken back for next time
        outbox.close()


def test_the_outbox_log_stays_small_across_many_events(rig):
    rig.start_hub()
    link = rig.link("kiosk-01")
    assert link.wait_connected(10)
    wal = rig.data_dir / "devices" / "kiosk-01" / "outbox.db-wal"
    largest = 0
    for burst in range(20):
        for i in range(100):
            link.send("health", {"burst": burst, "n": i})
        largest = max(largest, wal.stat().st_size)
        assert link.wait_drained(20)
    assert rig.count("SELECT count(*) FROM events WHERE device='kiosk-01'") == 2000
    assert largest <= 1024 * 1024, f"the log reached {largest} bytes"
    # once the outbox is empty the log is cut back to nothing within a couple of seconds
    wait_for(lambda: wal.stat().st_size == 0, 5, f"an empty log (it holds {wal.stat().st_size} bytes)")
    time.sleep(0.1)
