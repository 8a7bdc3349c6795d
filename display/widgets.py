"""The calling board's widgets (综合屏): the window tiles, the queue lines, the call being made, the band of
service guides, the buffers they draw into, and the screen that holds them. Their look is in `board.kv`;
`display.board.BoardController` puts the model's state into them.

Importing this module starts Kivy: `display.board` imports it only when the board is built, after
`configure_kivy` has set the window up.
"""

from __future__ import annotations

import math
from pathlib import Path

from kivy.animation import Animation
from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.core.text import LabelBase
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
from kivy.lang import Builder
from kivy.logger import Logger
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.widget import Widget

from display.model import BoardModel, call_sentence
from display.playlist import Band as BandPlaylist
from display.playlist import BandItem, hold_for, paginate
from hall.fonts import cjk_font_pair

KV = Path(__file__).with_name("board.kv")
FONT_NAME = "BoardSans"
TEXTURE_LIMIT = 2048         # px: no band page is wider (a Pi 3's GPU allows 2048)
RECENT_LINES = 6             # calls listed under the big one on the now-calling panel

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


def load_kv() -> None:
    """The board's font and layout, once per process."""
    regular, bold = cjk_font_pair()
    LabelBase.register(FONT_NAME, regular, fn_bold=bold)
    if str(KV) not in Builder.files:
        Builder.load_file(str(KV))


class Cached(Widget):
    """Draws its child into an off-screen buffer (a Kivy `Fbo`) of its own, drawn again only when something
    in it changes; every other frame copies it to the screen as one texture.

    The child fills the box. The buffer is whole pixels at whole-pixel coordinates, so text stays sharp;
    `clear_color` is what lies under the box (the corners of rounded panels show it).
    """

    clear_color = ListProperty(NAVY)

    def __init__(self, **kw):
        self._unsized = False  # the last resize of the buffer failed: do it again
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
        if tuple(self.fbo.size) != (w, h) or self._unsized:
            try:
                if self._unsized:  # the buffer thinks it has the size already: make it take it again
                    self.fbo.size = (w + 1, h)
                self.fbo.size = (w, h)
            except Exception as err:  # noqa: BLE001 — Kivy raises a bare Exception for this
                # a GL driver may refuse a framebuffer for a moment (seen with Mesa's software renderer while 34
                # tiles are rebuilt at once): the board must not end for it; the box is drawn again shortly
                self._unsized = True
                Logger.warning("board: a tile's buffer of %d×%d was refused (%s); again in 0.1 s", w, h, err)
                Clock.schedule_once(self._place, 0.1)
                return
            self._unsized = False
            # copied pixel for pixel: no filtering needed (and none is cheaper where the CPU draws)
            self.fbo.texture.mag_filter = self.fbo.texture.min_filter = "nearest"
            self.fbo_rect.texture = self.fbo.texture
        self.fbo_rect.pos, self.fbo_rect.size = (x0, y0), (w, h)
        self._shift.xy = (-x0, -y0)
        for child in self.children:
            child.pos, child.size = self.pos, self.size


class WindowTile(BoxLayout):
    """One service window: its name, department, the ticket it serves and its status; lit while called."""

    u = NumericProperty(1)
    window = StringProperty("")
    name = StringProperty("")
    name_en = StringProperty("")
    department = StringProperty("")
    ticket = StringProperty("", allownone=True)
    reason = StringProperty("")          # paused: why, shown where the ticket would be
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
        self.reason = tile.reason_text
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
    """One queue on the waiting panel: prefix, name, people waiting and the estimated wait."""

    u = NumericProperty(1)
    queue = StringProperty("")
    prefix = StringProperty("")
    name = StringProperty("")
    name_en = StringProperty("")
    waiting = NumericProperty(0)
    wait = StringProperty("")
    legend = BooleanProperty(False)    # the panel's first cell: what its numbers are

    def show(self, line):
        self.queue, self.prefix, self.name, self.name_en = line.queue, line.prefix, line.name, line.name_en
        self.waiting = line.waiting
        minutes = line.est_wait_min
        self.wait = f"约 {minutes} 分钟" if line.waiting and minutes else ""


class NowCalling(BoxLayout):
    """The call being made, in large type, with the recent calls below it."""

    u = NumericProperty(1)
    ticket = StringProperty("")
    window = StringProperty("")
    sentence = StringProperty("")
    sentence_en = StringProperty("")
    recent = StringProperty("")
    recall = BooleanProperty(False)
    calling_now = NumericProperty(0)   # other calls flashing with the big one (a burst)
    flash_on = BooleanProperty(False)
    bg = ListProperty(PANEL)
    fg = ListProperty(WHITE)
    fg_soft = ListProperty(SOFT)
    fg_ticket = ListProperty(GOLD)

    def show(self, highlight, recent, flash_on: bool, burst=()):
        """`burst`: the calls flashing now, newest first; they lead the list below the big one, marked ●."""
        if highlight is None:
            self.ticket, self.window, self.recall = "", "", False
            self.sentence, self.sentence_en = "等候叫号", "Waiting for the next call"
        else:
            self.ticket, self.window = highlight.ticket, highlight.window
            self.recall = highlight.call.recall > 0
            self.sentence, self.sentence_en = call_sentence(highlight.ticket, highlight.window)
        flashing = {c.key for c in burst}
        shown = [*burst, *(c for c in recent if c.key not in flashing)]
        others = [c for c in shown if highlight is None or c.key != highlight.call.key][:RECENT_LINES]
        self.recent = "\n".join(f"{'● ' if c.key in flashing else ''}{c.ticket}  →  {c.window} 号窗口  "
                                 f"Window {c.window}" for c in others)
        self.calling_now = max(0, len(flashing) - (1 if highlight is not None else 0))
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
    count_px = 20          # the board's smallest text (MIN in board.kv)
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
    """The whole board: header, window tiles, the call being made, the queues and the band. Every size in
    `board.kv` is multiplied by `u`, the screen over 1920×1080."""

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
        # six columns, wide enough for a queue's name at the board's smallest size; more when there are many
        q = len(model.queues) + 1   # and the legend
        self.queue_cols = max(6, min(8, -(-q // 4)))
        self.queue_lines = -(-q // self.queue_cols)
        for tile in model.ordered_tiles():
            w = WindowTile(u=self.u)
            self.bind(u=w.setter("u"))
            self.tiles[tile.window] = w
            grid.add_widget(_cached(w, NAVY))
        legend = QueueRow(u=self.u, legend=True, name="等候人数 · 预计等候", name_en="Waiting · estimated wait")
        self.bind(u=legend.setter("u"))
        qgrid.add_widget(_cached(legend, PANEL))
        for line in model.ordered_queues():
            row = QueueRow(u=self.u)
            self.bind(u=row.setter("u"))
            self.queue_rows[line.queue] = row
            qgrid.add_widget(_cached(row, PANEL))


def _cached(widget, under):
    """`widget` in a buffer of its own, over the colour `under` it."""
    box = Cached(clear_color=under)
    box.add_widget(widget)
    return box
