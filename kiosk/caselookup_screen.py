"""办件查询's screen: draws `kiosk.caselookup.CaseLookupFlow` (the layout is kiosk/kv/caselookup.kv)."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.caselookup import FOUND
from kiosk.ui import KioskScreen, _esc


class CaseLookupScreen(KioskScreen):
    number = StringProperty("")
    last4 = StringProperty("")
    field = StringProperty("number")
    result = StringProperty("")
    found = BooleanProperty(False)
    ready = BooleanProperty(False)
    can_print = BooleanProperty(False)

    def refresh(self) -> None:
        ui, flow = self.ui, self.kiosk.model.cases
        s = flow.s
        self.title = ui.t("case_lookup_title")
        self.number, self.last4, self.field = s.number, s.last4, s.field
        self.found, self.ready, self.can_print = s.state == FOUND, flow.ready, flow.can_print
        services = {x.id: x for x in self.kiosk.model.catalogue.services}

        def name(lang):
            def of(sid):
                item = services.get(sid)
                return "" if item is None else (item.name_en or item.name) if lang == "en" else item.name
            return of
        first = flow.result_text(ui.lang, name(ui.lang))
        other = "en" if ui.lang == "zh" else "zh"
        second = flow.result_text(other, name(other))
        self.result = f"{_esc(first)}\n[size={ui.px(0.62)}][color=#5a6b80]{_esc(second)}[/color][/size]"

    def press(self, key: str) -> None:
        flow = self.kiosk.model.cases
        flow.press(key)
        if key.isdigit() and flow.s.field == "number" and len(flow.s.number) == 12 and not flow.s.last4:
            flow.next_field()  # a whole number typed: on to the ID's last 4
        self.refresh()

    def print_slip(self) -> None:
        self.kiosk.model.cases.print_slip()
        self.refresh()

    def ask(self) -> None:
        self.kiosk.model.cases.ask()
        self.refresh()
