"""docs/attendance.md documents every attendance, staff and terminal command and each of their options."""

from __future__ import annotations

from pathlib import Path

from hallctl.commands import attendance as commands
from tests.helpers.cli import command_parsers

DOC = (Path(__file__).resolve().parents[3] / "docs" / "attendance.md").read_text(encoding="utf-8")


def test_every_command_and_option_is_documented():
    parsers = command_parsers(commands.register)
    assert {"attendance evaluate", "attendance report", "attendance leave", "staff enroll", "staff list",
            "staff remove", "staff copy", "terminal"} <= set(parsers)
    for name, parser in parsers.items():
        if name in ("attendance", "staff"):
            continue
        assert f"### `hall {name}`" in DOC, f"hall {name} has no section"
        section = DOC.split(f"### `hall {name}`")[1].split("\n## ")[0].split("\n### ")[0]
        for action in parser._actions:
            for opt in action.option_strings:
                if opt not in ("-h", "--help"):
                    assert opt in section, f"hall {name} {opt} is not documented in its section"
            if action.option_strings and action.dest != "help":
                assert action.help, f"hall {name} {action.option_strings[0]} has no help text"


def test_every_slot_status_and_day_status_is_documented():
    for word in ("`ok`", "`late`", "`early`", "`missing`", "`leave`", "`rest`", "`absent`", "`abnormal`"):
        assert word in DOC
