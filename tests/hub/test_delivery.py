"""Nothing is lost, nothing is stored twice: the hub, the broker and the devices killed mid-stream."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from hall.clock import stamp
from hall.protocol import envelope, evt_topic, new_event_id
from tests.helpers.rig import ROOT, wait_for

DEVICES = ("kiosk-01", "fp-01", "display-01")


def _stream(links, total: int, seconds: float) -> list[threading.Thread]:
    """Send `total` events spread over the links and over about `seconds`."""
    per = total // len(links)
    counts = [per] * len(links)
    counts[0] += total - per * len(links)

    def run(link, n):
        pause = seconds / n
        for i in range(n):
            link.send("health", {"n": i})
            time.sleep(pause)

    threads = [threading.Thread(target=run, args=(link, n)) for link, n in zip(links, counts, strict=True)]
    for t in threads:
        t.start()
    return threads


def _assert_all_stored_once(rig, links, total: int, timeout: float = 90) -> None:
    for link in links:
        assert link.wait_drained(timeout), f"{link.id}: {link.pending()} events never acknowledged"
    assert rig.count("SELECT count(*) FROM events") == total
    assert rig.count("SELECT count(*) FROM (SELECT device, seq FROM events GROUP BY device, seq HAVING count(*) > 1)") == 0
    for link in links:
        n = rig.count("SELECT count(*) FROM events WHERE device=?", link.id)
        assert rig.count("SELECT max(seq) FROM events WHERE device=?", link.id) == n  # seqs 1..n, none missing


@pytest.mark.slow
def test_5000_events_while_the_hub_is_killed_twice(rig):
    hub = rig.hub_process()
    links = [rig.link(d) for d in DEVICES]
    for link in links:
        assert link.wait_connected(10)
    threads = _stream(links, 5000, seconds=8)
    for _ in range(2):
        time.sleep(2.5)
        hub.send_signal(signal.SIGKILL)
        hub.wait(5)
        time.sleep(0.5)
        hub = rig.hub_process()
    for t in threads:
        t.join()
    _assert_all_stored_once(rig, links, 5000)


@pytest.mark.slow
def test_broker_restarted_mid_stream_loses_nothing(rig):
    rig.start_hub()
    links = [rig.link(d) for d in DEVICES[:2]]
    for link in links:
        assert link.wait_connected(10)
    threads = _stream(links, 1000, seconds=4)
    time.sleep(1.5)
    rig.restart_broker(kill=True)
    for t in threads:
        t.join()
    _assert_all_stored_once(rig, links, 1000)


def test_device_killed_holding_unsent_events_delivers_them_after_restart(rig):
    def agent(count: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.agent", "--data", str(rig.data_dir), "--port", str(rig.port),
             "--device", "kiosk-02", "--count", str(count)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)

    # no hub yet: the agent can only keep its events
    first = agent(300)
    assert first.stdout.readline().strip() == "queued 300"
    first.send_signal(signal.SIGKILL)
    first.wait(5)
    assert not (rig.data_dir / "hub.db").exists()  # nothing could have been delivered

    rig.start_hub()
    second = agent(0)
    assert second.stdout.readline().strip() == "queued 0"
    assert second.stdout.readline().strip() == "drained"
    second.wait(10)
    assert rig.count("SELECT count(*) FROM events WHERE device='kiosk-02'") == 300


def test_the_same_event_three_times_is_stored_once_and_acknowledged_each_time(rig):
    rig.start_hub()
    kiosk, acks = rig.listen("kiosk-01", "kiosk-01/ack")
    body = json.dumps(envelope(new_event_id(), 1, {"printer": "ok"}, stamp()))
    for n in range(1, 4):  # a device resends when an ack is late; every resend is acknowledged again
        kiosk.publish(evt_topic(rig.hall.id, "kiosk-01", "health"), body, qos=1).wait_for_publish(5)
        wait_for(lambda n=n: len(acks) >= n, 10, f"acknowledgement {n}")
    assert acks == [{"through_seq": 1}] * 3
    assert rig.count("SELECT count(*) FROM events") == 1


def test_a_resent_request_gets_the_same_answer(rig):
    rig.start_hub()
    kiosk, answers = rig.listen("kiosk-01", "kiosk-01/res")
    body = json.dumps(envelope(new_event_id(), 1, {"queue": "A"}, stamp()))
    for _ in range(2):
        kiosk.publish(evt_topic(rig.hall.id, "kiosk-01", "ticket_request"), body, qos=1).wait_for_publish(5)
    wait_for(lambda: len(answers) >= 2, 10, "two answers")
    assert answers[0] == answers[1]
    assert rig.count("SELECT count(*) FROM events") == 1


def test_a_device_that_starts_counting_again_is_accepted(rig):
    rig.start_hub()
    link = rig.link("kiosk-03")
    link.wait_connected(10)
    for i in range(5):
        link.send("health", {"n": i})
    assert link.wait_drained(10)
    link.stop()
    # a new SD card: the outbox is gone, seq starts from 1 again
    (rig.data_dir / "devices" / "kiosk-03" / "outbox.db").unlink()
    for suffix in ("-wal", "-shm"):
        (rig.data_dir / "devices" / "kiosk-03" / f"outbox.db{suffix}").unlink(missing_ok=True)
    link = rig.link("kiosk-03")
    link.wait_connected(10)
    for i in range(3):
        link.send("health", {"n": i, "new_disk": True})
    assert link.wait_drained(10)
    assert rig.count("SELECT count(*) FROM events WHERE device='kiosk-03'") == 8
    assert rig.count("SELECT seq_restarts FROM devices WHERE id='kiosk-03'") == 1


def test_an_unacknowledged_event_is_sent_again_after_the_timeout(rig):
    # a hub that said "online" and then vanished without a session: the broker keeps nothing for it
    ghost = rig.mqtt("hub", name="hub")
    ghost.publish(f"hall/v1/{rig.hall.id}/hub/status", json.dumps({"state": "online"}), qos=1,
                  retain=True).wait_for_publish(5)
    link = rig.link("kiosk-01", start=False)
    link.RESEND_AFTER = 1.0
    link.start()
    assert link.wait_connected(10)
    link.send("health", {"lost": "once"})
    time.sleep(0.5)  # published into the void
    ghost.disconnect()
    rig.start_hub()
    assert link.wait_drained(15)
    assert rig.count("SELECT count(*) FROM events") == 1


def test_a_device_whose_clock_is_off_is_flagged(rig):
    from datetime import timedelta

    from hall.clock import now

    rig.start_hub()
    # ahead: no delay can explain an event from the future
    kiosk = rig.mqtt("kiosk-01")
    ahead = (now() + timedelta(seconds=90)).isoformat(timespec="milliseconds")
    kiosk.publish(evt_topic(rig.hall.id, "kiosk-01", "health"), json.dumps(envelope(new_event_id(), 1, {}, ahead)), qos=1)
    wait_for(lambda: rig.count("SELECT count(*) FROM events") == 1, 10, "stored")
    wait_for(lambda: rig.count("SELECT skew_flagged FROM devices WHERE id='kiosk-01'") == 1, 5, "flagged")
    assert rig.count("SELECT CAST(round(clock_skew_s) AS INTEGER) FROM devices WHERE id='kiosk-01'") in (89, 90)
    # behind: told by the status a device publishes as it connects, not by events that may have waited offline
    late = (now() - timedelta(seconds=90)).isoformat(timespec="milliseconds")
    backlog = rig.mqtt("kiosk-02")
    backlog.publish(evt_topic(rig.hall.id, "kiosk-02", "health"), json.dumps(envelope(new_event_id(), 1, {}, late)),
                    qos=1).wait_for_publish(5)
    wait_for(lambda: rig.count("SELECT count(*) FROM events WHERE device='kiosk-02'") == 1, 10, "stored")
    assert rig.count("SELECT skew_flagged FROM devices WHERE id='kiosk-02'") == 0
    backlog.publish(f"hall/v1/{rig.hall.id}/kiosk-02/status",
                    json.dumps({"state": "online", "kind": "kiosk", "version": "0.1.0", "ts": late}), qos=1, retain=True)
    wait_for(lambda: rig.count("SELECT skew_flagged FROM devices WHERE id='kiosk-02'") == 1, 10, "flagged")
