"""The faults the central side survives, each counted: rows written by the halls, stored once, lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import nats

from central import STREAM
from central.consumer import Consumer
from central.uplink import Uplink, backlog
from hallctl.commands.central import SimulatedHall, simulate
from tests.helpers.central import (
    TEST_HALLS,
    Relay,
    count,
    journal_rows,
    needs_central,
    stored,
    stream_bodies,
    wait_stored,
)

pytestmark = needs_central


def make_halls(folder, names):
    for i, name in enumerate(names):
        SimulatedHall(name, folder / name, seed=i).close()
    return {name: folder / name / "hub.db" for name in names}


def write_backlog(folder, name, steps, seed=9):
    hall = SimulatedHall(name, folder / name, seed=seed)
    hall.backlog(steps)
    hall.close()


def lost(database, journals) -> int:
    return sum(journal_rows(j) for j in journals.values()) - stored(database)


async def stream_leader(cluster) -> str:
    nc = await nats.connect(**cluster.login("central"))
    try:
        return (await nc.jetstream().stream_info(STREAM)).cluster.leader
    finally:
        await nc.close()


def test_the_stream_leader_killed_and_restarted_while_halls_publish(tmp_path, fresh_cluster, database):
    cluster = fresh_cluster
    journals = make_halls(tmp_path, cluster.halls)

    async def scenario():
        consumer = Consumer(database, cluster.login("central"))
        consumer_task = asyncio.create_task(consumer.run())
        uplinks = [Uplink(name, j, cluster.login(name), ack_wait_s=3) for name, j in journals.items()]
        tasks = [asyncio.create_task(u.run()) for u in uplinks]
        traffic = asyncio.create_task(asyncio.to_thread(simulate, tmp_path, cluster.halls, 40, 6))
        await wait_stored(database, 20)
        name = await stream_leader(cluster)
        leader = next(n for n in cluster.nodes if n.name == name)
        cluster.kill_node(leader)
        await asyncio.sleep(2.0)
        cluster.start_node(leader)
        written = await traffic
        got = await wait_stored(database, written, timeout=60)
        for u in uplinks:
            u.stop()
        consumer.stop()
        await asyncio.gather(*tasks, consumer_task)
        return written, got, uplinks

    written, got, uplinks = asyncio.run(scenario())
    assert written > 100
    assert got == written == stored(database), f"lost {written - got}"
    assert lost(database, journals) == 0
    assert sum(u.sent.events + u.sent.decisions + u.sent.alerts for u in uplinks) >= written


def test_postgresql_restarted_while_the_consumer_writes(tmp_path, cluster, pg, database):
    journals = make_halls(tmp_path, TEST_HALLS)

    async def scenario():
        consumer = Consumer(database, cluster.login("central"))
        consumer_task = asyncio.create_task(consumer.run())
        uplinks = [Uplink(name, j, cluster.login(name)) for name, j in journals.items()]
        tasks = [asyncio.create_task(u.run()) for u in uplinks]
        traffic = asyncio.create_task(asyncio.to_thread(simulate, tmp_path, TEST_HALLS, 40, 5))
        await wait_stored(database, 20)
        await asyncio.to_thread(pg.stop, "immediate")  # as a crash: no checkpoint
        await asyncio.sleep(1.0)
        await asyncio.to_thread(pg.start)
        written = await traffic
        got = await wait_stored(database, written, timeout=60)
        for u in uplinks:
            u.stop()
        consumer.stop()
        await asyncio.gather(*tasks, consumer_task)
        return written, got

    written, got = asyncio.run(scenario())
    assert got == written == stored(database)
    assert lost(database, journals) == 0


def test_the_consumer_killed_mid_batch_and_restarted(tmp_path, cluster, database):
    journals = make_halls(tmp_path, TEST_HALLS)
    for name in TEST_HALLS:  # a backlog large enough to be mid-batch when killed
        write_backlog(tmp_path, name, 1500)
    written = sum(journal_rows(j) for j in journals.values())

    async def send_all():
        await asyncio.gather(*[Uplink(name, j, cluster.login(name)).drain() for name, j in journals.items()])

    asyncio.run(asyncio.wait_for(send_all(), 60))
    password = tmp_path / "central.pass"
    password.write_text(cluster.passwords["central"])
    cmd = [sys.executable, "-m", "hallctl.cli", "central", "consume", "--nats", ",".join(cluster.urls),
           "--password-file", str(password), "--pg", database, "--ack-wait", "3"]

    def start():
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

    first = start()
    try:
        got = asyncio.run(wait_stored(database, 1, timeout=30))
        assert got > 0, first.stdout.read1().decode() if first.poll() is not None else "nothing stored"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        at_kill = stored(database)
        assert at_kill < written, "killed before the backlog was stored"
        second = start()
        try:
            got = asyncio.run(wait_stored(database, written, timeout=60))
        finally:
            second.send_signal(signal.SIGTERM)
            out, _ = second.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert got == written == stored(database), out.decode()[-2000:]
    assert count(database, "SELECT count(*) FROM rejected") == 0


def test_an_uplink_cut_for_a_day_sends_its_backlog_in_order(tmp_path, cluster, database):
    journals = make_halls(tmp_path, ["hall-a"])

    async def scenario():
        relay = await Relay(cluster.nodes[0].port).start()
        login = {**cluster.login("hall-a"), "servers": [relay.url]}
        uplink = Uplink("hall-a", journals["hall-a"], login, ack_wait_s=2, batch=200)
        consumer = Consumer(database, cluster.login("central"))
        consumer_task = asyncio.create_task(consumer.run())
        task = asyncio.create_task(uplink.run())
        await asyncio.to_thread(simulate, tmp_path, ["hall-a"], 100, 1)
        await wait_stored(database, journal_rows(journals["hall-a"]))
        await relay.cut()
        # a day of a busy hall while the link is down (~500 tickets, their calls, ratings and punches)
        await asyncio.to_thread(write_backlog, tmp_path, "hall-a", 2500)
        await asyncio.sleep(1.0)
        behind = backlog(journals["hall-a"])
        before = stored(database)
        await relay.restore()
        got = await wait_stored(database, journal_rows(journals["hall-a"]), timeout=60)
        uplink.stop()
        consumer.stop()
        await asyncio.gather(task, consumer_task)
        bodies = await stream_bodies(cluster.login("central"), "hall.hall-a.>")
        return behind, before, got, bodies

    behind, before, got, bodies = asyncio.run(scenario())
    written = journal_rows(journals["hall-a"])
    assert sum(behind.values()) >= 3000, "the cut held the day back"
    assert before == written - sum(behind.values()), "nothing of it reached the centre while cut"
    assert got == written == stored(database)
    for kind in ("event", "decision"):
        ns = [b["n"] for b in bodies if b["kind"] == kind]
        assert ns == sorted(ns) and len(ns) == len(set(ns)), f"{kind}s in the stream out of order or twice"
    assert len(bodies) == written


def test_a_forged_or_malformed_message_is_refused_or_rejected(tmp_path, cluster, database):
    import json

    journals = make_halls(tmp_path, ["hall-b"])
    hall = SimulatedHall("hall-b", tmp_path / "hall-b")
    for _ in range(20):
        hall.step()
    hall.close()
    theirs = {"hall": "hall-b", "kind": "event", "n": 1, "device": "fp-01", "type": "punch", "seq": 1,
              "ts": "2024-05-06T09:00:00+08:00", "received_at": "2024-05-06T09:00:00+08:00",
              "data": {"staff": "s001", "at": "2024-05-06T09:00:00+08:00"}}

    async def scenario():
        await Uplink("hall-b", journals["hall-b"], cluster.login("hall-b")).drain()
        errors = []

        async def on_error(err):
            errors.append(str(err))

        nc = await nats.connect(**cluster.login("hall-a"), error_cb=on_error)
        js = nc.jetstream()
        refused = None
        try:  # hall-a speaking on hall-b's subject: NATS refuses it
            await js.publish("hall.hall-b.punch", json.dumps({**theirs, "id": "FORGED1"}).encode(), timeout=1.5)
        except Exception as err:
            refused = err
        stolen = next(r for r in await stream_bodies(cluster.login("central"), "hall.hall-b.>")
                      if r["kind"] == "event")
        # on its own subject: a body naming hall-b, a payload that is no JSON, an event id that is hall-b's
        await js.publish("hall.hall-a.punch", json.dumps({**theirs, "id": "FORGED2"}).encode(),
                         headers={"Nats-Msg-Id": "hall-a.FORGED2"})
        await js.publish("hall.hall-a.punch", b"{not json", headers={"Nats-Msg-Id": "FORGED3"})
        await js.publish(f"hall.hall-a.{stolen['type']}", json.dumps({**stolen, "hall": "hall-a"}).encode(),
                         headers={"Nats-Msg-Id": f"hall-a.{stolen['id']}"})
        await nc.close()
        consumer = Consumer(database, cluster.login("central"))
        stored_all = await consumer.run(idle_exit_s=3)
        return refused, errors, stolen, stored_all

    refused, errors, stolen, consumer_stored = asyncio.run(scenario())
    assert refused is not None and any("permissions violation" in e.lower() for e in errors), errors
    assert count(database, "SELECT count(*) FROM events WHERE id IN ('FORGED1', 'FORGED2', 'FORGED3')") == 0
    assert count(database, "SELECT count(*) FROM events WHERE hall='hall-a'") == 0
    assert count(database, "SELECT hall FROM events WHERE id=%s", stolen["id"]) == "hall-b"
    reasons = [r for (r,) in __import__("psycopg").connect(database).execute(
        "SELECT reason FROM rejected ORDER BY id").fetchall()]
    assert len(reasons) == 3 and consumer_stored.rejected == 3
    assert "names hall 'hall-b'" in reasons[0]
    assert "not JSON" in reasons[1]
    assert "belongs to another hall" in reasons[2]
    assert stored(database) == journal_rows(journals["hall-b"])
