"""The calling board (综合屏): Kivy view and controller over `display.model.BoardModel`.

Layout lives in `board.kv`; this file only moves the model's state into widgets. Messages from the hub arrive
on the network thread and are handed to Kivy's thread with `Clock.schedule_once`; nothing here polls. The band
scrolls by moving one Translate instruction in front of pre-rendered text textures (one Animation per item),
so the text is rendered once per item, not once per frame.

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

from display.model import BoardModel, call_sentence
from display.playlist import Band as BandPlaylist
from display.playlist import Playlist, load_playlist
from hall.fonts import cjk_font

log = logging.getLogger("display.board")

KV = Path(__file__).with_name("board.kv")
FONT_NAME = "BoardSans"
MAX_FPS = 30                 # the band moves 4 px a frame at 120 px/s: smooth to the eye, half the redraws
FLASH_PERIOD = 0.5           # a flashing tile turns bright and back every half second
HEALTH_EVERY = 600.0         # seconds between health events
SAVE_AFTER = 2.0             # seconds of quiet before the last state is written to the cache
TEXTURE_LIMIT = 1800         # px: a band item is cut into textures no wider (a Pi's GPU allows 2048)
WEEKDAYS = "一二三四五六日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Kivy's own Micro Hei-first order: Kivy opens face 0 of a .ttc, which for Noto Sans CJK is the Japanese
# face (号 到 窗 get Japanese glyph forms). WenQuanYi Micro Hei's face 0 is Chinese.
KIVY_FONTS = ["/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"]

SERVING_BG = (0.078, 0.325, 0.176, 1)
IDLE_BG = (0.118, 0.227, 0.373, 1)
PAUSED_BG = (0.486, 0.176, 0.071, 1)
CLOSED_BG = (0.165, 0.184, 0.212, 1)
LIT_BG = (0.706, 0.325, 0.035, 1)
FLASH_BG = (0.863, 0.149, 0.149, 1)
GOLD = (1, 0.847, 0.302, 1)
WHITE = (1, 1, 1, 1)
SOFT = (0.78, 0.84, 0.92, 1)
DIM = (0.55, 0.58, 0.62, 1)
PANEL = (0.071, 0.149, 0.275, 1)
NAVY = (0.043, 0.098, 0.188, 1)


def board_font() -> str:
    override = os.environ.get("HALL_CJK_FONT")
    if override and Path(override).exists():
        return override
    for path in KIVY_FONTS:
        if Path(path).exists():
            return path
    return cjk_font()


def chunks(text: str, font_px: float, limit: int = TEXTURE_LIMIT) -> list[str]:
    """Cut a band item into pieces whose texture stays under `limit` px (no glyph is wider than 1 em)."""
    n = max(4, int(limit // max(font_px, 1)))
    return [text[i:i + n] for i in range(0, len(text), n)] or [""]


# ---------------------------------------------------------------- Kivy (imported when the board is built)

def _load_kv():
    from kivy.core.text import LabelBase
    from kivy.lang import Builder

    LabelBase.register(FONT_NAME, board_font())
    if str(KV) not in Builder.files:
        Builder.load_file(str(KV))


def _widgets():
    """The widget classes, defined on first use so importing this module does not start Kivy."""
    global WindowTile, QueueRow, NowCalling, Band, StaticLayer, BoardScreen
    if "BoardScreen" in globals():
        return
    from kivy.animation import Animation
    from kivy.clock import Clock
    from kivy.core.text import Label as CoreLabel
    from kivy.graphics import (
        Canvas,
        ClearBuffers,
        ClearColor,
        Color,
        Fbo,
        InstructionGroup,
        PopMatrix,
        PushMatrix,
        Rectangle,
        Translate,
    )
    from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.widget import Widget

    class WindowTile(BoxLayout):
        u = NumericProperty(1)
        window = StringProperty("")
        name = StringProperty("")
        name_en = StringProperty("")
        department = StringProperty("")
        ticket = StringProperty("", allownone=True)
        status = StringProperty("closed")
        status_zh = StringProperty("")
        status_en = StringProperty("")
        lit = BooleanProperty(False)
        flash_on = BooleanProperty(False)
        bg = ListProperty(CLOSED_BG)
        edge = ListProperty((0, 0, 0, 0))
        fg = ListProperty(WHITE)
        fg_soft = ListProperty(SOFT)
        fg_ticket = ListProperty(GOLD)

        def show(self, tile, lit: bool, flash_on: bool):
            self.window, self.name, self.name_en, self.department = (tile.window, tile.name, tile.name_en,
                                                                     tile.department)
            self.status = tile.status
            self.ticket = tile.ticket or ""
            self.status_zh, self.status_en = tile.status_text
            self.lit, self.flash_on = lit, flash_on
            # a flash changes colours of the background only: text textures are not rendered again
            self.fg, self.fg_soft = (DIM, DIM) if tile.status == "closed" and not lit else (WHITE, SOFT)
            self.fg_ticket = GOLD if tile.status == "serving" or lit else self.fg
            if lit:
                self.bg, self.edge = (FLASH_BG if flash_on else LIT_BG), GOLD
            else:
                self.bg = {"serving": SERVING_BG, "idle": IDLE_BG, "paused": PAUSED_BG}.get(tile.status, CLOSED_BG)
                self.edge = (0, 0, 0, 0)

    class QueueRow(BoxLayout):
        u = NumericProperty(1)
        queue = StringProperty("")
        prefix = StringProperty("")
        name = StringProperty("")
        name_en = StringProperty("")
        waiting = NumericProperty(0)
        wait = StringProperty("")

        def show(self, line):
            self.queue, self.prefix, self.name, self.name_en = line.queue, line.prefix, line.name, line.name_en
            self.waiting = line.waiting
            minutes = line.est_wait_min
            self.wait = f"约 {minutes} 分钟" if line.waiting and minutes else ""

    class NowCalling(BoxLayout):
        u = NumericProperty(1)
        ticket = StringProperty("")
        window = StringProperty("")
        sentence = StringProperty("")
        sentence_en = StringProperty("")
        recent = StringProperty("")
        recall = BooleanProperty(False)
        flash_on = BooleanProperty(False)
        bg = ListProperty(PANEL)
        fg = ListProperty(WHITE)
        fg_soft = ListProperty(SOFT)
        fg_ticket = ListProperty(GOLD)

        def show(self, highlight, recent, flash_on: bool):
            if highlight is None:
                self.ticket, self.window, self.recall = "", "", False
                self.sentence, self.sentence_en = "等候叫号", "Waiting for the next call"
            else:
                self.ticket, self.window = highlight.ticket, highlight.window
                self.recall = highlight.call.recall > 0
                self.sentence, self.sentence_en = call_sentence(highlight.ticket, highlight.window)
            others = [c for c in recent if highlight is None or c.key != highlight.call.key][:5]
            self.recent = "\n".join(f"{c.ticket}  →  {c.window} 号窗口  Window {c.window}" for c in others)
            self.flash_on = flash_on
            self.bg = FLASH_BG if flash_on else PANEL

    class Band(Widget):
        """Scrolls one item at a time right to left; the text becomes textures once per item."""

        u = NumericProperty(1)
        offset = NumericProperty(0)
        text = StringProperty("")
        font_px = 34

        def __init__(self, **kw):
            super().__init__(**kw)
            self._translate = Translate(0, 0)
            self._strip = InstructionGroup()
            self.attach(self.canvas)
            self._textures: list = []
            self._anim = None
            self._next_ev = None
            self.playlist: BandPlaylist | None = None
            self.speed = 120.0
            self.gap = 1.0
            self.bind(pos=self._place, size=self._place)

        def attach(self, canvas):
            """Draw the moving text in this canvas (the board's top layer; by default the band's own)."""
            group = getattr(self, "_group", None)
            if group is not None:
                group.remove(self._text_layer)
            self._text_layer = InstructionGroup()
            for instruction in (PushMatrix(), self._translate, self._strip, PopMatrix()):
                self._text_layer.add(instruction)
            canvas.add(self._text_layer)
            self._group = canvas

        def start(self, playlist: BandPlaylist, speed: float, gap: float):
            self.playlist, self.speed, self.gap = playlist, speed, gap
            self._next()

        def stop(self):
            if self._anim is not None:
                self._anim.cancel(self)
                self._anim = None
            if self._next_ev is not None:
                self._next_ev.cancel()
                self._next_ev = None

        def _next(self, *_):
            self._next_ev = None
            if self.playlist is None or not self.playlist.items:
                return
            self._show(self.playlist.next().text)

        def _show(self, text: str):
            self.text = text
            self._render()
            width = sum(t.width for t in self._textures)
            self.offset = 0
            self._place()
            distance = self.width + width
            self._anim = Animation(offset=-distance, duration=distance / max(1.0, self.speed * self.u),
                                   t="linear")
            self._anim.bind(on_complete=self._done)
            self._anim.start(self)

        def _done(self, *_):
            self._anim = None
            self._next_ev = Clock.schedule_once(self._next, self.gap)

        def _render(self):
            px = int(self.font_px * self.u)  # whole sizes: Kivy keeps 64 opened fonts, no more
            self._textures = []
            for piece in chunks(self.text, px):
                label = CoreLabel(text=piece, font_size=px, font_name=FONT_NAME, color=GOLD)
                label.refresh()
                self._textures.append(label.texture)

        def _place(self, *_):
            # textures side by side from x = 0; the Translate puts x = 0 at the band's right edge + offset
            self._strip.clear()
            self._strip.add(Color(1, 1, 1, 1))
            x = 0
            for tex in self._textures:
                self._strip.add(Rectangle(texture=tex, pos=(x, int(self.center_y - tex.height / 2)),
                                          size=tex.size))
                x += tex.width
            self._move()

        def _move(self, *_):
            self._translate.x = round(self.right + self.offset)

        def on_u(self, *_):
            if self._anim is not None:  # the screen changed size: start this item again at the new scale
                self._anim.cancel(self)
                self._anim = None
                self._show(self.text)

        def on_offset(self, *_):
            self._move()

    class StaticLayer(FloatLayout):
        """Draws its children into an off-screen buffer, redrawn only when one of them changes.

        Each frame of the scrolling band then costs one full-screen texture plus the band's text, instead of
        every tile, label and panel of the board again.
        """

        def __init__(self, **kw):
            self.canvas = Canvas()
            with self.canvas:
                self.fbo = Fbo(size=(max(1, self.width), max(1, self.height)))
                Color(1, 1, 1, 1)
                self.fbo_rect = Rectangle(texture=self.fbo.texture)
            with self.fbo:
                ClearColor(*NAVY)
                ClearBuffers()
            super().__init__(**kw)

        def add_widget(self, widget, *args, **kw):
            canvas, self.canvas = self.canvas, self.fbo
            try:
                return super().add_widget(widget, *args, **kw)
            finally:
                self.canvas = canvas

        def remove_widget(self, widget, *args, **kw):
            canvas, self.canvas = self.canvas, self.fbo
            try:
                return super().remove_widget(widget, *args, **kw)
            finally:
                self.canvas = canvas

        def on_size(self, _, size):
            self.fbo.size = (max(1, int(size[0])), max(1, int(size[1])))
            self.fbo_rect.texture = self.fbo.texture
            self.fbo_rect.size = size

        def on_pos(self, _, pos):
            self.fbo_rect.pos = pos

    class BoardScreen(FloatLayout):
        u = NumericProperty(1)
        tile_cols = NumericProperty(7)
        hall_name = StringProperty("")
        hall_name_en = StringProperty("")
        clock_text = StringProperty("")
        date_text = StringProperty("")
        link_text = StringProperty("")
        model = ObjectProperty(None, allownone=True)

        def __init__(self, **kw):
            super().__init__(**kw)
            self.tiles: dict[str, WindowTile] = {}
            self.queue_rows: dict[str, QueueRow] = {}
            self.bind(size=self._scale)
            self._scale()
            self.ids.band.attach(self.canvas.after)  # the moving text is drawn over the static layer

        def _scale(self, *_):
            self.u = max(0.3, min(self.width / 1920.0, self.height / 1080.0))

        def rebuild(self, model: BoardModel):
            grid, qgrid = self.ids.tiles, self.ids.queues
            grid.clear_widgets()
            qgrid.clear_widgets()
            self.tiles, self.queue_rows = {}, {}
            n = len(model.tiles)
            self.tile_cols = 7 if n > 28 else max(1, min(7, n))
            for tile in model.ordered_tiles():
                w = WindowTile(u=self.u)
                self.bind(u=w.setter("u"))
                self.tiles[tile.window] = w
                grid.add_widget(w)
            for line in model.ordered_queues():
                row = QueueRow(u=self.u)
                self.bind(u=row.setter("u"))
                self.queue_rows[line.queue] = row
                qgrid.add_widget(row)
            qgrid.rows = max(1, -(-len(model.queues) // qgrid.cols))

    from kivy.factory import Factory

    for cls in (WindowTile, QueueRow, NowCalling, Band, StaticLayer, BoardScreen):
        Factory.register(cls.__name__, cls=cls)


# ---------------------------------------------------------------- controller

class BoardController:
    """Feeds hub messages to the model on Kivy's thread and shows the result; announces calls."""

    TOPICS = ("hub/catalogue", "hub/state/window/+", "hub/state/queue/+", "hub/calls", "hub/call")

    def __init__(self, model: BoardModel, view, playlist: Playlist, *, hall_name: str = "", voice=None,
                 link=None, cache: Path | None = None, clock=time.monotonic, tz=None):
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
        self.applied = 0                 # messages applied (the benchmark and tests wait on this)
        self.listeners: list = []        # callables(changes) after each applied message
        self._flash_ev = None
        self._tick_ev = None
        self._save_ev = None
        self._clock_ev = None
        self.band = BandPlaylist(playlist.items(model.catalogue, hall_name))

    # ------------------------------------------------------------ life

    def start(self):
        view = self.view
        view.model = self.model
        self._restore()
        self.refresh({"layout", "hub", "highlight", "calls"})
        self._tick_clock()
        view.ids.band.start(self.band, self.playlist.speed, self.playlist.gap)
        if self.link is not None:
            for suffix in self.TOPICS:
                self.link.subscribe(suffix, self._from_network)
            self.link.subscribe("hub/status", self._from_network)
            _watch_connection(self.link, self._connection)
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
        """Network thread: hand the message to Kivy's thread."""
        suffix = topic.split("/", 3)[3] if topic.count("/") >= 3 else topic
        self.Clock.schedule_once(lambda _dt: self.apply(suffix, payload), -1)

    def _connection(self, connected: bool):
        self.Clock.schedule_once(lambda _dt: self.refresh(self.model.set_connected(connected)), -1)

    def feed(self, suffix: str, payload: dict):
        """Any thread: a message as if it came from the hub (tests, tools)."""
        self._from_network(f"hall/v1/x/{suffix}", payload)

    def apply(self, suffix: str, payload: dict) -> set[str]:
        now = self.clock()
        changes = self.model.apply(suffix, payload, now)
        if suffix == "hub/call" and changes and self.voice is not None:
            call = payload
            self.voice.announce_call(call["ticket"], call["window"], int(call.get("recall") or 0))
        self.applied += 1
        if changes:
            self.refresh(changes)
            if changes - {"hub"}:
                self._save_soon()
        for cb in self.listeners:
            cb(changes)
        return changes

    # ------------------------------------------------------------ output

    def refresh(self, changes: set[str]):
        model, view = self.model, self.view
        if "layout" in changes:
            view.rebuild(model)
            changes = changes | {f"tile:{w}" for w in model.tiles} | {f"queue:{q}" for q in model.queues}
        if "band" in changes:
            self.band.replace(self.playlist.items(model.catalogue, self.hall_name))
        if "highlight" in changes:
            self._schedule_flash()
            changes = changes | {f"tile:{w}" for w in view.tiles}  # the old lit tile goes back to normal
        now = self.clock()
        for key in changes:
            kind, _, ident = key.partition(":")
            if kind == "tile" and ident in view.tiles and ident in model.tiles:
                self._show_tile(ident, now)
            elif kind == "queue" and ident in view.queue_rows and ident in model.queues:
                view.queue_rows[ident].show(model.queues[ident])
        if changes & {"highlight", "calls"}:
            view.ids.now.show(model.highlight, model.recent, self.flash_on(now))
        if "hub" in changes:
            view.link_text = _link_text(model)
        self._schedule_tick(now)

    def flash_on(self, now: float) -> bool:
        """Bright or normal: the flash's phase follows the time since the call was lit."""
        hl = self.model.highlight
        return self.model.flashing(now) and int((now - hl.since) / FLASH_PERIOD) % 2 == 0

    def _show_tile(self, window: str, now: float):
        lit = self.model.tile_lit(window)
        self.view.tiles[window].show(self.model.tiles[window], lit, lit and self.flash_on(now))

    # ------------------------------------------------------------ timers (each armed only when needed)

    def _schedule_tick(self, now: float):
        deadline = self.model.next_deadline(now)
        if self._tick_ev is not None:
            self._tick_ev.cancel()
            self._tick_ev = None
        if deadline is not None:
            self._tick_ev = self.Clock.schedule_once(self.tick, max(0.0, deadline - now))

    def tick(self, _dt=None):
        """The current flash is over: light the next queued call, or leave this one lit, steady."""
        self._tick_ev = None
        now = self.clock()
        changes = self.model.tick(now)
        if self.model.highlight is not None and not self.model.flashing(now):
            changes.add("highlight")  # the flash is over: lit, steady
        self.refresh(changes)

    def _schedule_flash(self):
        if self._flash_ev is not None:
            self._flash_ev.cancel()
            self._flash_ev = None
        if self.model.flashing(self.clock()):
            self._flash_ev = self.Clock.schedule_interval(self._on_flash, FLASH_PERIOD)

    def _on_flash(self, _dt):
        now = self.clock()
        if not self.model.flashing(now):
            self._flash_ev = None
            self.refresh({"highlight"})
            return False
        hl = self.model.highlight
        if hl.window in self.view.tiles:
            self._show_tile(hl.window, now)
        self.view.ids.now.show(hl, self.model.recent, self.flash_on(now))
        return True

    def _tick_clock(self, *_):
        moment = datetime.now(self.tz)
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


def _watch_connection(link, callback):
    """Tell the board when the broker connection comes and goes (the hub's status alone cannot say so)."""
    if hasattr(link, "on_connection"):
        link.on_connection(callback)
        callback(bool(link.connected))
        return
    client = link.client
    on_connect, on_disconnect = client.on_connect, client.on_disconnect

    def connected(*a, **kw):
        on_connect(*a, **kw)
        callback(bool(link.connected))

    def disconnected(*a, **kw):
        on_disconnect(*a, **kw)
        callback(False)

    client.on_connect, client.on_disconnect = connected, disconnected
    callback(bool(link.connected))


# ---------------------------------------------------------------- app

def BoardApp(hall, *, playlist: Playlist | None = None, link=None, voice=None, cache: Path | None = None,
             flash_s: float | None = None, clock=time.monotonic):
    """The board as a Kivy App. `BoardApp(...).build()` returns the root widget without running the app."""
    from kivy.app import App

    class _BoardApp(App):
        title = f"{hall.info.name} 叫号屏"

        def build(self):
            _widgets()
            _load_kv()
            kw = {} if flash_s is None else {"flash_s": flash_s}
            self.model = BoardModel(hall.catalogue, **kw)
            root = BoardScreen(hall_name=hall.info.name, hall_name_en=hall.info.name_en)
            self.controller = BoardController(self.model, root, playlist or load_playlist(), hall_name=hall.info.name,
                                              voice=voice, link=link, cache=cache, tz=hall.tz, clock=clock)
            self.controller.start()
            self.board = root
            return root

        def on_stop(self):
            if getattr(self, "controller", None):
                self.controller.stop()

    return _BoardApp()


def configure_kivy(fullscreen: bool = False, size: tuple[int, int] = (1280, 720)) -> None:
    """Kivy settings of a board; before the window opens. Full screen is the hall's: no cursor, no way out."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "maxfps", str(MAX_FPS))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "show_cursor", "0" if fullscreen else "1")
    Config.set("kivy", "exit_on_escape", "0" if fullscreen else "1")
    Config.set("graphics", "allow_screensaver", "0")
    if not fullscreen:
        Config.set("graphics", "width", str(size[0]))
        Config.set("graphics", "height", str(size[1]))


def run_board(hall, device: str, data_dir: Path | str, port: int | None = None, fullscreen: bool = False, *,
              host: str | None = None, password: str | None = None, playlist: Path | str | None = None,
              voice: bool = True) -> int:
    """Open the calling board of `device` and follow the hub until the window is closed (or SIGTERM)."""
    configure_kivy(fullscreen)
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
    signal.signal(signal.SIGTERM, lambda *_: app.stop())
    _report_health(app, link, speaker)
    link.start()
    try:
        app.run()
    finally:
        link.stop()
        if speaker is not None:
            speaker.stop(timeout=15)
    return 0


def _report_health(app, link, speaker, every: float = HEALTH_EVERY) -> None:
    """A health event soon after start and then every `every` seconds: what the hall's dashboard shows."""
    from kivy.clock import Clock
    from kivy.core.window import Window

    def report(_dt):
        board = getattr(app, "board", None)
        link.send("health", {
            "screen": list(Window.size), "fps": round(Clock.get_fps(), 1),
            "voice": speaker.player.name if speaker is not None else "off",
            "band": board.ids.band.text[:40] if board is not None else "",
        })

    Clock.schedule_once(report, 10)
    Clock.schedule_interval(report, every)
