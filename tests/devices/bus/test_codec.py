"""The bus codec against PROTOCOL.md's and docs/hall-bus.md's vectors, and the stream parser's resync."""

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.bus.codec import (
    MAX_PAYLOAD,
    Brightness,
    Clear,
    Command,
    DeviceKind,
    Effect,
    Encoding,
    Frame,
    FrameError,
    FrameParser,
    Key,
    KeypadState,
    KeypadView,
    KeysReply,
    PayloadError,
    PingReply,
    RatingReply,
    SetTime,
    ShowText,
    Status,
    StatusReply,
    crc16_modbus,
    decode_frame,
    encode_frame,
    key_code,
    ping,
    request,
    show_text,
)

ROOT = Path(__file__).resolve().parents[3]
DOCS = (ROOT / "docs" / "hall-bus.md").read_text(encoding="utf-8")
NOV_30_0900 = 1796000400  # 2026-11-30 09:00 +08:00


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def test_crc_check_value():
    assert crc16_modbus(b"123456789") == 0x4B37


def test_protocol_ping_vector():
    assert ping(3, 2).encode() == hexbytes("aa 55 03 02 01 00 00 30 78")
    assert decode_frame(hexbytes("aa 55 03 02 01 00 00 30 78")) == Frame(3, 2, Command.PING)


def test_reference_show_text_vector():
    frame = show_text(3, 1, ShowText("请A012号到3号窗口", effect=Effect.FLASH, speed=5, colour=1))
    assert frame.encode().hex(" ") == ("aa 55 03 01 10 00 1e 00 02 05 01 00 00 00 e8 af b7 41 30 31 32 e5 8f b7 e5 88 "
                                       "b0 33 e5 8f b7 e7 aa 97 e5 8f a3 4a 33")


def test_gb18030_text_is_the_gb2312_bytes():
    payload = ShowText("请A012号到3号窗口", encoding=Encoding.GB18030).encode()
    assert payload[7:].hex(" ") == "c7 eb 41 30 31 32 ba c5 b5 bd 33 ba c5 b4 b0 bf da"


# Every command's documented vector, built with the codec: the docs and the code cannot drift apart.
CALL = ShowText("A012 请到3号窗口", effect=Effect.FLASH, colour=1, duration_s=3, encoding=Encoding.GB18030)
DOC_VECTORS = {
    "ping": ping(3, 2),
    "ping reply": ping(3, 2).reply(Status.OK, PingReply(DeviceKind.WINDOW_SCREEN, (1, 0), "HK-W").encode()),
    "status": request(3, 3, Command.STATUS),
    "status reply": request(3, 3, Command.STATUS).reply(
        Status.OK, StatusReply(3600, 80, 0, crc16_modbus("欢迎光临".encode())).encode()),
    "set time": request(3, 4, Command.SET_TIME, SetTime(NOV_30_0900, 480)),
    "set time broadcast": request(0, 1, Command.SET_TIME, SetTime(NOV_30_0900, 480)),
    "show text": show_text(3, 1, ShowText("请A012号到3号窗口", effect=Effect.FLASH, speed=5, colour=1)),
    "call": show_text(3, 5, CALL),
    "call reply": show_text(3, 5, CALL).reply(),
    "call refused": show_text(3, 5, CALL).reply(Status.ENCODING_NOT_SUPPORTED),
    "idle": show_text(3, 6, ShowText("欢迎光临", encoding=Encoding.GB18030), idle=True),
    "paused": show_text(3, 7, ShowText("暂停服务", encoding=Encoding.GB18030), idle=True),
    "clear": request(3, 8, Command.CLEAR, Clear(0xFF)),
    "brightness": request(3, 9, Command.BRIGHTNESS, Brightness(80)),
    "poll keys": request(3, 10, Command.POLL_KEYS),
    "keys reply": request(3, 10, Command.POLL_KEYS).reply(Status.OK, KeysReply((Key.NEXT,)).encode()),
    "login keys": request(3, 11, Command.POLL_KEYS).reply(
        Status.OK, KeysReply((Key.LOGIN, Key.D2, Key.D3, Key.ENTER)).encode()),
    "keypad": request(3, 12, Command.SHOW_ON_KEYPAD, KeypadView("A012", 5, KeypadState.SERVING)),
    "poll rating": request(103, 1, Command.POLL_RATING),
    "rating reply": request(103, 1, Command.POLL_RATING).reply(Status.OK, RatingReply(5).encode()),
    "no rating": request(103, 1, Command.POLL_RATING).reply(Status.OK, RatingReply(None).encode()),
    "unknown": request(3, 13, 0x14, b"\x01"),
    "unknown reply": request(3, 13, 0x14, b"\x01").reply(Status.UNKNOWN_COMMAND),
}


@pytest.mark.parametrize("name", DOC_VECTORS)
def test_documented_vector(name):
    hex_text = DOC_VECTORS[name].encode().hex(" ")
    assert f"`{hex_text}`" in DOCS, f"docs/hall-bus.md lacks the {name} vector {hex_text}"


def test_every_documented_frame_is_valid_and_every_command_has_one():
    frames = [decode_frame(hexbytes(h)) for h in re.findall(r"`(aa 55 [0-9a-f ]+)`", DOCS)]
    assert len(frames) >= len(DOC_VECTORS)
    documented = {f.command for f in frames}
    assert set(Command) <= documented


def test_every_command_and_key_is_in_the_docs():
    for cmd in Command:
        assert f"| `{cmd.value:02x}` | {cmd.name} |" in DOCS
    for key in Key:
        if key.digit is None:
            assert f"| `{key.value:02X}` |" in DOCS, key


@given(addr=st.integers(0, 247), seq=st.integers(0, 255), cmd=st.integers(0, 255),
       payload=st.binary(max_size=MAX_PAYLOAD))
def test_round_trip(addr, seq, cmd, payload):
    data = encode_frame(addr, seq, cmd, payload)
    assert decode_frame(data) == Frame(addr, seq, cmd, payload)
    assert FrameParser().feed(data) == [Frame(addr, seq, cmd, payload)]


@given(chunks=st.lists(st.integers(1, 40), min_size=1, max_size=30), noise=st.binary(max_size=30))
def test_parser_takes_any_chunking_and_leading_noise(chunks, noise):
    frames = [ping(3, 2), show_text(5, 9, CALL), request(103, 1, Command.POLL_RATING)]
    stream = noise + b"".join(f.encode() for f in frames)
    parser, got, i = FrameParser(), [], 0
    for size in chunks * 100:
        if i >= len(stream):
            break
        got += parser.feed(stream[i:i + size])
        i += size
    got += parser.feed(stream[i:])
    assert got[-3:] == frames


def test_parser_resyncs_after_a_bad_crc():
    bad = bytearray(show_text(3, 1, CALL).encode())
    bad[-1] ^= 0xFF
    parser = FrameParser()
    assert parser.feed(bytes(bad) + ping(3, 2).encode()) == [ping(3, 2)]
    assert parser.bad_frames >= 1


def test_parser_skips_a_false_sync_inside_a_payload():
    # a payload holding AA 55 and a plausible header, cut short: the parser must find the real next frame
    trap = request(7, 1, Command.SHOW_TEXT, b"\xaa\x55\x03\x02\x01\x00\x05")
    damaged = trap.encode()[:-3]  # the tail is lost on the line
    parser = FrameParser()
    got = parser.feed(damaged + ping(3, 2).encode() + ping(4, 2).encode())
    assert got[-2:] == [ping(3, 2), ping(4, 2)]


def test_parser_rejects_an_oversized_length():
    parser = FrameParser()
    assert parser.feed(b"\xaa\x55\x03\x02\x01\x04\x01" + ping(3, 2).encode()) == [ping(3, 2)]


@pytest.mark.parametrize("data, message", [
    (b"\xaa\x55\x03", "shorter"),
    (bytes.fromhex("ab 55 03 02 01 00 00 30 78"), "expected aa 55"),
    (bytes.fromhex("aa 55 03 02 01 00 00 30 79"), "bad CRC"),
    (bytes.fromhex("aa 55 03 02 01 00 01 30 78"), "LEN 1"),
])
def test_decode_errors_say_what_is_wrong(data, message):
    with pytest.raises(FrameError, match=message):
        decode_frame(data)


def test_frame_limits():
    with pytest.raises(FrameError, match="address 248"):
        Frame(248, 0, 1)
    with pytest.raises(FrameError, match="exceeds 1024"):
        Frame(1, 0, 0x10, bytes(1025))


def test_show_text_round_trip_and_refusals():
    for enc in Encoding:
        text = ShowText("【营业执照】请携带身份证原件", effect=Effect.SCROLL, speed=9, duration_s=600, encoding=enc)
        assert ShowText.decode(text.encode()) == text
    with pytest.raises(PayloadError) as err:
        ShowText.decode(bytes([0, 3, 0, 0, 0, 0, 0]) + b"x")
    assert err.value.status == Status.BAD_PARAMETER
    with pytest.raises(PayloadError) as err:
        ShowText.decode(bytes([0, 0, 0, 0, 0, 0, 7]) + b"x")
    assert err.value.status == Status.ENCODING_NOT_SUPPORTED
    with pytest.raises(PayloadError) as err:
        ShowText("号" * 400).encode()  # 1200 UTF-8 bytes
    assert err.value.status == Status.TEXT_TOO_LONG
    assert len(ShowText("号" * 400, encoding=Encoding.GB18030).encode()) == 807  # the same text fits in GB18030


def test_small_payloads_round_trip():
    assert KeypadView.decode(KeypadView("AB1024", 70000, KeypadState.PAUSED).encode()) == \
        KeypadView("AB1024", 0xFFFF, KeypadState.PAUSED)
    assert KeypadView.decode(KeypadView(None, 0).encode()) == KeypadView(None, 0, KeypadState.IDLE)
    assert KeysReply.decode(KeysReply((Key.D0, Key.NEXT)).encode()).keys == (Key.D0, Key.NEXT)
    assert RatingReply.decode(b"\x00").score is None
    assert SetTime.decode(SetTime(NOV_30_0900, -300).encode()) == SetTime(NOV_30_0900, -300)
    assert Clear.decode(b"\x00") == Clear(0)
    with pytest.raises(PayloadError):
        Brightness.decode(b"\x65")
    with pytest.raises(PayloadError):
        RatingReply.decode(b"\x06")


def test_key_names():
    assert key_code("next") is Key.NEXT
    assert key_code("7") is Key.D7
    assert key_code(0x44) is Key.COMPLETE
    assert Key.D3.digit == "3" and Key.NEXT.digit is None
    with pytest.raises(ValueError, match="unknown key"):
        key_code("coffee")


def test_encoding_names():
    assert Encoding.named("GB18030") is Encoding.GB18030
    assert Encoding.named("gbk") is Encoding.GB18030
    assert Encoding.named("utf-8") is Encoding.UTF8
    with pytest.raises(ValueError, match="utf-8"):
        Encoding.named("big5")
