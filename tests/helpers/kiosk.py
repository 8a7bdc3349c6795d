"""Fixtures for the kiosk, guide search and printer tests: a hall that issues tickets at any hour, a printer
simulator on a pseudo-terminal, and kiosks built on the shared Kivy test window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hallctl.screenshots import all_day_hall, visible_row  # noqa: F401  (all_day_hall: for the tests)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"


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

    def __init__(self, screen, app, root, shots: Path):
        self.screen = screen
        self.app = app
        self.root = root
        self.shots = shots

    def tap(self, widget, frames: int = 3):
        self.screen.tap(widget, frames)

    def tap_id(self, screen_name: str, widget_id: str):
        self.tap(self.app.screen(screen_name).ids[widget_id])

    def until_screen(self, name: str, timeout: float = 10.0):
        self.screen.until(lambda: self.app.current == name, timeout, f"the {name} screen")

    def row(self, screen_name: str, key: str):
        """The visible list row (a RecycleView row) for a service id."""
        return visible_row(self.screen, self.app, screen_name, key)

    def shot(self, name: str):
        """Save kiosk-{name}.png in the test's temporary folder."""
        self.screen.pump(3)
        return self.screen.shot(self.shots / f"kiosk-{name}.png")


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
        return KioskOnScreen(screen, app, root, tmp_path / "screenshots")

    yield make
    for app in made:
        app.stop_clocks()
        if app.printer is not None:
            app.printer.close()
