"""The kiosk's screens: behaviour only; each screen's layout is its own .kv file in kiosk/kv/."""

from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.recycleview import RecycleView

from kiosk.i18n import other as other_lang
from kiosk.i18n import tr
from kiosk.model import (
    IDLE,
    ISSUED,
    PRINTED,
    PRINTING,
    REFUSED,
    REQUESTING,
    WAITING,
    TicketState,
    make_guide,
    window_places,
)
from kiosk.ui import GREEN, GREEN_DOWN, PLACEHOLDER, KButton, KioskScreen, KLabel, ListRow, _esc


class RowList(RecycleView):
    """A long list of rows (services, search results) that only builds the rows on screen."""
    ui = ObjectProperty(PLACEHOLDER, rebind=True)


class Row(ListRow):
    action = ObjectProperty(None, allownone=True)

    def on_release(self):
        if self.action:
            self.action(self.key)


ROW_SCALE = 0.95  # a list row's text, in units (services.kv)


def text_height(text: str, width: float, font_size: float, line_height: float = 0.95) -> float:
    """How tall a markup text is when wrapped to `width` in the kiosk's font (to size list rows before they are
    drawn: a RecycleView needs every row's height up front)."""
    from kivy.core.text.markup import MarkupLabel

    label = MarkupLabel(text=text, font_size=font_size, text_size=(max(width, 1), None), line_height=line_height,
                        halign="left")
    label.refresh()
    return label.texture.size[1] if label.texture else font_size


def fit_rows(ui, rows: list[dict], width: float, least: float) -> list[dict]:
    """Give each row the height its text needs at this width (never less than `least`)."""
    pad = ui.u * 0.4
    size = ui.px(ROW_SCALE, ui.u)
    for row in rows:
        row["size"] = (width, max(least, text_height(row["text"], width - pad * 2, size) + pad * 2))
    return rows


# ---------------------------------------------------------------- home

class HomeScreen(KioskScreen):
    hall_name = StringProperty("")
    hall_name_en = StringProperty("")
    ticket_reason = StringProperty("")

    def refresh(self) -> None:
        reason = self.kiosk.model.ticket.unavailable()
        self.ticket_reason = "" if reason in (None, "ticket_busy") else reason


# ---------------------------------------------------------------- 取号: choose a queue

class QueuesScreen(KioskScreen):
    buttons = ObjectProperty({})
    ask_phone = BooleanProperty(False)

    def refresh(self) -> None:
        ui, model = self.ui, self.kiosk.model
        self.ask_phone = self.kiosk.ask_phone
        grid = self.ids.grid
        grid.clear_widgets()
        self.buttons = {}
        reason = model.ticket.unavailable()
        self.title = ui.t("choose_queue")
        least = ui.u * 4.6
        for q in model.queues():
            b = KButton(ui=ui, text=self.button_text(q), size_hint_y=None, height=least, disabled=bool(reason),
                        bg=GREEN, bg_down=GREEN_DOWN)
            b.bind(texture_size=lambda b, ts, least=least: setattr(b, "height", max(least, ts[1] + b.pad * 2)))
            b.bind(on_release=lambda _b, qid=q.id: self.kiosk.take_ticket(queue=qid))
            self.buttons[q.id] = b
            grid.add_widget(b)

    def button_text(self, q) -> str:
        """The queue's name in both languages, its department when the name does not say it, and how many wait."""
        ui, model = self.ui, self.kiosk.model
        text = ui.pair(f"{q.prefix}  {q.name}", f"{q.prefix}  {q.name_en}")
        small = ui.px(0.8, ui.u)
        dept = model.catalogue.department(q.department)
        if dept is not None and q.name not in dept.name:
            name = (dept.name_en or dept.name) if ui.lang == "en" else dept.name
            text += f"\n[size={small}]{_esc(name)}[/size]"
        return text + f"\n[size={small}][b]{_esc(model.queue_wait_text(q.id, ui.lang))}[/b][/size]"

    def update_waits(self) -> None:
        """New queue state from the hub: only the texts change."""
        for q in self.kiosk.model.queues():
            b = self.buttons.get(q.id)
            if b is not None:
                b.text = self.button_text(q)


# ---------------------------------------------------------------- 办事指南: departments, services, guide

class DepartmentsScreen(KioskScreen):
    buttons = ObjectProperty({})

    def refresh(self) -> None:
        ui, model = self.ui, self.kiosk.model
        grid = self.ids.grid
        grid.clear_widgets()
        self.buttons = {}
        self.title = ui.t("choose_department")
        for d in model.departments():
            n = len(model.services(d.id))
            count = tr("services_count", ui.lang, n=n)
            text = ui.pair(d.name, d.name_en) + f"\n[size={ui.px(0.62)}][color=#5a6b80]{count}[/color][/size]"
            least = ui.u * 5.0
            b = KButton(ui=ui, text=text, size_hint_y=None, height=least, bg=(1, 1, 1, 1),
                        bg_down=(0.86, 0.9, 0.96, 1))
            b.bind(texture_size=lambda b, ts, least=least: setattr(b, "height", max(least, ts[1] + b.pad * 2)))
            b.bind(on_release=lambda _b, did=d.id: self.kiosk.open_services(did))
            self.buttons[d.id] = b
            grid.add_widget(b)


class ServicesScreen(KioskScreen):
    department = StringProperty("")
    rows = ListProperty([])

    def refresh(self) -> None:
        ui, model = self.ui, self.kiosk.model
        dept = model.catalogue.department(self.department)
        if dept is not None:
            self.title = dept.name_en if ui.lang == "en" else dept.name
        self._rows = [{"key": s.id, "text": ui.pair(s.name, s.name_en), "ui": ui, "action": self.kiosk.open_guide}
                      for s in model.services(self.department)]
        self.fit()

    def on_kv_post(self, base_widget):
        self._rows: list[dict] = []
        self.ids.rows.bind(width=lambda *_: self.fit())

    def fit(self) -> None:
        rv = self.ids.rows
        self.rows = fit_rows(self.ui, [dict(r) for r in self._rows], rv.width - self.ui.u * 1.2, self.ui.u * 3.4)


class GuideScreen(KioskScreen):
    service = StringProperty("")
    ticket_text = StringProperty("")
    ticket_disabled = BooleanProperty(False)

    def refresh(self) -> None:
        ui, model = self.ui, self.kiosk.model
        guide = model.guide(self.service)
        body = self.ids.body
        body.clear_widgets()
        if guide is None:
            return
        self.title = ui.t("guides")
        u = ui.u
        body.add_widget(KLabel(ui=ui, text=f"[b]{_esc(guide.title)}[/b]", scale=1.3))
        if guide.subtitle:
            body.add_widget(KLabel(ui=ui, text=f"[color=#5a6b80]{_esc(guide.subtitle)}[/color]", scale=0.8))
        if guide.chinese_only:
            body.add_widget(KLabel(ui=ui, text=f"[color=#b35c00][b]ⓘ {_esc(ui.t('chinese_only'))}[/b]\n"
                                               f"{_esc(ui.t2('chinese_only'))}[/color]", scale=0.85))
        other = make_guide(model.catalogue, guide.service, other_lang(ui.lang)).sections
        second = dict(zip([h for h, _ in guide.sections], [h for h, _ in other], strict=False))
        small = ui.px(0.6)
        for heading, text in guide.sections:
            body.add_widget(KLabel(ui=ui, text=f"[b][color=#17549e]■ {_esc(heading)}[/color][/b]  [size={small}]"
                                               f"[color=#5a6b80]{_esc(second.get(heading, ''))}[/color][/size]",
                                   scale=0.95, padding=(0, u * 0.6, 0, u * 0.1)))
            body.add_widget(KLabel(ui=ui, text=_esc(text), scale=0.8, line_height=1.15))
        self.update_ticket_button()
        self.ids.scroll.scroll_y = 1

    def update_ticket_button(self) -> None:
        reason = self.kiosk.model.ticket.unavailable()
        self.ticket_disabled = bool(reason)
        self.ticket_text = self.ui.both(reason or "take_for_service")


# ---------------------------------------------------------------- 查询: search

class SearchScreen(KioskScreen):
    query = StringProperty("")
    status = StringProperty("")
    rows = ListProperty([])
    showing_popular = BooleanProperty(True)
    no_results = BooleanProperty(False)

    def on_kv_post(self, base_widget):
        self._chips_built = None
        self._rows: list[dict] = []
        self.ids.rows.bind(width=lambda *_: self.fit())

    def refresh(self) -> None:
        ui, model = self.ui, self.kiosk.model
        flow = model.search
        self.title = ui.t("search_title")
        self.query = flow.query
        self.showing_popular = not flow.query.strip()
        self.no_results = bool(flow.query.strip()) and not flow.results
        if self.showing_popular:
            self.status = ui.t("search_hint")
        elif flow.results:
            named, in_text = flow.breakdown()
            self.status = ui.t("search_results", n=len(flow.results))
            if in_text:
                self.status += "  [color=#5a6b80]" + _esc(ui.t("search_breakdown", a=named, b=in_text)) + "[/color]"
        else:
            self.status = ui.t("search_none")
        small = ui.px(0.62)
        rows = []
        for hit in flow.results:
            r = model.result(hit, ui.lang)
            second = " · ".join(p for p in (r.second, r.department, r.windows) if p)
            rows.append({"key": hit.id, "ui": ui, "action": self.kiosk.open_guide,
                         "text": f"{_esc(r.name)}\n[size={small}][color=#5a6b80]{_esc(second)}[/color]  "
                                 f"[color=#17549e]{_esc(r.why)}[/color][/size]"})
        self._rows = rows
        self.fit()
        self._build_chips()

    def fit(self) -> None:
        rv = self.ids.rows
        self.rows = fit_rows(self.ui, [dict(r) for r in self._rows], rv.width, self.ui.u * 3.2)

    def _build_chips(self) -> None:
        ui = self.ui
        if self._chips_built == (ui.lang, ui.u):
            return
        self._chips_built = (ui.lang, ui.u)
        box = self.ids.chips
        box.clear_widgets()
        for word in self.kiosk.model.search.POPULAR:
            b = KButton(ui=ui, text=word, size_hint=(None, None), height=ui.u * 2.4, scale=0.9,
                        width=ui.u * (len(word) * 0.95 + 1.6), bg=(1, 1, 1, 1), bg_down=(0.86, 0.9, 0.96, 1))
            b.bind(on_release=lambda _b, w=word: self.kiosk.model.search.set_query(w))
            box.add_widget(b)


# ---------------------------------------------------------------- the ticket

class TicketScreen(KioskScreen):
    state = StringProperty(IDLE)
    heading = StringProperty("")
    number = StringProperty("")
    service_name = StringProperty("")
    windows_line = StringProperty("")
    place_line = StringProperty("")
    ahead_line = StringProperty("")   # people ahead and the wait, or 无需等待 once when nobody is ahead
    printer_line = StringProperty("")
    printer_problem = BooleanProperty(False)
    countdown = NumericProperty(0)
    countdown_line = StringProperty("")

    def show(self, s: TicketState) -> None:
        ui = self.ui
        self.state = s.state
        t = s.ticket
        self.number = t.no if s.state == ISSUED and t is not None else ""
        self.service_name = self.windows_line = self.place_line = self.ahead_line = ""
        self.printer_line = ""
        self.printer_problem = False
        if s.state == REQUESTING:
            self.heading = ui.both("requesting")
        elif s.state == WAITING:
            self.heading = f"[b]{ui.t('please_wait')}[/b]\n[size={ui.px(0.8)}]{ui.t2('please_wait')}[/size]"
            self.service_name = ui.both("please_wait_detail")
        elif s.state == REFUSED:
            self.heading = ui.both("refused")
            key = f"refused_{s.code}"
            try:
                self.service_name = ui.both(key)
            except KeyError:
                self.service_name = _esc(s.error or s.code)
        elif s.state == ISSUED and t is not None:
            self.heading = ui.both("your_number")
            cat = self.kiosk.model.catalogue
            svc = cat.service(t.service) if t.service else None
            q = cat.queue(t.queue)
            if svc is not None:
                self.service_name = ui.pair(svc.name, svc.name_en)
            elif q is not None:
                self.service_name = ui.pair(q.name, q.name_en)
            if t.booked:  # a booking checked in on time: called ahead of walk-ins
                self.service_name += "\n" + ui.both("booked_ticket", t=t.booked)
            ws = t.windows or []
            if ws:
                self.windows_line, self.place_line = self._where(ws)
            ahead, wait = t.ahead, t.est_wait_s
            if ahead == 0:
                self.ahead_line = ui.both("nobody_ahead")  # 无需等待 said once, not as a wait of "no wait"
            elif ahead is not None and wait is not None and wait > 0:
                self.ahead_line = ui.both("ahead_wait", n=ahead, m=max(round(wait / 60), 1))
            elif ahead is not None:
                self.ahead_line = ui.both("ahead_one" if ahead == 1 else "ahead", n=ahead)
            self.printer_line, self.printer_problem = self._printer_text(s.printer)
        else:
            self.heading = ""

    def _where(self, ws: list[str]) -> tuple[str, str]:
        """请到 1、2、3 号窗口办理 with where they are: in brackets when they are in one place, else a line per
        place under it."""
        ui, cat = self.ui, self.kiosk.model.catalogue
        zh_w, en_w = "、".join(ws), ", ".join(ws)
        zh_places, en_places = window_places(cat, ws, "zh"), window_places(cat, ws, "en")
        if len(zh_places) == 1:
            w0 = cat.window(ws[0])
            line = ui.pair(tr("go_to_place", "zh", w=zh_w, p=w0.location, s=""),
                           tr("go_to_place", "en", w=en_w, p=w0.location_en or w0.location,
                              s="s" if len(ws) > 1 else ""))
            return line, ""
        key = "go_to_windows" if len(ws) > 1 else "go_to_window"
        line = ui.pair(tr(key, "zh", w=zh_w), tr(key, "en", w=en_w))
        return line, "\n".join(ui.pair(zh, en) for zh, en in zip(zh_places, en_places, strict=False))

    def _printer_text(self, printer: str) -> tuple[str, bool]:
        ui = self.ui
        if printer == PRINTING:
            return ui.both("printing"), False
        if printer == PRINTED:
            return ui.both("printed"), False
        if printer == "paper_low":
            return ui.both("paper_low"), False
        if printer in ("paper_out", "offline"):
            cause = "paper_out" if printer == "paper_out" else "printer_offline"
            zh = f"{tr('printer_attention', 'zh')}（{tr(cause, 'zh')}）"
            en = f"{tr('printer_attention', 'en')} ({tr(cause, 'en')})"
            first, second = (en, zh) if ui.lang == "en" else (zh, en)
            return f"[b]{first}[/b]\n[size={ui.px(0.62)}]{second}[/size]", True
        return ui.both("no_printer"), False

    def start_countdown(self, seconds: float) -> None:
        self.stop_countdown()
        self.countdown = seconds
        self._tick_event = Clock.schedule_interval(self._tick, 1.0)
        self._update_countdown_line()

    def stop_countdown(self) -> None:
        ev = getattr(self, "_tick_event", None)
        if ev is not None:
            ev.cancel()
        self._tick_event = None
        self.countdown_line = ""

    def _tick(self, dt) -> None:
        self.countdown = max(self.countdown - dt, 0)
        self._update_countdown_line()
        if self.countdown <= 0:
            self.stop_countdown()
            self.kiosk.home()

    def _update_countdown_line(self) -> None:
        s = max(int(round(self.countdown)), 0)
        self.countdown_line = self.ui.t("returning_both", s=s)

    def on_leave(self, *args):
        self.stop_countdown()


from kiosk.caselookup_screen import CaseLookupScreen  # noqa: E402  (办件查询, its own module)
from kiosk.entry_screen import EntryScreen  # noqa: E402  (预约签到 and a ticket's ID number and phone)

SCREENS = {
    "caselookup": CaseLookupScreen,
    "entry": EntryScreen,
    "home": HomeScreen,
    "queues": QueuesScreen,
    "departments": DepartmentsScreen,
    "services": ServicesScreen,
    "guide": GuideScreen,
    "search": SearchScreen,
    "ticket": TicketScreen,
}

__all__ = ["SCREENS", "Row", "RowList", "REFUSED"]
