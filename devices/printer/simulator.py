"""A thermal ticket printer on a pseudo-terminal, for tests, demos and `hall up`.

The code under test opens `sim.port` with python-escpos (`escpos.printer.Serial`) exactly as it opens
/dev/ttyUSB0; the simulator reads the pty's master side, decodes the ESC/POS stream (text lines with their sizes,
GB18030 after `FS &`, native QR codes, cuts) and answers `DLE EOT` status queries with real status bytes.

    sim = PrinterSimulator().start()
    ...print to sim.port...
    ticket = sim.wait_tickets(1)[0]; ticket.find("A001"); ticket.qr_codes
    sim.paper = "out"          # or "low"; sim.online = False: the printer stops answering (switched off)
    sim.render_png(ticket, "ticket.png")
    sim.save_pngs("printed/")  # every ticket as ticket-0001.png, … numbered on from what the folder holds
    sim.stop()

While the paper is out the printer prints nothing: what arrives is decoded into `discarded`, not `tickets`.
"""

from __future__ import annotations

import logging
import os
import re
import select
import threading
import time
import tty
from pathlib import Path

from devices.printer.decode import (
    CAUSE_COVER_OPEN,
    CAUSE_PAPER_STOP,
    PAPER_END,
    PAPER_NEAR_END,
    STATUS_FIXED,
    STATUS_OFFLINE,
    Decoder,
    Ticket,
)

log = logging.getLogger(__name__)

PAPER_STATES = ("ok", "low", "out")
_NUMBERED = re.compile(r"^ticket-(\d+)\.png$")


def next_ticket_number(folder: Path | str) -> int:
    """The number the next ticket image in `folder` takes: one past the highest ticket-NNNN.png there."""
    folder = Path(folder)
    numbers = [int(m.group(1)) for f in (folder.iterdir() if folder.is_dir() else ()) if (m := _NUMBERED.match(f.name))]
    return max(numbers, default=0) + 1


class PrinterSimulator:
    def __init__(self, *, paper: str = "ok", online: bool = True, cover_open: bool = False):
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.paper = paper
        self.online = online
        self.cover_open = cover_open
        self.received = bytearray()
        self.tickets: list[Ticket] = []
        self.discarded: list[Ticket] = []
        self.status_queries = 0
        self._decoder = Decoder(status=self._status_byte, on_ticket=self._on_ticket)
        self._master: int | None = None
        self._slave: int | None = None
        self.port = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ life

    def start(self) -> PrinterSimulator:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no newline translation: bytes pass as they are
        self.port = os.ttyname(self._slave)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="printer-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2)
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    def __enter__(self) -> PrinterSimulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ state

    @property
    def paper(self) -> str:
        return self._paper

    @paper.setter
    def paper(self, value: str) -> None:
        if value not in PAPER_STATES:
            raise ValueError(f"paper: {value!r}, expected one of {PAPER_STATES}")
        self._paper = value

    @property
    def ready(self) -> bool:
        """Would it print now?"""
        return self.online and self._paper != "out" and not self.cover_open

    def _status_byte(self, n: int) -> int | None:
        self.status_queries += 1
        if not self.online:
            return None
        if n == 1:
            return STATUS_FIXED | (STATUS_OFFLINE if (self._paper == "out" or self.cover_open) else 0)
        if n == 2:
            return STATUS_FIXED | (CAUSE_COVER_OPEN if self.cover_open else 0) | (
                CAUSE_PAPER_STOP if self._paper == "out" else 0)
        if n == 3:
            return STATUS_FIXED
        if n == 4:
            return STATUS_FIXED | {"ok": 0, "low": PAPER_NEAR_END, "out": PAPER_NEAR_END | PAPER_END}[self._paper]
        return None

    def _on_ticket(self, ticket: Ticket) -> None:
        with self._changed:
            (self.tickets if self.ready else self.discarded).append(ticket)
            self._changed.notify_all()

    def wait_tickets(self, count: int = 1, timeout: float = 5.0) -> list[Ticket]:
        """Until at least `count` tickets were printed; returns them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.tickets) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.tickets)} of {count} tickets printed within {timeout} s")
                self._changed.wait(left)
            return list(self.tickets)

    def clear(self) -> None:
        with self._lock:
            self.tickets.clear()
            self.discarded.clear()
            self.received.clear()

    def render_png(self, ticket: Ticket | int = -1, path: Path | str = "ticket.png") -> Path:
        """Draw a printed ticket (by default the last one) as PNG."""
        from devices.printer.render import render_ticket

        if isinstance(ticket, int):
            ticket = self.tickets[ticket]
        render_ticket(ticket, path)
        return Path(path)

    def save_pngs(self, folder: Path | str, tickets: list[Ticket] | None = None) -> list[Path]:
        """Draw every printed ticket (or those given) into `folder` as ticket-NNNN.png, numbered on from the
        highest number already there, so a second run never overwrites the first run's tickets."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        n = next_ticket_number(folder)
        made = []
        for ticket in (self.tickets if tickets is None else tickets):
            made.append(self.render_png(ticket, folder / f"ticket-{n:04d}.png"))
            n += 1
        return made

    # ------------------------------------------------------------ the printer's side of the line

    def _run(self) -> None:
        master = self._master
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.1)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # the other side closed; a new open will come
                time.sleep(0.05)
                continue
            if not data:
                continue
            if not self.online:
                continue  # switched off: nothing is heard, nothing answered
            with self._lock:
                self.received += data
            try:
                reply = self._decoder.feed(data)
            except Exception:  # a decoder bug must not kill the printer
                log.exception("printer simulator: could not decode %r", data[:64])
                continue
            if reply:
                try:
                    os.write(master, reply)
                except OSError:
                    pass
