"""The `hall` command: a thin skin over the Python API of each part.

Each part registers its own sub-commands (a module with `register(subparsers)`), so this file only lists them.
Heavy imports (Kivy, paho) happen inside the commands, so `hall --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hall import __version__
from hall.errors import ConfigError

COMMAND_MODULES = [
    "hall.commands",          # config check, up, stats
    "hub.commands",           # hub, broker, devices provision|revoke|rotate
    "hub.queue.commands",     # queue simulate|report, window
    "hub.attendance.commands",  # attendance evaluate|report, staff, terminal
    "kiosk.commands",         # kiosk, catalogue check|generate, guide search
    "display.commands",       # display, voice build|say
    "devices.commands",       # caller, led (hall bus masters)
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hall", description="hallkit: run a government service hall (政务服务中心 排队叫号 · 考勤 · 办事指南)")
    parser.add_argument("--version", action="version", version=f"hallkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if not (err.name and name.startswith(err.name)):  # a real import error inside must not be hidden
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ConfigError as err:
        print(f"hall: config error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
