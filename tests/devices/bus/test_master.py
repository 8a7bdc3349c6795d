"""The bus master against the simulator on a pseudo-terminal: retries, repeats, bad CRCs, broadcast, refusals."""

import os
import select

import pytest

from devices.bus.codec import (
    Brightness,
    Command,
    DeviceKind,
    Effect,
    Encoding,
    FrameParser,
    Key,
    KeysReply,
    RatingReply,
    SetTime,
    ShowText,
    Status,
    ping,
    request,
)
from devices.bus.master import NoAnswer, Refused, open_port


def outcomes(sim, addr):
    return [o for a, _, _, o in sim.stats.log if a == addr]


def test_ping_over_a_pty(sim, master):
    assert master.ping(3).kind == DeviceKind.KEYPAD
    assert master.ping(5).kind == DeviceKind.WINDOW_SCREEN
    assert master.ping(103).kind == DeviceKind.RATING_PAD


def test_first_request_greets_with_seq_0(sim, master):
    master.transact(5, Command.CLEAR, b"\xff")
    seqs = [(s, c) for a, s, c, _ in sim.stats.log if a == 5]
    assert seqs == [(0, Command.PING), (1, Command.CLEAR)]


def test_retries_after_dropped_frames(sim, master):
    master.ping(3)
    sim.drop(3, 2)
    sim.press(3, "next")
    reply = master.transact(3, Command.POLL_KEYS)
    assert KeysReply.decode(reply.body).keys == (Key.NEXT,)
    assert outcomes(sim, 3).count("dropped") == 2
    assert master.stats.retries >= 2


def test_lost_replies_are_sent_again_not_acted_on_twice(sim, master):
    master.ping(3)
    sim.press(3, "next", "recall")
    sim.fault(3, garble_out=2)  # the keypad answers, but the line garbles its replies twice
    reply = master.transact(3, Command.POLL_KEYS)
    assert KeysReply.decode(reply.body).keys == (Key.NEXT, Key.RECALL)  # not lost ...
    assert KeysReply.decode(master.transact(3, Command.POLL_KEYS).body).keys == ()  # ... and not doubled
    assert outcomes(sim, 3).count("repeat") >= 2
    polls = [f for f in sim.keypad(3).executed if f.cmd == Command.POLL_KEYS]
    assert len(polls) == 2


def test_bad_crc_gets_no_reply_and_the_master_gives_up_after_3_retries(sim, master):
    master.ping(5)
    sim.fault(5, garble_in=10)
    with pytest.raises(NoAnswer) as err:
        master.transact(5, Command.SHOW_TEXT, ShowText("A012 请到5号窗口"))
    assert err.value.tries == 4
    assert "no answer from bus address 5 to SHOW_TEXT" in str(err.value)
    assert "after 4 tries" in str(err.value)
    assert outcomes(sim, 5).count("bad_crc") == 4
    assert sim.screen(5).text is None
    sim.fault(5, garble_in=0)
    master.transact(5, Command.SHOW_TEXT, ShowText("A012 请到5号窗口"))
    assert sim.screen(5).shown_text == "A012 请到5号窗口"


def test_a_raw_frame_with_a_bad_crc_gets_no_reply(sim):
    port = open_port(sim.port)
    try:
        bad = bytearray(ping(3, 9).encode())
        bad[-2] ^= 0x01
        port.write(bytes(bad))
        port.write(ping(4, 9).encode())  # a good frame behind it still gets its answer
        parser, replies = FrameParser(), []
        while not replies:
            replies += parser.feed(port.read(64))
        assert [(r.addr, r.seq, r.cmd) for r in replies] == [(4, 9, Command.PING | 0x80)]
        assert sim.stats.bad_frames == 1
        assert not sim.keypad(3).executed
    finally:
        port.close()


def test_a_repeated_seq_is_dropped_and_the_last_reply_sent_again(sim):
    port = open_port(sim.port)
    try:
        sim.press(4, "skip")
        frame = request(4, 7, Command.POLL_KEYS).encode()
        parser, replies = FrameParser(), []
        port.write(frame)
        port.write(frame)
        while len(replies) < 2:
            replies += parser.feed(port.read(64))
        assert replies[0] == replies[1]
        assert KeysReply.decode(replies[0].body).keys == (Key.SKIP,)
        assert len(sim.keypad(4).executed) == 1
        assert outcomes(sim, 4) == ["ok", "repeat"]
    finally:
        port.close()


def test_broadcast_gets_no_reply_and_acts_once(sim, master):
    master.broadcast(Command.BRIGHTNESS, Brightness(40))
    master.broadcast(Command.SET_TIME, SetTime(1796000400))
    sim.wait(lambda: sim.stats.broadcasts == 4)
    for device in sim.devices.values():
        assert device.brightness == 40
        assert device.time_set == SetTime(1796000400)
        assert len(device.executed) == 2  # each broadcast went out twice, each was acted on once
    fd = master.port.fileno()
    assert select.select([fd], [], [], 0.2)[0] == []  # nobody answered


def test_busy_is_tried_again(sim, master):
    master.ping(5)
    sim.fault(5, busy=1)
    master.transact(5, Command.SHOW_TEXT, ShowText("暂停服务"))
    assert sim.screen(5).shown_text == "暂停服务"
    assert outcomes(sim, 5)[-2:] == ["busy", "ok"]


def test_refusals_name_the_status(sim, master):
    with pytest.raises(Refused, match="status 2 .unknown_command."):
        master.transact(103, Command.SHOW_TEXT, ShowText("x"))
    with pytest.raises(Refused, match="bad_parameter"):
        master.transact(5, Command.BRIGHTNESS, b"\x99")


def test_encoding_and_length_checks_of_a_screen(sim, master):
    sim.screen(5).encodings = frozenset({Encoding.GB18030})
    sim.screen(5).max_text_bytes = 20
    with pytest.raises(Refused) as err:
        master.transact(5, Command.SHOW_TEXT, ShowText("欢迎光临", encoding=Encoding.UTF8))
    assert err.value.status == Status.ENCODING_NOT_SUPPORTED and err.value.reason == "encoding_not_supported"
    with pytest.raises(Refused) as err:
        master.transact(5, Command.SHOW_TEXT, ShowText("欢迎光临" * 3, encoding=Encoding.GB18030))
    assert err.value.status == Status.TEXT_TOO_LONG
    master.transact(5, Command.SHOW_TEXT, ShowText("欢迎光临", Effect.STATIC, encoding=Encoding.GB18030))
    assert sim.screen(5).shown_text == "欢迎光临"


def test_a_restarted_master_is_not_taken_for_a_repeat(sim):
    from devices.bus.master import BusMaster

    first = BusMaster(open_port(sim.port))
    first.ping(103)
    sim.rate(103, 4)
    assert RatingReply.decode(first.transact(103, Command.POLL_RATING).body).score == 4
    first.close()
    second = BusMaster(open_port(sim.port))  # its counter starts again: seq 1 would look like a repeat
    try:
        sim.rate(103, 2)
        assert RatingReply.decode(second.transact(103, Command.POLL_RATING).body).score == 2
    finally:
        second.close()


def test_modem_lines_are_left_alone(sim):
    port = open_port(sim.port)
    try:
        with pytest.raises(OSError):
            port.rts = False  # a pty refuses modem-line ioctls: open_port must never have tried
    finally:
        port.close()
    assert os.path.exists(sim.port)
