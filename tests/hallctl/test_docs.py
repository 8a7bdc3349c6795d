"""Every command is documented: it has help text, every option explains itself, and the docs name it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import command_help, command_parsers

ROOT = Path(__file__).resolve().parents[2]
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


PARSERS = command_parsers()
HELP = command_help()
COMMANDS = [(tuple(words.split()), PARSERS[words], HELP[words]) for words in PARSERS]


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
