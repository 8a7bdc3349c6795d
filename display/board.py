"""The calling board (综合屏): Kivy view and controller over `display.model.BoardModel`.

Layout lives in `board.kv`; this file only moves the model's state into widgets. Messages from the hub arrive
on the network thread and are handed to Kivy's thread with `Clock.schedule_once`; nothing here polls.

A frame is drawn only when something on the screen changes: a call, a state topic, a flash, the minute, the band
turning a page. Nothing moves in between, so the board sits idle almost all the time (Kivy draws a frame only when
a canvas changed). Each tile, queue line, the header and the now-calling panel draw into their own off-screen
buffer (`Cached`), so a frame redraws what changed and copies the rest as one texture each.

Entry point for `hall display` and `hall up`: `run_board(hall, device, data_dir, port, fullscreen=False)`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path

from display.model import BoardModel, call_sentence
from display.playlist import Band as BandPlaylist
from display.playlist import BandItem, Playlist, hold_for, load_playlist, paginate
from hall.fonts import cjk_font_pair

log = logging.getLogger("display.board")

KV = Path(__file__).with_name("board.kv")
FONT_NAME = "BoardSans"
MAX_FPS = 30                 # frames a second at most: flashes and slides; idle, the board draws none
FLASH_PERIOD = 0.5           # a flashing tile turns bright and back every half second
HEALTH_EVERY = 600.0         # seconds between health events
SAVE_AFTER = 2.0             # seconds of quiet before the last state is written to the cache
TEXTURE_LIMIT = 2048         # px: no band page is wider (a Pi 3's GPU allows 2048)
WEEKDAYS = "一二三四五六日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

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
HEADER = (0.067, 0.176, 0.337, 1)


# ---------------------------------------------------------------- Kivy (imported when the board is built)

def _load_kv():
    from kivy.core.text import LabelBase
    from kivy.lang import Builder

    regular, bold = cjk_font_pair()
    LabelBase.register(FONT_NAME, regular, fn_bold=bold)
    if str(KV) not in Builder.files:
        Builder.load_file(str(KV))


def _widgets():
    """The widget classes, defined on first use so importing this module does not start Kivy."""
    global WindowTile, QueueRow, NowCalling, Band, Cached, BoardScreen
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
        PopMatrix,
        PushMatrix,
        Rectangle,
        ScissorPop,
        ScissorPush,
        Translate,
    )
    from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.widget import Widget

    class Cached(Widget):
        """Draws its child into an off-screen buffer (a Kivy `Fbo`) of its own, drawn again only when something
        in it changes; every other frame copies it to the screen as one texture.

        The child fills the box. The buffer is whole pixels at whole-pixel coordinates, so text stays sharp;
        `clear_color` is what lies under the box (the corners of rounded panels show it).
        """

        clear_color = ListProperty(NAVY)

        def __init__(self, **kw):
            self.canvas = Canvas()
            with self.canvas:
                self.fbo = Fbo(size=(1, 1))
                Color(1, 1, 1, 1)
                self.fbo_rect = Rectangle(texture=self.fbo.texture, size=(1, 1))
            with self.fbo.before:
                self._clear = ClearColor(*NAVY)
                ClearBuffers()
                PushMatrix()
                self._shift = Translate(0, 0)  # children keep window coordinates; the buffer starts at 0, 0
            with self.fbo.after:
                PopMatrix()
            super().__init__(**kw)
            self.bind(pos=self._place, size=self._place)
            self._place()

        def add_widget(self, widget, *args, **kw):
            canvas, self.canvas = self.canvas, self.fbo
            try:
                super().add_widget(widget, *args, **kw)
            finally:
                self.canvas = canvas
            self._place()

        def remove_widget(self, widget, *args, **kw):
            canvas, self.canvas = self.canvas, self.fbo
            try:
                return super().remove_widget(widget, *args, **kw)
            finally:
                self.canvas = canvas

        def on_clear_color(self, _, color):
            self._clear.rgba = color

        def _place(self, *_):
            x, y, width, height = self.x, self.y, self.width, self.height  # not right/top: updated after size
            x0, y0 = math.floor(x), math.floor(y)
            w, h = max(1, math.ceil(x + width) - x0), max(1, math.ceil(y + height) - y0)
            if tuple(self.fbo.size) != (w, h):
                self.fbo.size = (w, h)
                # copied pixel for pixel: no filtering needed (and none is cheaper where the CPU draws)
                self.fbo.texture.mag_filter = self.fbo.texture.min_filter = "nearest"
                self.fbo_rect.texture = self.fbo.texture
            self.fbo_rect.pos, self.fbo_rect.size = (x0, y0), (w, h)
            self._shift.xy = (-x0, -y0)
            for child in self.children:
                child.pos, child.size = self.pos, self.size

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
        """The playlist a page at a time: each item laid out to the band's width (its Chinese pages, then its
        English ones), a page held still for seconds, then a cut, or a short slide, to the next page.

        While a page is held nothing here changes, so no frame is drawn; turning a page costs one frame (a cut)
        or `transition` seconds of frames (a slide). A page is one texture, rendered when it is shown.
        """

        u = NumericProperty(1)
        text = StringProperty("")          # the item showing, whole (Chinese, then English)
        page_text = StringProperty("")     # the page showing
        page_no = NumericProperty(0)       # 1, 2, … of page_count
        page_count = NumericProperty(0)
        shift = NumericProperty(0)         # 0 → 1 while the next page slides in
        font_px = 34
        count_px = 18
        pad = 24

        def __init__(self, **kw):
            super().__init__(**kw)
            self.playlist: BandPlaylist | None = None
            self.page_s, self.transition = 10.0, 0.0
            self.item: BandItem | None = None
            self.pages: list[str] = []
            self.turns = 0                 # pages shown so far (tests, health)
            self._hold_ev = None
            self._anim = None
            self._shown = self._incoming = None   # the textures of the page showing, and of one sliding in
            self._widths: dict[int, dict[str, float]] = {}
            with self.canvas:
                self._scissor = ScissorPush(x=0, y=0, width=1, height=1)
                Color(1, 1, 1, 1)
                self._page = Rectangle(size=(0, 0))
                self._next = Rectangle(size=(0, 0))
                ScissorPop()
                self._count = Rectangle(size=(0, 0))
            self._relayout = Clock.create_trigger(self._again, -1)
            self.bind(pos=self._place, size=self._relayout, u=self._relayout)

        # -------------------------------------------------------- playing

        def start(self, playlist: BandPlaylist, page_s: float = 10.0, transition: float = 0.0):
            self.playlist, self.page_s, self.transition = playlist, page_s, transition
            self._next_item()

        def stop(self):
            if self._hold_ev is not None:
                self._hold_ev.cancel()
                self._hold_ev = None
            if self._anim is not None:
                self._anim.cancel(self)
            self._finish_slide()

        def show(self, item: BandItem, page: int = 0, slide: bool = False):
            """Show this item from this page on (and carry on round the playlist after it)."""
            self.item, self.text = item, item.text
            self.pages = self._layout(item)
            self._show_page(min(page, len(self.pages) - 1), slide)

        def _next_item(self, slide: bool = False):
            if self.playlist is None or not self.playlist.items:
                return
            self.show(self.playlist.next(), 0, slide)

        def turn(self, _dt=None):
            """The next page now: of this item, else the first of the next item."""
            self._hold_ev = None
            if self.page_no < len(self.pages):
                self._show_page(self.page_no, self.transition > 0)
            else:
                self._next_item(self.transition > 0)

        def _again(self, *_):
            """The band changed size: lay the item out again, from the page showing."""
            if self.item is not None:
                self.stop()
                self.show(self.item, max(0, self.page_no - 1))

        # -------------------------------------------------------- one page

        def _show_page(self, n: int, slide: bool):
            text, pages = self.pages[n], len(self.pages)
            texture = self._texture(text, self._font_px(), GOLD)
            count = self._texture(f"{n + 1}/{pages}", self._count_px(), SOFT) if pages > 1 else None
            self.page_no, self.page_count, self.page_text = n + 1, pages, text
            self.turns += 1
            if self._anim is not None:
                self._anim.cancel(self)
            self._finish_slide()
            slide = slide and self.transition > 0 and self._shown is not None and texture is not None
            if slide:
                self._incoming = texture
                self._set(self._next, texture)
                self._anim = Animation(shift=1, duration=self.transition, t="out_cubic")
                self._anim.bind(on_complete=lambda *_: self._finish_slide())
                self._anim.start(self)
            else:
                self._shown = texture
                self._set(self._page, texture)
            self._set(self._count, count)
            self._place()
            if self._hold_ev is not None:
                self._hold_ev.cancel()
                self._hold_ev = None
            if self.playlist is not None:
                fill = texture.width / max(1, self._room()) if texture is not None else 0
                hold = hold_for(fill, self.page_s) + (self.transition if slide else 0)
                self._hold_ev = Clock.schedule_once(self.turn, hold)

        @staticmethod
        def _set(rect, texture):
            """Show `texture` in `rect`; None hides it (Kivy would draw its blank texture: the size hides it)."""
            rect.texture, rect.size = texture, (texture.size if texture is not None else (0, 0))

        def _finish_slide(self):
            self._anim = None
            if self._incoming is not None:
                self._shown, self._incoming = self._incoming, None
                self._set(self._page, self._shown)
                self._set(self._next, None)
            if self.shift:
                self.shift = 0
            self._place()

        def on_shift(self, *_):
            self._place()

        def _place(self, *_):
            line = max(1, 3 * self.u)  # the gold line along the top
            x, y, h = round(self.x), round(self.y), self.height - line
            self._scissor.pos, self._scissor.size = (x, y), (max(1, round(self.width)), max(1, round(h)))
            left = x + round(self.pad * self.u)

            def middle(rect):
                return round(y + (h - rect.size[1]) / 2)

            self._page.pos = (left, middle(self._page) + round(self.shift * h))
            self._next.pos = (left, middle(self._next) - round((1 - self.shift) * h))
            right = round(self.x + self.width - self.pad * self.u)
            self._count.pos = (right - self._count.size[0], middle(self._count))

        # -------------------------------------------------------- text

        def _font_px(self) -> int:
            return int(self.font_px * self.u)  # whole sizes: Kivy keeps 64 opened fonts, no more

        def _count_px(self) -> int:
            return int(self.count_px * self.u)

        def _room(self) -> int:
            """Width a page may take: the band less its margins and the page count."""
            counter = CoreLabel(font_size=self._count_px(), font_name=FONT_NAME).get_extents("99/99")[0]
            room = self.width - 2 * self.pad * self.u - counter - self.pad * self.u
            return int(max(self._font_px() * 4, min(room, TEXTURE_LIMIT)))

        def _layout(self, item: BandItem) -> list[str]:
            px, room = self._font_px(), self._room()
            label = CoreLabel(font_size=px, font_name=FONT_NAME)
            widths = self._widths.setdefault(px, {})

            def measure(text: str) -> float:  # glyph by glyph, each measured once per size
                total = 0.0
                for ch in text:
                    w = widths.get(ch)
                    if w is None:
                        w = widths[ch] = label.get_extents(ch)[0]
                    total += w
                return total

            width = room
            for _ in range(4):  # kerning may make a page a little wider than its glyphs: then narrower pages
                pages = [p for part in (item.zh, item.en) if part for p in paginate(part, width, measure)]
                if all(label.get_extents(p)[0] <= room for p in pages):
                    break
                width *= 0.97
            return pages or [""]

        def _texture(self, text: str, px: int, color):
            if not text:
                return None
            label = CoreLabel(text=text, font_size=px, font_name=FONT_NAME, color=color)
            label.refresh()
            return label.texture

    class BoardScreen(FloatLayout):
        u = NumericProperty(1)
        tile_cols = NumericProperty(7)
        queue_cols = NumericProperty(6)
        queue_lines = NumericProperty(3)   # rows of queue lines: as many columns as it takes to keep to 3
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

        def _scale(self, *_):
            self.u = max(0.3, min(self.width / 1920.0, self.height / 1080.0))

        def rebuild(self, model: BoardModel):
            grid, qgrid = self.ids.tiles, self.ids.queues
            grid.clear_widgets()
            qgrid.clear_widgets()
            self.tiles, self.queue_rows = {}, {}
            n = len(model.tiles)
            self.tile_cols = 7 if n > 28 else max(1, min(7, n))
            q = max(1, len(model.queues))
            self.queue_cols = max(6, min(8, -(-q // 3)))
            self.queue_lines = -(-q // self.queue_cols)
            for tile in model.ordered_tiles():
                w = WindowTile(u=self.u)
                self.bind(u=w.setter("u"))
                self.tiles[tile.window] = w
                grid.add_widget(_cached(w, NAVY))
            for line in model.ordered_queues():
                row = QueueRow(u=self.u)
                self.bind(u=row.setter("u"))
                self.queue_rows[line.queue] = row
                qgrid.add_widget(_cached(row, PANEL))

    def _cached(widget, under):
        box = Cached(clear_color=under)
        box.add_widget(widget)
        return box

    from kivy.factory import Factory

    for cls in (WindowTile, QueueRow, NowCalling, Band, Cached, BoardScreen):
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
        self._lit: str | None = None     # the window whose tile is lit now
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
            lit = model.highlight.window if model.highlight is not None else None
            changes = changes | {f"tile:{w}" for w in (self._lit, lit) if w is not None}  # the old one goes back
            self._lit = lit
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


# ---------------------------------------------------------------- app

def BoardApp(hall, *, playlist: Playlist | None = None, link=None, voice=None, cache: Path | None = None,
             flash_s: float | None = None, clock=time.monotonic):
    """The board as a Kivy App. `BoardApp(...).build()` returns the root widget without running the app."""
    from kivy.app import App

    class _BoardApp(App):
        title = f"{hall.info.name} 叫号屏"

        def build(self):
            from kivy.core.window import Window

            _widgets()
            _load_kv()
            Window.clearcolor = NAVY  # the board's background: a clear, not one more full-screen rectangle
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
    # no multisampling (Kivy's default is 2): the board is upright rectangles and text, and a multisampled
    # frame costs several times as much to draw and to put on screen (resolving it touches every pixel)
    Config.set("graphics", "multisamples", "0")
    # a message scheduled with a timeout of 0 wakes the loop at once instead of at the next of 30 ticks a
    # second; everything else keeps to the ticks (interupt_next_only, set when the clock exists)
    Config.set("kivy", "kivy_clock", "interrupt")
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "show_cursor", "0" if fullscreen else "1")
    Config.set("kivy", "exit_on_escape", "0" if fullscreen else "1")
    Config.set("graphics", "allow_screensaver", "0")
    if not fullscreen:
        Config.set("graphics", "width", str(size[0]))
        Config.set("graphics", "height", str(size[1]))
    from kivy.clock import Clock

    Clock.interupt_next_only = True


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
