"""docs/alerts.md documents every rule, every [alerts] key, every refusal and every journal column."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hall.settings import ALERT_RULES, AlertRules
from hub.alerts import rules, store

DOC = (Path(__file__).resolve().parents[3] / "docs" / "alerts.md").read_text(encoding="utf-8")


def test_every_rule_and_key_is_documented():
    for rule in ALERT_RULES:
        assert f"| `{rule}` |" in DOC, f"rule {rule} has no row"
    for key in AlertRules.model_fields:
        assert f"\n{key} = " in DOC, f"[alerts] {key} is not in the documented section"


def test_every_refusal_is_documented_with_its_message():
    for code, message in rules.MESSAGES.items():
        assert f"| `{code}` | {message}" in DOC


def test_every_journal_column_is_documented():
    db = sqlite3.connect(":memory:")
    db.executescript("CREATE TABLE events (id, device, type, seq, ts, received_at, data, res);")
    store.create_tables(db)
    for table in ("alerts_journal", "manager_actions"):
        for (name,) in db.execute(f"SELECT name FROM pragma_table_info('{table}')"):
            assert f"`{name}`" in DOC, f"{table}.{name} is not documented"
