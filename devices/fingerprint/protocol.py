"""The ZhianTec sensor frame (ZFM-20/60, R30x, AS608), as the PyPI pyfingerprint 1.5 speaks it.

    EF 01 | address (4, big-endian) | identifier (1) | length (2, = payload + 2) | payload | checksum (2)

The checksum is the low 16 bits of identifier + both length bytes + every payload byte; header and address are
not summed. Shared by the simulator and by anything that wants to look at the bytes.
"""

from __future__ import annotations

HEADER = b"\xef\x01"
DEFAULT_ADDRESS = 0xFFFFFFFF

COMMAND, DATA, ACK, END_DATA = 0x01, 0x02, 0x07, 0x08

# instruction codes
GEN_IMG, IMG2TZ, MATCH, SEARCH, REG_MODEL, STORE, LOAD_CHAR, UP_CHAR, DOWN_CHAR = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09
UP_IMAGE, DELETE, EMPTY, SET_SYS_PARA, READ_SYS_PARA = 0x0A, 0x0C, 0x0D, 0x0E, 0x0F
SET_PWD, VFY_PWD, GET_RANDOM, SET_ADDR, TEMPLATE_COUNT, READ_INDEX = 0x12, 0x13, 0x14, 0x15, 0x1D, 0x1F

# confirmation codes (first byte of an ack)
OK = 0x00
RECEIVE_ERROR = 0x01
NO_FINGER = 0x02
ENROLL_FAIL = 0x03
MESSY_IMAGE = 0x06
FEW_FEATURES = 0x07
NO_MATCH = 0x08
NOT_FOUND = 0x09
COMBINE_FAIL = 0x0A
BAD_POSITION = 0x0B
READ_TEMPLATE_FAIL = 0x0C
UPLOAD_FAIL = 0x0D
PACKET_RESPONSE_FAIL = 0x0E
UPLOAD_IMAGE_FAIL = 0x0F
DELETE_FAIL = 0x10
CLEAR_FAIL = 0x11
WRONG_PASSWORD = 0x13
NO_IMAGE = 0x15
FLASH_ERROR = 0x18
BAD_REGISTER = 0x1A
ADDRESS_ERROR = 0x20
MUST_VERIFY_PASSWORD = 0x21

PACKET_SIZES = (32, 64, 128, 256)


def checksum(identifier: int, payload: bytes) -> int:
    length = len(payload) + 2
    return (identifier + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


def frame(identifier: int, payload: bytes, address: int = DEFAULT_ADDRESS) -> bytes:
    length = len(payload) + 2
    return (HEADER + address.to_bytes(4, "big") + bytes([identifier]) + length.to_bytes(2, "big") + bytes(payload)
            + checksum(identifier, payload).to_bytes(2, "big"))


class FrameReader:
    """Reassembles frames from a byte stream by their length field, however the bytes were split.

    pyfingerprint writes every byte in its own write() call, so frames arrive in pieces; bytes before a header
    (line noise, a half frame from before the port was opened) are skipped.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> list[tuple[int, int, bytes, bool]]:
        """Add bytes; return the complete frames as (address, identifier, payload, checksum_ok)."""
        self.buffer += data
        frames = []
        while True:
            start = self.buffer.find(HEADER)
            if start < 0:
                keep = 1 if self.buffer[-1:] == HEADER[:1] else 0
                self.skipped += len(self.buffer) - keep
                del self.buffer[:len(self.buffer) - keep]
                return frames
            if start:
                self.skipped += start
                del self.buffer[:start]
            if len(self.buffer) < 9:
                return frames
            length = int.from_bytes(self.buffer[7:9], "big")
            if length < 2:  # cannot even hold a checksum: not a frame
                self.skipped += 2
                del self.buffer[:2]
                continue
            total = 9 + length
            if len(self.buffer) < total:
                return frames
            raw = bytes(self.buffer[:total])
            del self.buffer[:total]
            identifier, payload = raw[6], raw[9:total - 2]
            ok = int.from_bytes(raw[total - 2:], "big") == checksum(identifier, payload)
            frames.append((int.from_bytes(raw[2:6], "big"), identifier, payload, ok))
