"""The screenshots the docs show (docs/screenshots), made on purpose by `hall docs screenshots`.

Each is the real part on a real Kivy window: the calling board at 1280×720 and 1920×1080 on a busy morning, every
kiosk screen at 1024×600 (landscape) and 1080×1920 (portrait) against a real Mosquitto and hub (with people
waiting, in 大字版 and asking 还需要更多时间吗？), the kiosk with the hub away and with the printer out of paper, and a ticket as the printer simulator decoded it. Each scene runs in a
hall of its own in a temporary folder, so every kiosk ticket is the first of its queue, and the board's clocks
are held still: the same code gives the same pictures.

Kivy allows one window per process: `ShotWindow` is that window, shown at a given size, driven by touches and
saved as PNG; the GUI tests use it too. It needs an X display (under `xvfb-run -a` where there is none).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from hall.catalogue import parse_catalogue
from hall.settings import CONFIG_DIR, load_hall

BOARD_SIZES = ((1280, 720), (1920, 1080))
KIOSK_SIZES = {"1024x600": (1024, 600), "1080x1920": (1080, 1920)}
KIOSK_SCREENS = ("home", "queues", "departments", "services", "guide", "search", "search-results", "guide-en",
                 "home-en", "ticket", "queues-waiting", "home-large", "queues-large", "guide-large", "search-large",
                 "idle-question")
KIOSK_ALONE = ("offline-home-1080x1920", "offline-guide-1080x1920", "ticket-paper-out-1080x1920")
BOARD_SCENES = ("board-burst-1920x1080.png", "board-band-1920x1080.png")
NAMES = (
    [f"board-{w}x{h}.png" for w, h in BOARD_SIZES]
    + list(BOARD_SCENES)
    + [f"kiosk-{screen}-{tag}.png" for tag in KIOSK_SIZES for screen in KIOSK_SCREENS]
    + [f"kiosk-{name}.png" for name in KIOSK_ALONE]
    + ["ticket.png"]
    + [f"console-{page}-{tag}.png" for page in ("live", "today", "attendance", "cases")
       for tag in ("1920x1080", "390x844")]
    + [f"public-{scene}-390x844.png" for scene in ("waiting", "called", "done")]
    + ["public-book-390x844.png", "public-booked-390x844.png"]
    + ["kiosk-checkin-1024x600.png", "kiosk-checkin-1080x1920.png", "kiosk-checkin-ticket-1024x600.png",
       "kiosk-details-1080x1920.png"]
    + ["year-2016.png", "plan-C.png"]
    + ["central-live.png", "central-live-390x844.png", "central-year.png", "central-rankings.png"]
)
KIOSK = "kiosk-01"
MORNING = datetime(2026, 11, 30, 9, 41)   # the board's header: the morning its calls were made


def make(out_dir: Path, *, names: Iterable[str] | None = None, say: Callable[[str], None] = print) -> list[Path]:
    """Make the docs' screenshots (all of `NAMES`, or only `names`) in `out_dir`; say each file as it is saved.
    Returns the files made, in the order they were made."""
    wanted = set(NAMES if names is None else names)
    unknown = sorted(wanted - set(NAMES))
    if unknown:
        raise ValueError(f"没有这些截图 no such screenshots: {', '.join(unknown)}; 可选 known: {', '.join(NAMES)}")
    shots = Shots(Path(out_dir), wanted, say)
    shots.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hall-screenshots-") as work:
        work = Path(work)
        if "ticket.png" in wanted:
            _printed_ticket(shots)
        if any(name.startswith("board-") for name in wanted):
            window = shots.open_window()
            for size in BOARD_SIZES:
                if f"board-{size[0]}x{size[1]}.png" in wanted:
                    _board(shots, window, size)
            if set(BOARD_SCENES) & wanted:
                _board_burst(shots, window)
        for tag, size in KIOSK_SIZES.items():
            if any(f"kiosk-{screen}-{tag}.png" in wanted for screen in KIOSK_SCREENS):
                _kiosk_screens(shots, work / f"kiosk-{tag}", tag, size)
        if {"kiosk-offline-home-1080x1920.png", "kiosk-offline-guide-1080x1920.png"} & wanted:
            _kiosk_offline(shots, work / "kiosk-offline")
        if "kiosk-ticket-paper-out-1080x1920.png" in wanted:
            _kiosk_paper_out(shots, work / "kiosk-paper-out")
        if any(name.startswith("console-") for name in wanted):
            _console(shots, work / "console")
        if any(name.startswith("public-") for name in wanted):
            _public(shots, work / "public")
        if any(name.startswith("kiosk-checkin") or name == "kiosk-details-1080x1920.png" for name in wanted):
            from hallctl.screenshots_booking import kiosk_checkin

            kiosk_checkin(shots, work / "kiosk-checkin")
        if {"year-2016.png", "plan-C.png"} & wanted:
            _year(shots, work / "year")
        if any(name.startswith("central-") for name in wanted):
            from hallctl.screenshots_central import central

            central(shots, work / "central")
    return shots.made


class Shots:
    """Where the screenshots go, which are wanted, and the ones made so far."""

    def __init__(self, out_dir: Path, wanted: set[str], say: Callable[[str], None]):
        self.out_dir, self.wanted, self.say = out_dir, wanted, say
        self.made: list[Path] = []
        self.window: ShotWindow | None = None

    def open_window(self) -> ShotWindow:
        if self.window is None:
            self.window = ShotWindow()
        return self.window

    def take(self, name: str) -> None:
        """Save the window as `name` if it is wanted."""
        if name in self.wanted:
            self.window.pump(3)
            self.saved(self.window.shot(self.out_dir / name))

    def saved(self, path: Path) -> None:
        self.made.append(path)
        self.say(f"已保存 saved {path}")


# ---------------------------------------------------------------- the window

def prepare_kivy() -> None:
    """Kivy settings for a window that is only looked at: no command-line parsing, no logs, and a Kivy home of
    its own, so a person's ~/.kivy settings do not change the pictures. Before Kivy is first imported."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kivy-home-"))


class ShotWindow:
    """The one Kivy window of the process: `show(widget, size)` puts a root widget on it at a given size,
    `tap(widget)` touches it, `until(...)` runs frames until a condition holds, `shot(path)` saves what a person
    would see."""

    _shot_size: tuple = ()  # the window's size at the last screenshot (one window per process)

    def __init__(self):
        if not os.environ.get("DISPLAY"):
            raise RuntimeError("没有屏幕：请在 xvfb-run -a 下运行 · no X display: run under xvfb-run -a")
        prepare_kivy()
        from kivy.base import EventLoop
        from kivy.core.window import Window

        self.window = Window
        self.loop = EventLoop
        EventLoop.ensure_window()

    def show(self, widget, size=(1920, 1080)):
        self.clear()
        self.window.size = size
        self.window.add_widget(widget)
        self.pump(4)
        return widget

    def clear(self):
        for child in list(self.window.children):
            self.window.remove_widget(child)

    def pump(self, frames: int = 1):
        for _ in range(frames):
            self.loop.idle()

    def advance(self, seconds: float):
        """Run frames for this much wall time (clock callbacks and animations fire as in the field)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.loop.idle()

    def until(self, predicate, timeout: float = 5.0, message: str = "condition"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.loop.idle()
            if predicate():
                return
        raise AssertionError(f"{message} did not hold within {timeout} s")

    def tap(self, widget, frames: int = 3):
        """A finger down and up at the widget's centre, through the window like a real touch."""
        from kivy.tests.common import UnitTestTouch

        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.pump(1)
        touch.touch_up()
        self.pump(frames)

    def shot(self, path: Path | str) -> Path:
        """Save the whole window as PNG (Kivy appends a counter to the name; we put it back)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pump(2)
        if tuple(self.window.size) != self._shot_size:
            # the first read-back after the window is resized comes out black: take one to throw away
            ShotWindow._shot_size = tuple(self.window.size)
            self.advance(0.2)
            spare = self.window.screenshot(name=str(Path(tempfile.gettempdir()) / "kivy-warm%(counter)s.png"))
            if spare:
                Path(spare).unlink(missing_ok=True)
            self.pump(2)
        # the pixels are read from the back buffer, which holds the last frame but one: draw the window twice,
        # or a screen that has not changed since it was shown reads back as the blank buffer of its first frame
        for _ in range(2):
            self.window.canvas.ask_update()
            self.pump(1)
        made = self.window.screenshot(name=str(path.with_suffix("")) + "%(counter)s.png")
        if made and made != str(path):
            os.replace(made, path)
        return path


# ---------------------------------------------------------------- the board on a busy morning

GUIDES = [
    {"id": "scjg-001", "name": "个体工商户设立登记", "name_en": "Sole proprietorship registration",
     "department": "scjg", "queue": "A", "conditions": "年满十八周岁，有经营能力",
     "materials": ["身份证原件", "经营场所使用证明"], "process": ["申请", "受理", "审核", "发照"],
     "time_limit_days": 3, "promised_days": 0, "fee": "不收费"},
    {"id": "bdc-002", "name": "不动产抵押登记", "name_en": "Mortgage registration",
     "department": "bdc", "queue": "B", "materials": ["不动产权证书", "主债权合同", "抵押合同"],
     "time_limit_days": 30, "promised_days": 3, "fee": "80 元/件", "windows": ["4", "5"]},
]


def guide_catalogue(hall):
    """The hall's windows and queues with exactly these two service guides (whatever the shipped file has)."""
    data = hall.catalogue.model_dump(mode="json")
    data["services"] = GUIDES
    return parse_catalogue(data, "sample catalogue")


def hall_day(hall) -> list[tuple[str, dict]]:
    """Messages of a busy morning, as (suffix, payload): every window and queue, then the calls list."""
    out = []
    statuses = ["serving", "serving", "serving", "idle", "serving", "paused", "serving", "closed"]
    for i, w in enumerate(hall.catalogue.windows):
        status = statuses[i % len(statuses)]
        prefix = hall.catalogue.queue(w.queues[0]).prefix
        ticket = f"{prefix}{(i * 7) % 90 + 1:03d}" if status == "serving" else None
        out.append((f"hub/state/window/{w.id}", {"window": w.id, "status": status, "ticket": ticket,
                                                 "staff": f"s{i + 1:03d}" if ticket else None,
                                                 "queues": list(w.queues)}))
    for i, q in enumerate(hall.catalogue.queues):
        waiting = (i * 5) % 17
        out.append((f"hub/state/queue/{q.id}", {"queue": q.id, "waiting": waiting,
                                                "est_wait_s": waiting * 300, "last_called": None}))
    out.append(("hub/calls", {"calls": [
        {"ticket": "C015", "window": "8", "queue": "C", "at": "2026-11-30T09:41:00+08:00", "recall": 0},
        {"ticket": "A006", "window": "1", "queue": "A", "at": "2026-11-30T09:40:00+08:00", "recall": 0},
    ]}))
    return out


def call(ticket: str, window: str, queue: str | None = None, recall: int = 0, at: str | None = None) -> dict:
    """A `hub/call` payload."""
    return {"ticket": ticket, "window": window, "queue": queue or ticket.rstrip("0123456789"),
            "at": at or f"2026-11-30T09:{len(ticket) + int(window):02d}:00+08:00", "recall": recall}


def opening_calls(hall) -> list[dict]:
    """Opening time: every window calls its queue's first tickets of the day, one after another, as `hub/call`
    payloads."""
    out = []
    issued: dict[str, int] = {}  # each queue's first tickets of the day, in the order its windows call
    for i, w in enumerate(hall.catalogue.windows):
        prefix = hall.catalogue.queue(w.queues[0]).prefix
        issued[prefix] = issued.get(prefix, 0) + 1
        out.append(call(f"{prefix}{issued[prefix]:03d}", w.id, w.queues[0], at=f"2026-11-30T09:00:{i:02d}+08:00"))
    return out


class HeldClock:
    """Monotonic seconds that move only when told to."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _board(shots: Shots, window: ShotWindow, size: tuple[int, int]) -> None:
    """A busy morning: every window and queue, B012 called, then A020 (flashing) and C016 (waiting its turn);
    the band on the first page of a service guide."""
    from kivy.core.window import Window

    from display.board import BoardApp
    from display.playlist import load_playlist
    from hall.settings import Hall

    shipped = load_hall()
    hall = Hall(shipped.path, shipped.file, guide_catalogue(shipped), shipped.staff)
    clock = HeldClock()
    background = list(Window.clearcolor)
    app = BoardApp(hall, playlist=load_playlist(), clock=clock, wall_clock=lambda: MORNING)
    root = window.show(app.build(), size)
    controller = app.controller
    try:
        for suffix, payload in hall_day(hall):
            controller.apply(suffix, payload)
        window.pump(2)
        controller.apply("hub/status", {"state": "online"})
        controller.refresh(app.model.set_connected(True))
        controller.apply("hub/call", call("B012", "12"))
        window.pump(2)
        controller.apply("hub/call", call("A020", "3"))
        controller.apply("hub/call", call("C016", "8"))
        clock.advance(4.0)
        controller.tick()  # A020 flashing; B012 lit before it
        band = root.ids.band
        band.show(next(item for item in controller.band.items if item.kind == "guide"))
        band.stop()  # held on its first page: the shot does not depend on timing
        window.pump(2)
        shots.take(f"board-{size[0]}x{size[1]}.png")
    finally:
        controller.stop()
        window.clear()
        Window.clearcolor = background


def _board_burst(shots: Shots, window: ShotWindow) -> None:
    """Opening time: all 34 windows call within one second, the shot half a second in (every tile lit and
    flashing, the newest on the panel, the burst listed under it); then the band on a guide's card, with the
    shipped catalogue."""
    from kivy.core.window import Window

    from display.board import BoardApp
    from display.playlist import load_playlist

    hall = load_hall()
    clock = HeldClock()
    background = list(Window.clearcolor)
    app = BoardApp(hall, playlist=load_playlist(), clock=clock, wall_clock=lambda: datetime(2026, 11, 30, 9, 0))
    root = window.show(app.build(), (1920, 1080))
    controller = app.controller
    try:
        for suffix, payload in hall_day(hall):
            controller.apply(suffix, payload)
        controller.apply("hub/status", {"state": "online"})
        controller.refresh(app.model.set_connected(True))
        for payload in opening_calls(hall):
            controller.apply("hub/call", payload)
            clock.advance(1 / 34)
        band = root.ids.band
        band.show(next(item for item in controller.band.items if item.kind == "guide"))
        band.stop()
        window.pump(2)
        shots.take("board-burst-1920x1080.png")
        guide = next(item for item in controller.band.items if item.key == "guide:scjg-001")
        band.show(guide)
        band.stop()
        clock.advance(10)
        controller.tick()
        window.pump(2)
        shots.take("board-band-1920x1080.png")
    finally:
        controller.stop()
        window.clear()
        Window.clearcolor = background


# ---------------------------------------------------------------- the kiosk in a hall of its own

def all_day_hall(dest: Path, catalogue: dict | None = None) -> Path:
    """A copy of the shipped hall that issues tickets all day (screenshots and tests are made at any hour);
    optionally with another catalogue. Returns its hall.toml."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG_DIR / "staff.csv", dest / "staff.csv")
    if catalogue is None:
        shutil.copy(CONFIG_DIR / "catalogue.json", dest / "catalogue.json")
    else:
        (dest / "catalogue.json").write_text(json.dumps(catalogue, ensure_ascii=False), encoding="utf-8")
    text, n = re.subn(r"(?m)^issuing = .*$", "issuing = []",
                      (CONFIG_DIR / "hall.toml").read_text(encoding="utf-8"))
    if n != 1:
        raise ValueError(f"{CONFIG_DIR / 'hall.toml'}: expected one `issuing = ...` line, found {n}")
    (dest / "hall.toml").write_text(text, encoding="utf-8")
    return dest / "hall.toml"


@contextmanager
def _hall_running(folder: Path, hub: bool = True, configure: Callable[[Path], None] | None = None):
    """An all-day hall in `folder`: its secured Mosquitto on a free port, the hub if asked for, and the kiosk's
    link. `configure`, when given, edits the hall's hall.toml before anything reads it (a scene's own settings).
    Yields (hall, data_dir, link); everything stops on the way out."""
    from hall.credentials import Endpoint
    from hall.link import DeviceLink
    from hub import broker
    from hub.ingest import Hub

    config = all_day_hall(folder / "config")
    if configure is not None:
        configure(config)
    hall = load_hall(config)
    data_dir = folder / "data"
    files = broker.BrokerFiles(data_dir)
    port = broker.free_port()
    broker.provision(hall, files)
    broker.write_config(hall, files, port, bind="127.0.0.1", secure=True)
    Endpoint(port=port).save(data_dir)
    mosquitto = broker.start_mosquitto(files, port)
    running = link = None
    try:
        if hub:
            running = Hub(hall, data_dir, port=port).start()
            if not running.wait_ready(10):
                raise RuntimeError("hub did not connect")
        link = DeviceLink(hall, KIOSK, data_dir, port=port).start()
        if not link.wait_connected(10, hub=hub):
            raise RuntimeError("the kiosk's link did not connect")
        yield hall, data_dir, link
    finally:
        if link is not None:
            link.stop()
        if running is not None:
            running.stop()
        mosquitto.terminate()
        mosquitto.wait(10)


@contextmanager
def _printer(paper: str = "ok"):
    """The printer simulator on a pseudo-terminal and python-escpos talking to it."""
    from devices.printer import TicketPrinter
    from devices.printer.simulator import PrinterSimulator

    sim = PrinterSimulator(paper=paper).start()
    printer = TicketPrinter(sim.port, timeout=0.3)
    try:
        yield sim, printer
    finally:
        printer.close()
        sim.stop()


@contextmanager
def _kiosk(window: ShotWindow, hall, data_dir: Path, size, link, printer, **kw):
    """The kiosk app on the window, online or not as its link finds the hub."""
    from kiosk.app import KioskApp

    app = KioskApp(hall, KIOSK, data_dir, link=link, printer=printer, request_timeout=5.0,
                   build_index_in_process=True, **kw)
    window.show(app.build(), size)
    window.advance(0.2)
    try:
        yield app
    finally:
        app.stop_clocks()
        window.clear()


def visible_row(window: ShotWindow, app, screen_name: str, key: str):
    """The visible list row (a RecycleView row) for a service id."""
    rv = app.screen(screen_name).ids.rows
    window.pump(2)
    for child in rv.children[0].children:
        if getattr(child, "key", None) == key:
            return child
    raise LookupError(f"no visible row for {key!r} on {screen_name}")


def _kiosk_screens(shots: Shots, folder: Path, tag: str, size) -> None:
    """Every screen, in Chinese and then a few in English, ending on a printed ticket."""
    window = shots.open_window()
    with _hall_running(folder) as (hall, data_dir, link), _printer() as (_, printer), \
            _kiosk(window, hall, data_dir, size, link, printer, ticket_return=60) as app:
        window.until(lambda: app.ui.hub_online, 10, "the kiosk sees the hub online")
        app.home()
        shots.take(f"kiosk-home-{tag}.png")
        app.open_queues()
        shots.take(f"kiosk-queues-{tag}.png")
        app.open_departments()
        shots.take(f"kiosk-departments-{tag}.png")
        app.open_services("bdc")
        shots.take(f"kiosk-services-{tag}.png")
        app.open_guide("bdc-001")
        shots.take(f"kiosk-guide-{tag}.png")
        app.open_search()
        shots.take(f"kiosk-search-{tag}.png")
        for key in "sfz":
            window.tap(app.screen("search").ids.keyboard.keys[key])
        shots.take(f"kiosk-search-results-{tag}.png")
        app.toggle_language()
        app.open_guide("crj-001")
        shots.take(f"kiosk-guide-en-{tag}.png")
        app.home()
        shots.take(f"kiosk-home-en-{tag}.png")
        app.toggle_language()
        app.take_ticket(service="bdc-001")
        ticket = app.screen("ticket")
        window.until(lambda: ticket.number and "请取走号票" in ticket.printer_line, 15, "ticket printed")
        shots.take(f"kiosk-ticket-{tag}.png")
        # people waiting: the ticket buttons say how many and how long
        for queue in "CCCCBBJ":
            link.request("ticket_request", {"queue": queue, "channel": "kiosk"}, 10)
        app.home()
        app.open_queues()
        window.until(lambda: "等候 4 人" in app.screen("queues").buttons["C"].text, 10, "C's wait shown")
        shots.take(f"kiosk-queues-waiting-{tag}.png")
        # 大字版
        app.home()
        app.toggle_large()
        shots.take(f"kiosk-home-large-{tag}.png")
        app.open_queues()
        shots.take(f"kiosk-queues-large-{tag}.png")
        app.open_guide("bdc-001")
        shots.take(f"kiosk-guide-large-{tag}.png")
        app.open_search()
        app.model.search.set_query("yyzz")
        shots.take(f"kiosk-search-large-{tag}.png")
        app.toggle_large()
        # untouched for a while on a guide: the question and its countdown, held at its first second
        app.open_guide("bdc-001")
        app.ask_more_time()
        app._ask_event.cancel()
        shots.take(f"kiosk-idle-question-{tag}.png")


def _kiosk_offline(shots: Shots, folder: Path) -> None:
    """The hub away: the home screen says why no ticket can be taken; guides still open."""
    window = shots.open_window()
    with _hall_running(folder, hub=False) as (hall, data_dir, link), \
            _kiosk(window, hall, data_dir, KIOSK_SIZES["1080x1920"], link, None) as app:
        home = app.screen("home")
        shots.take("kiosk-offline-home-1080x1920.png")
        window.tap(home.ids.guides)
        window.tap(app.screen("departments").buttons["crj"])
        window.tap(visible_row(window, app, "services", "crj-001"))
        shots.take("kiosk-offline-guide-1080x1920.png")


def _kiosk_paper_out(shots: Shots, folder: Path) -> None:
    """The printer out of paper: the ticket screen shows the number to write down."""
    window = shots.open_window()
    with _hall_running(folder) as (hall, data_dir, link), _printer(paper="out") as (_, printer), \
            _kiosk(window, hall, data_dir, KIOSK_SIZES["1080x1920"], link, printer, ticket_return=30) as app:
        window.until(lambda: app.ui.hub_online, 10, "the kiosk sees the hub online")
        window.tap(app.screen("home").ids.take)
        window.tap(app.screen("queues").buttons["C"])
        ticket = app.screen("ticket")
        window.until(lambda: ticket.number and ticket.printer_problem, 15, "paper out shown")
        shots.take("kiosk-ticket-paper-out-1080x1920.png")


# ---------------------------------------------------------------- the printed ticket

SAMPLE_TICKET = dict(
    hall_name="汨罗市政务服务中心", hall_name_en="Miluo City Government Service Centre", no="A012",
    service="个体工商户设立登记", service_en="Registration of an individual business", windows=["1", "2", "3"],
    ahead=4, est_wait_s=480, issued_at="2026-11-30 09:12",
    materials=["个体工商户登记（备案）申请书", "经营者身份证原件", "经营场所使用证明（不动产权证书复印件或租赁合同）",
               "委托他人代办的，提交委托书及代理人身份证件"],
    qr="miluo:20261130:A012", places=["1、2、3 号窗口：一楼东区"], places_en=["Window 1, 2, 3: Floor 1, east hall"])


def _printed_ticket(shots: Shots) -> None:
    """A ticket printed through python-escpos, decoded by the simulator from the bytes, drawn as PNG."""
    from devices.printer import TicketContent

    with _printer() as (sim, printer):
        printer.print_ticket(TicketContent(**SAMPLE_TICKET))
        [printed] = sim.wait_tickets(1)
        shots.saved(sim.render_png(printed, shots.out_dir / "ticket.png"))


# ---------------------------------------------------------------- the managers' console, in Chromium

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
CONSOLE_SIZES = {"1920x1080": (1920, 1080), "390x844": (390, 844)}


def _console_morning(hall, link, data_dir: Path) -> None:
    """A morning's worth of queue for the console to show: tickets in several queues, windows 18–24 calling,
    serving and done, some rated on their pads, one paused; a case accepted at each window for the citizen it
    serves (办件), one of them to be done the same day."""
    from hall.link import DeviceLink

    windows = [w for w in hall.catalogue.windows if w.id in {"18", "19", "20", "21", "22", "23", "24"}]
    for _ in range(3):
        for w in windows:
            link.request("ticket_request", {"queue": w.queues[0]})
    pad = next(d.id for d in hall.devices_of("caller") if "18" in d.windows)
    pad_link = DeviceLink(hall, pad, data_dir).start()
    pcs = []
    try:
        for w in windows:
            pc = DeviceLink(hall, f"win-{int(w.id):02d}", data_dir).start()
            pcs.append(pc)
            pc.wait_connected(10)
            staff = next(s.id for s in hall.staff if s.window == w.id)
            pc.request("login", {"window": w.id, "staff": staff})
            pc.request("call_next", {"window": w.id})
            item = next((s for s in hall.catalogue.services if s.queue in w.queues and s.promised_days is not None),
                        None)
            if item is not None:
                pc.request("case_accept", {"service": item.id, "applicant_name": "张三",
                                           "id_number": "11010519491231002X", "window": w.id})
            if int(w.id) % 2 == 0:
                pc.request("complete", {"window": w.id})
                pad_link.wait_connected(10)
                pad_link.request("rating", {"window": w.id, "score": 5 if int(w.id) % 4 else 2})
                pc.request("call_next", {"window": w.id})
        pcs[-1].request("pause", {"window": windows[-1].id})
    finally:
        for pc in pcs:
            pc.stop()
        pad_link.stop()


def _console(shots: Shots, folder: Path) -> None:
    """The console's live hall, today, attendance and cases pages, as a manager logged in sees them, at an office
    screen's size and a phone's."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"控制台截图需要 Chromium the console screenshots need {CHROMIUM} (Debian's chromium)")
    from playwright.sync_api import sync_playwright

    from hallctl.commands.web import ConsoleServer
    from hub.broker import free_port
    from web import users

    with _hall_running(folder) as (hall, data_dir, link):
        _console_morning(hall, link, data_dir)
        db = users.open_db(data_dir)
        try:
            users.add_user(db, "zhangmin", "admin", None, "screenshots-only")
        finally:
            db.close()
        server = ConsoleServer(hall, data_dir, port=free_port())
        try:
            server.start()
            base = f"http://127.0.0.1:{server.port}"
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
                for tag, (w, h) in CONSOLE_SIZES.items():
                    context = browser.new_context(viewport={"width": w, "height": h}, locale="zh-CN")
                    page = context.new_page()
                    page.goto(f"{base}/login")
                    page.fill("input[name=username]", "zhangmin")
                    page.fill("input[name=password]", "screenshots-only")
                    page.click("button[type=submit]")
                    page.wait_for_url(f"{base}/")
                    for name, path in (("live", "/"), ("today", "/today"), ("attendance", "/attendance"),
                                       ("cases", "/cases")):
                        if f"console-{name}-{tag}.png" not in shots.wanted:
                            continue
                        page.goto(base + path)
                        if name == "live":  # the push stream never goes idle: wait until it is connected
                            page.wait_for_function("document.body.dataset.push === 'connected'", timeout=10_000)
                        else:
                            page.wait_for_load_state("networkidle")
                        out = shots.out_dir / f"console-{name}-{tag}.png"
                        page.screenshot(path=str(out))
                        shots.saved(out)
                    context.close()
                browser.close()
        finally:
            server.stop()


def _public(shots: Shots, folder: Path) -> None:
    """The citizens' site on a phone: a ticket followed from its QR code while three are ahead (near its turn),
    called to its window, done with the rating open (docs/public.md)."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"公众网站截图需要 Chromium the citizens' site screenshots need {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    from hall.link import DeviceLink
    from hallctl.commands.public import PublicServer
    from hub.broker import free_port

    with _hall_running(folder) as (hall, data_dir, link):
        tickets = [link.request("ticket_request", {"queue": "A"})["ticket"] for _ in range(4)]
        pc = DeviceLink(hall, "win-02", data_dir).start()
        pc.wait_connected(10)
        pc.request("login", {"window": "2", "staff": next(s.id for s in hall.staff if s.window == "2")})
        server = PublicServer(hall, data_dir, port=free_port())
        try:
            server.start()
            time.sleep(0.5)  # the hub has written the tickets' rows
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
                context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1,
                                              is_mobile=True, locale="zh-CN")
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{server.port}/t/{tickets[-1]['follow']}")
                page.wait_for_selector("body[data-push=connected]", state="attached", timeout=10_000)

                def take(scene: str, selector: str) -> None:
                    page.wait_for_selector(selector, timeout=10_000)
                    out = shots.out_dir / f"public-{scene}-390x844.png"
                    if out.name in shots.wanted:
                        page.screenshot(path=str(out))
                        shots.saved(out)

                take("waiting", "#near:not([hidden])")
                for _ in tickets:  # the three ahead, then this one
                    pc.request("call_next", {"window": "2"})
                page.wait_for_selector("#called:not([hidden])", timeout=10_000)
                page.wait_for_timeout(3200)  # the call's flashing is over
                take("called", "#called:not([hidden])")
                pc.request("complete", {"window": "2"})
                take("done", "#rate:not([hidden])")
                if {"public-book-390x844.png", "public-booked-390x844.png"} & shots.wanted:
                    _public_booking(shots, page, f"http://127.0.0.1:{server.port}")
                browser.close()
        finally:
            server.stop()
            pc.stop()



def _public_booking(shots: Shots, page, base_url: str) -> None:
    """网上预约 on the phone: queue A's first open slot chosen and the form filled, then the booking code
    (docs/appointments.md). The whole page each time: the slots run below the first screen."""
    def take(scene: str) -> None:
        out = shots.out_dir / f"public-{scene}-390x844.png"
        if out.name in shots.wanted:
            page.screenshot(path=str(out), full_page=True)
            shots.saved(out)

    page.goto(f"{base_url}/")
    page.click("text=预约办事")
    page.click("#queue-A")
    page.wait_for_selector("form#book")
    page.locator("input[name=slot]").first.check()
    page.fill("#name", "张三丰")
    page.fill("#id_number", "11010519491231002X")
    page.fill("#phone", "13800138000")
    take("book")
    page.click("#submit")
    page.wait_for_selector("#code", timeout=10_000)
    take("booked")

def _year(shots: Shots, folder: Path) -> None:
    """A simulated 2016 (the whole year, through the real rules: about a minute), its annual table as the printable
    page shows it, and window planning for queue C over it (docs/year.md)."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"年度报表截图需要 Chromium the annual table screenshots need {CHROMIUM}")
    from datetime import date

    from playwright.sync_api import sync_playwright

    from hall.settings import load_year_simulation
    from hub.year.plan import chart_svg, plan, read_arrivals
    from hub.year.render import write_html
    from hub.year.report import year_report

    hall = load_hall()
    first, last = date(2016, 1, 1), date(2016, 12, 31)
    from hub.year.simulate import simulate

    simulate(hall, load_year_simulation(hall=hall), folder, first, last, progress=shots.say)
    table, _rows = year_report(hall, folder / "hub.db", 2016)
    write_html(table, folder / "year-2016.html")
    arrivals = read_arrivals(folder / "hub.db", "C", first, last)
    result = plan(arrivals, [2, 3, 4, 5], [(s.start, s.end) for s in hall.hours.open])
    (folder / "plan-C.svg").write_text(chart_svg(result, "C"), encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 900, "height": 1960}, device_scale_factor=1, locale="zh-CN")
        if "year-2016.png" in shots.wanted:
            page.goto((folder / "year-2016.html").as_uri())
            out = shots.out_dir / "year-2016.png"
            page.screenshot(path=str(out))  # the table and the first charts: the page's first screen and a half
            shots.saved(out)
        if "plan-C.png" in shots.wanted:
            page.goto((folder / "plan-C.svg").as_uri())
            out = shots.out_dir / "plan-C.png"
            page.locator("svg").first.screenshot(path=str(out))
            shots.saved(out)
        browser.close()
