"""The kiosk's ticket printer: python-escpos on a serial ESC/POS thermal printer.

Chinese text is sent as GB18030 after `FS &` (Chinese character mode), which is what Chinese thermal printers
expect. python-escpos's own `text()` is not used for it: its MagicEncode (escpos/magicencode.py, `write`) encodes a
string containing U+4E00–U+9FA5 as GB18030 but never sends `FS &`, so a printer in its default single-byte mode
prints each byte as a code-page character; a line of only full-width punctuation or rarer characters is instead
pushed through single-byte code pages and comes out as '?'. So every line goes out through `_raw()` here.

Status comes from `DLE EOT`: n=1 (printer: bit 3 offline) and n=4 (roll paper: bits 2-3 near end, bits 5-6 end).
python-escpos's `query_status()` reads 16 bytes and so always waits out the serial timeout; one byte is read here.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

OK, PAPER_LOW, PAPER_OUT, OFFLINE = "ok", "paper_low", "paper_out", "offline"
PRINTABLE = (OK, PAPER_LOW)

CHINESE_ON = b"\x1c\x26"   # FS &
CHINESE_OFF = b"\x1c\x2e"  # FS .
DLE_EOT = b"\x10\x04"


class PrinterError(RuntimeError):
    def __init__(self, status: str, message: str):
        self.status = status
        super().__init__(message)


@dataclass
class TicketContent:
    """What goes on a ticket, in the order it is printed. Chinese first, English second."""
    hall_name: str
    hall_name_en: str
    no: str
    service: str
    service_en: str = ""
    windows: list[str] = field(default_factory=list)
    ahead: int | None = None
    est_wait_s: int | None = None
    issued_at: str = ""          # "2026-11-30 09:12"
    materials: list[str] = field(default_factory=list)
    qr: str = ""
    places: list[str] = field(default_factory=list)     # where the windows are: "1、2、3 号窗口：一楼东区"
    places_en: list[str] = field(default_factory=list)
    # the hall's no-show rule: a missed ticket may queue again at a kiosk within 30 minutes
    note: str = "请留意叫号屏幕和语音提示。过号 30 分钟内可在自助机重新排队。"
    note_en: str = "Watch the screens and listen for your number. If you miss it, re-queue at a kiosk within 30 minutes."


@dataclass
class CaseSlip:
    """办件查询 slip: a case's number, printed for the citizen with how to look it up again. Nothing personal."""
    hall_name: str
    hall_name_en: str
    case: str
    service: str
    service_en: str = ""
    status: str = ""             # "已受理 accepted"
    deadline: str = ""           # the day whose closing time is the deadline
    printed_at: str = ""         # "2026-11-30 09:12"
    hint: str = "凭办件编号和身份证号码后四位，可在自助机「办件查询」查看办理进度。"
    hint_en: str = "Look the case up at a kiosk (Case status) with this number and the last 4 characters of your ID."


def display_width(text: str) -> int:
    """Columns a string takes on the printer: hanzi and full-width forms take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, columns: int, indent: str = "") -> list[str]:
    """Break a line to the paper's width counting hanzi as two columns; English breaks at spaces."""
    lines: list[str] = []
    current = ""
    for token in _tokens(text):
        if display_width(current + token) <= columns:
            current += token
            continue
        if current.strip():
            lines.append(current.rstrip())
            current = indent + token.lstrip()
        else:
            current += token
        while display_width(current) > columns:  # a token longer than a line
            cut = 0
            while display_width(current[:cut + 1]) <= columns:
                cut += 1
            lines.append(current[:cut])
            current = indent + current[cut:]
    if current.strip():
        lines.append(current.rstrip())
    return lines or [""]


def _tokens(text: str):
    word = ""
    for ch in text:
        if ch.isascii() and not ch.isspace():
            word += ch
            continue
        if word:
            yield word
            word = ""
        yield ch
    if word:
        yield word


def format_wait(seconds: int | None) -> tuple[str, str]:
    """The estimated wait, or ("", "") when there is none to give (no estimate, or nobody ahead)."""
    if seconds is None or seconds <= 0:
        return "", ""
    minutes = max(1, round(seconds / 60))
    return f"约{minutes}分钟", f"about {minutes} min"


def ahead_lines(ahead: int | None, est_wait_s: int | None) -> tuple[str, str]:
    """People ahead and the wait, Chinese and English: 无需等待 · no wait said once when nobody is ahead."""
    if ahead is None:
        return "", ""
    if ahead == 0:
        return "前面没有人，无需等待", "Nobody ahead, no wait"
    wait_zh, wait_en = format_wait(est_wait_s)
    return (f"前面还有 {ahead} 人" + (f"，预计等待{wait_zh}" if wait_zh else ""),
            f"{ahead} {'person' if ahead == 1 else 'people'} ahead" + (f", wait {wait_en}" if wait_en else ""))


class TicketPrinter:
    """One serial ESC/POS printer. Thread-safe; `status()` and `print_ticket()` never block longer than the
    serial timeout when the printer is off or unplugged."""

    def __init__(self, port: str, *, baudrate: int = 9600, columns: int = 48, timeout: float = 0.5,
                 profile: str | None = None):
        self.port = port
        self.baudrate = baudrate
        self.columns = columns
        self.timeout = timeout
        self.profile = profile
        self._printer = None
        self._lock = threading.Lock()
        self.last_status: str | None = None

    # ------------------------------------------------------------ connection

    def _open(self):
        if self._printer is not None:
            return self._printer
        from escpos.exceptions import DeviceNotFoundError
        from escpos.printer import Serial

        p = Serial(devfile=self.port, baudrate=self.baudrate, timeout=self.timeout, profile=self.profile)
        try:
            p.open()
        except DeviceNotFoundError as err:
            raise PrinterError(OFFLINE, f"printer {self.port}: {err}") from None
        p.device.write_timeout = max(self.timeout * 4, 2.0)
        self._printer = p
        return p

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._printer is not None:
            try:
                self._printer.close()
            except Exception:
                pass
        self._printer = None

    # ------------------------------------------------------------ status

    def _query(self, p, n: int) -> int | None:
        dev = p.device
        dev.reset_input_buffer()
        p._raw(DLE_EOT + bytes([n]))
        got = dev.read(1)
        return got[0] if got else None

    def status(self) -> str:
        """ok, paper_low, paper_out or offline (unplugged, switched off, cover open)."""
        with self._lock:
            self.last_status = self._status()
            return self.last_status

    def _status(self) -> str:
        try:
            p = self._open()
            printer = self._query(p, 1)
            if printer is None:
                return OFFLINE
            paper = self._query(p, 4)
        except PrinterError:
            return OFFLINE
        except Exception as err:  # serial errors: the cable, the port went away
            log.warning("printer %s: status query failed: %s", self.port, err)
            self._drop()
            return OFFLINE
        if paper is not None and paper & 0x60 == 0x60:
            return PAPER_OUT
        if printer & 0x08:
            return OFFLINE
        if paper is not None and paper & 0x0C == 0x0C:
            return PAPER_LOW
        return OK

    # ------------------------------------------------------------ printing

    def print_ticket(self, ticket: TicketContent) -> str:
        """Print one ticket. Checks the printer first and prints nothing unless it can print; returns the status
        (ok or paper_low) or raises PrinterError with the status that stopped it."""
        return self._print(self._send, ticket)

    def print_case_slip(self, slip: CaseSlip) -> str:
        """Print a case's slip (办件查询), checked and answered like a ticket."""
        return self._print(self._send_case, slip)

    def _print(self, send, content) -> str:
        with self._lock:
            status = self._status()
            self.last_status = status
            if status not in PRINTABLE:
                raise PrinterError(status, f"printer {self.port}: {status}")
            try:
                send(self._open(), content)
            except PrinterError:
                raise
            except Exception as err:
                self._drop()
                self.last_status = OFFLINE
                raise PrinterError(OFFLINE, f"printer {self.port}: {err}") from err
            return status

    def _line(self, p, text: str = "") -> None:
        p._raw(text.encode("gb18030", errors="replace") + b"\n")

    def _send(self, p, t: TicketContent) -> None:
        cols = self.columns
        p.hw("INIT")
        p._raw(CHINESE_ON)
        p.set(align="center", bold=True, normal_textsize=True)
        for line in wrap(t.hall_name, cols):
            self._line(p, line)
        p.set(bold=False)
        for line in wrap(t.hall_name_en, cols):
            self._line(p, line)
        self._line(p)
        self._line(p, "您的号码 Your number")
        p.set(custom_size=True, width=4, height=4, bold=True)
        self._line(p, t.no)
        p.set(normal_textsize=True, bold=False)
        self._line(p)
        p.set(bold=True)
        for line in wrap(t.service, cols):
            self._line(p, line)
        p.set(bold=False)
        for line in wrap(t.service_en, cols):
            self._line(p, line)
        self._line(p)
        p.set(align="left")
        if t.windows:
            windows = "、".join(t.windows)
            p.set(double_height=True, double_width=True)
            for line in wrap(f"请到 {windows} 号窗口办理", cols):
                self._line(p, line)
            p.set(normal_textsize=True)
            self._line(p, f"Window{'s' if len(t.windows) > 1 else ''}: {', '.join(t.windows)}")
        for place in [*t.places, *t.places_en]:
            for line in wrap(place, cols):
                self._line(p, line)
        if t.ahead is not None:
            for line in ahead_lines(t.ahead, t.est_wait_s):
                self._line(p, line)
        if t.issued_at:
            self._line(p, f"取号时间 Issued: {t.issued_at}")
        if t.materials:
            self._line(p, "-" * cols)
            p.set(bold=True)
            self._line(p, "一次性告知：请备齐以下材料")
            p.set(bold=False)
            self._line(p, "Please bring these documents:")
            for i, item in enumerate(t.materials, 1):
                for line in wrap(f"{i:>2}. {item}", cols, indent="    "):
                    self._line(p, line)
        self._line(p, "-" * cols)
        for line in wrap(t.note, cols):
            self._line(p, line)
        for line in wrap(t.note_en, cols):
            self._line(p, line)
        if t.qr:
            p.set(align="center")
            self._line(p)
            p.qr(t.qr, native=True, size=6)
            self._line(p, t.qr)
        p._raw(CHINESE_OFF)
        p.cut()
        p.device.flush()

    def _send_case(self, p, s: CaseSlip) -> None:
        cols = self.columns
        p.hw("INIT")
        p._raw(CHINESE_ON)
        p.set(align="center", bold=True, normal_textsize=True)
        for line in wrap(s.hall_name, cols):
            self._line(p, line)
        p.set(bold=False)
        for line in wrap(s.hall_name_en, cols):
            self._line(p, line)
        self._line(p)
        self._line(p, "办件编号 Case number")
        p.set(custom_size=True, width=2, height=2, bold=True)
        self._line(p, s.case)
        p.set(normal_textsize=True, bold=False)
        self._line(p)
        p.set(bold=True)
        for line in wrap(s.service, cols):
            self._line(p, line)
        p.set(bold=False)
        for line in wrap(s.service_en, cols):
            self._line(p, line)
        p.set(align="left")
        if s.status:
            self._line(p, f"状态 Status: {s.status}")
        if s.deadline:
            self._line(p, f"承诺办结期限 Due by the close of: {s.deadline}")
        if s.printed_at:
            self._line(p, f"打印时间 Printed: {s.printed_at}")
        self._line(p, "-" * cols)
        for line in wrap(s.hint, cols):
            self._line(p, line)
        for line in wrap(s.hint_en, cols):
            self._line(p, line)
        p._raw(CHINESE_OFF)
        p.cut()
        p.device.flush()
