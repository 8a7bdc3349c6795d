"""A device agent as its own process, so tests can kill it like a real one:

    python -m tests.helpers.agent --data DIR --port N --device kiosk-01 --count 100 [--rate 200]

It sends `count` health events through the device link (each durable before the next), prints "queued N" and
then keeps running until its outbox is empty (printing "drained") or it is killed.
"""

from __future__ import annotations

import argparse
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--device", required=True)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--rate", type=float, default=0, help="events per second (0: as fast as possible)")
    p.add_argument("--config")
    args = p.parse_args()

    from hall.link import DeviceLink
    from hall.settings import load_hall

    link = DeviceLink(load_hall(args.config), args.device, args.data, port=args.port).start()
    for i in range(args.count):
        link.send("health", {"n": i, "agent": "test"})
        if args.rate:
            time.sleep(1 / args.rate)
    print(f"queued {args.count}", flush=True)
    while link.pending():
        time.sleep(0.05)
    print("drained", flush=True)
    link.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
