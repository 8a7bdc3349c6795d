"""办件查询 at the kiosk: a citizen types the case number (办件编号, on the slip the window gave them) and the last 4
characters of their ID number on the screen's keypad, and sees the case's state, its service and its deadline.

The hub answers `case_lookup` with those three alone, never a name or an ID number; a wrong pair and an unknown
number get the same answer (查无此件), so a number alone tells nobody whether a case exists. A case found can be
printed on the ticket printer (`CaseSlip`: its number, service, state and deadline, with how to look it up
again), for a citizen who lost the slip the window gave them. `CaseLookupFlow` is the
flow as a plain object, tested without a window; `kiosk.caselookup_screen.CaseLookupScreen` draws it (layout in
kiosk/kv/caselookup.kv).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from devices.printer import CaseSlip, PrinterError
from hall.clock import now as clock_now
from hall.protocol import Answer, CaseInfo, read_or_ignore
from kiosk.i18n import tr

log = logging.getLogger("kiosk.cases")

NUMBER_RE = re.compile(r"^\d{12,16}$")   # YYYYMMDD and the day's count, four digits or more
LAST4_RE = re.compile(r"^\d{3}[\dX]$")
NUMBER_MAX = 16

# the flow's states
ENTERING = "entering"
ASKING = "asking"
FOUND = "found"
NOT_FOUND = "not_found"
NO_ANSWER = "no_answer"
OFFLINE = "offline"

STATUS_KEYS = {"accepted": "case_accepted", "in_progress": "case_in_progress", "suspended": "case_suspended",
               "finished": "case_finished", "withdrawn": "case_withdrawn"}


def _direct(fn, *args) -> None:
    fn(*args)


@dataclass
class LookupState:
    number: str = ""
    last4: str = ""
    field: str = "number"        # which field the keypad types into
    state: str = ENTERING
    case: CaseInfo | None = None
    printed: str = ""            # the slip: printing, printed, or the printer's status that stopped it


def case_slip(hall, catalogue, case: CaseInfo) -> CaseSlip:
    item = next((s for s in catalogue.services if s.id == case.service), None)
    status = STATUS_KEYS.get(case.status or "", "case_unknown")
    return CaseSlip(hall_name=hall.info.name, hall_name_en=hall.info.name_en, case=case.case,
                    service=item.name if item else (case.service or ""), service_en=item.name_en if item else "",
                    status=f"{tr(status, 'zh')} {tr(status, 'en')}",
                    deadline=case.deadline if case.status in ("accepted", "in_progress") else "",
                    printed_at=clock_now(hall.tz).strftime("%Y-%m-%d %H:%M"))


class CaseLookupFlow:
    def __init__(self, link, *, timeout: float = 5.0, call: Callable = _direct,
                 on_change: Callable[[LookupState], None] | None = None, printer=None,
                 slip_for: Callable[[CaseInfo], CaseSlip] | None = None):
        self.printer = printer
        self.slip_for = slip_for
        self.link = link
        self.timeout = timeout
        self.call = call
        self.on_change = on_change
        self.s = LookupState()

    # ------------------------------------------------------------ the keypad

    def press(self, key: str) -> None:
        """A digit, `X` (the ID's last character only), `back`, `clear`, or `number` / `last4` to pick a field."""
        s = self.s
        if s.state == ASKING:
            return
        if key in ("number", "last4"):
            s.field = key
        elif key == "clear":
            self.s = LookupState()
        elif key == "back":
            if s.field == "last4" and not s.last4:
                s.field = "number"
            text = getattr(s, s.field)
            setattr(s, s.field, text[:-1])
        elif key == "X":
            if s.field == "last4" and len(s.last4) == 3:
                s.last4 += "X"
        elif key.isdigit() and len(key) == 1:
            if s.field == "number" and len(s.number) < NUMBER_MAX:
                s.number += key
            elif s.field == "last4" and len(s.last4) < 4:
                s.last4 += key
        if key not in ("number", "last4", "clear") and self.s.state != ENTERING:
            self.s.state, self.s.case = ENTERING, None  # typing again starts a new question
        self._changed()

    def next_field(self) -> None:
        self.press("last4")

    @property
    def ready(self) -> bool:
        return bool(NUMBER_RE.match(self.s.number) and LAST4_RE.match(self.s.last4)) and self.s.state != ASKING

    # ------------------------------------------------------------ asking the hub

    def ask(self) -> bool:
        """Send the lookup; False (nothing sent) when the fields are not complete."""
        if not self.ready:
            return False
        if self.link is None or not getattr(self.link, "hub_online", False):
            self.s.state = OFFLINE
            self._changed()
            return False
        self.s.state = ASKING
        self._changed()
        data = {"case": self.s.number, "id_last4": self.s.last4}
        threading.Thread(target=self._request, args=(data,), name="case-lookup", daemon=True).start()
        return True

    def _request(self, data: dict) -> None:
        try:
            payload = self.link.request("case_lookup", data, self.timeout)
            answer = read_or_ignore(Answer, "case_lookup res", payload, log) if payload is not None else None
        except Exception:
            log.exception("kiosk: case lookup failed")
            answer = None
        self.call(self._answered, data, answer)

    def _answered(self, data: dict, answer: Answer | None) -> None:
        if (self.s.number, self.s.last4) != (data["case"], data["id_last4"]):
            return  # the citizen started over meanwhile
        if answer is None:
            self.s.state = NO_ANSWER
        elif answer.ok and answer.case is not None:
            self.s.state, self.s.case = FOUND, answer.case
        else:
            self.s.state = NOT_FOUND
        self._changed()

    def reset(self) -> None:
        self.s = LookupState()
        self._changed()

    # ------------------------------------------------------------ the slip

    @property
    def can_print(self) -> bool:
        return self.s.state == FOUND and self.printer is not None and self.slip_for is not None

    def print_slip(self) -> bool:
        if not self.can_print or self.s.printed == "printing":
            return False
        self.s.printed = "printing"
        self._changed()
        slip = self.slip_for(self.s.case)
        threading.Thread(target=self._print, args=(slip,), name="case-slip", daemon=True).start()
        return True

    def _print(self, slip: CaseSlip) -> None:
        try:
            self.printer.print_case_slip(slip)
            result = "printed"
        except PrinterError as err:
            result = err.status
        except Exception:
            log.exception("kiosk: case slip not printed")
            result = "offline"
        self.call(self._printed, slip.case, result)

    def _printed(self, case: str, result: str) -> None:
        if self.s.case is not None and self.s.case.case == case:
            self.s.printed = result
            self._changed()

    def _changed(self) -> None:
        if self.on_change:
            self.on_change(self.s)

    # ------------------------------------------------------------ what the screen says

    def result_text(self, lang: str, service_name: Callable[[str | None], str]) -> str:
        """The answer as the citizen reads it, in one language (the screen shows both)."""
        s = self.s
        if s.state == FOUND and s.case is not None:
            c = s.case
            lines = [tr("case_result_number", lang, n=c.case),
                     tr("case_result_service", lang, s=service_name(c.service) or (c.service or "—")),
                     tr("case_result_status", lang, s=tr(STATUS_KEYS.get(c.status or "", "case_unknown"), lang))]
            if c.status in ("accepted", "in_progress"):
                lines.append(tr("case_result_deadline", lang, d=c.deadline or "—"))
            elif c.status == "suspended":
                lines.append(tr("case_result_on_hold", lang))
            if s.printed:
                lines.append(tr({"printing": "case_printing", "printed": "case_printed"}.get(s.printed,
                                                                                          "case_print_failed"), lang))
            return "\n".join(lines)
        return tr({ENTERING: "case_lookup_hint", ASKING: "case_asking", NOT_FOUND: "case_not_found",
                   NO_ANSWER: "case_no_answer", OFFLINE: "case_offline"}[s.state], lang)
