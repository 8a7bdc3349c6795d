"""docs/security.md names, for every threat, the test that proves its defence: each named test exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_the_security_table_names_exists():
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    table = text[text.index("## Threats"):text.index("## When a device is lost")]
    named = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?(?:\[[^\]]*\])?`", table)
    assert len(named) >= 30
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| threat")]
    assert all("`tests/" in row for row in rows[1:]), "every threat names its test"
    for path, name in named:
        source = (ROOT / path).read_text(encoding="utf-8")
        if name:
            assert re.search(rf"^def {name}\(", source, re.M), f"{path}::{name} is not a test"
