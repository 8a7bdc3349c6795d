"""Uplink → JetStream cluster → consumer → PostgreSQL: every journal row stored once, the report tables fed."""

from __future__ import annotations

import asyncio

from central.consumer import Consumer
from central.uplink import CURSOR_FILE, Uplink, backlog
from hallctl.commands.central import SimulatedHall
from tests.helpers.central import TEST_HALLS, count, journal_rows, needs_central, stored, wait_stored

pytestmark = needs_central


def write_hall(folder, name, steps, seed=0):
    hall = SimulatedHall(name, folder / name, seed=seed)
    for _ in range(steps):
        hall.step()
    hall.close()
    return folder / name / "hub.db"


def test_every_row_is_stored_once_and_a_resend_changes_nothing(tmp_path, cluster, database):
    journals = {name: write_hall(tmp_path, name, 150, seed=i) for i, name in enumerate(TEST_HALLS)}
    written = sum(journal_rows(j) for j in journals.values())

    async def scenario():
        consumer = Consumer(database, cluster.login("central"))
        task = asyncio.create_task(consumer.run())
        sent = [await Uplink(name, j, cluster.login(name)).drain() for name, j in journals.items()]
        got = await wait_stored(database, written)
        # the cursor forgotten: every row is sent again; JetStream drops them as duplicates
        (journals["hall-a"].parent / CURSOR_FILE).unlink()
        again = await Uplink("hall-a", journals["hall-a"], cluster.login("hall-a")).drain()
        await asyncio.sleep(1.0)
        consumer.stop()
        await task
        return sent, got, again, consumer.stored

    sent, got, again, consumer_stored = asyncio.run(scenario())
    assert sum(s.events + s.decisions + s.alerts for s in sent) == written
    assert got == written == stored(database)
    assert again.duplicates == again.events + again.decisions + again.alerts == journal_rows(journals["hall-a"])
    assert stored(database) == written, "a resend stored nothing twice"
    assert count(database, "SELECT count(*) FROM rejected") == 0
    assert all(backlog(j) == {"events": 0, "queue_journal": 0, "alerts_journal": 0} for j in journals.values())
    # each row under its own hall, with its place in the hall's journal
    for name, journal in journals.items():
        assert stored(database, name) == journal_rows(journal)
    # the report tables: one ticket per issue, one call per call decision, ratings and punches per event
    assert count(database, "SELECT count(*) FROM tickets") == count(
        database, "SELECT count(*) FROM decisions WHERE op='issue'")
    assert count(database, "SELECT count(*) FROM calls") == count(
        database, "SELECT count(*) FROM decisions WHERE op='call_next'")
    assert count(database, "SELECT count(*) FROM tickets WHERE called_at IS NOT NULL") == count(
        database, "SELECT count(*) FROM calls")
    assert count(database, "SELECT count(*) FROM ratings") == count(
        database, "SELECT count(*) FROM events WHERE type='rating'") > 0
    assert count(database, "SELECT count(*) FROM punches") == count(
        database, "SELECT count(*) FROM events WHERE type='punch'") > 0


def test_a_redelivered_batch_changes_nothing(database):
    import json

    import psycopg

    from central.consumer import create_schema, write_batch

    body = {"hall": "hall-a", "kind": "event", "n": 1, "id": "01EVENT", "device": "rater-01", "type": "rating",
            "seq": 1, "ts": "2024-05-06T09:00:00+08:00", "received_at": "2024-05-06T09:00:00.100+08:00",
            "data": {"window": "3", "score": 5}}
    batch = [("hall.hall-a.rating", json.dumps(body).encode(), "hall-a.01EVENT")]
    with psycopg.connect(database, autocommit=True) as conn:
        create_schema(conn)
        first = write_batch(conn, batch)
        second = write_batch(conn, batch)
    assert (first.stored, second.stored, second.duplicates) == (1, 0, 1)
    assert count(database, "SELECT count(*) FROM ratings") == 1


def test_no_message_can_fail_a_batch(database):
    """Fields PostgreSQL casts are checked first: a bad one is refused with its reason, the rest of the batch stored."""
    import json

    import psycopg

    from central.consumer import create_schema, write_batch

    def event(event_id, **changes):
        body = {"hall": "hall-a", "kind": "event", "n": 1, "id": event_id, "device": "fp-01", "type": "punch",
                "seq": 1, "ts": "2024-05-06T09:00:00+08:00", "received_at": "2024-05-06T09:00:00+08:00",
                "data": {"staff": "s001", "at": "2024-05-06T09:00:00+08:00"}, **changes}
        return ("hall.hall-a.punch", json.dumps(body).encode(), f"hall-a.{event_id}")

    decision = {"hall": "hall-a", "kind": "decision", "n": 7, "id": "hall-a.q.7", "event": None, "day": "2024-13-45",
                "at": "2024-05-06T09:00:00+08:00", "op": "issue", "args": {}, "result": {"ok": True}}
    batch = [event("GOOD1"), event("BADSEQ", seq="forty-two"), event("NUL", data={"staff": "s\u0000"}),
             event("HUGE", n=2**70),
             ("hall.hall-a.decision.issue", json.dumps(decision).encode(), "hall-a.q.7")]
    with psycopg.connect(database, autocommit=True) as conn:
        create_schema(conn)
        done = write_batch(conn, batch)
        reasons = [r for (r,) in conn.execute("SELECT reason FROM rejected ORDER BY id").fetchall()]
    assert (done.stored, done.rejected) == (1, 4)
    assert count(database, "SELECT count(*) FROM punches") == 1
    assert any("seq" in r for r in reasons) and any("NUL" in r for r in reasons)
    assert any("n (the row" in r for r in reasons) and any("not a date" in r for r in reasons)
