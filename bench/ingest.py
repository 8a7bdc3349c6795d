"""Ingest benchmark: the hub's sustained rate beside a raw paho QoS 1 round trip on the same broker, in one run.

    .venv/bin/python bench/ingest.py [--events 5000] [--latency-rate 200] [--latency-seconds 10]

1. Raw: one paho client publishes N QoS 1 messages, another (persistent session, QoS 1) receives them: messages
   per second from the first publish to the last receive.
2. Hub: N events wait in the outboxes of 3 device links (the hub was away); the hub (`hall hub`, its own process
   as in a hall) starts: events per second until every event is stored and acknowledged (outboxes empty).
3. Latency: events sent at a steady rate; from send() on the device to the hub's ack covering it (published
   after the commit), p50 and p99.
Prints each figure and the ratio hub / raw. Aim: ratio ≥ 0.7, p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# run from the repository, not from bench/ (whose queue.py would shadow the standard library's)
sys.path[0] = str(Path(__file__).resolve().parents[1])

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from bench._hall import start_broker  # noqa: E402
from hall.settings import load_hall  # noqa: E402
from hub import broker  # noqa: E402

DEVICES = ("kiosk-01", "kiosk-02", "fp-01")


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def raw_rate(port: int, n: int, password_of) -> float:
    got = threading.Event()
    count = [0]

    def on_message(c, u, m):
        count[0] += 1
        if count[0] == n:
            got.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hub", protocol=mqtt.MQTTv5)
    sub.username_pw_set("hub", password_of("hub"))
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe("hall/v1/miluo/+/evt/#", qos=1)
    sub.loop_start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="kiosk-01", protocol=mqtt.MQTTv5)
    pub.username_pw_set("kiosk-01", password_of("kiosk-01"))
    pub.max_inflight_messages_set(100)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    time.sleep(0.5)
    payload = b'{"v":1,"id":"01JDX8R6Z3K6W5T3M4N2P1Q0RS","seq":1,"ts":"2026-11-30T08:59:12.345+08:00","data":{"n":1}}'
    start = time.perf_counter()
    for _ in range(n):
        pub.publish("hall/v1/miluo/kiosk-01/evt/health", payload, qos=1)
    got.wait(120)
    elapsed = time.perf_counter() - start
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return count[0] / elapsed


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=5000)
    p.add_argument("--latency-rate", type=float, default=200)
    p.add_argument("--latency-seconds", type=float, default=10)
    args = p.parse_args()

    from hall.credentials import Secrets
    from hall.link import DeviceLink

    hall = load_hall()
    data = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    port, proc = start_broker(hall, data)
    secrets = Secrets.load(broker.BrokerFiles(data).secrets)
    try:
        raw = raw_rate(port, args.events, secrets.password)
        print(f"raw paho QoS 1 publish→receive: {raw:,.0f} msg/s ({args.events} messages)")

        # the devices hold a backlog (the hub was away), then the hub comes back: its sustained ingest rate
        links = [DeviceLink(hall, d, data, port=port).start() for d in DEVICES]
        per = args.events // len(links)
        t0 = time.perf_counter()
        for link in links:
            for i in range(per):
                link.send("health", {"n": i})
        queued = time.perf_counter() - t0
        total = per * len(links)
        hub = subprocess.Popen([sys.executable, "-m", "hallctl.cli", "hub", "--data", str(data), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        while "hub: online" not in hub.stdout.readline():  # devices send once the hub says it is online
            pass
        start = time.perf_counter()
        for link in links:
            link.wait_drained(300)
        elapsed = time.perf_counter() - start
        rate = total / elapsed
        print(f"hub ingest (device outboxes → broker → validated, stored once, committed, acknowledged): "
              f"{rate:,.0f} events/s ({total} events; writing them durably into the outboxes took {queued:.2f} s, "
              f"{total / queued:,.0f} events/s)")
        print(f"ratio hub / raw: {rate / raw:.2f} (aim ≥ 0.7)")

        # latency at a steady rate: from send() on the device to the hub's ack that covers it, which the hub
        # publishes only after the commit (so this is publish → commit → ack back, an upper bound)
        link = links[0]
        n = int(args.latency_rate * args.latency_seconds)
        sent_at: dict[int, float] = {}
        lat: list[float] = []
        base = link.outbox.next_seq()

        def on_ack(topic, payload):
            now = time.perf_counter()
            through = payload.get("through_seq", 0)
            for seq in [s for s in sent_at if s <= through]:
                lat.append((now - sent_at.pop(seq)) * 1000)

        link.subscribe(f"{link.id}/ack", on_ack)
        time.sleep(0.3)
        gap = 1 / args.latency_rate
        nxt = time.perf_counter()
        for i in range(n):
            sent_at[base + i] = time.perf_counter()
            link.send("health", {"lat": i})
            nxt += gap
            time.sleep(max(0.0, nxt - time.perf_counter()))
        link.wait_drained(60)
        time.sleep(0.3)
        print(f"send→commit→ack at {args.latency_rate:g} events/s over {args.latency_seconds:g} s ({len(lat)} events): "
              f"p50 {statistics.median(lat):.1f} ms, p99 {percentile(lat, 99):.1f} ms, max {max(lat):.1f} ms "
              f"(aim p99 < 50 ms)")
        for link in links:
            link.stop()
        hub.terminate()
        hub.wait(10)
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
