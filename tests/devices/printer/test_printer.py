"""The ticket printer: python-escpos over a pseudo-terminal to the simulator, which decodes the real bytes."""

from __future__ import annotations

import pytest

from devices.printer import OFFLINE, OK, PAPER_LOW, PAPER_OUT, PrinterError, TicketContent, TicketPrinter
from devices.printer.decode import Decoder
from devices.printer.printer import display_width, wrap

MATERIALS = ["个体工商户登记（备案）申请书", "经营者身份证原件", "经营场所使用证明（不动产权证书复印件或租赁合同）",
             "委托他人代办的，提交委托书及代理人身份证件"]


def content(**kw) -> TicketContent:
    values = dict(hall_name="汨罗市政务服务中心", hall_name_en="Miluo City Government Service Centre", no="A012",
                  service="个体工商户设立登记", service_en="Registration of an individual business",
                  windows=["1", "2", "3"], ahead=4, est_wait_s=480, issued_at="2026-11-30 09:12",
                  materials=MATERIALS, qr="miluo:20261130:A012")
    values.update(kw)
    return TicketContent(**values)


# ---------------------------------------------------------------- the decoder on byte vectors

def test_decoder_reads_chinese_only_after_fs_ampersand():
    d = Decoder()
    d.feed(b"\x1b@" + "号".encode("gb18030") + b"\n")          # no FS &: the printer prints two code-page glyphs
    d.feed(b"\x1c&" + "请到3号窗口".encode("gb18030") + b"\n\x1c.")
    d.feed(b"\x1dV\x00")
    [ticket] = d.tickets
    assert ticket.lines[0].text != "号" and len(ticket.lines[0].text) == 2
    assert ticket.lines[1].text == "请到3号窗口"
    assert ticket.cut == "full"


def test_decoder_sizes_styles_alignment_and_split_commands():
    d = Decoder()
    stream = (b"\x1b@\x1c&\x1ba\x01\x1dE" + b"\x1d!\x33A012\n" + b"\x1d!\x00\x1bE\x01" + "粗体".encode("gb18030")
              + b"\x1bE\x00 plain\n" + b"\x1bd\x03" + b"\x1dVA\x10")
    for i in range(len(stream)):  # one byte at a time, as a slow serial line delivers it
        d.feed(stream[i:i + 1])
    [t] = d.tickets
    big, mixed = t.lines[0], t.lines[1]
    assert (big.text, big.width, big.height, big.align) == ("A012", 4, 4, "center")
    assert mixed.text == "粗体 plain" and mixed.runs[0].style.bold and not mixed.runs[1].style.bold
    assert t.cut == "partial" or t.cut == "full"


def test_decoder_collects_a_native_qr_code():
    d = Decoder()
    data = b"miluo:20261130:A012"

    def fn(f, body, m=b""):
        n = len(body) + len(m) + 2
        return b"\x1d(k" + bytes([n % 256, n // 256]) + b"1" + f + m + body
    d.feed(fn(b"A", b"2\x00") + fn(b"C", b"\x06") + fn(b"E", b"1") + fn(b"P", data, b"0") + fn(b"Q", b"", b"0"))
    d.feed(b"\x1dV\x00")
    [qr] = [i for i in d.tickets[0].items if hasattr(i, "module")]
    assert (qr.data, qr.module, qr.ec) == ("miluo:20261130:A012", 6, "M")


@pytest.mark.parametrize("paper, online, replies", [
    ("ok", True, b"\x12\x12"),
    ("low", True, b"\x12\x1e"),
    ("out", True, b"\x1a\x7e"),      # offline; near-end and end sensors both set
    ("ok", False, b""),
])
def test_status_queries_get_real_status_bytes(printer_sim, paper, online, replies):
    from escpos.constants import RT_MASK_LOWPAPER, RT_MASK_NOPAPER

    printer_sim.paper, printer_sim.online = paper, online
    got = printer_sim._decoder.feed(b"\x10\x04\x01\x10\x04\x04")
    assert got == replies
    if got:  # python-escpos's own reading of the paper byte (Escpos.paper_status) agrees
        assert (got[1] & RT_MASK_NOPAPER == RT_MASK_NOPAPER) == (paper == "out")
        assert (got[1] & RT_MASK_LOWPAPER == RT_MASK_LOWPAPER) == (paper in ("low", "out"))


# ---------------------------------------------------------------- python-escpos through the pty

def test_status_through_python_escpos(printer_sim, ticket_printer):
    assert ticket_printer.status() == OK
    printer_sim.paper = "low"
    assert ticket_printer.status() == PAPER_LOW
    printer_sim.paper = "out"
    assert ticket_printer.status() == PAPER_OUT
    printer_sim.paper = "ok"
    printer_sim.online = False
    assert ticket_printer.status() == OFFLINE
    printer_sim.online = True
    assert ticket_printer.status() == OK


def test_a_ticket_prints_with_every_part_in_order(printer_sim, ticket_printer):
    assert ticket_printer.print_ticket(content()) == OK
    [t] = printer_sim.wait_tickets(1)
    text = t.text
    order = ["汨罗市政务服务中心", "Miluo City Government Service Centre", "A012", "个体工商户设立登记",
             "Registration of an individual business", "请到 1、2、3 号窗口办理", "Windows: 1, 2, 3",
             "前面还有 4 人，预计等待约8分钟", "4 people ahead", "取号时间 Issued: 2026-11-30 09:12",
             "一次性告知", "经营者身份证原件", "请留意叫号屏幕和语音提示"]
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions)
    number = t.find("A012")
    assert (number.width, number.height, number.bold, number.align) == (4, 4, True, "center")
    assert t.find("汨罗市政务服务中心").align == "center"
    assert t.qr_codes == ["miluo:20261130:A012"]
    assert t.cut == "full"
    # nothing came out as '?' or mojibake: every line is what was sent
    assert "?" not in text and "\ufffd" not in text
    # and every line fits the 48-column paper
    assert all(display_width(line.text) * line.width <= 48 for line in t.lines)
    # Chinese went out as GB18030 after FS &
    assert b"\x1c&" in t.raw and "汨罗市政务服务中心".encode("gb18030") in t.raw


def test_python_escpos_text_alone_would_not_print_chinese(printer_sim):
    """Why the printer sends GB18030 itself: escpos's MagicEncode sends the bytes without FS &."""
    from escpos.printer import Serial

    p = Serial(devfile=printer_sim.port, timeout=0.3)
    p.text("汨罗市政务服务中心\n")
    p.text("（）——\n")
    p.cut()
    p.close()
    [t] = printer_sim.wait_tickets(1)
    assert t.lines[0].text != "汨罗市政务服务中心"
    assert "?" in t.lines[1].text or t.lines[1].text != "（）——"


def test_paper_out_prints_nothing_and_says_so(printer_sim, ticket_printer):
    printer_sim.paper = "out"
    with pytest.raises(PrinterError) as err:
        ticket_printer.print_ticket(content())
    assert err.value.status == PAPER_OUT
    assert printer_sim.tickets == [] and printer_sim.discarded == []
    printer_sim.paper = "ok"
    ticket_printer.print_ticket(content(no="A013"))
    assert printer_sim.wait_tickets(1)[0].find("A013")


def test_a_printer_switched_off_or_unplugged_is_offline(printer_sim, tmp_path):
    printer_sim.online = False
    p = TicketPrinter(printer_sim.port, timeout=0.2)
    with pytest.raises(PrinterError) as err:
        p.print_ticket(content())
    assert err.value.status == OFFLINE
    p.close()
    missing = TicketPrinter(str(tmp_path / "ttyUSB9"), timeout=0.2)
    assert missing.status() == OFFLINE
    with pytest.raises(PrinterError):
        missing.print_ticket(content())


def test_paper_low_still_prints(printer_sim, ticket_printer):
    printer_sim.paper = "low"
    assert ticket_printer.print_ticket(content()) == PAPER_LOW
    assert printer_sim.wait_tickets(1)


def test_wrapping_counts_hanzi_as_two_columns():
    assert display_width("请到3号窗口") == 11
    lines = wrap("3. 经营场所使用证明（不动产权证书复印件或租赁合同）", 24, indent="   ")
    assert all(display_width(line) <= 24 for line in lines)
    assert lines[1].startswith("   ")
    assert wrap("If you miss your call, take a new ticket.", 20) == ["If you miss your", "call, take a new", "ticket."]


def test_render_the_printed_ticket(printer_sim, ticket_printer, tmp_path):
    ticket_printer.print_ticket(content())
    [t] = printer_sim.wait_tickets(1)
    path = printer_sim.render_png(t, tmp_path / "ticket.png")
    from PIL import Image

    img = Image.open(path)
    assert img.width == 576 + 48 and img.height > 900
    assert img.convert("L").getextrema()[0] == 0  # something was printed in black
