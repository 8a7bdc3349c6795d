"""Events added at the same moment from several threads share one transaction (one sync of the disk), and each
caller still gets back its own durable event: its seq, in order, none lost, none twice."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from hall.link import Outbox
from tests.helpers.rig import wait_for


def _add_together(outbox: Outbox, n: int) -> tuple[dict, dict]:
    """n threads adding one event each while the outbox's write lock is held, so they all queue up behind it;
    (results, errors) by caller once every one has returned."""
    results, errors = {}, {}

    def add(i):
        try:
            results[i] = outbox.add("booking_request", {"n": i})
        except Exception as err:  # noqa: BLE001 — the test reads which callers failed
            errors[i] = err

    threads = [threading.Thread(target=add, args=(i,)) for i in range(n)]
    with outbox._lock:  # a write under way: the n arrive meanwhile
        for t in threads:
            t.start()
        wait_for(lambda: len(outbox._adding) == n, 10, f"{n} queued")
    for t in threads:
        t.join(10)
    return results, errors


def _counting_commits(outbox: Outbox, monkeypatch) -> list:
    commits = []
    real = outbox._transaction
    monkeypatch.setattr(outbox, "_transaction", lambda work: (commits.append(1), real(work))[1])
    return commits


def _broken(work):
    raise sqlite3.OperationalError("disk I/O error")


def test_events_added_together_are_written_in_one_transaction(tmp_path, monkeypatch):
    outbox = Outbox(tmp_path / "outbox.db")
    commits = _counting_commits(outbox, monkeypatch)
    results, errors = _add_together(outbox, 50)
    assert not errors and len(results) == 50
    assert len(commits) == 1     # one transaction, one sync, for all fifty
    seqs = sorted(seq for seq, _id, _payload in results.values())
    assert seqs == list(range(1, 51))
    for i, (seq, event_id, payload) in results.items():
        env = json.loads(payload)
        assert env["seq"] == seq and env["id"] == event_id and env["data"] == {"n": i}
    outbox.close()
    rows = sqlite3.connect(tmp_path / "outbox.db").execute("SELECT seq, id FROM outbox ORDER BY seq").fetchall()
    assert rows == sorted((seq, event_id) for seq, event_id, _p in results.values())
    assert Outbox(tmp_path / "outbox.db").next_seq() == 51


def test_a_write_that_fails_fails_every_caller_of_its_group_and_queues_nothing(tmp_path, monkeypatch):
    outbox = Outbox(tmp_path / "outbox.db")
    monkeypatch.setattr(outbox, "_transaction", _broken)
    results, errors = _add_together(outbox, 5)
    assert not results and len(errors) == 5
    assert all(type(e).__name__ == "OutboxError" and "disk I/O error" in str(e) for e in errors.values())
    monkeypatch.undo()
    assert outbox.count() == 0 and outbox.add("booking_request", {})[0] == 1  # nothing queued, no seq spent
    outbox.close()


def test_a_caller_that_gathers_its_own_group_writes_it_in_one_transaction(tmp_path, monkeypatch):
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.add("booking_request", {"n": "first"})
    commits = _counting_commits(outbox, monkeypatch)
    written = outbox.add_many([("booking_request", {"n": i}) for i in range(20)])
    assert len(commits) == 1
    assert [seq for seq, _id, _payload in written] == list(range(2, 22))
    assert [json.loads(payload)["data"] for _s, _i, payload in written] == [{"n": i} for i in range(20)]
    assert outbox.next_seq() == 22 and outbox.count() == 21
    assert outbox.add_many([]) == [] and len(commits) == 1  # nothing to write: no transaction
    outbox.close()


def test_a_gathered_group_that_fails_queues_none_of_it(tmp_path, monkeypatch):
    outbox = Outbox(tmp_path / "outbox.db")
    monkeypatch.setattr(outbox, "_transaction", _broken)
    with pytest.raises(Exception) as raised:  # noqa: PT011 — the test reads what was raised
        outbox.add_many([("booking_request", {"n": i}) for i in range(3)])
    assert type(raised.value).__name__ == "OutboxError" and "disk I/O error" in str(raised.value)
    monkeypatch.undo()
    assert outbox.count() == 0 and outbox.next_seq() == 1
    outbox.close()


def test_an_acknowledgement_noted_by_the_network_thread_waits_for_no_disk(tmp_path, monkeypatch):
    """The network thread only notes what the hub acknowledged (answers queue behind it); the delete is owed and
    the relay's upkeep makes it. Nothing acknowledged is offered for sending again meanwhile."""
    outbox = Outbox(tmp_path / "outbox.db")
    for i in range(5):
        outbox.add("booking_request", {"n": i})
    monkeypatch.setattr(outbox, "_write", lambda *a, **k: pytest.fail("noting an ack wrote to the disk"))
    outbox.note_acknowledged(3)
    monkeypatch.undo()
    assert outbox.count() == 5                      # not deleted yet
    assert [seq for seq, *_ in outbox.pending()] == [4, 5]
    assert outbox.owes()
    outbox.note_acknowledged(2)                     # an older ack changes nothing
    outbox.maintain()                               # the relay's upkeep
    assert outbox.count() == 2 and not outbox.owes()
    outbox.close()
