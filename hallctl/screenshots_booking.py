"""`hall docs screenshots`: the kiosk's 预约签到 (docs/appointments.md, docs/kiosk.md).

A hall of its own whose queue H (车驾管) takes walk-ins only with an ID number, its hub living on Monday
2026-11-30 from 09:40 whatever the day the pictures are made: the 10:00 slot of queue A is bookable and already open
for check-in (from 30 minutes before). A citizen books it through the hub as the citizens' site does
(`booking_request` from the hall's web device), then types the booking code on the kiosk's keypad; the ticket it
gets is called ahead of walk-ins. In portrait, a citizen taking an H ticket types the ID number and a mobile number.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hallctl.screenshots import KIOSK_SIZES, Shots, ShotWindow, _hall_running, _kiosk, _printer

MONDAY_0940 = datetime(2026, 11, 30, 9, 40, tzinfo=ZoneInfo("Asia/Shanghai"))
SLOT = ("2026-11-30", "10:00")
WEB = "web-01"      # the citizens' site's device: bookings reach the hub from it
# valid ID numbers (GB 11643) of made-up citizens: born 1990-01-01 in 东城区
BOOKER = {"name": "张三", "id_number": "110101199001010015", "phone": "13800138000"}
BOOKER_PORTRAIT = {"name": "李四", "id_number": "110101199001010031", "phone": "13800138001"}
DRIVER_ID = "110101199001010090"    # who takes a 车驾管 ticket with the ID number
DRIVER_PHONE = "13912345678"


class HeldMorning:
    """The hub's clock for the scene: from Monday 09:40 at the real pace (slots and check-in times are the hub's)."""

    def __init__(self, start: datetime = MONDAY_0940):
        self.start, self._t0 = start, time.monotonic()

    def __call__(self, tz=None) -> datetime:
        moment = self.start + timedelta(seconds=time.monotonic() - self._t0)
        return moment.astimezone(tz) if tz else moment


@contextmanager
def _held_hub():
    """The hub on the held morning while the scene runs (its receive times and ticks), drawing its booking codes
    from a seeded generator, so the same code gives the same pictures; the real clock and codes after."""
    import random

    import hub.appointments.domain
    import hub.devices
    import hub.ingest
    from hub.appointments.rules import new_code

    held, draw = HeldMorning(), random.Random(20261130).randrange
    saved = hub.ingest.clock_now, hub.devices.clock_now, hub.appointments.domain.new_code
    hub.ingest.clock_now = hub.devices.clock_now = held
    hub.appointments.domain.new_code = lambda exists: new_code(exists, draw)
    try:
        yield held
    finally:
        hub.ingest.clock_now, hub.devices.clock_now, hub.appointments.domain.new_code = saved


def id_required_for_h(config: Path) -> None:
    """Queue H takes walk-ins only with an ID number: `id_required` of the all-day hall's hall.toml set to it."""
    text, n = re.subn(r"(?m)^id_required = .*$", 'id_required = ["H"]', config.read_text(encoding="utf-8"))
    if n != 1:
        raise ValueError(f"{config}: expected one `id_required = ...` line, found {n}")
    config.write_text(text, encoding="utf-8")


@contextmanager
def _booking_hall_running(folder: Path):
    """The booking hall in `folder` on the held morning: its secured Mosquitto, the hub, the kiosk's link and the
    citizens' site's link. Yields (hall, data_dir, kiosk_link, web_link)."""
    from hall.link import DeviceLink

    with _held_hub(), _hall_running(folder, configure=id_required_for_h) as (hall, data_dir, link):
        web = DeviceLink(hall, WEB, data_dir, port=link.endpoint.port).start()
        try:
            if not web.wait_connected(10, hub=True):
                raise RuntimeError(f"the {WEB} link did not connect")
            yield hall, data_dir, link, web
        finally:
            web.stop()


def _book(web, citizen: dict) -> str:
    """A booking of queue A's 10:00 slot, as the citizens' site makes it; its code."""
    answer = web.request("booking_request", {"queue": "A", "date": SLOT[0], "time": SLOT[1], **citizen},
                         timeout=10)
    if not answer or not answer.get("ok"):
        raise RuntimeError(f"the booking was refused: {answer}")
    return answer["booking"]["code"]


def _keys(app) -> dict:
    """The entry screen's keypad, by the character each key types."""
    return {w.text: w for w in app.screen("entry").ids.keypad.children if w.text}


def _type(window: ShotWindow, app, text: str) -> None:
    keys = _keys(app)
    for ch in text:
        window.tap(keys[ch])


def _checkin(shots: Shots, window: ShotWindow, folder: Path, tag: str) -> None:
    """预约签到 with a booking code typed; in landscape, the booked ticket it gives."""
    size = KIOSK_SIZES[tag]
    with _booking_hall_running(folder) as (hall, data_dir, link, web), _printer() as (_, printer), \
            _kiosk(window, hall, data_dir, size, link, printer, ticket_return=60) as app:
        window.until(lambda: app.ui.hub_online, 10, "the kiosk sees the hub online")
        link.request("ticket_request", {"queue": "A", "channel": "kiosk"}, 10)  # a walk-in before: called after
        code = _book(web, BOOKER if tag == "1024x600" else BOOKER_PORTRAIT)
        app.home()
        window.tap(app.screen("home").ids.checkin)
        window.advance(0.3)
        if app.current != "entry":
            raise RuntimeError(f"预约签到 did not open the keypad (on {app.current!r})")
        _type(window, app, code)
        shots.take(f"kiosk-checkin-{tag}.png")
        name = f"kiosk-checkin-ticket-{tag}.png"
        if name not in shots.wanted:
            return
        window.tap(app.screen("entry").ids.go)
        ticket = app.screen("ticket")
        window.until(lambda: app.model.ticket.s.state in ("issued", "refused"), 10, "the check-in answered")
        if app.model.ticket.s.state != "issued" or not app.model.ticket.s.ticket.booked:
            raise RuntimeError(f"the check-in gave no booked ticket: {app.model.ticket.s}")
        window.until(lambda: "请取走号票" in ticket.printer_line, 15, "the booked ticket printed")
        shots.take(name)


def _details(shots: Shots, window: ShotWindow, folder: Path) -> None:
    """A 车驾管 ticket: the kiosk asks for the ID number, then a mobile number (optional), both typed."""
    with _booking_hall_running(folder) as (hall, data_dir, link, _web), \
            _kiosk(window, hall, data_dir, KIOSK_SIZES["1080x1920"], link, None) as app:
        window.until(lambda: app.ui.hub_online, 10, "the kiosk sees the hub online")
        app.home()
        app.take_ticket(queue="H")
        window.advance(0.3)
        scr = app.screen("entry")
        if app.current != "entry" or "身份证号码" not in scr.first:
            raise RuntimeError(f"queue H did not ask for the ID number (on {app.current!r})")
        _type(window, app, DRIVER_ID)
        if scr.field != "phone":
            raise RuntimeError("the ID number was not taken whole")
        _type(window, app, DRIVER_PHONE)
        shots.take("kiosk-details-1080x1920.png")


def kiosk_checkin(shots: Shots, folder: Path) -> None:
    """kiosk-checkin-{1024x600,1080x1920}.png, kiosk-checkin-ticket-1024x600.png, kiosk-details-1080x1920.png."""
    window = shots.open_window()
    wanted = shots.wanted
    if {"kiosk-checkin-1024x600.png", "kiosk-checkin-ticket-1024x600.png"} & wanted:
        _checkin(shots, window, folder / "landscape", "1024x600")
    if "kiosk-checkin-1080x1920.png" in wanted:
        _checkin(shots, window, folder / "portrait", "1080x1920")
    if "kiosk-details-1080x1920.png" in wanted:
        _details(shots, window, folder / "details")
