"""What a ticket says about the wait and the place, and the simulator's pictures of its tickets across runs."""

from __future__ import annotations

from devices.printer import OK, TicketContent
from devices.printer.printer import ahead_lines, format_wait
from devices.printer.simulator import PrinterSimulator, next_ticket_number


def content(**kw) -> TicketContent:
    values = dict(hall_name="汨罗市政务服务中心", hall_name_en="Miluo City Government Service Centre", no="Q001",
                  service="企业投资项目备案", service_en="Filing of an enterprise investment project",
                  windows=["26", "27"], ahead=0, est_wait_s=0, issued_at="2026-11-30 09:12",
                  places=["26、27 号窗口：二楼东区"], places_en=["Window 26, 27: Floor 2, east hall"],
                  qr="miluo:20261130:Q001")
    values.update(kw)
    return TicketContent(**values)


def test_nobody_ahead_says_no_wait_once():
    assert ahead_lines(0, 0) == ("前面没有人，无需等待", "Nobody ahead, no wait")
    assert ahead_lines(0, None) == ("前面没有人，无需等待", "Nobody ahead, no wait")
    assert ahead_lines(4, 480) == ("前面还有 4 人，预计等待约8分钟", "4 people ahead, wait about 8 min")
    assert ahead_lines(1, None) == ("前面还有 1 人", "1 person ahead")
    assert ahead_lines(3, 0) == ("前面还有 3 人", "3 people ahead")
    assert ahead_lines(None, 300) == ("", "")
    assert format_wait(0) == ("", "") and format_wait(20) == ("约1分钟", "about 1 min")


def test_a_ticket_with_nobody_ahead_and_its_windows_place(printer_sim, ticket_printer):
    assert ticket_printer.print_ticket(content()) == OK
    [t] = printer_sim.wait_tickets(1)
    text = t.text
    assert "前面没有人，无需等待" in text and "Nobody ahead, no wait" in text
    assert "预计等待无需等待" not in text and "wait no wait" not in text
    assert text.count("无需等待") == 1
    order = ["请到 26、27 号窗口办理", "Windows: 26, 27", "26、27 号窗口：二楼东区",
             "Window 26, 27: Floor 2, east hall", "前面没有人，无需等待"]
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions)


def test_ticket_images_are_numbered_on_across_runs(tmp_path, ticket_printer, printer_sim):
    out = tmp_path / "printed"
    assert next_ticket_number(out) == 1
    for no in ("A001", "A002"):
        ticket_printer.print_ticket(content(no=no))
    printer_sim.wait_tickets(2)
    first = printer_sim.save_pngs(out)
    assert [p.name for p in first] == ["ticket-0001.png", "ticket-0002.png"]
    before = {p.name: p.read_bytes() for p in first}
    # the next run: a new simulator, numbering on from the folder, the first run's pictures untouched
    with PrinterSimulator() as again:
        from devices.printer import TicketPrinter

        p = TicketPrinter(again.port, timeout=0.3)
        try:
            p.print_ticket(content(no="B001"))
            again.wait_tickets(1)
        finally:
            p.close()
        second = again.save_pngs(out)
    assert [p.name for p in second] == ["ticket-0003.png"]
    assert {p.name: p.read_bytes() for p in first} == before
    (out / "ticket-0041.png").write_bytes(b"")  # a gap: the highest number counts
    (out / "notes-0099.png").write_bytes(b"")   # other files do not
    assert next_ticket_number(out) == 42
