"""A device of your own on the hall's MQTT, with paho-mqtt alone (docs/protocol.md, "A device of your own").

One connection under the device's own login, its last will set, `online` said once connected; it subscribes to
its answers before it asks anything, waits for the hub, asks for a ticket and waits for the `res` of that request,
then sends a health report and waits for the `ack` that covers it (a report gets no answer).

    python3 device.py --port 38211 --device kiosk-03 --password "$PW" --queue A --seq-file kiosk-03.seq
"""

import argparse
import json
import queue
import sys
import uuid
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt


def now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="the broker port `hall up` prints")
    p.add_argument("--hall", default="miluo")
    p.add_argument("--device", required=True, help="the device's login, e.g. kiosk-03")
    p.add_argument("--kind", default="kiosk")
    p.add_argument("--password", required=True, help="the device's line in secrets.toml")
    p.add_argument("--queue", default="A")
    p.add_argument("--seq-file", type=Path, required=True, help="the device's event counter, kept on disk")
    p.add_argument("--timeout", type=float, default=10.0)
    args = p.parse_args()

    base = f"hall/v1/{args.hall}/{args.device}"
    hub_status = f"hall/v1/{args.hall}/hub/status"
    inbox: queue.Queue = queue.Queue()  # (topic, payload) of everything the device hears

    def status(state: str) -> str:
        return json.dumps({"state": state, "kind": args.kind, "version": "example-1", "ts": now()})

    # the client id is the login: a second connection under it would close this one
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=args.device, protocol=mqtt.MQTTv5)
    client.username_pw_set(args.device, args.password)
    # without a last will the device would show online forever after a power cut
    client.will_set(f"{base}/status", status("offline"), qos=1, retain=True)

    def on_connect(c, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            inbox.put(("connect", str(reason_code)))
            return
        c.publish(f"{base}/status", status("online"), qos=1, retain=True)
        c.subscribe([(f"{base}/res", 1), (f"{base}/ack", 1), (f"{base}/err", 1), (hub_status, 1)])

    client.on_connect = on_connect
    client.on_message = lambda c, u, m: inbox.put((m.topic, json.loads(m.payload) if m.payload else None))
    client.connect(args.host, args.port, keepalive=15)
    client.loop_start()

    def wait_for(what: str, test):
        """The first message for which test(topic, payload) holds; a rejection or a failed login ends the run."""
        while True:
            try:
                topic, payload = inbox.get(timeout=args.timeout)
            except queue.Empty:
                sys.exit(f"no {what} within {args.timeout:g} s")
            if topic == "connect":
                sys.exit(f"login refused: {payload}")
            if topic == f"{base}/err":
                sys.exit(f"rejected 被拒绝: {payload}")
            if test(topic, payload):
                return payload

    def send(event_type: str, data: dict) -> tuple[str, int]:
        seq = int(args.seq_file.read_text()) + 1 if args.seq_file.exists() else 1
        args.seq_file.write_text(str(seq))  # on disk before it is sent: a number is never used twice
        event_id = uuid.uuid4().hex
        body = {"v": 1, "id": event_id, "seq": seq, "ts": now(), "data": data}
        client.publish(f"{base}/evt/{event_type}", json.dumps(body, ensure_ascii=False), qos=1).wait_for_publish()
        return event_id, seq

    try:
        wait_for("hub status", lambda t, m: t == hub_status and m and m.get("state") == "online")
        print("hub online 中心在线", flush=True)

        asked, _ = send("ticket_request", {"queue": args.queue})
        answer = wait_for("answer", lambda t, m: t == f"{base}/res" and m.get("re") == asked)
        if not answer["ok"]:
            print(f"refused 未取到号 {answer['code']}: {answer['error']}", flush=True)
            return 1
        ticket = answer["ticket"]
        print(f"ticket 取号 {ticket['no']} ({ticket['ahead']} ahead 前面 {ticket['ahead']} 人)", flush=True)

        _, seq = send("health", {"printer": "ok", "example": True})
        ack = wait_for("ack", lambda t, m: t == f"{base}/ack" and m.get("through_seq", 0) >= seq)
        print(f"health stored 健康报告已存 (ack through_seq {ack['through_seq']})", flush=True)
        return 0
    finally:
        # a clean goodbye: say offline (the will is for when there is no goodbye)
        client.publish(f"{base}/status", status("offline"), qos=1, retain=True).wait_for_publish()
        client.disconnect()
        client.loop_stop()


if __name__ == "__main__":
    sys.exit(main())
