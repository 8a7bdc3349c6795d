"""docs/queue.md documents every queue command and option, every refusal code and every simulate op."""

from __future__ import annotations

import re
from pathlib import Path

from hallctl.commands import queue as commands
from hub.queue import engine, scenario
from tests.helpers.cli import command_parsers

DOC = (Path(__file__).resolve().parents[3] / "docs" / "queue.md").read_text(encoding="utf-8")


def test_every_command_and_option_is_documented():
    for name, parser in command_parsers(commands.register).items():
        if name != "queue":
            assert f"`hall {name}" in DOC, f"hall {name} is not documented"
        section = DOC.split(f"### `hall {name}")[-1].split("\n### ")[0] if name != "queue" else DOC
        for action in parser._actions:
            for opt in action.option_strings:
                if opt in ("-h", "--help"):
                    continue
                assert opt in section, f"hall {name} {opt} is not documented"


def test_every_refusal_code_and_simulate_op_is_documented():
    for code in engine.MESSAGES:
        assert re.search(rf"\| `{code}` \|", DOC), f"code {code} is not in the table of refusal codes"
    for op in scenario.OPS:
        assert f"`{op}`" in DOC, f"simulate op {op} is not documented"
