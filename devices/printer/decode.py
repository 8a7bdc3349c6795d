"""What a thermal printer makes of an ESC/POS byte stream: lines of text with their sizes, QR codes, feeds, cuts.

A pure, incremental decoder: `feed(bytes)` takes whatever arrived (commands may be split across reads) and returns
the real-time status replies a printer would send back at once. Text is decoded as the printer would: GB18030
only between `FS &` and `FS .`, the selected single-byte code page otherwise. A stream that sends GB18030 bytes
without `FS &` therefore comes out as mojibake here, just as on paper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
LF, CR, HT, FF, EOT = 0x0A, 0x0D, 0x09, 0x0C, 0x04

# ESC t n → Python codec, for the tables a test is likely to meet; anything else decodes as cp437
CODE_PAGES = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252", 17: "cp866",
              18: "cp852", 19: "cp858"}

# DLE EOT status bytes (bits 1 and 4 are always set; ESC/POS Application Programming Guide, DLE EOT)
STATUS_FIXED = 0x12
STATUS_OFFLINE = 0x08          # n=1, bit 3: the printer is offline
CAUSE_COVER_OPEN = 0x04        # n=2, bit 2
CAUSE_PAPER_STOP = 0x20        # n=2, bit 5: printing stopped because the paper ran out
PAPER_NEAR_END = 0x0C          # n=4, bits 2-3
PAPER_END = 0x60               # n=4, bits 5-6


@dataclass(frozen=True)
class Style:
    width: int = 1
    height: int = 1
    bold: bool = False
    underline: int = 0
    invert: bool = False
    font: int = 0


@dataclass
class Run:
    text: str
    style: Style


@dataclass
class Line:
    runs: list[Run]
    align: str = "left"

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)

    @property
    def width(self) -> int:
        return max((r.style.width for r in self.runs), default=1)

    @property
    def height(self) -> int:
        return max((r.style.height for r in self.runs), default=1)

    @property
    def bold(self) -> bool:
        return any(r.style.bold for r in self.runs if r.text.strip())


@dataclass
class QRCode:
    data: str
    module: int = 3
    ec: str = "L"
    model: int = 2
    align: str = "left"


@dataclass
class Feed:
    lines: int = 0
    dots: int = 0


@dataclass
class Graphic:
    """A raster image or an unsupported 2D code: kept by size only."""
    kind: str
    nbytes: int


@dataclass
class Barcode:
    system: int
    data: str


@dataclass
class Ticket:
    """Everything between two cuts."""
    items: list = field(default_factory=list)
    cut: str = "full"
    raw: bytes = b""

    @property
    def lines(self) -> list[Line]:
        return [i for i in self.items if isinstance(i, Line)]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def qr_codes(self) -> list[str]:
        return [i.data for i in self.items if isinstance(i, QRCode)]

    def find(self, needle: str) -> Line | None:
        return next((line for line in self.lines if needle in line.text), None)


class NeedMore(Exception):
    """The buffer ends inside a command."""


class Decoder:
    """Incremental ESC/POS decoder. `status(n)` answers DLE EOT n (None: no answer, as a printer that is off)."""

    def __init__(self, status: Callable[[int], int | None] | None = None,
                 on_ticket: Callable[[Ticket], None] | None = None):
        self._buf = bytearray()
        self._status = status or (lambda n: STATUS_FIXED)
        self._on_ticket = on_ticket
        self.tickets: list[Ticket] = []
        self.queries: list[int] = []
        self._reset()
        self._ticket_raw = bytearray()
        self._ticket = Ticket()

    def _reset(self) -> None:
        self.style = Style()
        self.align = "left"
        self.chinese = False
        self.codepage = "cp437"
        self._runs: list[Run] = []
        self._text = bytearray()
        self._qr_store = b""
        self._qr_module = 3
        self._qr_ec = "L"
        self._qr_model = 2

    # ------------------------------------------------------------ input

    def feed(self, data: bytes) -> bytes:
        """Decode what arrived; return the bytes the printer answers with right away."""
        self._buf += data
        replies = bytearray()
        while self._buf:
            start = len(self._buf)
            try:
                used, reply = self._step()
            except NeedMore:
                break
            consumed = bytes(self._buf[:used])
            del self._buf[:used]
            if not (consumed[:1] == bytes([DLE])):  # real-time queries are not part of the printout
                self._ticket_raw += consumed
            if reply is not None:
                replies.append(reply)
            assert len(self._buf) < start
        return bytes(replies)

    def _need(self, n: int) -> None:
        if len(self._buf) < n:
            raise NeedMore

    def _step(self) -> tuple[int, int | None]:
        b = self._buf
        c = b[0]
        if c == LF:
            self._end_line()
            return 1, None
        if c in (CR, FF):
            return 1, None
        if c == HT:
            self._text += b"    "
            return 1, None
        if c == ESC:
            return self._esc()
        if c == GS:
            return self._gs()
        if c == FS:
            return self._fs()
        if c == DLE:
            return self._dle()
        if c < 0x20:
            return 1, None
        if self.chinese and c >= 0x81:  # a GB18030 multi-byte character: 2 or 4 bytes
            self._need(2)
            n = 4 if 0x30 <= b[1] <= 0x39 else 2
            self._need(n)
            self._text += b[:n]
            return n, None
        self._text.append(c)
        return 1, None

    def _esc(self) -> tuple[int, int | None]:
        self._need(2)
        b, cmd = self._buf, chr(self._buf[1])
        if cmd == "@":
            self._end_run()
            if self._runs:
                self._end_line()
            self._reset()
            return 2, None
        if cmd in "!EG-aMt{3JdRVr ":
            self._need(3)
            n = b[2]
            if cmd == "!":
                self._set_style(width=2 if n & 0x20 else 1, height=2 if n & 0x10 else 1, bold=bool(n & 0x08),
                                underline=1 if n & 0x80 else 0, font=n & 0x01)
            elif cmd in "EG":
                self._set_style(bold=bool(n & 1))
            elif cmd == "-":
                self._set_style(underline=n % 48 if n >= 48 else n)
            elif cmd == "a":
                self.align = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}.get(n, "left")
            elif cmd == "M":
                self._set_style(font=n % 48 if n >= 48 else n)
            elif cmd == "t":
                self._end_run()
                self.codepage = CODE_PAGES.get(n, "cp437")
            elif cmd == "d":
                if self._runs or self._text:
                    self._end_line()
                    n = max(n - 1, 0)
                if n:
                    self._ticket.items.append(Feed(lines=n))
            elif cmd == "J":
                self._end_line_if_text()
                self._ticket.items.append(Feed(dots=n))
            return 3, None
        if cmd == "2":
            return 2, None
        if cmd == "p":   # cash drawer pulse: ESC p m t1 t2
            self._need(5)
            return 5, None
        if cmd == "c":   # ESC c 3 n / ESC c 4 n / ESC c 5 n: paper sensors and panel buttons
            self._need(4)
            return 4, None
        if cmd == "$":   # absolute position nL nH
            self._need(4)
            return 4, None
        if cmd in "im":  # partial cut (older command)
            self._cut("partial")
            return 2, None
        return 2, None  # unknown ESC x: skip the pair

    def _gs(self) -> tuple[int, int | None]:
        self._need(2)
        b, cmd = self._buf, chr(self._buf[1])
        if cmd in "!Bb|HhwfaIr":
            self._need(3)
            n = b[2]
            if cmd == "!":
                self._set_style(width=(n >> 4) + 1, height=(n & 0x0F) + 1)
            elif cmd == "B":
                self._set_style(invert=bool(n & 1))
            return 3, None
        if cmd == "V":
            self._need(3)
            m = b[2]
            if m in (65, 66, 97, 98, 103, 104):
                self._need(4)
                self._cut("full" if m in (65, 97, 103) else "partial")
                return 4, None
            self._cut("full" if m in (0, 48) else "partial")
            return 3, None
        if cmd in "LWP":  # left margin, print area width, motion units: two bytes
            self._need(4)
            return 4, None
        if cmd == "(":
            self._need(5)
            fn_group = chr(b[2])
            size = b[3] + b[4] * 256
            self._need(5 + size)
            body = bytes(b[5:5 + size])
            if fn_group == "k":
                self._two_d(body)
            else:
                self._end_line_if_text()
                self._ticket.items.append(Graphic(f"GS ( {fn_group}", size))
            return 5 + size, None
        if cmd == "v":   # GS v 0 m xL xH yL yH d1...dk
            self._need(8)
            width = b[4] + b[5] * 256
            height = b[6] + b[7] * 256
            size = width * height
            self._need(8 + size)
            self._end_line_if_text()
            self._ticket.items.append(Graphic("raster", size))
            return 8 + size, None
        if cmd == "k":   # barcodes
            self._need(3)
            m = b[2]
            if m <= 6:
                end = b.find(b"\x00", 3)
                if end < 0:
                    raise NeedMore
                self._barcode(m, bytes(b[3:end]))
                return end + 1, None
            self._need(4)
            n = b[3]
            self._need(4 + n)
            self._barcode(m, bytes(b[4:4 + n]))
            return 4 + n, None
        return 2, None

    def _fs(self) -> tuple[int, int | None]:
        self._need(2)
        b, cmd = self._buf, chr(self._buf[1])
        if cmd == "&":
            self._end_run()
            self.chinese = True
            return 2, None
        if cmd == ".":
            self._end_run()
            self.chinese = False
            return 2, None
        if cmd in "!-CW":
            self._need(3)
            n = b[2]
            if cmd == "!":  # Chinese print mode: bit 2 double width, bit 3 double height
                self._set_style(width=2 if n & 0x04 else 1, height=2 if n & 0x08 else 1)
            elif cmd == "W":
                self._set_style(width=2 if n & 1 else 1, height=2 if n & 1 else 1)
            return 3, None
        if cmd == "S":
            self._need(4)
            return 4, None
        return 2, None

    def _dle(self) -> tuple[int, int | None]:
        self._need(2)
        b = self._buf
        if b[1] == EOT:
            self._need(3)
            n = b[2]
            self.queries.append(n)
            return 3, self._status(n)
        if b[1] == 0x05:  # DLE ENQ n
            self._need(3)
            return 3, None
        if b[1] == 0x14:  # DLE DC4 fn m t
            self._need(5)
            return 5, None
        # a lone DLE is printed as a character on a real printer; here it is dropped
        return 1, None

    # ------------------------------------------------------------ building the printout

    def _decode(self, raw: bytes) -> str:
        if self.chinese:
            return raw.decode("gb18030", errors="replace")
        try:
            return raw.decode(self.codepage, errors="replace")
        except LookupError:
            return raw.decode("cp437", errors="replace")

    def _end_run(self) -> None:
        if self._text:
            self._runs.append(Run(self._decode(bytes(self._text)), self.style))
            self._text.clear()

    def _set_style(self, **changes) -> None:
        new = replace(self.style, **changes)
        if new != self.style:
            self._end_run()
            self.style = new

    def _end_line(self) -> None:
        self._end_run()
        self._ticket.items.append(Line(self._runs or [Run("", self.style)], self.align))
        self._runs = []

    def _end_line_if_text(self) -> None:
        if self._runs or self._text:
            self._end_line()

    def _two_d(self, body: bytes) -> None:
        if len(body) < 2:
            return
        cn, fn = body[0], body[1]
        if cn != 49:  # only QR (cn "1") is modelled
            self._ticket.items.append(Graphic(f"2D code {cn}", len(body)))
            return
        if fn == 65 and len(body) >= 3:
            self._qr_model = {49: 1, 50: 2, 51: 3}.get(body[2], 2)
        elif fn == 67 and len(body) >= 3:
            self._qr_module = body[2]
        elif fn == 69 and len(body) >= 3:
            self._qr_ec = {48: "L", 49: "M", 50: "Q", 51: "H"}.get(body[2], "L")
        elif fn == 80:
            self._qr_store = body[3:]
        elif fn == 81:
            self._end_line_if_text()
            self._ticket.items.append(QRCode(self._qr_store.decode("utf-8", errors="replace"), self._qr_module,
                                             self._qr_ec, self._qr_model, self.align))

    def _barcode(self, system: int, data: bytes) -> None:
        self._end_line_if_text()
        self._ticket.items.append(Barcode(system, data.decode("ascii", errors="replace")))

    def _cut(self, mode: str) -> None:
        self._end_line_if_text()
        ticket = self._ticket
        ticket.cut = mode
        ticket.raw = bytes(self._ticket_raw)
        self._ticket = Ticket()
        self._ticket_raw = bytearray()
        self.tickets.append(ticket)
        if self._on_ticket:
            self._on_ticket(ticket)

    def pending(self) -> Ticket:
        """What has been printed since the last cut (a ticket still on the printer)."""
        return self._ticket
