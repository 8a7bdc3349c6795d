"""Fixtures for the kiosk, guide search and printer tests: a hall that issues tickets at any hour, a printer
simulator on a pseudo-terminal, and kiosks built on the shared Kivy test window."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"


def all_day_hall(dest: Path, catalogue: dict | None = None) -> Path:
    """A copy of the shipped hall that issues tickets all day (tests run on the real clock, at any hour);
    optionally with another catalogue."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG / "staff.csv", dest / "staff.csv")
    if catalogue is None:
        shutil.copy(CONFIG / "catalogue.json", dest / "catalogue.json")
    else:
        (dest / "catalogue.json").write_text(json.dumps(catalogue, ensure_ascii=False), encoding="utf-8")
    text, n = re.subn(r"(?m)^issuing = .*$", "issuing = []", (CONFIG / "hall.toml").read_text(encoding="utf-8"))
    assert n == 1
    (dest / "hall.toml").write_text(text, encoding="utf-8")
    return dest / "hall.toml"


def shipped_catalogue() -> dict:
    return json.loads((CONFIG / "catalogue.json").read_text(encoding="utf-8"))


@pytest.fixture
def printer_sim():
    from devices.printer.simulator import PrinterSimulator

    sim = PrinterSimulator().start()
    yield sim
    sim.stop()


@pytest.fixture
def ticket_printer(printer_sim):
    from devices.printer import TicketPrinter

    p = TicketPrinter(printer_sim.port, timeout=0.3)
    yield p
    p.close()


@pytest.fixture
def kiosk_rig(make_rig, tmp_path):
    """A secured broker and a hall issuing tickets all day (the hub is not started)."""
    return make_rig(config=all_day_hall(tmp_path / "config"))


class KioskOnScreen:
    """A kiosk built on the shared test window, with helpers to drive it by touch."""

    def __init__(self, screen, app, root):
        self.screen = screen
        self.app = app
        self.root = root

    def tap(self, widget, frames: int = 3):
        self.screen.tap(widget, frames)

    def tap_id(self, screen_name: str, widget_id: str):
        self.tap(self.app.screen(screen_name).ids[widget_id])

    def until_screen(self, name: str, timeout: float = 10.0):
        self.screen.until(lambda: self.app.current == name, timeout, f"the {name} screen")

    def row(self, screen_name: str, key: str):
        """The visible list row (a RecycleView row) for a service id."""
        rv = self.app.screen(screen_name).ids.rows
        self.screen.pump(2)
        for child in rv.children[0].children:
            if getattr(child, "key", None) == key:
                return child
        raise AssertionError(f"no visible row for {key!r} on {screen_name}")

    def shot(self, name: str):
        """Save docs/screenshots/kiosk-{name}.png."""
        from tests.helpers.kivy import SCREENSHOTS

        self.screen.pump(3)
        return self.screen.shot(SCREENSHOTS / f"kiosk-{name}.png")


@pytest.fixture
def kiosk_screen(screen, tmp_path):
    """Factory: make_kiosk(hall, data_dir, size=(1080, 1920), **KioskApp options) -> KioskOnScreen."""
    made = []

    def make(hall, data_dir, size=(1080, 1920), **kw):
        from kiosk.app import KioskApp

        kw.setdefault("build_index_in_process", True)
        app = KioskApp(hall, kw.pop("device", "kiosk-01"), data_dir, **kw)
        root = app.build()
        screen.show(root, size)
        screen.advance(0.2)
        made.append(app)
        return KioskOnScreen(screen, app, root)

    yield make
    for app in made:
        if app._idle_event is not None:
            app._idle_event.cancel()
        app.screen("ticket").stop_countdown()
        if app.printer is not None:
            app.printer.close()
