"""The hall bus codec: frames, CRC, command payloads and key codes (docs/hall-bus.md).

One codec for everything on the bus: the caller master, the LED master and the simulator all build and read
frames here, so a layout lives in exactly one place. Pure functions and small value classes, no I/O.

Frame: ``AA 55 | ADDR | SEQ | CMD | LEN (2, BE) | PAYLOAD | CRC-16/MODBUS (2, low byte first)``, the CRC over
ADDR…PAYLOAD. Every multi-byte number inside a payload is big-endian, like LEN.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

SYNC = b"\xaa\x55"
BROADCAST = 0
MAX_ADDRESS = 247
MAX_PAYLOAD = 1024
HEADER_SIZE = 7  # sync, addr, seq, cmd, len
OVERHEAD = HEADER_SIZE + 2  # + crc
REPLY_BIT = 0x80


class Command(IntEnum):
    PING = 0x01
    STATUS = 0x02
    SET_TIME = 0x03
    SHOW_TEXT = 0x10
    SET_IDLE_TEXT = 0x11
    CLEAR = 0x12
    BRIGHTNESS = 0x13
    POLL_KEYS = 0x20
    SHOW_ON_KEYPAD = 0x21
    POLL_RATING = 0x30


class Status(IntEnum):
    OK = 0
    UNKNOWN_COMMAND = 2
    BAD_PARAMETER = 3
    BUSY = 4
    TEXT_TOO_LONG = 5
    ENCODING_NOT_SUPPORTED = 6


STATUS_TEXT = {
    Status.OK: "ok",
    Status.UNKNOWN_COMMAND: "unknown_command",
    Status.BAD_PARAMETER: "bad_parameter",
    Status.BUSY: "busy",
    Status.TEXT_TOO_LONG: "text_too_long",
    Status.ENCODING_NOT_SUPPORTED: "encoding_not_supported",
}


class Effect(IntEnum):
    STATIC = 0
    SCROLL = 1  # right to left
    FLASH = 2


class Encoding(IntEnum):
    UTF8 = 0
    GB18030 = 1

    @property
    def codec(self) -> str:
        return "utf-8" if self is Encoding.UTF8 else "gb18030"

    @classmethod
    def named(cls, name: str) -> Encoding:
        key = name.lower().replace("-", "").replace("_", "")
        if key == "utf8":
            return cls.UTF8
        if key in ("gb18030", "gbk", "gb2312"):  # GB18030 is a superset of both; a ROM font reads their bytes alike
            return cls.GB18030
        raise ValueError(f"unknown encoding {name!r}: expected 'utf-8' or 'gb18030'")


class Colour(IntEnum):
    DEFAULT = 0  # the screen's own colour
    RED = 1
    GREEN = 2
    YELLOW = 3


class DeviceKind(IntEnum):
    """What a device says it is in its PING reply."""
    WINDOW_SCREEN = 1
    STRIP_SCREEN = 2
    KEYPAD = 3
    RATING_PAD = 4


class Key(IntEnum):
    """Caller keypad key codes, as POLL_KEYS returns them. Digits are their ASCII codes."""
    D0 = 0x30
    D1 = 0x31
    D2 = 0x32
    D3 = 0x33
    D4 = 0x34
    D5 = 0x35
    D6 = 0x36
    D7 = 0x37
    D8 = 0x38
    D9 = 0x39
    CLEAR = 0x08     # 清除: drop the digits typed so far
    ENTER = 0x0D     # 确认: finish login / transfer digits
    NEXT = 0x41      # 叫号 (call next; completes the ticket being served)
    RECALL = 0x42    # 重呼
    SKIP = 0x43      # 过号 (no-show)
    COMPLETE = 0x44  # 办结
    TRANSFER = 0x45  # 转移, then the target window's number, then ENTER
    PAUSE = 0x46     # 暂停; pressed again while paused it resumes
    RESUME = 0x47    # 恢复
    LOGIN = 0x48     # 登录, then the staff number, then ENTER
    LOGOUT = 0x49    # 退出

    @property
    def digit(self) -> str | None:
        return chr(self.value) if Key.D0 <= self <= Key.D9 else None


KEY_NAMES: dict[str, Key] = {k.name.lower(): k for k in Key} | {str(d): Key(0x30 + d) for d in range(10)}


def key_code(key: int | str | Key) -> Key:
    """A key from its code, its name ('next', 'recall', …) or a digit character ('7')."""
    if isinstance(key, str):
        try:
            return KEY_NAMES[key.lower()]
        except KeyError:
            raise ValueError(f"unknown key {key!r}: expected one of {sorted(KEY_NAMES)}") from None
    return Key(key)


class KeypadState(IntEnum):
    """What SHOW_ON_KEYPAD says about the window, so the keypad can light 暂停 or 离线."""
    IDLE = 0
    SERVING = 1
    PAUSED = 2
    CLOSED = 3
    OFFLINE = 4  # the hub is away; the figures shown are the last known

    @classmethod
    def of(cls, status: str | None) -> KeypadState:
        return {"idle": cls.IDLE, "serving": cls.SERVING, "paused": cls.PAUSED, "closed": cls.CLOSED}.get(
            status or "", cls.IDLE)


# ---------------------------------------------------------------- CRC and frames

def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS: reflected polynomial 0xA001, initial value 0xFFFF, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


class FrameError(ValueError):
    """Bytes that are not one valid frame."""


@dataclass(frozen=True)
class Frame:
    addr: int
    seq: int
    cmd: int
    payload: bytes = b""

    def __post_init__(self):
        if not 0 <= self.addr <= MAX_ADDRESS:
            raise FrameError(f"address {self.addr} is outside 0–{MAX_ADDRESS}")
        if not 0 <= self.seq <= 255 or not 0 <= self.cmd <= 255:
            raise FrameError(f"seq {self.seq} and cmd {self.cmd} must be bytes")
        if len(self.payload) > MAX_PAYLOAD:
            raise FrameError(f"payload of {len(self.payload)} bytes exceeds {MAX_PAYLOAD}")

    @property
    def is_reply(self) -> bool:
        return bool(self.cmd & REPLY_BIT)

    @property
    def command(self) -> int:
        return self.cmd & ~REPLY_BIT

    @property
    def status(self) -> Status | None:
        """A reply's status byte."""
        if not self.is_reply or not self.payload:
            return None
        try:
            return Status(self.payload[0])
        except ValueError:
            return None

    @property
    def body(self) -> bytes:
        """A reply's payload after the status byte."""
        return self.payload[1:] if self.is_reply else self.payload

    def encode(self) -> bytes:
        inner = struct.pack(">BBBH", self.addr, self.seq, self.cmd, len(self.payload)) + self.payload
        return SYNC + inner + struct.pack("<H", crc16_modbus(inner))

    def reply(self, status: Status = Status.OK, body: bytes = b"") -> Frame:
        return Frame(self.addr, self.seq, self.cmd | REPLY_BIT, bytes([status]) + body)

    def describe(self) -> str:
        name = _command_name(self.command)
        return f"{name}{' reply' if self.is_reply else ''} addr {self.addr} seq {self.seq}"


def _command_name(cmd: int) -> str:
    try:
        return Command(cmd).name
    except ValueError:
        return f"command 0x{cmd:02x}"


def encode_frame(addr: int, seq: int, cmd: int, payload: bytes = b"") -> bytes:
    return Frame(addr, seq, cmd, bytes(payload)).encode()


def decode_frame(data: bytes) -> Frame:
    """Exactly one frame, checked; raises FrameError saying what is wrong."""
    if len(data) < OVERHEAD:
        raise FrameError(f"{len(data)} bytes is shorter than the {OVERHEAD}-byte minimum frame")
    if data[:2] != SYNC:
        raise FrameError(f"frame starts with {data[:2].hex(' ')}, expected aa 55")
    addr, seq, cmd, length = struct.unpack(">BBBH", data[2:HEADER_SIZE])
    if length > MAX_PAYLOAD:
        raise FrameError(f"LEN {length} exceeds {MAX_PAYLOAD}")
    if len(data) != OVERHEAD + length:
        raise FrameError(f"LEN {length} needs a {OVERHEAD + length}-byte frame, got {len(data)} bytes")
    inner = data[2:HEADER_SIZE + length]
    (crc,) = struct.unpack("<H", data[HEADER_SIZE + length:])
    if crc != crc16_modbus(inner):
        raise FrameError(f"bad CRC {crc:04x}, expected {crc16_modbus(inner):04x}")
    if addr > MAX_ADDRESS:
        raise FrameError(f"address {addr} is outside 0–{MAX_ADDRESS}")
    return Frame(addr, seq, cmd, bytes(data[HEADER_SIZE:HEADER_SIZE + length]))


class FrameParser:
    """Cuts frames out of a byte stream. Resyncs on AA 55; a bad CRC (noise, or a false AA 55 inside a payload)
    skips one byte and scans on, so one damaged frame never swallows the next."""

    def __init__(self):
        self._buf = bytearray()
        self.bad_frames = 0

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        out: list[Frame] = []
        buf = self._buf
        while True:
            start = buf.find(SYNC)
            if start < 0:
                # keep a trailing AA: it may be the first half of the next sync
                del buf[:max(0, len(buf) - 1) if buf[-1:] == b"\xaa" else len(buf)]
                break
            if start:
                del buf[:start]
            if len(buf) < HEADER_SIZE:
                break
            length = (buf[5] << 8) | buf[6]
            if length > MAX_PAYLOAD or buf[2] > MAX_ADDRESS:
                self.bad_frames += 1
                del buf[:1]
                continue
            if len(buf) < OVERHEAD + length:
                # A header that promises more bytes than have come may be a false AA 55 (noise, a cut frame):
                # if a complete, valid frame already starts further on, the promise was false.
                later = self._later_frame(buf)
                if later is None:
                    break
                self.bad_frames += 1
                del buf[:later]
                continue
            try:
                out.append(decode_frame(bytes(buf[:OVERHEAD + length])))
            except FrameError:
                self.bad_frames += 1
                del buf[:1]
                continue
            del buf[:OVERHEAD + length]
        return out

    @staticmethod
    def _later_frame(buf: bytearray) -> int | None:
        at = buf.find(SYNC, 1)
        while at >= 0 and len(buf) - at >= OVERHEAD:
            length = (buf[at + 5] << 8) | buf[at + 6]
            end = at + OVERHEAD + length
            if length <= MAX_PAYLOAD and end <= len(buf):
                inner = bytes(buf[at + 2:end - 2])
                if crc16_modbus(inner) == buf[end - 2] | (buf[end - 1] << 8):
                    return at
            at = buf.find(SYNC, at + 1)
        return None

    def clear(self) -> None:
        """Forget a partial frame: the master does this before each request, as nothing before it matters."""
        self._buf.clear()


def frame_seconds(n_bytes: int, baudrate: int) -> float:
    """Time on the wire: 8N1 sends 10 bits per byte."""
    return n_bytes * 10 / baudrate


# ---------------------------------------------------------------- payloads

class PayloadError(ValueError):
    """A request payload a device cannot act on; carries the status the device answers with."""

    def __init__(self, status: Status, message: str):
        self.status = status
        super().__init__(message)


def _need(payload: bytes, size: int, what: str) -> None:
    if len(payload) < size:
        raise PayloadError(Status.BAD_PARAMETER, f"{what} needs at least {size} payload bytes, got {len(payload)}")


def _exact(payload: bytes, size: int, what: str) -> None:
    if len(payload) != size:
        raise PayloadError(Status.BAD_PARAMETER, f"{what} needs exactly {size} payload bytes, got {len(payload)}")


@dataclass(frozen=True)
class PingReply:
    """PING reply body: kind u8 | firmware major u8 | firmware minor u8 | model (ASCII, the rest)."""
    kind: DeviceKind
    firmware: tuple[int, int] = (1, 0)
    model: str = ""

    def encode(self) -> bytes:
        return bytes([self.kind, *self.firmware]) + self.model.encode("ascii")

    @classmethod
    def decode(cls, body: bytes) -> PingReply:
        _need(body, 3, "PING reply")
        return cls(DeviceKind(body[0]), (body[1], body[2]), body[3:].decode("ascii", "replace"))


@dataclass(frozen=True)
class StatusReply:
    """STATUS reply body: uptime s u32 | brightness u8 | error flags u8 | CRC-16/MODBUS of the text shown u16."""
    uptime_s: int
    brightness: int
    errors: int = 0
    shown_crc: int = 0

    def encode(self) -> bytes:
        return struct.pack(">IBBH", self.uptime_s, self.brightness, self.errors, self.shown_crc)

    @classmethod
    def decode(cls, body: bytes) -> StatusReply:
        _exact(body, 8, "STATUS reply")
        return cls(*struct.unpack(">IBBH", body))


@dataclass(frozen=True)
class SetTime:
    """SET_TIME: Unix time u32 | UTC offset in minutes i16 (the hall's local time, +480 in China)."""
    unix_time: int
    utc_offset_min: int = 480

    def encode(self) -> bytes:
        return struct.pack(">Ih", self.unix_time, self.utc_offset_min)

    @classmethod
    def decode(cls, payload: bytes) -> SetTime:
        _exact(payload, 6, "SET_TIME")
        return cls(*struct.unpack(">Ih", payload))


@dataclass(frozen=True)
class ShowText:
    """SHOW_TEXT and SET_IDLE_TEXT: region u8 | effect u8 | speed u8 | colour u8 | duration s u16 | encoding u8 |
    text (the rest, in that encoding).

    speed 0 is the screen's default, 1 (slowest) to 9; a scroll moves 8 × speed dots a second, a flash blinks
    speed times a second. duration 0 keeps the effect until replaced; otherwise the effect runs that many seconds
    and the text then stays static (a call flashes 3 s, then stays). Ignored by SET_IDLE_TEXT, which keeps the
    effect for as long as the idle text shows.
    """
    text: str
    region: int = 0
    effect: Effect = Effect.STATIC
    speed: int = 0
    colour: int = Colour.DEFAULT
    duration_s: int = 0
    encoding: Encoding = Encoding.UTF8

    MAX_SPEED = 9
    HEADER = 7

    def encode(self) -> bytes:
        try:
            text = self.text.encode(Encoding(self.encoding).codec)
        except UnicodeEncodeError as err:
            raise PayloadError(Status.ENCODING_NOT_SUPPORTED, f"{self.text!r} cannot be written in "
                               f"{Encoding(self.encoding).codec}: {err.reason}") from None
        if self.HEADER + len(text) > MAX_PAYLOAD:
            raise PayloadError(Status.TEXT_TOO_LONG, f"text of {len(text)} bytes exceeds the "
                               f"{MAX_PAYLOAD - self.HEADER} a frame holds")
        return struct.pack(">BBBBHB", self.region, self.effect, self.speed, self.colour, self.duration_s,
                           self.encoding) + text

    @classmethod
    def decode(cls, payload: bytes) -> ShowText:
        _need(payload, cls.HEADER, "SHOW_TEXT")
        region, effect, speed, colour, duration, encoding = struct.unpack(">BBBBHB", payload[:cls.HEADER])
        try:
            effect = Effect(effect)
        except ValueError:
            raise PayloadError(Status.BAD_PARAMETER, f"effect {effect} is not 0 static, 1 scroll or 2 flash") from None
        if speed > cls.MAX_SPEED:
            raise PayloadError(Status.BAD_PARAMETER, f"speed {speed} exceeds {cls.MAX_SPEED}")
        try:
            encoding = Encoding(encoding)
        except ValueError:
            raise PayloadError(Status.ENCODING_NOT_SUPPORTED, f"encoding {encoding} is not 0 UTF-8 or 1 GB18030") from None
        try:
            text = payload[cls.HEADER:].decode(encoding.codec)
        except UnicodeDecodeError:
            raise PayloadError(Status.BAD_PARAMETER, f"text is not valid {encoding.codec}") from None
        return cls(text, region, effect, speed, colour, duration, encoding)


@dataclass(frozen=True)
class Clear:
    """CLEAR: region u8 (0xFF every region). The region drops its text and shows its idle text again."""
    region: int = 0xFF

    def encode(self) -> bytes:
        return bytes([self.region])

    @classmethod
    def decode(cls, payload: bytes) -> Clear:
        _exact(payload, 1, "CLEAR")
        return cls(payload[0])


@dataclass(frozen=True)
class Brightness:
    """BRIGHTNESS: level u8, 0–100 per cent."""
    level: int

    def encode(self) -> bytes:
        return bytes([self.level])

    @classmethod
    def decode(cls, payload: bytes) -> Brightness:
        _exact(payload, 1, "BRIGHTNESS")
        if payload[0] > 100:
            raise PayloadError(Status.BAD_PARAMETER, f"brightness {payload[0]} exceeds 100")
        return cls(payload[0])


@dataclass(frozen=True)
class KeysReply:
    """POLL_KEYS reply body: count u8 | key codes, oldest first. The keypad forgets the keys it sent, except that
    a repeated SEQ gets the same reply again (so a lost reply loses no key and doubles none)."""
    keys: tuple[int, ...] = ()

    MAX_KEYS = 32

    def encode(self) -> bytes:
        return bytes([len(self.keys), *self.keys])

    @classmethod
    def decode(cls, body: bytes) -> KeysReply:
        _need(body, 1, "POLL_KEYS reply")
        if len(body) != 1 + body[0]:
            raise PayloadError(Status.BAD_PARAMETER, f"POLL_KEYS reply counts {body[0]} keys in {len(body) - 1} bytes")
        return cls(tuple(body[1:]))


@dataclass(frozen=True)
class KeypadView:
    """SHOW_ON_KEYPAD: state u8 (KeypadState) | waiting u16 | ticket (ASCII, the rest; empty when none)."""
    ticket: str | None = None
    waiting: int = 0
    state: KeypadState = KeypadState.IDLE

    MAX_TICKET = 8

    def encode(self) -> bytes:
        ticket = (self.ticket or "").encode("ascii")
        if len(ticket) > self.MAX_TICKET:
            raise PayloadError(Status.TEXT_TOO_LONG, f"ticket {self.ticket!r} exceeds {self.MAX_TICKET} characters")
        return struct.pack(">BH", self.state, min(self.waiting, 0xFFFF)) + ticket

    @classmethod
    def decode(cls, payload: bytes) -> KeypadView:
        _need(payload, 3, "SHOW_ON_KEYPAD")
        state, waiting = struct.unpack(">BH", payload[:3])
        try:
            state = KeypadState(state)
        except ValueError:
            raise PayloadError(Status.BAD_PARAMETER, f"keypad state {state} is not 0–4") from None
        ticket = payload[3:]
        if len(ticket) > cls.MAX_TICKET:
            raise PayloadError(Status.TEXT_TOO_LONG, f"ticket of {len(ticket)} bytes exceeds {cls.MAX_TICKET}")
        try:
            text = ticket.decode("ascii")
        except UnicodeDecodeError:
            raise PayloadError(Status.BAD_PARAMETER, "ticket is not ASCII") from None
        return cls(text or None, waiting, state)


@dataclass(frozen=True)
class RatingReply:
    """POLL_RATING reply body: score u8, 1–5, or 0 when nobody has rated since the last poll."""
    score: int | None = None

    def encode(self) -> bytes:
        return bytes([self.score or 0])

    @classmethod
    def decode(cls, body: bytes) -> RatingReply:
        _exact(body, 1, "POLL_RATING reply")
        if body[0] > 5:
            raise PayloadError(Status.BAD_PARAMETER, f"score {body[0]} exceeds 5")
        return cls(body[0] or None)


# ---------------------------------------------------------------- requests, as the masters build them

def ping(addr: int, seq: int) -> Frame:
    return Frame(addr, seq, Command.PING)


def show_text(addr: int, seq: int, text: ShowText, *, idle: bool = False) -> Frame:
    return Frame(addr, seq, Command.SET_IDLE_TEXT if idle else Command.SHOW_TEXT, text.encode())


def request(addr: int, seq: int, cmd: Command, body=None) -> Frame:
    """Any request; `body` is one of the payload classes above, raw bytes, or None for no payload."""
    payload = b"" if body is None else body if isinstance(body, bytes | bytearray) else body.encode()
    return Frame(addr, seq, cmd, bytes(payload))
