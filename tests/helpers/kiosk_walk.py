"""Walk every kiosk screen on the real window and look at every label on it: the text sizes it draws (its font
size and every `[size=N]` in its markup) and whether its text fits the box it is drawn in."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SIZE = re.compile(r"\[size=(\d+)\]")

# every screen a citizen can reach, with how to get there from a kiosk app (the idle question over a guide last)
SCENES = (
    ("home", lambda app: app.home()),
    ("queues", lambda app: app.open_queues()),
    ("departments", lambda app: app.open_departments()),
    ("services", lambda app: app.open_services("fg")),
    ("guide", lambda app: app.open_guide("fg-001")),
    ("search", lambda app: app.open_search()),
    ("search-results", lambda app: app.model.search.set_query("yyzz")),
    ("search-chip", lambda app: app.model.search.set_query("营业执照")),
    ("search-none", lambda app: app.model.search.set_query("qqqqq")),
    ("ticket", lambda app: app.take_ticket(queue="Q")),
    ("idle-question", lambda app: (app.open_guide("scjg-001"), app.ask_more_time())),
)


@dataclass
class Drawn:
    scene: str
    text: str
    sizes: list[int]       # the label's font size and every markup size in it
    texture: tuple[int, int]  # the size its whole text takes, wrapped as the label wraps it
    box: tuple[float, float]
    rect: tuple[float, float, float, float] = (0, 0, 0, 0)  # x, y, right, top in the window
    scrolled: bool = False    # inside a scrolling list (clipped by it, so it may run under its edges)


def labels(root) -> list:
    """Every label on screen with text (hidden ones, at opacity 0 or no size, are not seen)."""
    from kivy.uix.label import Label

    out = []
    for w in root.walk():
        if not isinstance(w, Label) or not w.text.strip() or w.width <= 1 or w.height <= 1:
            continue
        shown, parent = True, w
        while parent is not None and parent is not root:
            if parent.opacity == 0:
                shown = False
                break
            parent = parent.parent
        if shown and w.opacity:
            out.append(w)
    return out


def natural_size(label) -> tuple[int, int]:
    """The size the label's whole text needs, wrapped at its text width if it has one: a label whose text_size
    also fixes the height draws only what fits, so its own texture cannot tell what was cut."""
    from kivy.core.text import Label as CoreLabel
    from kivy.core.text.markup import MarkupLabel

    width = label.text_size[0] if label.text_size and label.text_size[0] is not None else None
    if width is not None and width < 4:
        return (10**6, 10**6)  # no room at all (and Kivy would not finish wrapping into it)
    kind = MarkupLabel if label.markup else CoreLabel
    core = kind(text=label.text, font_size=label.font_size, font_name=label.font_name, bold=label.bold,
                line_height=label.line_height, text_size=(width, None), halign=label.halign,
                padding=label.padding)
    core.refresh()
    return tuple(core.texture.size) if core.texture else (0, 0)


def drawn(scene: str, label) -> Drawn:
    from kivy.uix.scrollview import ScrollView

    sizes = [round(label.font_size)]
    if label.markup:
        sizes += [int(n) for n in _SIZE.findall(label.text)]
    x, y = label.to_window(label.x, label.y)
    scrolled, parent = False, label.parent
    while parent is not None and parent.parent is not parent:  # the window is its own parent
        scrolled = scrolled or isinstance(parent, ScrollView)
        parent = parent.parent
    return Drawn(scene, label.text, sizes, natural_size(label), (label.width, label.height),
                 (x, y, x + label.width, y + label.height), scrolled)


def overlapping(seen: list[Drawn], scene: str) -> list[tuple[str, str]]:
    """Pairs of labels of a scene drawn over each other (outside scrolling lists)."""
    fixed = [d for d in seen if d.scene == scene and not d.scrolled]
    out = []
    for i, a in enumerate(fixed):
        for b in fixed[i + 1:]:
            w = min(a.rect[2], b.rect[2]) - max(a.rect[0], b.rect[0])
            h = min(a.rect[3], b.rect[3]) - max(a.rect[1], b.rect[1])
            if w > 2 and h > 2:
                out.append((a.text[:30], b.text[:30]))
    return out


def walk(k, wait_ticket=True) -> list[Drawn]:
    """Visit every scene on kiosk `k` (tests.helpers.kiosk.KioskOnScreen); every label drawn, scene by scene."""
    app = k.app
    out: list[Drawn] = []
    for scene, go in SCENES:
        if scene == "ticket" and not wait_ticket:
            continue
        go(app)
        if scene == "ticket":
            k.screen.until(lambda: app.current == "ticket" and app.screen("ticket").number, 15, "ticket shown")
        k.screen.pump(4)
        out += [drawn(scene, w) for w in labels(app.root_widget)]
        k.shot(scene)
        app.stop_clocks()
        if scene.startswith("search"):
            app.model.search.clear()
    return out


def overflowing(d: Drawn) -> bool:
    """The text's texture is wider or taller than its box: part of it is cut off or drawn outside."""
    return d.texture[0] > d.box[0] + 1 or d.texture[1] > d.box[1] + 1
