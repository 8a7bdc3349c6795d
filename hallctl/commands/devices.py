"""Hall bus commands: `hall caller` (window keypads and rating pads) and `hall led` (window screens and strips)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from hall.errors import ConfigError
from hallctl.commands import add_hall_args, hall_and_data


def register(sub) -> None:
    p = sub.add_parser("caller", help="呼叫器总线 run a caller bus master: keypads and rating pads on RS-485",
                       description="Poll the window keypads and rating pads on one hall bus; send their keys as "
                                   "window events and their scores as ratings; show each window's ticket and "
                                   "waiting count on its keypad. See docs/hall-bus.md.")
    add_hall_args(p)
    p.add_argument("--device", required=True, help="the caller's device id in hall.toml, e.g. caller-01")
    p.add_argument("--port", required=True, help="serial port of the bus, e.g. /dev/ttyUSB0 (or a simulator's pty)")
    p.add_argument("--baud", type=int, default=9600, help="bus speed (default 9600, 8N1)")
    p.add_argument("--rs485", action="store_true", help="let the kernel drive RTS for RS-485 direction")
    p.add_argument("--keypad", action="append", metavar="WINDOW=ADDR", default=[],
                   help="a keypad's bus address when it is not the window's number (repeatable)")
    p.add_argument("--rater", action="append", metavar="WINDOW=ADDR", default=[],
                   help="a rating pad's bus address when it is not 100 + the keypad's (repeatable)")
    p.add_argument("--no-raters", action="store_true", help="the bus has no rating pads")
    _broker_args(p)
    p.set_defaults(func=cmd_caller)

    p = sub.add_parser("led", help="窗口屏与条屏 run the LED bus master: window screens and guide strips",
                       description="Show calls and idle texts on the window screens and scroll the service "
                                   "guides on the strips, as config/led.toml lays them out. See docs/hall-bus.md.")
    add_hall_args(p)
    p.add_argument("--device", required=True, help="the LED master's device id in hall.toml, e.g. led-01")
    p.add_argument("--port", help="serial port of the bus, e.g. /dev/ttyUSB0 (or a simulator's pty); "
                                  "not needed when every screen is wired to the Pi (max7219)")
    p.add_argument("--screens", metavar="FILE", help="screens config (default: config/led.toml)")
    _broker_args(p)
    p.set_defaults(func=cmd_led)


def _broker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker-host", help="broker host (default: what the hall's data directory records)")
    p.add_argument("--broker-port", type=int, help="broker port")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def cmd_caller(args) -> int:
    from devices.caller import CallerLayout, parse_assignments, run_caller

    _logging()
    hall, data = hall_and_data(args)
    device = hall.device(args.device)
    if device is None or device.kind != "caller":
        print(f"hall caller: {args.device!r} is not a caller device in {hall.path}", file=sys.stderr)
        return 2
    try:
        layout = CallerLayout.for_windows(device.windows, keypads=parse_assignments(args.keypad, "--keypad"),
                                          rating_pads=parse_assignments(args.rater, "--rater"),
                                          raters=not args.no_raters)
    except ValueError as err:
        print(f"hall caller: {err}", file=sys.stderr)
        return 2
    return run_caller(hall, args.device, data, args.port, baudrate=args.baud, rs485=args.rs485, layout=layout,
                      host=args.broker_host, broker_port=args.broker_port, stop=_stop_on_signals())


def cmd_led(args) -> int:
    from devices.led.agent import run_led

    _logging()
    hall, data = hall_and_data(args)
    device = hall.device(args.device)
    if device is None or device.kind != "led":
        print(f"hall led: {args.device!r} is not an led device in {hall.path}", file=sys.stderr)
        return 2
    try:
        return run_led(hall, args.device, data, args.port, config_path=args.screens, host=args.broker_host,
                       broker_port=args.broker_port, stop=_stop_on_signals())
    except ConfigError:
        raise  # `hall` names the file and the key
    except ValueError as err:
        print(f"hall led: {err}", file=sys.stderr)
        return 2
