"""What a citizen types at the kiosk before a ticket: 预约签到 (the booking code or the ID number) and, for a queue
that limits walk-ins (`[appointments] id_required`), the ID number with an optional mobile number for a text
before the turn (手机号，叫号前短信提醒).

`EntryFlow` is the flow as a plain object, tested without a window; `kiosk.entry_screen.EntryScreen` draws it
(kiosk/kv/entry.kv). What it sends goes through the ticket flow (`TicketFlow.check_in`, `TicketFlow.take`), so a
check-in's ticket is shown and printed like any other, and a refusal (too early, no booking, one ticket a day) is
said on the ticket screen in both languages. The kiosk checks only the shape of what is typed; the hub checks the
ID number's check digit (GB 11643) and keeps only its keyed hash.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

CHECKIN = "checkin"
DETAILS = "details"

CODE_RE = re.compile(r"^\d{8}$")
ID_RE = re.compile(r"^\d{17}[\dX]$")
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
MAX = {"code": 18, "id_number": 18, "phone": 11}


@dataclass
class EntryState:
    mode: str = CHECKIN
    values: dict[str, str] = field(default_factory=dict)
    field: str = "code"
    queue: str | None = None
    service: str | None = None
    id_required: bool = False
    problem: str = ""            # an i18n key: what is wrong with what was typed

    @property
    def fields(self) -> tuple[str, ...]:
        return ("code",) if self.mode == CHECKIN else ("id_number", "phone")


class EntryFlow:
    def __init__(self, on_change: Callable[[EntryState], None] | None = None):
        self.on_change = on_change
        self.s = EntryState()

    def start_checkin(self) -> None:
        self.s = EntryState(CHECKIN, {"code": ""}, "code")
        self._changed()

    def start_details(self, queue: str | None, service: str | None, id_required: bool) -> None:
        self.s = EntryState(DETAILS, {"id_number": "", "phone": ""}, "id_number" if id_required else "phone",
                            queue, service, id_required)
        self._changed()

    # ------------------------------------------------------------ the keypad

    def press(self, key: str) -> None:
        """A digit, `X`, `back`, `clear`, or a field's name to type into it."""
        s = self.s
        s.problem = ""
        if key in s.fields:
            s.field = key
        elif key == "clear":
            s.values[s.field] = ""
        elif key == "back":
            s.values[s.field] = s.values[s.field][:-1]
        elif key == "X":
            # an ID number's last character only
            if s.field in ("code", "id_number") and len(s.values[s.field]) == 17:
                s.values[s.field] += "X"
        elif key.isdigit() and len(key) == 1 and len(s.values[s.field]) < MAX[s.field]:
            s.values[s.field] += key
        if key not in s.fields and s.field == "id_number" and len(s.values["id_number"]) == 18 \
                and not s.values["phone"]:
            s.field = "phone"  # a whole ID number: on to the phone
        self._changed()

    # ------------------------------------------------------------ done typing

    def problem(self) -> str:
        """Why what was typed cannot be sent (an i18n key), or ''."""
        s = self.s
        if s.mode == CHECKIN:
            code = s.values["code"]
            return "" if CODE_RE.match(code) or ID_RE.match(code) else "entry_bad_code"
        number, phone = s.values["id_number"], s.values["phone"]
        if (s.id_required or number) and not ID_RE.match(number):
            return "entry_bad_id"
        if phone and not PHONE_RE.match(phone):
            return "entry_bad_phone"
        return ""

    @property
    def ready(self) -> bool:
        return not self.problem()

    def submit(self, tickets) -> bool:
        """Send it through the ticket flow; False (nothing sent) when it is not whole or the hub is away."""
        self.s.problem = self.problem()
        if self.s.problem:
            self._changed()
            return False
        s = self.s
        if s.mode == CHECKIN:
            code = s.values["code"]
            return tickets.check_in(code=code) if len(code) == 8 else tickets.check_in(id_number=code)
        return tickets.take(service=s.service, queue=s.queue, id_number=s.values["id_number"] or None,
                            phone=s.values["phone"] or None)

    def reset(self) -> None:
        self.s = EntryState()
        self._changed()

    def _changed(self) -> None:
        if self.on_change:
            self.on_change(self.s)
