"""预约签到 and a ticket's details: draws `kiosk.entry.EntryFlow` (the layout is kiosk/kv/entry.kv)."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.entry import CHECKIN
from kiosk.ui import KioskScreen, _esc


class EntryScreen(KioskScreen):
    mode = StringProperty(CHECKIN)
    first = StringProperty("")       # the first field's label and value (markup)
    second = StringProperty("")      # the phone, in the details
    field = StringProperty("code")
    hint = StringProperty("")
    ready = BooleanProperty(False)

    def refresh(self) -> None:
        ui, flow = self.ui, self.kiosk.entry
        s = flow.s
        self.mode, self.field, self.ready = s.mode, s.field, flow.ready
        self.title = ui.t("checkin_title" if s.mode == CHECKIN else "details_title")
        names = s.fields
        self.first = self._field_text(names[0], s.values.get(names[0], ""))
        self.second = self._field_text(names[1], s.values.get(names[1], "")) if len(names) > 1 else ""
        key = s.problem or ("checkin_hint" if s.mode == CHECKIN else
                            "details_hint" if s.id_required else "details_hint_phone")
        other = "en" if ui.lang == "zh" else "zh"
        self.hint = (f"{_esc(ui.t(key, ui.lang))}\n[size={ui.px(0.62)}][color=#5a6b80]"
                     f"{_esc(ui.t(key, other))}[/color][/size]")

    def _field_text(self, name: str, value: str) -> str:
        ui = self.ui
        label = "checkin_code" if name == "code" else name
        return (f"{ui.t(label, ui.lang)}  [b]{value or '—'}[/b]\n[size={ui.px(0.62, ui.u)}][color=#5a6b80]"
                f"{ui.t2(label, ui.lang)}[/color][/size]")

    def press(self, key: str) -> None:
        self.kiosk.entry.press(key)
        self.refresh()

    def submit(self) -> None:
        self.kiosk.submit_entry()
        self.refresh()
