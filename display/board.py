"""The calling board (综合屏): the controller and the app over `display.model.BoardModel`.

The widgets are in `display.widgets`, their layout in `board.kv`; this file only moves the model's state into
them. Messages from the hub arrive on the network thread and are handed to Kivy's thread with
`Clock.schedule_once`; nothing here polls. Kivy is imported only when the board is built, so commands that
merely name the board (the command line's help) do not start it.

A frame is drawn only when something on the screen changes: a call, a state topic, a flash, the minute, the band
turning a page. Nothing moves in between, so the board sits idle almost all the time (Kivy draws a frame only when
a canvas changed). Each tile, queue line, the header and the now-calling panel draw into their own off-screen
buffer (`Cached`), so a frame redraws what changed and copies the rest as one texture each.

Entry point for `hall display` and `hall up`: `run_board(hall, device, data_dir, port, fullscreen=False)`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path

from display.model import BoardModel
from display.playlist import Band as BandPlaylist
from display.playlist import Playlist, load_playlist
from hall.screen import configure_covering, screen_size  # noqa: F401  (screen_size: hall up asks it here)

log = logging.getLogger("display.board")

MAX_FPS = 30                 # frames a second at most: flashes and slides; idle, the board draws none
FLASH_PERIOD = 0.5           # a flashing tile turns bright and back every half second
HEALTH_EVERY = 600.0         # seconds between health events
SAVE_AFTER = 2.0             # seconds of quiet before the last state is written to the cache
WEEKDAYS = "一二三四五六日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# ---------------------------------------------------------------- controller

class BoardController:
    """Feeds hub messages to the model on Kivy's thread and shows the result; announces calls."""

    TOPICS = ("hub/catalogue", "hub/state/window/+", "hub/state/queue/+", "hub/calls", "hub/call")

    def __init__(self, model: BoardModel, view, playlist: Playlist, *, hall_name: str = "", voice=None,
                 link=None, cache: Path | None = None, clock=time.monotonic, tz=None, wall_clock=None):
        from kivy.clock import Clock

        self.Clock = Clock
        self.model = model
        self.view = view
        self.playlist = playlist
        self.hall_name = hall_name
        self.voice = voice
        self.link = link
        self.cache = cache
        self.clock = clock
        self.tz = tz
        self.wall_clock = wall_clock or (lambda: datetime.now(self.tz))  # the time and date in the header
        self.applied = 0                 # messages applied (the benchmark and tests wait on this)
        self.listeners: list = []        # callables(changes) after each applied message
        self._flash_ev = None
        self._tick_ev = None
        self._save_ev = None
        self._clock_ev = None
        self.band = BandPlaylist(playlist.groups(model.catalogue, hall_name))

    # ------------------------------------------------------------ life

    def start(self):
        view = self.view
        view.model = self.model
        self._restore()
        self._names_too_long()
        self.refresh({"layout", "hub", "highlight", "calls"})
        self._tick_clock()
        view.ids.band.start(self.band, self.playlist.page, self.playlist.transition)
        if self.link is not None:
            for suffix in self.TOPICS:
                self.link.subscribe(suffix, self._from_network)
            self.link.subscribe("hub/status", self._from_network)
            self.link.on_connection(self._connection)
            self._connection(bool(self.link.connected))
        return self

    def stop(self):
        for ev in (self._flash_ev, self._tick_ev, self._clock_ev):
            if ev is not None:
                ev.cancel()
        if self._save_ev is not None:
            self._save_ev.cancel()
            self._save()
        self.view.ids.band.stop()

    # ------------------------------------------------------------ input

    def _from_network(self, topic: str, payload: dict):
        """Network thread: hand the message to Kivy's thread, for the very next frame (a timeout of 0 wakes
        the board's interruptible clock at once)."""
        suffix = topic.split("/", 3)[3] if topic.count("/") >= 3 else topic
        self.Clock.schedule_once(lambda _dt: self.apply(suffix, payload), 0)

    def _connection(self, connected: bool):
        """Network thread: the broker connection came or went."""
        self.Clock.schedule_once(lambda _dt: self.refresh(self.model.set_connected(connected)), 0)

    def feed(self, suffix: str, payload: dict):
        """Any thread: a message as if it came from the hub (tests, tools)."""
        self._from_network(f"hall/v1/x/{suffix}", payload)

    def apply(self, suffix: str, payload: dict) -> set[str]:
        now = self.clock()
        changes = self.model.apply(suffix, payload, now)
        if suffix == "hub/call" and changes and self.voice is not None:
            call = self.model.recent[0]  # the call just taken, as the model read it
            self.voice.announce_call(call.ticket, call.window, call.recall)
        self.applied += 1
        if suffix == "hub/catalogue" and "layout" in changes:
            self._names_too_long()
        if changes:
            self.refresh(changes)
            if changes - {"hub"}:
                self._save_soon()
        for cb in self.listeners:
            cb(changes)
        return changes

    def _names_too_long(self):
        """Names the board can show only cut short (…): said in its log, for the catalogue to give short forms."""
        for problem in self.model.catalogue.too_long_for_the_board():
            log.warning("catalogue: %s", problem)

    # ------------------------------------------------------------ output

    def refresh(self, changes: set[str]):
        model, view = self.model, self.view
        if "layout" in changes:
            view.rebuild(model)
            changes = changes | {f"tile:{w}" for w in model.tiles} | {f"queue:{q}" for q in model.queues}
        if "band" in changes:
            self.band.replace(self.playlist.groups(model.catalogue, self.hall_name))
        if "highlight" in changes:
            self._schedule_flash()
        now = self.clock()
        for key in changes:
            kind, _, ident = key.partition(":")
            if kind == "tile" and ident in view.tiles and ident in model.tiles:
                self._show_tile(ident, now)
            elif kind == "queue" and ident in view.queue_rows and ident in model.queues:
                view.queue_rows[ident].show(model.queues[ident])
        if any(key.startswith("queue:") for key in changes):  # the band's next loop favours these queues
            self.band.set_waiting({q: line.waiting for q, line in model.queues.items()})
        if changes & {"highlight", "calls"}:
            self._show_now(now)
        if "hub" in changes:
            view.link_text = _link_text(model)
        self._schedule_tick(now)

    def _phase_on(self, now: float) -> bool:
        """Every flashing tile and the panel turn bright together, in step with the newest call lit."""
        starts = [hl.since for hl in self.model.lit.values() if now - hl.since < self.model.flash_s]
        return bool(starts) and int((now - max(starts)) / FLASH_PERIOD) % 2 == 0

    def flash_on(self, now: float) -> bool:
        """The panel: bright or normal while the newest call flashes."""
        return self.model.flashing(now) and self._phase_on(now)

    def _show_tile(self, window: str, now: float):
        model = self.model
        lit = model.tile_lit(window)
        self.view.tiles[window].show(model.tiles[window], lit, model.tile_flashing(window, now) and self._phase_on(now))

    def _show_now(self, now: float):
        self.view.ids.now.show(self.model.highlight, self.model.recent, self.flash_on(now), self.model.burst(now))

    # ------------------------------------------------------------ timers (each armed only when needed)

    def _schedule_tick(self, now: float):
        deadline = self.model.next_deadline(now)
        if self._tick_ev is not None:
            self._tick_ev.cancel()
            self._tick_ev = None
        if deadline is not None:
            self._tick_ev = self.Clock.schedule_once(self.tick, max(0.0, deadline - now))

    def tick(self, _dt=None):
        """A flash is over: its tile goes back to its status colours (the newest call stays lit, steady)."""
        self._tick_ev = None
        now = self.clock()
        changes = self.model.tick(now)
        if self.model.highlight is not None and not self.model.flashing(now):
            changes |= {"highlight", f"tile:{self.model.highlight.window}"}  # the flash is over: lit, steady
        self.refresh(changes)

    def _schedule_flash(self):
        if self._flash_ev is not None:
            self._flash_ev.cancel()
            self._flash_ev = None
        if self.model.next_deadline(self.clock()) is not None:
            self._flash_ev = self.Clock.schedule_interval(self._on_flash, FLASH_PERIOD)

    def _on_flash(self, _dt):
        now = self.clock()
        if self.model.next_deadline(now) is None:
            self._flash_ev = None
            self.refresh({"highlight"} | {f"tile:{w}" for w in self.model.lit})
            return False
        for window in self.model.lit:
            if window in self.view.tiles and self.model.tile_flashing(window, now):
                self._show_tile(window, now)
        self._show_now(now)
        return True

    def _tick_clock(self, *_):
        moment = self.wall_clock()
        view = self.view
        view.clock_text = moment.strftime("%H:%M")
        view.date_text = (f"{moment.year}年{moment.month}月{moment.day}日 星期{WEEKDAYS[moment.weekday()]}"
                          f"  {WEEKDAYS_EN[moment.weekday()]} {moment.day} {moment.strftime('%b')}")
        # once a minute: each change redraws the board's static layer
        left = 60 - moment.second - moment.microsecond / 1e6
        self._clock_ev = self.Clock.schedule_once(self._tick_clock, left + 0.01)

    # ------------------------------------------------------------ cache

    def _save_soon(self):
        if self.cache is not None and self._save_ev is None:
            self._save_ev = self.Clock.schedule_once(lambda _dt: self._save(), SAVE_AFTER)

    def _save(self):
        self._save_ev = None
        if self.cache is None:
            return
        try:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.model.snapshot(), ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.cache)
        except OSError as err:
            log.warning("could not save the board's last state to %s: %s", self.cache, err)

    def _restore(self):
        if self.cache is None or not self.cache.exists():
            return
        try:
            self.model.restore(json.loads(self.cache.read_text(encoding="utf-8")))
        except (OSError, ValueError) as err:
            log.warning("ignored the board's cached state %s: %s", self.cache, err)


def _link_text(model: BoardModel) -> str:
    if model.online:
        return ""
    if model.hub_online is None and not model.connected:
        return "连接中…  Connecting"
    return "离线 · 显示最后状态  Offline"


# ---------------------------------------------------------------- app

def BoardApp(hall, *, playlist: Playlist | None = None, link=None, voice=None, cache: Path | None = None,
             flash_s: float | None = None, clock=time.monotonic, wall_clock=None):
    """The board as a Kivy App. `BoardApp(...).build()` returns the root widget without running the app.

    `clock` (monotonic seconds: flashes, timers) and `wall_clock` (the time and date in the header) may be held
    still, so a screenshot comes out the same every time."""
    from kivy.app import App

    class _BoardApp(App):
        title = f"{hall.info.name} 叫号屏"

        def build(self):
            from kivy.core.window import Window

            from display import widgets

            widgets.load_kv()
            # the board's background: a clear, not one more full-screen rectangle
            Window.clearcolor = widgets.NAVY
            kw = {} if flash_s is None else {"flash_s": flash_s}
            self.model = BoardModel(hall.catalogue, **kw)
            root = widgets.BoardScreen(hall_name=hall.info.name, hall_name_en=hall.info.name_en)
            self.controller = BoardController(self.model, root, playlist or load_playlist(), hall_name=hall.info.name,
                                              voice=voice, link=link, cache=cache, tz=hall.tz, clock=clock,
                                              wall_clock=wall_clock)
            self.controller.start()
            self.board = root
            return root

        def on_stop(self):
            if getattr(self, "controller", None):
                self.controller.stop()

    return _BoardApp()


DEFAULT_SIZE = (1280, 720)


def configure_kivy(fullscreen: bool = False, size: tuple[int, int] | None = None,
                   position: tuple[int, int] | None = None) -> None:
    """Kivy settings of a board; before the window opens. Full screen is the hall's: no cursor, no way out.

    Full screen is a borderless window as large as the screen at its top left corner: SDL's own full screen
    leaves the window at its first size (a clipped 800×600 corner) on an X server without a window manager,
    which is how a hall's screen Pi runs. `position` puts a window somewhere else (two windows on one screen)."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "maxfps", str(MAX_FPS))
    # no multisampling (Kivy's default is 2): the board is upright rectangles and text, and a multisampled
    # frame costs several times as much to draw and to put on screen (resolving it touches every pixel)
    Config.set("graphics", "multisamples", "0")
    # a message scheduled with a timeout of 0 wakes the loop at once instead of at the next of 30 ticks a
    # second; everything else keeps to the ticks (interupt_next_only, set when the clock exists)
    Config.set("kivy", "kivy_clock", "interrupt")
    Config.set("graphics", "show_cursor", "0" if fullscreen else "1")
    Config.set("kivy", "exit_on_escape", "0" if fullscreen else "1")
    Config.set("graphics", "allow_screensaver", "0")
    if fullscreen:
        configure_covering(Config)  # borderless, the X screen's size, at (0, 0)
    else:
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "borderless", "0")
        width, height = size or DEFAULT_SIZE
        Config.set("graphics", "width", str(width))
        Config.set("graphics", "height", str(height))
        if position:
            Config.set("graphics", "position", "custom")
            Config.set("graphics", "left", str(position[0]))
            Config.set("graphics", "top", str(position[1]))
    from kivy.clock import Clock

    Clock.interupt_next_only = True


def run_board(hall, device: str, data_dir: Path | str, port: int | None = None, fullscreen: bool = False, *,
              host: str | None = None, password: str | None = None, playlist: Path | str | None = None,
              voice: bool = True, size: tuple[int, int] | None = None,
              position: tuple[int, int] | None = None) -> int:
    """Open the calling board of `device` and follow the hub until the window is closed, or SIGTERM (systemd's
    stop): the board then stops as if closed, its last state saved."""
    configure_kivy(fullscreen, size, position)
    from display.voice import ClipSet, Voice, build_clips, default_clip_dir, espeak_available, hall_clip_dir
    from hall.link import DeviceLink

    data_dir = Path(data_dir)
    pl = load_playlist(playlist)
    link = DeviceLink(hall, device, data_dir, host=host, port=port, password=password)
    speaker = None
    if voice:
        clips = ClipSet(hall_clip_dir(hall), default_clip_dir(data_dir))
        speaker = Voice(clips, work_dir=data_dir / "devices" / device / "voice").start()
        if speaker.audible and not clips.complete() and espeak_available():
            # until they are made, calls are read whole by espeak-ng
            log.info("making the call clips in %s (hall voice build)", default_clip_dir(data_dir))
            threading.Thread(target=build_clips, args=(default_clip_dir(data_dir),), name="voice-build",
                             daemon=True).start()
    app = BoardApp(hall, playlist=pl, link=link, voice=speaker,
                   cache=data_dir / "devices" / device / "board.json")
    stop_on_sigterm(app)
    _report_health(app, link, speaker)
    _log_window()
    link.start()
    try:
        app.run()
    finally:
        link.stop()
        if speaker is not None:
            speaker.stop(timeout=15)
    return 0


def stop_on_sigterm(app) -> None:
    """SIGTERM stops the app as closing its window would. Python's handler only sets a flag; the app is stopped
    on Kivy's own thread at the next turn of its loop (a clock event woken at once)."""
    from kivy.clock import Clock

    def stop(_signum, _frame):
        log.info("SIGTERM: stopping")
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    signal.signal(signal.SIGTERM, stop)


def _log_window() -> None:
    from kivy.clock import Clock

    def say(_dt):
        from kivy.core.window import Window

        log.info("board window %d×%d at %s, %s", *Window.size, Window.left if hasattr(Window, "left") else "?",
                 "full screen" if Window.borderless else "windowed")

    Clock.schedule_once(say, 1)


def _report_health(app, link, speaker, every: float = HEALTH_EVERY) -> None:
    """A health event soon after start and then every `every` seconds: what the hall's dashboard shows."""
    from kivy.clock import Clock
    from kivy.core.window import Window

    def report(_dt):
        board = getattr(app, "board", None)
        link.send("health", {
            "screen": list(Window.size), "fps": round(Clock.get_fps(), 1),
            "voice": speaker.player.name if speaker is not None else "off",
            **({"voice_short": speaker.queue.shortened, "voice_skipped": speaker.queue.skipped}
               if speaker is not None else {}),
            "band": board.ids.band.text[:40] if board is not None else "",
        })

    Clock.schedule_once(report, 10)
    Clock.schedule_interval(report, every)
