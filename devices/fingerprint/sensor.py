"""The fingerprint sensor behind a small interface, over the PyPI pyfingerprint 1.5 (serial, ZhianTec protocol).

Only this module imports pyfingerprint. Its exceptions are plain `Exception`s with English messages; they are turned
into SensorError with a Chinese first line here, so the layers above speak the hall's language.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class SensorError(Exception):
    """The sensor refused or failed: the message is Chinese first, English second."""


class SensorFull(SensorError):
    pass


# pyfingerprint's messages → what a person at the terminal or an operator should read
_MESSAGES = {
    "too messy": "指纹图像不清晰，请擦干手指重按 / the image is too messy: dry the finger and press again",
    "too few feature points": "指纹特征点太少，请按实手指 / too few feature points: press the whole finger flat",
    "image is invalid": "没有有效的指纹图像 / no valid fingerprint image",
    "Error writing to flash": "传感器存储写入失败 / the sensor could not write its flash",
    "do not begin with a valid header": "传感器无应答或串口错误 / no valid answer from the sensor (port, wiring, baud)",
    "no ack packet": "传感器应答错乱 / the sensor's answer is out of step",
    "checksum is wrong": "传感器应答校验错误 / corrupted answer from the sensor",
    "Communication error": "传感器通信错误 / sensor communication error",
    "address is wrong": "传感器地址错误 / wrong sensor address",
    "Unknown error 0x21": "传感器需要先验证密码 / the sensor wants its password first",
}


def _explain(err: Exception) -> str:
    text = str(err)
    for key, message in _MESSAGES.items():
        if key in text:
            return message
    return f"传感器错误 / sensor error: {text}"


@dataclass(frozen=True)
class Match:
    position: int
    score: int


class Sensor:
    """One open sensor. Methods are serialised with a lock: the terminal's identify loop and an enrolment
    requested from the operator's console share the one serial line."""

    def __init__(self, port: str, *, baud: int = 57600, password: int = 0, address: int = 0xFFFFFFFF):
        from pyfingerprint.pyfingerprint import PyFingerprint

        self.port = port
        self.lock = threading.RLock()
        try:
            self._f = PyFingerprint(port, baud, address, password)
        except Exception as err:  # serial.SerialException, ValueError for a bad baud
            raise SensorError(f"无法打开传感器串口 {port} / cannot open the sensor's port {port}: {err}") from None
        ok = self._call(self._f.verifyPassword)
        if not ok:
            raise SensorError(f"传感器密码错误 / wrong sensor password ({port})")
        self.capacity = self._call(self._f.getStorageCapacity)

    def close(self) -> None:
        f, self._f = getattr(self, "_f", None), None
        if f is not None:
            try:
                f._PyFingerprint__serial.close()
            except Exception:
                pass

    def _call(self, fn, *args):
        try:
            with self.lock:
                return fn(*args)
        except SensorError:
            raise
        except Exception as err:
            raise SensorError(_explain(err)) from err

    # ------------------------------------------------------------ fingers

    def finger_down(self) -> bool:
        """Capture an image if a finger is on the glass (one GenImg)."""
        return bool(self._call(self._f.readImage))

    def wait_finger(self, timeout: float | None = None, stop: threading.Event | None = None,
                    poll: float = 0.0) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (stop and stop.is_set()):
            if self.finger_down():
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            if poll:
                time.sleep(poll)
        return False

    def wait_lift(self, timeout: float = 10.0, stop: threading.Event | None = None, poll: float = 0.0) -> bool:
        deadline = time.monotonic() + timeout
        while not (stop and stop.is_set()) and time.monotonic() < deadline:
            if not self.finger_down():
                return True
            if poll:
                time.sleep(poll)
        return False

    def extract(self, buffer: int = 1) -> None:
        self._call(self._f.convertImage, buffer)

    def search(self) -> Match | None:
        """Search CharBuffer1 over the whole library; None when no template matches."""
        position, score = self._call(self._f.searchTemplate)
        return None if position < 0 else Match(position, score)

    def identify(self) -> Match | None:
        """The finger just imaged: extract its features and search the library."""
        with self.lock:
            self.extract(1)
            return self.search()

    # ------------------------------------------------------------ the library

    def count(self) -> int:
        return self._call(self._f.getTemplateCount)

    def used_positions(self) -> list[int]:
        used = []
        for page in range((self.capacity + 255) // 256):
            index = self._call(self._f.getTemplateIndex, page)
            used += [page * 256 + i for i, on in enumerate(index) if on and page * 256 + i < self.capacity]
        return used

    def ensure_room(self) -> None:
        count = self.count()
        if count >= self.capacity:
            raise SensorFull(f"传感器已满（{count}/{self.capacity}），请先删除不用的指纹 / the sensor is full ({count} of "
                             f"{self.capacity} templates): remove unused fingers first")

    def combine(self) -> bool:
        """RegModel: False when the two scans are not of the same finger."""
        return bool(self._call(self._f.createTemplate))

    def compare(self) -> int:
        return int(self._call(self._f.compareCharacteristics))

    def store(self, position: int = -1, buffer: int = 1) -> int:
        with self.lock:
            if position < 0:
                self.ensure_room()
            return int(self._call(self._f.storeTemplate, position, buffer))

    def delete(self, position: int) -> bool:
        return bool(self._call(self._f.deleteTemplate, position, 1))

    def clear(self) -> bool:
        return bool(self._call(self._f.clearDatabase))

    def read_template(self, position: int) -> bytes:
        """Load a stored template into CharBuffer1 and download it (512 bytes)."""
        with self.lock:
            self._call(self._f.loadTemplate, position, 1)
            return bytes(self._call(self._f.downloadCharacteristics, 1))

    def write_buffer(self, data: bytes) -> bool:
        """Upload characteristics into CharBuffer1; True when the sensor gives back the very same bytes."""
        return bool(self._call(self._f.uploadCharacteristics, 1, list(data)))


Say = Callable[[str], None]
