"""A ZhianTec fingerprint sensor on a pseudo-terminal, for the real, unmodified pyfingerprint 1.5 to drive.

    sim = SensorSimulator(profile="r307")          # or "zfm20" (162 templates), "as608" (300)
    sim.start()
    f = PyFingerprint(sim.port, 57600, 0xFFFFFFFF, 0)
    sim.touch("s023")                               # a finger lands; it lifts after one image capture
    sim.script([(0.5, "s001"), (2.0, "s002")])      # fingers landing 0.5 s and 2 s from now
    sim.place("s023"); sim.lift()                   # a finger that stays until lifted
    sim.stop()

What it models (reference/attendance-anchors.md §1): frames reassembled by their length however the host splits
its writes (pyfingerprint writes a byte at a time); exactly one ack per command, plus data packets only after
UpChar and UpImage, because the library never drains its input and any extra byte breaks the next command; the
password check (0x21 until VfyPwd when the password is not 0); the image buffer, CharBuffer1 and CharBuffer2, a
template library of the profile's capacity with its index pages; search with scores; no finger (0x02), not found
(0x09), a full library; templates up and down (UpChar/DownChar) so they can be copied between sensors.

A *finger* is a label ("s023", "s023/right-index"). Its characteristic file is derived from the label, so the same
finger matches on every simulated sensor and a template copied from one sensor works on another, as real templates
do. Each capture varies a little, so scores vary like a real sensor's (60–249).

Timing: instant by default (only a 10 ms pause on "no finger" so a host polling in a loop does not spin). With
`realistic_timing=True` every reply waits as long as a real module would: wire time at the baud rate, ~250 ms per
image capture, ~200 ms to extract features, a search of tens to hundreds of ms growing with the templates stored.
Every reply still comes well within pyfingerprint's 2 s read timeout.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import select
import threading
import time
import tty
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devices.fingerprint import protocol as p

CHAR_FILE_SIZE = 512
MAGIC = b"\x48\x4b"  # marks a characteristic file made by a (simulated) sensor; anything else never matches
IMAGE_BYTES = 256 * 288 // 2  # 4 bits per pixel


@dataclass(frozen=True)
class Profile:
    name: str
    capacity: int
    system_id: int = 0
    # realistic search cost: a fixed part plus a part per stored template (datasheets: AS608 < 0.3 s at 300,
    # R307 < 1 s at 1:1000, ZFM-20 < 1 s; real modules are well under those bounds)
    search_base: float = 0.02
    search_per_template: float = 0.0003


PROFILES = {
    "zfm20": Profile("zfm20", 162, search_per_template=0.002),
    "as608": Profile("as608", 300, search_per_template=0.0008),
    "r307": Profile("r307", 1000, system_id=0, search_per_template=0.0003),
}


@dataclass(frozen=True)
class Timing:
    """Seconds a reply takes, by what the module is doing."""

    no_finger: float = 0.01
    capture: float = 0.0
    extract: float = 0.0
    combine: float = 0.0
    flash: float = 0.0
    search: bool = False      # when True, the profile's search cost applies
    command: float = 0.0
    wire: bool = False        # when True, replies take their wire time at the baud rate

    @classmethod
    def realistic(cls) -> Timing:
        return cls(no_finger=0.05, capture=0.25, extract=0.2, combine=0.1, flash=0.05, search=True, command=0.003,
                   wire=True)


@dataclass
class Touch:
    finger: str
    quality: str = "good"        # good, messy (0x06 on extraction) or few (too few feature points, 0x07)
    captures: int = 1            # image captures before the finger lifts; 0 = stays until lift()
    not_before: float = 0.0      # monotonic time the finger lands
    landed: float | None = None  # when it was first imaged


def finger_identity(finger: str) -> bytes:
    return hashlib.sha256(("hallkit-finger:" + finger).encode()).digest()


def characteristics(finger: str, nonce: int) -> bytes:
    """The characteristic file of one capture of a finger: identity, capture variation, then filler derived from
    the identity, 512 bytes like a real char buffer."""
    ident = finger_identity(finger)
    filler = bytearray()
    counter = 0
    while len(filler) < CHAR_FILE_SIZE:
        filler += hashlib.sha256(ident + counter.to_bytes(4, "big")).digest()
        counter += 1
    data = bytearray(filler[:CHAR_FILE_SIZE])
    data[0:2] = MAGIC
    data[2:34] = ident
    data[34:38] = nonce.to_bytes(4, "big")
    data[38] = 0  # 0: one capture; 1: a template combined from two
    return bytes(data)


def _identity(data: bytes | None) -> bytes | None:
    if not data or len(data) < 39 or data[0:2] != MAGIC:
        return None
    return data[2:34]


def match_score(a: bytes | None, b: bytes | None) -> int:
    """0 when the files are not of the same finger; otherwise 60–249, varying with both captures."""
    ia, ib = _identity(a), _identity(b)
    if ia is None or ia != ib:
        return 0
    mix = hashlib.sha256(a[34:38] + b[34:38]).digest()
    return 60 + int.from_bytes(mix[:2], "big") % 190


class SensorSimulator:
    """One simulated sensor on its own pseudo-terminal; `port` is the path the host opens."""

    def __init__(self, profile: str | Profile = "r307", *, password: int = 0, address: int = p.DEFAULT_ADDRESS,
                 realistic_timing: bool = False, timing: Timing | None = None, baud: int = 57600,
                 flash: Path | str | None = None, link: Path | str | None = None, seed: int | None = None):
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.password = password
        self.address = address
        self.timing = timing or (Timing.realistic() if realistic_timing else Timing())
        self.baud_n = max(1, min(12, baud // 9600))
        self.security = 3
        self.packet_code = 2  # 128-byte data packets, as most modules ship
        self.flash_path = Path(flash) if flash else None
        self.link = Path(link) if link else None
        self.library: dict[int, bytes] = {}
        self.buffers: dict[int, bytes | None] = {1: None, 2: None}
        self.image: tuple[str, str, int] | None = None
        self.verified = password == 0
        self.flash_error = False
        self.commands: list[int] = []     # every instruction received, in order
        self.replies = 0                  # acks sent; with `commands` it shows one ack per command
        self.bad_frames = 0
        self._forced: dict[int, int] = {}
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._touches: deque[Touch] = deque()
        self._present: Touch | None = None
        self._gap_seen = True             # a "no finger" answer since the last finger lifted
        self._receiving: int | None = None  # CharBuffer being filled by DownChar data packets
        self._incoming = bytearray()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._master = self._slave = -1
        self.port = ""
        if self.flash_path and self.flash_path.exists():
            self._load_flash()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> SensorSimulator:
        self._master, self._slave = os.openpty()
        # raw and no echo from the start: bytes written before the host configures the port must not echo back
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        if self.link:
            self.link.parent.mkdir(parents=True, exist_ok=True)
            if self.link.is_symlink() or self.link.exists():
                self.link.unlink()
            self.link.symlink_to(self.port)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"sensor-sim-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = -1
        if self.link and self.link.is_symlink():
            self.link.unlink()

    def __enter__(self) -> SensorSimulator:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ fingers (what a test scripts)

    def touch(self, finger: str, *, quality: str = "good", after: float = 0.0, captures: int = 1) -> Touch:
        """A finger lands `after` seconds from now (after any touch queued before it) and lifts after `captures`
        image captures. Between two touches the host sees at least one "no finger"."""
        item = Touch(finger, quality, captures, time.monotonic() + after)
        with self._changed:
            self._touches.append(item)
            self._changed.notify_all()
        return item

    def script(self, steps: Iterable[tuple[float, str]], *, quality: str = "good") -> list[Touch]:
        """Fingers landing at the given offsets (seconds from now), each lifting after one capture."""
        return [self.touch(finger, quality=quality, after=offset) for offset, finger in steps]

    def place(self, finger: str, *, quality: str = "good") -> None:
        """A finger that stays on the glass until lift()."""
        with self._changed:
            self._touches.clear()
            self._present = Touch(finger, quality, 0, time.monotonic())
            self._changed.notify_all()

    def lift(self) -> None:
        with self._changed:
            self._present = None
            self._changed.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Until every scripted finger has been imaged and lifted."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._touches or (self._present is not None and self._present.captures):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    @property
    def finger_on_glass(self) -> str | None:
        with self._lock:
            return self._present.finger if self._present else None

    # ------------------------------------------------------------ fidelity hooks

    def fail_next(self, instruction: int, code: int) -> None:
        """Answer the next command with this instruction code with this confirmation code instead."""
        with self._lock:
            self._forced[instruction] = code

    def templates(self) -> dict[int, bytes]:
        with self._lock:
            return dict(self.library)

    def enrol_directly(self, finger: str, position: int) -> None:
        """Put a finger's template at a position without the host (a sensor enrolled elsewhere)."""
        with self._lock:
            template = bytearray(characteristics(finger, self._random.getrandbits(32)))
            template[38] = 1
            self.library[position] = bytes(template)
            self._save_flash()

    # ------------------------------------------------------------ the serial side

    def _serve(self) -> None:
        reader = p.FrameReader()
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.1)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                # EIO while no one holds the slave open; we hold it, so this is a closing sensor
                time.sleep(0.01)
                continue
            for address, identifier, payload, ok in reader.feed(data):
                self._on_frame(address, identifier, payload, ok)

    def _write(self, identifier: int, payload: bytes) -> None:
        raw = p.frame(identifier, payload, self.address)
        if self.timing.wire:
            time.sleep(len(raw) * 10 / (self.baud_n * 9600))
        view = memoryview(raw)
        while view:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            view = view[n:]

    def _ack(self, code: int, params: bytes = b"") -> None:
        self.replies += 1
        self._write(p.ACK, bytes([code]) + params)

    def _on_frame(self, address: int, identifier: int, payload: bytes, ok: bool) -> None:
        if not ok:
            self.bad_frames += 1
            if identifier == p.COMMAND:
                self._ack(p.RECEIVE_ERROR)
            return
        if self._receiving is not None and identifier in (p.DATA, p.END_DATA):
            self._incoming += payload
            if identifier == p.END_DATA:
                with self._lock:
                    self.buffers[self._receiving] = bytes(self._incoming)
                self._receiving = None
            return  # the sensor never answers data packets
        if identifier != p.COMMAND or not payload:
            self.bad_frames += 1
            return
        self._receiving = None
        instruction, params = payload[0], payload[1:]
        self.commands.append(instruction)
        if address != self.address:
            # a real module stays silent; answering "address error" keeps the host from hanging 24 s
            self._ack(p.ADDRESS_ERROR)
            return
        if not self.verified and instruction != p.VFY_PWD:
            self._ack(p.MUST_VERIFY_PASSWORD)
            return
        with self._lock:
            forced = self._forced.pop(instruction, None)
        if forced is not None:
            self._ack(forced, self._padding(instruction))
            return
        handler = self._handlers().get(instruction)
        if handler is None:
            self._ack(p.RECEIVE_ERROR)
            return
        handler(params)

    def _padding(self, instruction: int) -> bytes:
        """Return parameters of a forced answer, as long as the real reply would be."""
        return {p.SEARCH: b"\0\0\0\0", p.MATCH: b"\0\0", p.TEMPLATE_COUNT: b"\0\0", p.GET_RANDOM: b"\0" * 4,
                p.READ_SYS_PARA: b"\0" * 16, p.READ_INDEX: b"\0" * 32}.get(instruction, b"")

    def _handlers(self):
        return {
            p.VFY_PWD: self._verify_password, p.SET_PWD: self._set_password, p.SET_ADDR: self._set_address,
            p.SET_SYS_PARA: self._set_parameter, p.READ_SYS_PARA: self._read_parameters,
            p.READ_INDEX: self._read_index, p.TEMPLATE_COUNT: self._template_count, p.GEN_IMG: self._gen_img,
            p.UP_IMAGE: self._up_image, p.IMG2TZ: self._img2tz, p.REG_MODEL: self._reg_model, p.STORE: self._store,
            p.SEARCH: self._search, p.LOAD_CHAR: self._load_char, p.DELETE: self._delete, p.EMPTY: self._empty,
            p.MATCH: self._match, p.UP_CHAR: self._up_char, p.DOWN_CHAR: self._down_char,
            p.GET_RANDOM: self._random_code,
        }

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    # ------------------------------------------------------------ commands

    def _verify_password(self, params: bytes) -> None:
        self._pause(self.timing.command)
        if len(params) != 4:
            return self._ack(p.RECEIVE_ERROR)
        self.verified = int.from_bytes(params, "big") == self.password
        self._ack(p.OK if self.verified else p.WRONG_PASSWORD)

    def _set_password(self, params: bytes) -> None:
        self._pause(self.timing.flash)
        self.password = int.from_bytes(params, "big")
        self._save_flash()
        self._ack(p.OK)

    def _set_address(self, params: bytes) -> None:
        self._pause(self.timing.flash)
        self._ack(p.OK)
        self.address = int.from_bytes(params, "big")  # after the reply, as a real module does
        self._save_flash()

    def _set_parameter(self, params: bytes) -> None:
        self._pause(self.timing.command)
        number, value = (params + b"\0\0")[:2]
        valid = {4: range(1, 13), 5: range(1, 6), 6: range(0, 4)}
        if number not in valid or value not in valid[number]:
            return self._ack(p.BAD_REGISTER)
        self._ack(p.OK)
        if number == 4:
            self.baud_n = value
        elif number == 5:
            self.security = value
        else:
            self.packet_code = value

    def _status_register(self) -> int:
        return (4 if self.verified else 0) | (8 if self.image else 0)

    def _read_parameters(self, params: bytes) -> None:
        self._pause(self.timing.command)
        body = b"".join([
            self._status_register().to_bytes(2, "big"), self.profile.system_id.to_bytes(2, "big"),
            self.profile.capacity.to_bytes(2, "big"), self.security.to_bytes(2, "big"),
            self.address.to_bytes(4, "big"), self.packet_code.to_bytes(2, "big"), self.baud_n.to_bytes(2, "big")])
        self._ack(p.OK, body)

    def _read_index(self, params: bytes) -> None:
        self._pause(self.timing.command)
        page = params[0] if params else 0
        if page > 3:
            return self._ack(p.BAD_REGISTER, b"\0" * 32)
        bits = bytearray(32)
        with self._lock:
            for pos in self.library:
                if page * 256 <= pos < (page + 1) * 256:
                    k = pos - page * 256
                    bits[k // 8] |= 1 << (k % 8)
        self._ack(p.OK, bytes(bits))

    def _template_count(self, params: bytes) -> None:
        self._pause(self.timing.command)
        with self._lock:
            self._ack(p.OK, len(self.library).to_bytes(2, "big"))

    def _gen_img(self, params: bytes) -> None:
        now = time.monotonic()
        with self._changed:
            touch = self._present
            if touch is None and self._gap_seen and self._touches and self._touches[0].not_before <= now:
                touch = self._present = self._touches.popleft()
            if touch is None:
                self._gap_seen = True
                self._changed.notify_all()
            else:
                if touch.landed is None:
                    touch.landed = now
                self.image = (touch.finger, touch.quality, self._random.getrandbits(32))
                if touch.captures:
                    touch.captures -= 1
                    if touch.captures == 0:
                        self._present = None
                        self._gap_seen = False
                        self._changed.notify_all()
        if touch is None:
            self._pause(self.timing.no_finger)
            return self._ack(p.NO_FINGER)
        self._pause(self.timing.capture)
        self._ack(p.OK)

    def _up_image(self, params: bytes) -> None:
        with self._lock:
            image = self.image
        if image is None:
            return self._ack(p.UPLOAD_IMAGE_FAIL)
        self._ack(p.OK)
        seed = finger_identity(image[0])
        data = bytearray()
        counter = 0
        while len(data) < IMAGE_BYTES:
            data += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
            counter += 1
        size = p.PACKET_SIZES[self.packet_code]
        chunks = [bytes(data[i:i + size]) for i in range(0, IMAGE_BYTES, size)]
        for i, chunk in enumerate(chunks):
            self._write(p.END_DATA if i == len(chunks) - 1 else p.DATA, chunk)

    def _buffer_number(self, params: bytes) -> int | None:
        return params[0] if params and params[0] in (1, 2) else None

    def _img2tz(self, params: bytes) -> None:
        buf = self._buffer_number(params)
        with self._lock:
            image = self.image
        self._pause(self.timing.extract)
        if buf is None:
            return self._ack(p.RECEIVE_ERROR)
        if image is None:
            return self._ack(p.NO_IMAGE)
        finger, quality, nonce = image
        if quality == "messy":
            return self._ack(p.MESSY_IMAGE)
        if quality == "few":
            return self._ack(p.FEW_FEATURES)
        with self._lock:
            self.buffers[buf] = characteristics(finger, nonce)
        self._ack(p.OK)

    def _reg_model(self, params: bytes) -> None:
        self._pause(self.timing.combine)
        with self._lock:
            a, b = self.buffers[1], self.buffers[2]
            if not match_score(a, b):
                return self._ack(p.COMBINE_FAIL)
            template = bytearray(a)
            template[34:38] = bytes(x ^ y for x, y in zip(a[34:38], b[34:38], strict=True))
            template[38] = 1
            self.buffers[1] = self.buffers[2] = bytes(template)
        self._ack(p.OK)

    def _store(self, params: bytes) -> None:
        self._pause(self.timing.flash)
        buf = self._buffer_number(params)
        if buf is None or len(params) != 3:
            return self._ack(p.RECEIVE_ERROR)
        position = int.from_bytes(params[1:3], "big")
        with self._lock:
            if position >= self.profile.capacity:
                return self._ack(p.BAD_POSITION)
            if self.flash_error:
                return self._ack(p.FLASH_ERROR)
            data = self.buffers[buf]
            if data is None:
                return self._ack(p.ENROLL_FAIL)
            self.library[position] = data
            self._save_flash()
        self._ack(p.OK)

    def _search(self, params: bytes) -> None:
        buf = self._buffer_number(params)
        if buf is None or len(params) != 5:
            return self._ack(p.RECEIVE_ERROR, b"\0\0\0\0")
        start, count = int.from_bytes(params[1:3], "big"), int.from_bytes(params[3:5], "big")
        with self._lock:
            probe = self.buffers[buf]
            stored = sorted((pos, tpl) for pos, tpl in self.library.items() if start <= pos < start + count)
        if self.timing.search:
            self._pause(self.profile.search_base + self.profile.search_per_template * len(stored))
        best = (-1, 0)
        for pos, tpl in stored:
            score = match_score(probe, tpl)
            if score > best[1]:
                best = (pos, score)
        if best[0] < 0:
            # real modules send PageID 0 and score 0 with "not found"
            return self._ack(p.NOT_FOUND, b"\0\0\0\0")
        self._ack(p.OK, best[0].to_bytes(2, "big") + best[1].to_bytes(2, "big"))

    def _load_char(self, params: bytes) -> None:
        self._pause(self.timing.command * 10)
        buf = self._buffer_number(params)
        if buf is None or len(params) != 3:
            return self._ack(p.RECEIVE_ERROR)
        position = int.from_bytes(params[1:3], "big")
        with self._lock:
            if position >= self.profile.capacity:
                return self._ack(p.BAD_POSITION)
            data = self.library.get(position)
            if data is None:
                return self._ack(p.READ_TEMPLATE_FAIL)
            self.buffers[buf] = data
        self._ack(p.OK)

    def _delete(self, params: bytes) -> None:
        self._pause(self.timing.flash)
        if len(params) != 4:
            return self._ack(p.RECEIVE_ERROR)
        position, count = int.from_bytes(params[0:2], "big"), int.from_bytes(params[2:4], "big")
        with self._lock:
            if position + count > self.profile.capacity or self.flash_error:
                return self._ack(p.DELETE_FAIL)
            for pos in range(position, position + count):
                self.library.pop(pos, None)
            self._save_flash()
        self._ack(p.OK)

    def _empty(self, params: bytes) -> None:
        self._pause(self.timing.flash * 4)
        with self._lock:
            if self.flash_error:
                return self._ack(p.CLEAR_FAIL)
            self.library.clear()
            self._save_flash()
        self._ack(p.OK)

    def _match(self, params: bytes) -> None:
        self._pause(self.timing.command * 10)
        with self._lock:
            score = match_score(self.buffers[1], self.buffers[2])
        if not score:
            return self._ack(p.NO_MATCH, b"\0\0")
        self._ack(p.OK, score.to_bytes(2, "big"))

    def _up_char(self, params: bytes) -> None:
        buf = self._buffer_number(params)
        with self._lock:
            data = self.buffers.get(buf) if buf else None
        if data is None:
            return self._ack(p.UPLOAD_FAIL)
        self._ack(p.OK)
        size = p.PACKET_SIZES[self.packet_code]
        chunks = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
        for i, chunk in enumerate(chunks):
            self._write(p.END_DATA if i == len(chunks) - 1 else p.DATA, chunk)

    def _down_char(self, params: bytes) -> None:
        buf = self._buffer_number(params)
        if buf is None:
            return self._ack(p.PACKET_RESPONSE_FAIL)
        self._receiving = buf
        self._incoming = bytearray()
        self._ack(p.OK)

    def _random_code(self, params: bytes) -> None:
        self._pause(self.timing.command)
        self._ack(p.OK, self._random.getrandbits(32).to_bytes(4, "big"))

    # ------------------------------------------------------------ flash (the library survives a power cycle)

    def _load_flash(self) -> None:
        raw = json.loads(self.flash_path.read_text(encoding="utf-8"))
        self.library = {int(k): bytes.fromhex(v) for k, v in raw.get("templates", {}).items()}
        self.password = raw.get("password", self.password)
        self.address = raw.get("address", self.address)
        self.verified = self.password == 0

    def _save_flash(self) -> None:
        if not self.flash_path:
            return
        self.flash_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.flash_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"profile": self.profile.name, "password": self.password, "address": self.address,
                                   "templates": {str(k): v.hex() for k, v in sorted(self.library.items())}}),
                       encoding="utf-8")
        os.replace(tmp, self.flash_path)



def main(argv: list[str] | None = None) -> int:
    """Run a simulated sensor: `python -m devices.fingerprint.simulator --link /tmp/fp01 [--realistic]`.

    Reads commands on standard input: `touch FINGER`, `place FINGER`, `lift`, `messy FINGER`, `list`, `quit`.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m devices.fingerprint.simulator",
                                     description="模拟指纹传感器 / a simulated ZhianTec fingerprint sensor on a pty")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="r307")
    parser.add_argument("--link", help="make this path a symlink to the pty (e.g. /tmp/fp01)")
    parser.add_argument("--realistic", action="store_true", help="answer at a real sensor's speed")
    parser.add_argument("--flash", help="JSON file keeping the template library across runs")
    parser.add_argument("--password", type=lambda s: int(s, 0), default=0)
    args = parser.parse_args(argv)
    sim = SensorSimulator(args.profile, password=args.password, realistic_timing=args.realistic, flash=args.flash,
                          link=args.link).start()
    print(f"传感器已就绪 / sensor ready: {args.link or sim.port} ({sim.profile.name}, capacity {sim.profile.capacity})",
          flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "quit":
                break
            if words[0] in ("touch", "place", "messy") and len(words) == 2:
                if words[0] == "place":
                    sim.place(words[1])
                else:
                    sim.touch(words[1], quality="messy" if words[0] == "messy" else "good")
            elif words[0] == "lift":
                sim.lift()
            elif words[0] == "list":
                print(json.dumps(sorted(sim.templates())), flush=True)
            else:
                print("命令 / commands: touch F | place F | lift | messy F | list | quit", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
