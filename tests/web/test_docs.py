"""docs/console.md documents every console command and option, every API route, every role and every push event."""

from __future__ import annotations

import re
from pathlib import Path

from hallctl.commands import web as commands
from tests.helpers.cli import command_parsers
from web.roles import ROLES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "console.md").read_text(encoding="utf-8")


def test_every_command_and_option_is_documented():
    for name, parser in command_parsers(commands.register).items():
        if name != "users":
            assert f"`hall {name}" in DOC, f"hall {name} is not documented"
        for action in parser._actions:
            for opt in action.option_strings:
                if opt not in ("-h", "--help"):
                    assert f"`{opt}`" in DOC, f"hall {name} {opt} is not documented"


# the pages this document describes (the figures, attendance and reports pages have docs of their own)
PAGES = ("login", "live", "alerts", "devices", "users")


def test_every_api_route_role_and_push_event_is_documented():
    import importlib

    routes = [r for page in PAGES for r in importlib.import_module(f"web.views.{page}").router.routes]
    for path in (getattr(r, "path", "") for r in routes):
        if path.startswith("/api/"):
            assert f"`{path}`" in DOC or f"`GET {path}`" in DOC, f"{path} is not documented"
    for role, (zh, _) in ROLES.items():
        assert re.search(rf"\| `{role}` \| {zh} \|", DOC), f"role {role} is not in the table of roles"
    web = Path(__file__).resolve().parents[2] / "web"
    source = (web / "hub_feed.py").read_text(encoding="utf-8") + (web / "live.py").read_text(encoding="utf-8")
    for kind in set(re.findall(r'\[\("(\w+)", ', source)) | {"snapshot"}:
        assert f"`{kind}`" in DOC, f"push event {kind} is not documented"
