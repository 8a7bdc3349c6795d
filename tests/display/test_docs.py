"""docs/display.md and docs/voice.md document every display and voice command and option, and the clip ids."""

from __future__ import annotations

from pathlib import Path

from display.voice import CLIP_IDS, call_clips
from hallctl.commands import display as commands
from tests.helpers.cli import command_parsers

DOCS = Path(__file__).resolve().parents[2] / "docs"
DISPLAY = (DOCS / "display.md").read_text(encoding="utf-8")
VOICE = (DOCS / "voice.md").read_text(encoding="utf-8")


def test_every_command_and_option_is_documented():
    for name, parser in command_parsers(commands.register).items():
        if name == "voice":
            continue
        doc = VOICE if name.startswith("voice") else DISPLAY
        assert f"### `hall {name}`" in doc, f"hall {name} is not documented"
        section = doc.split(f"### `hall {name}`")[1].split("\n### ")[0]
        for action in parser._actions:
            names = action.option_strings or ([action.dest.upper()] if action.dest != "help" else [])
            for opt in names:
                if opt in ("-h", "--help"):
                    continue
                assert f"`{opt}" in section, f"hall {name} {opt} is not documented"


def test_the_clips_and_an_example_call_are_documented():
    assert f"{len(CLIP_IDS)} clips" in VOICE
    for clip in call_clips("A012", "3"):
        assert f"`{clip}`" in VOICE, f"clip {clip} is not in docs/voice.md"


def test_the_screenshots_the_docs_show_exist():
    for name in ("board-1920x1080.png", "board-1280x720.png"):
        assert f"screenshots/{name}" in DISPLAY
        assert (DOCS / "screenshots" / name).exists()
