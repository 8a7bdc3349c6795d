"""`hall docs screenshots`: `make` draws the docs' pictures into the folder it is given, and the docs show every
one it makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from hallctl.screenshots import NAMES, make

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_make_covers_every_screenshot_in_the_docs():
    assert sorted(NAMES) == sorted(p.name for p in (DOCS / "screenshots").glob("*.png"))


def test_an_unknown_screenshot_is_named():
    with pytest.raises(ValueError, match="kiosk-lobby.png"):
        make(Path("unused"), names=["kiosk-lobby.png"])


@pytest.mark.gui
def test_make_writes_the_screenshots_asked_for_into_the_folder(_kivy_env, tmp_path):
    from PIL import Image

    said: list[str] = []
    names = ["ticket.png", "board-1280x720.png", "kiosk-home-1024x600.png"]
    made = make(tmp_path / "shots", names=names, say=said.append)
    assert [p.name for p in made] == names
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == sorted(names)
    assert said == [f"已保存 saved {p}" for p in made]  # Chinese first
    board = Image.open(tmp_path / "shots" / "board-1280x720.png")
    assert board.size == (1280, 720)
    assert board.convert("L").getextrema()[1] == 255  # drawn, not the blank buffer
    kiosk = Image.open(tmp_path / "shots" / "kiosk-home-1024x600.png")
    assert kiosk.size == (1024, 600) and kiosk.convert("L").getextrema()[1] == 255
