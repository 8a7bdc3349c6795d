"""The `hall` command: a thin skin over the Python API of each part.

Each part's sub-commands are registered by its own module in hallctl/commands/ (`register(subparsers)`), so this
file only lists them. Heavy imports (Kivy, paho) happen inside the commands, so `hall --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hall import __version__
from hall.errors import ConfigError

COMMAND_MODULES = [
    "hallctl.commands.core",        # config check, up, stats, docs screenshots
    "hallctl.commands.hub",         # hub, broker, devices provision|revoke|rotate|export|list
    "hallctl.commands.queue",       # queue simulate|report, window
    "hallctl.commands.attendance",  # attendance evaluate|report|leave, staff, terminal
    "hallctl.commands.cases",       # cases simulate|report (办件与电子监察)
    "hallctl.commands.year",        # report year|bimonth, simulate year|plan (年度报表, 窗口测算)
    "hallctl.commands.kiosk",       # kiosk, catalogue check|generate, guide search
    "hallctl.commands.display",     # display, voice build|say
    "hallctl.commands.devices",     # caller, led (hall bus masters)
    "hallctl.commands.web",         # web, users add|list|remove|reset (the managers' console)
    "hallctl.commands.public",      # public, public notices (the citizens' site)
    "hallctl.commands.central",     # uplink, central consume|up (many halls into one PostgreSQL)
    "hallctl.commands.install",     # install server|<device>, uninstall, doctor (one command per machine)
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
