"""Every command is documented: it has help text, every option explains itself, and the docs name it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from hall.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*prefix, name), sub, helps.get(name)
                yield from _commands(sub, (*prefix, name))


COMMANDS = list(_commands(build_parser()))


def test_the_hall_command_has_its_parts():
    names = {" ".join(c[0]) for c in COMMANDS}
    assert {"up", "hub", "broker", "stats", "config check", "devices provision", "devices revoke",
            "devices rotate"} <= names


@pytest.mark.parametrize("path,parser,helptext", COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_every_command_is_documented(path, parser, helptext):
    assert helptext, f"hall {' '.join(path)} has no help text"
    assert f"hall {' '.join(path)}" in DOCS or f"`{path[-1]}`" in DOCS or f"hall {path[0]}" in DOCS, (
        f"hall {' '.join(path)} is not mentioned in README.md or docs/")
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"hall {' '.join(path)} {action.option_strings[0]} has no help text"
