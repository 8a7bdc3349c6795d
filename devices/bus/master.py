"""The bus master: one request outstanding at a time, retries with the same SEQ, broadcasts.

Shape as luma's: a serial interface (anything with pyserial's read/write) → this master → the agents above it
(the caller's keypads and rating pads, the LED screens). A simulator on a pseudo-terminal is one more serial
interface, so nothing above can tell it from the hall's RS-485 adapter.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from devices.bus.codec import (
    BROADCAST,
    OVERHEAD,
    REPLY_BIT,
    STATUS_TEXT,
    Command,
    Frame,
    FrameParser,
    PingReply,
    Status,
    frame_seconds,
    request,
)

log = logging.getLogger(__name__)

DEFAULT_BAUDRATE = 9600
RETRIES = 3  # after the first try: four frames at most
MARGIN_S = 0.100  # a device's processing time, on top of the time on the wire
REPLY_ALLOWANCE = OVERHEAD + 64  # bytes a reply may take on the wire, counted into the timeout
BROADCAST_REPEAT = 2  # nobody answers a broadcast, so it goes out twice; devices drop the repeat
READ_SLICE_S = 0.02


class BusError(Exception):
    """A request that did not get an ok reply."""

    def __init__(self, addr: int, cmd: int, message: str):
        self.addr = addr
        self.cmd = cmd
        super().__init__(message)


class NoAnswer(BusError):
    """The device did not answer any try: it is off, unplugged, or every frame was garbled."""

    def __init__(self, addr: int, cmd: int, seq: int, tries: int, timeout_s: float):
        self.seq = seq
        self.tries = tries
        super().__init__(addr, cmd, f"no answer from bus address {addr} to {_name(cmd)} (seq {seq}) after "
                         f"{tries} tries of {timeout_s * 1000:.0f} ms each")


class Refused(BusError):
    """The device answered with a status other than ok."""

    def __init__(self, addr: int, cmd: int, status: int):
        self.status = status
        super().__init__(addr, cmd, f"bus address {addr} refused {_name(cmd)}: status {status} "
                         f"({STATUS_TEXT.get(status, 'unknown status')})")

    @property
    def reason(self) -> str:
        return STATUS_TEXT.get(self.status, f"status_{self.status}")


def _name(cmd: int) -> str:
    try:
        return Command(cmd).name
    except ValueError:
        return f"command 0x{cmd:02x}"


@dataclass
class BusStats:
    requests: int = 0
    frames_sent: int = 0
    retries: int = 0
    no_answer: int = 0
    refused: int = 0
    stray_frames: int = 0  # replies to an earlier try, echoes of our own frames
    bad_frames: int = 0
    per_address_retries: dict[int, int] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        """The figures a `health` event carries: how hard the bus had to work to be heard."""
        return {"requests": self.requests, "retries": self.retries, "no_answer": self.no_answer,
                "refused": self.refused, "bad_frames": self.bad_frames}


class BusMaster:
    """Talks to the devices on one bus. Thread-safe: callers queue on a lock, so one request is outstanding.

    Sequence numbers are kept per address and run 1…255, then wrap to 1. The first request to an address is
    preceded by a PING with SEQ 0, which every device executes and which makes it forget the last SEQ it saw:
    so a restarted master never has its first request dropped as a "repeat" of what the last master sent.
    """

    def __init__(self, port, *, baudrate: int | None = None, retries: int = RETRIES, margin_s: float = MARGIN_S):
        self.port = port
        self.baudrate = baudrate or getattr(port, "baudrate", None) or DEFAULT_BAUDRATE
        self.retries = retries
        self.margin_s = margin_s
        self.stats = BusStats()
        self._seq: dict[int, int] = {}
        self._lock = threading.Lock()
        self._parser = FrameParser()
        if hasattr(port, "timeout"):
            port.timeout = READ_SLICE_S

    # ------------------------------------------------------------ public

    def transact(self, addr: int, cmd: int, body=None) -> Frame:
        """Send one request and return its ok reply. Raises NoAnswer or Refused."""
        if addr == BROADCAST:
            raise ValueError("address 0 is broadcast: use broadcast(), nobody answers it")
        with self._lock:
            if addr not in self._seq:
                hello = self._hello(addr)
                if cmd == Command.PING and body is None:
                    return hello
            seq = self._seq[addr] = self._seq[addr] % 255 + 1
            return self._exchange(request(addr, seq, cmd, body))

    def broadcast(self, cmd: int, body=None) -> None:
        """Send to every device; no reply comes, so the frame goes out twice with the same SEQ."""
        with self._lock:
            seq = self._seq[BROADCAST] = self._seq.get(BROADCAST, 0) % 255 + 1
            data = request(BROADCAST, seq, cmd, body).encode()
            for _ in range(BROADCAST_REPEAT):
                self._write(data)
                time.sleep(frame_seconds(len(data), self.baudrate))  # let the line carry it before the next

    def ping(self, addr: int) -> PingReply:
        return PingReply.decode(self.transact(addr, Command.PING).body)

    def forget(self, addr: int) -> None:
        """Greet this address again before the next request (after it was power-cycled or replaced)."""
        with self._lock:
            self._seq.pop(addr, None)

    def timeout_for(self, frame_len: int) -> float:
        """Frame time (the request and a reply's allowance on the wire) + the device's processing margin."""
        return frame_seconds(frame_len + REPLY_ALLOWANCE, self.baudrate) + self.margin_s

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:  # closing a port that the other side already dropped is not worth a traceback
            log.debug("closing the bus port", exc_info=True)

    # ------------------------------------------------------------ inner

    def _hello(self, addr: int) -> Frame:
        reply = self._exchange(request(addr, 0, Command.PING))
        self._seq[addr] = 0
        return reply

    def _write(self, data: bytes) -> None:
        self.port.write(data)
        self.stats.frames_sent += 1
        flush = getattr(self.port, "flush", None)
        if flush:
            flush()

    def _exchange(self, frame: Frame) -> Frame:
        data = frame.encode()
        timeout = self.timeout_for(len(data))
        self.stats.requests += 1
        tries = 1 + self.retries
        last_status = None
        for attempt in range(tries):
            if attempt:
                self.stats.retries += 1
                self.stats.per_address_retries[frame.addr] = self.stats.per_address_retries.get(frame.addr, 0) + 1
                log.debug("retrying %s (try %d of %d)", frame.describe(), attempt + 1, tries)
            self._parser.clear()  # whatever half frame is buffered belongs to an earlier exchange
            self._write(data)
            reply = self._await(frame, time.monotonic() + timeout)
            if reply is None:
                continue
            if reply.status == Status.BUSY:
                last_status = Status.BUSY  # a busy device did not take the request: try again after a pause
                time.sleep(timeout)
                continue
            if reply.status != Status.OK:
                self.stats.refused += 1
                raise Refused(frame.addr, frame.cmd, reply.payload[0] if reply.payload else -1)
            return reply
        if last_status is not None:
            self.stats.refused += 1
            raise Refused(frame.addr, frame.cmd, last_status)
        self.stats.no_answer += 1
        raise NoAnswer(frame.addr, frame.cmd, frame.seq, tries, timeout)

    def _await(self, frame: Frame, deadline: float) -> Frame | None:
        want = frame.cmd | REPLY_BIT
        while time.monotonic() < deadline:
            chunk = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 1))
            if not chunk:
                continue
            bad_before = self._parser.bad_frames
            frames = self._parser.feed(chunk)
            self.stats.bad_frames += self._parser.bad_frames - bad_before
            for got in frames:  # one request is outstanding, so anything else is a leftover
                if got.addr == frame.addr and got.seq == frame.seq and got.cmd == want:
                    return got
                self.stats.stray_frames += 1
        return None


def open_port(path: str, baudrate: int = DEFAULT_BAUDRATE, *, rs485: bool = False,
              rts_level_for_tx: bool = True, delay_before_tx: float | None = None):
    """Open a serial port for the bus without touching its modem lines.

    RTS/DTR stay as they are unless `rs485` asks the kernel to drive RTS for direction: a pseudo-terminal refuses
    modem-line ioctls, and USB RS-485 adapters switch direction on their own.
    """
    import serial

    port = serial.serial_for_url(path, do_not_open=True, baudrate=baudrate, timeout=READ_SLICE_S,
                                 write_timeout=2.0, rtscts=False, dsrdtr=False, xonxoff=False)
    port.open()
    if rs485:
        from serial.rs485 import RS485Settings

        port.rs485_mode = RS485Settings(rts_level_for_tx=rts_level_for_tx,
                                        rts_level_for_rx=not rts_level_for_tx,
                                        delay_before_tx=delay_before_tx)
    return port
