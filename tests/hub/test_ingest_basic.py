"""Ingest basics: an event stored once and acknowledged, a failing domain, the order of what the hub sends."""

from __future__ import annotations

import gc
import json
import time

from tests.helpers.rig import wait_for
from tests.helpers.staffing import log_in


def test_event_stored_once_and_acknowledged(rig):
    hub = rig.start_hub()
    link = rig.link("kiosk-01")
    assert link.wait_connected(10)
    link.send("health", {"printer": "ok"})
    assert link.wait_drained(10)
    assert rig.count("SELECT count(*) FROM events WHERE device='kiosk-01' AND type='health'") == 1
    assert hub.counts["stored"] == 1
    assert gc.isenabled()  # the hub holds the collector off only while it decides and sends a burst


class _Failing:
    """A domain that breaks where it is told to: in apply() for `health`, or in flush() once it has events."""

    types = frozenset({"health"})

    def __init__(self, where: str):
        self.where = where
        self.applied = 0

    def setup(self, db, emit):
        pass

    def apply(self, db, event, emit):
        if self.where == "apply":
            raise RuntimeError("a bug in apply")
        self.applied += 1
        return None

    def flush(self, db, emit):
        if self.where == "flush" and self.applied:
            raise RuntimeError("a bug in flush")

    def tick(self, db, now, emit):
        pass


def test_a_domain_failing_in_flush_keeps_nothing_from_being_acknowledged(rig):
    hub = rig.start_hub(domains=[_Failing("flush")])
    link = rig.link("kiosk-01")
    assert link.wait_connected(10)
    for n in range(5):
        link.send("health", {"n": n})
    assert link.wait_drained(10)
    assert rig.count("SELECT count(*) FROM events WHERE type='health'") == 5
    assert hub.is_alive()


def test_a_domain_failing_in_apply_keeps_the_event_and_the_hall_going(rig):
    hub = rig.start_hub(domains=[_Failing("apply")])
    link = rig.link("kiosk-01")
    assert link.wait_connected(10)
    link.send("health", {"n": 1})
    link.send("health", {"n": 2})
    assert link.wait_drained(10)
    assert rig.count("SELECT count(*) FROM events WHERE type='health'") == 2
    assert hub.is_alive()


def test_announcements_go_out_before_the_retained_state_of_their_burst(make_rig, tmp_path):
    from tests.helpers.queueing import all_day_hall

    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    rig.start_hub()
    kiosk = rig.link("kiosk-01")
    assert kiosk.wait_connected(10)
    for _ in range(6):
        kiosk.send("ticket_request", {"queue": "A"})
    assert kiosk.wait_drained(10)
    _, heard = rig.listen("display-01", f"hall/v1/{rig.hall.id}/hub/#", decode=False)
    wait_for(lambda: heard, 5, "the retained state on subscribing")
    links = {w: rig.link(f"win-0{w}") for w in ("1", "2", "3")}
    for w, link in links.items():
        assert link.wait_connected(10)
        log_in(link, rig.hall, w)  # a window calls only with someone logged in
    time.sleep(0.3)
    heard.clear()
    for w, link in links.items():
        link.send("call_next", {"window": w})
    wait_for(lambda: any(t.endswith("/hub/calls") and len(json.loads(p)["calls"]) == 3 for t, p in heard), 10,
             "three calls and the calls list that holds them")
    queue_topics = ("call", "calls", "state/window/", "state/queue/")  # the clock may close a day meanwhile
    topics = [t for t in (t.rsplit("/hub/", 1)[1] for t, _ in heard) if t.startswith(queue_topics)]
    first_state = min(i for i, t in enumerate(topics) if t.startswith("state/") or t == "calls")
    # each announcement before any state the burst changed (a window's link may send a moment later: then its
    # call opens a burst of its own, still ahead of that burst's state)
    assert topics[0] == "call" and topics.index("call") < first_state
    assert topics.count("call") == 3


def test_a_burst_committed_in_parts_sends_every_announcement_before_any_answer(make_rig, tmp_path, monkeypatch):
    """The hub commits a burst in parts (here one event each) and announces each part's calls at once; the
    clerks' answers follow the burst's last call, as when a burst was one commit."""
    import hub.connection
    import hub.ingest
    from hall.protocol import dumps, envelope, evt_topic, new_event_id
    from tests.helpers.queueing import all_day_hall

    monkeypatch.setattr(hub.ingest, "BATCH_BUDGET", 0.0)
    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    hub_ = rig.start_hub()
    kiosk = rig.link("kiosk-01")
    assert kiosk.wait_connected(10)
    for _ in range(4):
        kiosk.send("ticket_request", {"queue": "A"})
    assert kiosk.wait_drained(10)
    for w in ("1", "2", "3"):
        pc = rig.link(f"win-0{w}")
        assert pc.wait_connected(10)
        log_in(pc, rig.hall, w)
        pc.stop()
    rig.stop_hub(hub_)
    windows = ("1", "2", "3")  # all three serve A
    for w in windows:  # the broker keeps them for the hub's session: they arrive together when it is back
        c = rig.mqtt(f"win-0{w}")
        body = dumps(envelope(new_event_id(), 1, {"window": w}))
        c.publish(evt_topic(rig.hall.id, f"win-0{w}", "call_next"), body, qos=1).wait_for_publish(5)
        c.disconnect()
        c.loop_stop()
    trail: list[str] = []
    publish = hub.connection.HubConnection.send

    def send(self, messages):
        trail.extend(topic.rsplit("/", 2)[-1] if "/hub/" in topic else topic.rsplit("/", 1)[-1]
                     for topic, _ in messages)
        return publish(self, messages)

    monkeypatch.setattr(hub.connection.HubConnection, "send", send)
    rig.start_hub()
    wait_for(lambda: trail.count("res") == len(windows), 10, "the three answers")
    assert trail.count("call") == len(windows)
    assert max(i for i, t in enumerate(trail) if t == "call") < min(i for i, t in enumerate(trail) if t == "res")


def test_a_burst_with_nothing_to_announce_is_answered_part_by_part(make_rig, tmp_path, monkeypatch):
    """Tickets (and bookings) announce nothing: a burst of them committed in parts answers each part as it is
    committed, so the first citizens do not wait for the whole burst to be decided."""
    import hub.connection
    import hub.ingest
    import hub.journal
    from hall.protocol import dumps, envelope, evt_topic, new_event_id
    from tests.helpers.queueing import all_day_hall

    monkeypatch.setattr(hub.ingest, "BATCH_BUDGET", 0.0)
    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    hub_ = rig.start_hub()
    rig.stop_hub(hub_)
    c = rig.mqtt("kiosk-01")
    for seq in range(1, 7):  # the broker keeps them for the hub's session: they arrive together when it is back
        body = dumps(envelope(new_event_id(), seq, {"queue": "A"}))
        c.publish(evt_topic(rig.hall.id, "kiosk-01", "ticket_request"), body, qos=1).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()
    trail: list[str] = []
    send, store = hub.connection.HubConnection.send, hub.journal.Journal.store_event

    def sending(self, messages):
        trail.extend(topic.rsplit("/", 1)[-1] for topic, _ in messages)
        return send(self, messages)

    def storing(self, env, device, event_type, *rest):
        if event_type == "ticket_request":
            trail.append("stored")
        return store(self, env, device, event_type, *rest)

    monkeypatch.setattr(hub.connection.HubConnection, "send", sending)
    monkeypatch.setattr(hub.journal.Journal, "store_event", storing)
    rig.start_hub()
    wait_for(lambda: trail.count("res") == 6, 10, "the six answers")
    assert trail.index("res") < max(i for i, t in enumerate(trail) if t == "stored")
    assert trail.count("stored") == 6


def test_nothing_is_acknowledged_before_the_journal_is_on_disk(rig, monkeypatch):
    """Commits reach the operating system at once (a hub crash keeps them); a power cut only spares what was flushed
    to the disk, so the PUBACK and the `ack` that let a device forget an event wait for an fsync of the journal."""
    import os

    import hub.journal

    trail: list[tuple[str, str]] = []
    real_fsync = os.fsync

    def fsync(fd):
        real_fsync(fd)
        trail.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))

    monkeypatch.setattr(hub.journal.os, "fsync", fsync)
    hub_ = rig.start_hub()
    publish, ack = hub_.client.publish, hub_.client.ack
    hub_.client.publish = lambda topic, *a, **kw: (trail.append(("publish", topic)), publish(topic, *a, **kw))[1]
    hub_.client.ack = lambda mid, qos: (trail.append(("puback", str(mid))), ack(mid, qos))[1]
    link = rig.link("kiosk-01")
    assert link.wait_connected(10)
    trail.clear()
    link.send("health", {"printer": "ok"})
    assert link.wait_drained(10)
    wait_for(lambda: any(kind == "puback" for kind, _ in trail), 5, "the PUBACK")

    wal = str(rig.data_dir / "hub.db-wal")
    acked = [i for i, (kind, what) in enumerate(trail) if kind == "puback" or what.endswith("/kiosk-01/ack")]
    flushed = [i for i, (kind, what) in enumerate(trail) if kind == "fsync" and what == wal]
    assert acked and flushed and flushed[0] < min(acked), trail
