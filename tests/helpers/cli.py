"""Running the `hall` command as a user would, in its own process."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_hall(*args: str, env: dict | None = None, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hallctl.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=timeout, **kw)


def command_parsers(register=None) -> dict[str, argparse.ArgumentParser]:
    """Every `hall` command and sub-command by its words ("queue simulate") → its parser.

    With `register` (a command module's register function) only that module's commands; else the whole `hall`.
    """
    if register is None:
        from hallctl.cli import build_parser

        root = build_parser()
    else:
        root = argparse.ArgumentParser(prog="hall")
        register(root.add_subparsers())
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    words = f"{prefix} {name}".strip()
                    found[words] = child
                    walk(child, words)

    walk(root, "")
    return found


def command_help() -> dict[str, str | None]:
    """Each command's one-line help, as `hall --help` lists it."""
    from hallctl.cli import build_parser

    root = build_parser()
    out: dict[str, str | None] = {}

    def walk(parser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                for name, child in action.choices.items():
                    words = f"{prefix} {name}".strip()
                    out[words] = helps.get(name)
                    walk(child, words)

    walk(root, "")
    return out
