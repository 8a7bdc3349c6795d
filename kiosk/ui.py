"""Kivy widgets shared by the kiosk screens (their look is in kv/widgets.kv)."""

from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    DictProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from kiosk.i18n import other, tr

BLUE = (0.09, 0.33, 0.62, 1)
BLUE_DOWN = (0.05, 0.22, 0.45, 1)
GREEN = (0.06, 0.52, 0.27, 1)
GREEN_DOWN = (0.03, 0.38, 0.19, 1)
WHITE = (1, 1, 1, 1)
KEY = (0.88, 0.91, 0.95, 1)
KEY_DOWN = (0.7, 0.77, 0.87, 1)
ORANGE = (0.85, 0.45, 0.05, 1)


MIN_PX = 20     # no text smaller than this, even on a 1024 × 600 screen (older citizens read the kiosk)
LARGE = 1.3     # 大字版: text and touch targets this much larger


class KioskUI(EventDispatcher):
    """What every widget binds to: the language, the size unit, large text, the orientation and the hub's state.

    `base_u` follows the screen; `u` is the unit every size is drawn in (base_u, or LARGE times it in 大字版).
    Text sizes go through `px(scale, u)`, which never returns less than MIN_PX (LARGE × MIN_PX in 大字版);
    kv rules pass `root.ui.u` so they redraw when it changes."""

    lang = StringProperty("zh")
    u = NumericProperty(24)
    base_u = NumericProperty(24)
    large = BooleanProperty(False)
    portrait = BooleanProperty(False)
    hub_online = BooleanProperty(False)

    def __init__(self, toggle=None, toggle_large=None, **kw):
        super().__init__(**kw)
        self._toggle = toggle
        self._toggle_large = toggle_large
        self.bind(base_u=self._rescale, large=self._rescale)

    def _rescale(self, *_) -> None:
        self.u = self.base_u * (LARGE if self.large else 1.0)

    @property
    def floor(self) -> int:
        return round(MIN_PX * (LARGE if self.large else 1.0))

    def px(self, scale: float, u: float | None = None) -> int:
        """A text size: `scale` units, never under the floor."""
        return max(round((u or self.u) * scale), self.floor)

    def t(self, key: str, lang: str | None = None, **kw) -> str:
        """The text in the chosen language."""
        return tr(key, lang or self.lang, **kw)

    def t2(self, key: str, lang: str | None = None, **kw) -> str:
        """The same text in the other language."""
        return tr(key, other(lang or self.lang), **kw)

    def both(self, key: str, lang: str | None = None, u: float | None = None, **kw) -> str:
        """Two lines: the chosen language large, the other smaller (markup)."""
        size = self.px(0.62, u)
        return f"{self.t(key, lang, **kw)}\n[size={size}]{self.t2(key, lang, **kw)}[/size]"

    def pair(self, zh: str, en: str, u: float | None = None, lang: str | None = None) -> str:
        first, second = (en or zh, zh) if (lang or self.lang) == "en" else (zh, en)
        if not second or second == first:
            return _esc(first)
        size = self.px(0.62, u)
        return f"{_esc(first)}\n[size={size}]{_esc(second)}[/size]"

    def toggle_language(self) -> None:
        if self._toggle:
            self._toggle()
        else:
            self.lang = other(self.lang)

    def toggle_large(self) -> None:
        if self._toggle_large:
            self._toggle_large()
        else:
            self.large = not self.large


# Kivy applies a widget's class rule before the parent's rule hands it the real ui, so `ui` starts as this
PLACEHOLDER = KioskUI()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("[", "&bl;").replace("]", "&br;")


class KButton(ButtonBehavior, Label):
    ui = ObjectProperty(PLACEHOLDER, rebind=True)
    scale = NumericProperty(1.0)  # font size in units of ui.u
    bg = ColorProperty(BLUE)
    bg_down = ColorProperty(BLUE_DOWN)
    pad = NumericProperty(8)
    wrap = BooleanProperty(True)  # wrap to the button's width; off: one line, the button sized to it


class KeyButton(KButton):
    """A key of the on-screen keyboard: one short label that never wraps."""


class KLabel(Label):
    ui = ObjectProperty(PLACEHOLDER, rebind=True)
    scale = NumericProperty(1.0)


class HubMark(Label):
    ui = ObjectProperty(PLACEHOLDER, rebind=True)


class HubDot(Label):
    ui = ObjectProperty(PLACEHOLDER, rebind=True)


class OfflineBanner(Label):
    ui = ObjectProperty(PLACEHOLDER, rebind=True)


class ListRow(KButton):
    key = StringProperty("")


class TitleLabel(Label):
    ui = ObjectProperty(PLACEHOLDER, rebind=True)


class TopBar(BoxLayout):
    ui = ObjectProperty(PLACEHOLDER, rebind=True)
    screen = ObjectProperty(None)
    title = StringProperty("")
    show_back = BooleanProperty(True)


class IdlePrompt(FloatLayout):
    """还需要更多时间吗？ Need more time? Over the screen after a while untouched, counting down to home."""

    ui = ObjectProperty(PLACEHOLDER, rebind=True)
    kiosk = ObjectProperty(None)
    seconds = NumericProperty(0)


class KioskScreen(Screen):
    """A screen of the kiosk: `ui` for looks, `kiosk` (the app) for navigation and the flows."""

    ui = ObjectProperty(PLACEHOLDER, rebind=True)
    kiosk = ObjectProperty(None)
    title = StringProperty("")

    def go_back(self) -> None:
        self.kiosk.back()

    def go_home(self) -> None:
        self.kiosk.home()

    def refresh(self) -> None:
        """Redraw from the model (on entering the screen and when the language changes)."""


class Keyboard(GridLayout):
    """The search screen's own keyboard: digits and letters for pinyin, space, backspace and clear.
    `keys` maps each key's value (a letter, a digit, "space", "backspace", "clear") to its button."""

    ui = ObjectProperty(PLACEHOLDER, rebind=True)
    flow = ObjectProperty(None)
    keys = DictProperty({})

    ROWS = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"]

    def __init__(self, **kw):
        super().__init__(**kw)
        self.cols = 1
        self.bind(ui=self._build)
        self.bind(ui=lambda *_: self.ui.bind(u=self._spacing))
        if self.ui is not PLACEHOLDER:
            self._build()

    def _build(self, *_):
        self.clear_widgets()
        self.keys = {}
        ui = self.ui
        self.spacing = ui.u * 0.2
        for row in [*self.ROWS, None]:
            line = BoxLayout(spacing=ui.u * 0.2)
            if row is None:
                for key, weight, colour, down in (("clear", 2, ORANGE, (0.65, 0.33, 0.03, 1)),
                                                  ("space", 5, KEY, KEY_DOWN),
                                                  ("backspace", 3, KEY, KEY_DOWN)):
                    b = KeyButton(ui=ui, bg=colour, bg_down=down, size_hint_x=weight, text=ui.t(key))
                    ui.bind(lang=lambda _ui, lang, b=b, k=key: setattr(b, "text", tr(k, lang)))
                    b.bind(on_release=lambda _b, k=key: self.press(k))
                    self.keys[key] = b
                    line.add_widget(b)
            else:
                indent = {"asdfghjkl": 0.5, "zxcvbnm": 1.5}.get(row, 0)
                if indent:
                    line.add_widget(Label(size_hint_x=indent))
                for ch in row:
                    b = KeyButton(ui=ui, bg=KEY, bg_down=KEY_DOWN, text=ch)  # lower case, as pinyin is typed and shown
                    b.bind(on_release=lambda _b, k=ch: self.press(k))
                    self.keys[ch] = b
                    line.add_widget(b)
                if indent:
                    line.add_widget(Label(size_hint_x=indent))
            self.add_widget(line)

    def _spacing(self, _ui, u) -> None:
        self.spacing = u * 0.2
        for line in self.children:
            line.spacing = u * 0.2

    def press(self, key: str) -> None:
        if self.flow is None:
            return
        if key == "backspace":
            self.flow.backspace()
        elif key == "clear":
            self.flow.clear()
        elif key == "space":
            self.flow.space()
        else:
            self.flow.type(key)
