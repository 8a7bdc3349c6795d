"""Hostile run: a device login throws every kind of poison at the hub (`hall hub`, its own process) while a
well-behaved kiosk keeps asking for tickets. Prints, per kind, the messages tried, stored, rejected and only counted
(past the quota); the hub's CPU and memory before and after; and the kiosk's ticket round trip before the run
(the reference) and after it.

    .venv/bin/python bench/hostile.py [--per-kind 200] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# run from the repository, not from bench/ (whose queue.py would shadow the standard library's)
sys.path[0] = str(Path(__file__).resolve().parents[1])

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from bench._hall import start_broker  # noqa: E402
from hall.clock import stamp  # noqa: E402
from hall.credentials import Secrets  # noqa: E402
from hall.protocol import new_event_id  # noqa: E402
from hall.settings import load_hall  # noqa: E402
from hub import broker  # noqa: E402

HOSTILE = "kiosk-01"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def envelope(data_json: str = "{}", *, seq: str | None = None, ts: str | None = None, extra: str = "") -> bytes:
    seq = seq or str(random.randint(1, 10**6))
    return (f'{{"v":1,"id":"{new_event_id()}","seq":{seq},"ts":"{ts or stamp()}","data":{data_json}{extra}}}'
            ).encode()


KINDS = {
    "nested 300 levels": lambda: ("health", envelope('{"x":' + "[" * 300 + "1" + "]" * 300 + "}")),
    "lone surrogate": lambda: ("health", envelope('{"x":"\\ud800"}')),
    "seq ≥ 2^63": lambda: ("health", envelope(seq=str(2**63 + random.randint(0, 9)))),
    "5,000-digit integer": lambda: ("health", envelope('{"x":' + "9" * 5000 + "}")),
    "NaN / Infinity": lambda: ("health", envelope('{"x":' + random.choice(["NaN", "Infinity", "-Infinity"]) + "}")),
    "duplicate keys": lambda: ("health", envelope('{"a":1,"a":2}')),
    "control characters": lambda: ("health", envelope('{"x":"a\\u0000\\u001b"}')),
    "100,000-character string": lambda: ("health", json.dumps(
        {"v": 1, "id": new_event_id(), "seq": 1, "ts": stamp(), "data": {"x": "字" * 100_000}}).encode()),
    "year 1 / 9999": lambda: ("health", envelope(ts=random.choice(["0001-01-01T00:00:00+08:00",
                                                                    "9999-12-31T23:59:59+08:00"]))),
    "levels after the type": lambda: ("health/x/y", envelope()),
    "forbidden type": lambda: ("punch", envelope('{"staff":"s001","at":"' + stamp() + '"}')),
    "not JSON / not UTF-8": lambda: ("ticket_request", random.choice([b"\xff\xfe", b"{", b"[]", b"null"])),
    "oversized (300 KiB)": lambda: ("health", b"{" + b" " * 300_000 + b"}"),
    "id reused for other content": lambda: ("ticket_request", REUSED.replace(b'"A"', f'"{random.randint(0, 99)}"'.encode())),
}
REUSED = b""  # an id the hub stored before the run


def proc_cpu_rss(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return cpu, rss


def ticket_round_trips(link, n: int) -> tuple[list[float], int]:
    times, answered = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        res = link.request("ticket_request", {"queue": "A"}, timeout=10)
        times.append((time.perf_counter() - t0) * 1000)
        answered += bool(res and res.get("ok"))
    return times, answered


def p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(0.99 * len(values)))]


def main() -> int:
    global REUSED
    p = argparse.ArgumentParser()
    p.add_argument("--per-kind", type=int, default=200)
    p.add_argument("--requests", type=int, default=200)
    args = p.parse_args()
    random.seed(7)

    from hall.link import DeviceLink

    hall = load_hall()
    data = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    port, mosquitto = start_broker(hall, data)
    secrets = Secrets.load(broker.BrokerFiles(data).secrets)
    hall_cmd = Path(sys.executable).with_name("hall")
    hub = subprocess.Popen([str(hall_cmd), "hub", "--data", str(data), "--port", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        while "hub: online" not in hub.stdout.readline():
            pass
        kiosk = DeviceLink(hall, "kiosk-02", data, port=port).start()
        kiosk.wait_connected(10)
        before_lat, before_ok = ticket_round_trips(kiosk, args.requests)
        cpu0, rss0 = proc_cpu_rss(hub.pid)

        attacker = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=HOSTILE, protocol=mqtt.MQTTv5)
        attacker.username_pw_set(HOSTILE, secrets.password(HOSTILE))
        attacker.max_inflight_messages_set(200)
        attacker.connect("127.0.0.1", port)
        attacker.loop_start()
        REUSED = envelope('{"queue":"A"}', seq="1")
        attacker.publish(f"hall/v1/{hall.id}/{HOSTILE}/evt/ticket_request", REUSED, qos=1).wait_for_publish(30)
        time.sleep(0.5)  # stored: from now on the id is taken
        tried: dict[str, int] = {}
        t0 = time.perf_counter()
        for name, make in KINDS.items():
            for _ in range(args.per_kind):
                suffix, payload = make()
                attacker.publish(f"hall/v1/{hall.id}/{HOSTILE}/evt/{suffix}", payload, qos=1).wait_for_publish(30)
                tried[name] = tried.get(name, 0) + 1
        total = sum(tried.values()) + 1  # and the first use of the reused id
        db = sqlite3.connect(f"file:{data / 'hub.db'}?mode=ro", uri=True)

        def accounted() -> tuple[int, int, int]:
            stored = db.execute("SELECT count(*) FROM events WHERE device=?", (HOSTILE,)).fetchone()[0]
            rejected = db.execute("SELECT count(*) FROM rejected WHERE device=?", (HOSTILE,)).fetchone()[0]
            dropped = db.execute("SELECT coalesce(sum(dropped), 0) FROM rejected_quota WHERE device=?",
                                 (HOSTILE,)).fetchone()[0]
            return stored, rejected, dropped

        end = time.monotonic() + 120
        while sum(accounted()) < total and time.monotonic() < end:
            time.sleep(0.2)
        elapsed = time.perf_counter() - t0
        cpu1, rss1 = proc_cpu_rss(hub.pid)
        stored, rejected, dropped = accounted()
        by_code = dict(db.execute("SELECT code, count(*) FROM rejected WHERE device=? GROUP BY code", (HOSTILE,)))
        after_lat, after_ok = ticket_round_trips(kiosk, args.requests)
        cpu2, rss2 = proc_cpu_rss(hub.pid)

        print(f"hostile messages from {HOSTILE}, {args.per_kind} of each kind:")
        for name, n in tried.items():
            print(f"  {name:28} {n:6}")
        print(f"  {'total':28} {total:6} in {elapsed:.1f} s: stored {stored}, rejected and kept {rejected}, "
              f"counted only (past the quota) {dropped}, unaccounted {total - stored - rejected - dropped}")
        print(f"  rejected by code: {by_code}")
        print(f"hub CPU during the run {cpu1 - cpu0:.2f} s ({(cpu1 - cpu0) / elapsed:.0%} of a core); "
              f"RSS before {rss0:.0f} MiB, after {rss1:.0f} MiB, after the valid requests {rss2:.0f} MiB")
        print(f"ticket round trip before (reference): {before_ok}/{args.requests} answered, "
              f"p50 {statistics.median(before_lat):.1f} ms, p99 {p99(before_lat):.1f} ms")
        print(f"ticket round trip after:              {after_ok}/{args.requests} answered, "
              f"p50 {statistics.median(after_lat):.1f} ms, p99 {p99(after_lat):.1f} ms "
              f"(after / before p99 {p99(after_lat) / p99(before_lat):.2f}×); hub alive: {hub.poll() is None}")
        attacker.disconnect()
        attacker.loop_stop()
        kiosk.stop()
    finally:
        hub.terminate()
        hub.wait(10)
        mosquitto.terminate()
        mosquitto.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
