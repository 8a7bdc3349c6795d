"""docs/public.md documents every command and option of the citizens' site, every API route, every `[public]` key
and every field of the ticket's page."""

from __future__ import annotations

from pathlib import Path

from hall.settings import NotifySettings, PublicSettings
from hallctl.commands import public as commands
from public.ticket import TicketPage, router
from tests.helpers.cli import command_parsers

DOC = (Path(__file__).resolve().parents[2] / "docs" / "public.md").read_text(encoding="utf-8")


def test_every_command_and_option_is_documented():
    for name, parser in command_parsers(commands.register).items():
        assert f"`hall {name}" in DOC, f"hall {name} is not documented"
        for action in parser._actions:
            for opt in action.option_strings:
                if opt not in ("-h", "--help"):
                    assert f"`{opt}`" in DOC, f"hall {name} {opt} is not documented"


def test_every_api_route_setting_and_field_is_documented():
    for route in router.routes:
        path = getattr(route, "path", "")
        if path.startswith("/api/"):
            assert f"`{path}`" in DOC or f" {path}`" in DOC, f"{path} is not documented"
    for key in PublicSettings.model_fields:
        if key != "notify":
            assert f"`{key}`" in DOC, f"[public] {key} is not documented"
    for key in NotifySettings.model_fields:
        assert f"\n{key} = " in DOC, f"[public.notify] {key} is not in the example"
    for field in TicketPage.model_fields:
        assert f"`{field}`" in DOC, f"the page's field {field} is not documented"
