"""预约签到 and a queue's ID number at the kiosk: the flow as a plain object, and the screens driven by touch against
a real hub where the citizens' site booked a slot."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kiosk.entry import CHECKIN, DETAILS, EntryFlow
from tests.helpers.appointments import booking_hall, id_number
from tests.helpers.rig import wait_for
from tests.helpers.timeline import HallClock

MONDAY_0940 = datetime(2026, 11, 30, 9, 40, tzinfo=ZoneInfo("Asia/Shanghai"))

PORTRAIT, LANDSCAPE = (1080, 1920), (1024, 600)


class FakeTickets:
    def __init__(self):
        self.sent = []

    def check_in(self, **kw):
        self.sent.append(("checkin", kw))
        return True

    def take(self, **kw):
        self.sent.append(("take", kw))
        return True


def typed(flow: EntryFlow, keys: str) -> None:
    for key in keys:
        flow.press(key)


def test_check_in_takes_a_code_or_an_id_number():
    flow, tickets = EntryFlow(), FakeTickets()
    flow.start_checkin()
    typed(flow, "1234567")
    assert not flow.ready and not flow.submit(tickets) and flow.s.problem == "entry_bad_code"
    typed(flow, "8")
    assert flow.submit(tickets) and tickets.sent[-1] == ("checkin", {"code": "12345678"})
    flow.press("clear")
    typed(flow, id_number(7)[:17])
    flow.press("X") if id_number(7).endswith("X") else flow.press(id_number(7)[-1])
    assert flow.submit(tickets) and tickets.sent[-1] == ("checkin", {"id_number": id_number(7)})


def test_details_need_the_id_number_where_the_queue_says_so_and_a_phone_is_optional():
    flow, tickets = EntryFlow(), FakeTickets()
    flow.start_details("H", None, id_required=True)
    assert flow.s.mode == DETAILS and flow.s.field == "id_number"
    assert not flow.submit(tickets) and flow.s.problem == "entry_bad_id"
    typed(flow, "11010519491231002")
    flow.press("X")
    assert flow.s.field == "phone"  # a whole ID number: on to the phone
    typed(flow, "1391234")
    assert not flow.submit(tickets) and flow.s.problem == "entry_bad_phone"
    typed(flow, "5678")
    assert flow.submit(tickets)
    assert tickets.sent[-1] == ("take", {"service": None, "queue": "H", "id_number": "11010519491231002X",
                                         "phone": "13912345678"})
    flow.start_details("A", None, id_required=False)
    assert flow.s.field == "phone" and flow.submit(tickets)  # nothing typed: nothing asked
    flow.reset()
    assert flow.s.mode == CHECKIN


@pytest.fixture
def booked_hall(make_rig, tmp_path, monkeypatch):
    """A hall whose hub lives on Monday 2026-11-30 from 09:40, whatever the hour of the test: the 10:00 slot of
    queue A is bookable and already open for check-in."""
    rig = make_rig(config=booking_hall(tmp_path / "config"))
    HallClock(MONDAY_0940).install(monkeypatch)
    rig.start_hub()
    return rig


@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE])
def test_a_citizen_checks_in_on_the_keypad_and_is_called_ahead_of_walk_ins(kiosk_screen, booked_hall, size,
                                                                           printer_sim, ticket_printer):
    rig = booked_hall
    web, kiosk_link = rig.link("web-01"), rig.link("kiosk-01")
    assert web.wait_connected(10) and kiosk_link.wait_connected(10)
    k = kiosk_screen(rig.hall, rig.data_dir, size, link=kiosk_link, request_timeout=5.0, printer=ticket_printer)
    k.screen.until(lambda: k.app.ui.hub_online, 10, "the kiosk sees the hub online")
    walk_in = kiosk_link.request("ticket_request", {"queue": "A"}, timeout=10)["ticket"]["no"]

    k.tap_id("home", "checkin")
    assert k.app.current == "entry"
    scr = k.app.screen("entry")
    keys = {w.text: w for w in scr.ids.keypad.children if w.text}
    for digit in "12345678":
        k.tap(keys[digit])
    k.tap(scr.ids.go)
    k.until_screen("ticket")
    k.screen.until(lambda: k.app.model.ticket.s.state == "refused", 10, "an unknown code refused")
    assert k.app.model.ticket.s.code == "no_booking"
    k.shot(f"checkin-refused-{size[0]}x{size[1]}")
    k.app.home()
    k.screen.advance(0.5)

    slot = ("2026-11-30", "10:00")
    answer = web.request("booking_request", {"queue": "A", "date": slot[0], "time": slot[1], "name": "张三",
                                             "id_number": id_number(1), "phone": "13800138000"}, timeout=10)
    assert answer["ok"], answer
    code = answer["booking"]["code"]
    k.tap_id("home", "checkin")
    k.screen.advance(0.5)
    for digit in code:
        k.tap(keys[digit])
    k.shot(f"checkin-{size[0]}x{size[1]}")
    k.tap(scr.ids.go)
    k.screen.until(lambda: k.app.model.ticket.s.state == "issued", 10, "the booked ticket")
    ticket = k.app.model.ticket.s.ticket
    assert ticket.booked == slot[1] and ticket.ahead == 0
    assert "预约号" in k.app.screen("ticket").service_name and "Booked for 10:00" in k.app.screen("ticket").service_name
    [printed] = printer_sim.wait_tickets(1)
    assert printed.find(ticket.no)
    k.shot(f"checkin-ticket-{size[0]}x{size[1]}")
    window = rig.link("win-01")
    assert window.wait_connected(10)
    window.request("login", {"window": "1", "staff": "s001"}, timeout=10)
    assert window.request("call_next", {"window": "1"}, timeout=10)["ticket"]["no"] == ticket.no
    assert window.request("call_next", {"window": "1"}, timeout=10)["ticket"]["no"] == walk_in


def test_a_queue_that_limits_walk_ins_asks_for_the_id_number(kiosk_screen, booked_hall, printer_sim,
                                                               ticket_printer):
    rig = booked_hall
    link = rig.link("kiosk-01")
    assert link.wait_connected(10)
    k = kiosk_screen(rig.hall, rig.data_dir, PORTRAIT, link=link, request_timeout=5.0, printer=ticket_printer)
    k.screen.until(lambda: k.app.ui.hub_online, 10, "the kiosk sees the hub online")
    assert k.app.take_ticket(queue="H")
    k.screen.advance(0.5)
    assert k.app.current == "entry"
    scr = k.app.screen("entry")
    assert "身份证号码" in scr.first and "手机号" in scr.second
    keys = {w.text: w for w in scr.ids.keypad.children if w.text}
    number = id_number(9)
    for ch in number:
        k.tap(keys[ch])
    assert scr.field == "phone"
    for digit in "13912345678":
        k.tap(keys[digit])
    k.shot("details-1080x1920")
    k.tap(scr.ids.go)
    k.screen.until(lambda: k.app.model.ticket.s.state == "issued", 10, "the ticket")
    assert k.app.model.ticket.s.ticket.queue == "H"
    wait_for(lambda: rig.count("SELECT count(*) FROM tickets WHERE phone='13912345678'") == 1, 5, "the phone kept")
    # a second ticket for the same person and queue today: refused, said on the ticket screen
    k.app.home()
    k.app.take_ticket(queue="H")
    k.screen.advance(0.5)
    for ch in number:
        k.tap(keys[ch])
    k.tap(scr.ids.go)
    k.screen.until(lambda: k.app.model.ticket.s.state == "refused", 10, "the second refused")
    assert k.app.model.ticket.s.code == "id_limit"


def test_a_citizen_leaves_a_mobile_number_with_an_ordinary_ticket(kiosk_screen, booked_hall):
    rig = booked_hall
    link = rig.link("kiosk-01")
    assert link.wait_connected(10)
    k = kiosk_screen(rig.hall, rig.data_dir, LANDSCAPE, link=link, request_timeout=5.0)
    k.screen.until(lambda: k.app.ui.hub_online, 10, "the kiosk sees the hub online")
    k.tap_id("home", "take")
    k.screen.advance(0.5)
    queues = k.app.screen("queues")
    k.tap(queues.ids.phone)
    assert queues.ask_phone and "已选" in queues.ids.phone.text
    k.shot("queues-phone-1024x600")
    k.tap(queues.buttons["A"])
    k.screen.advance(0.5)
    scr = k.app.screen("entry")
    assert k.app.current == "entry" and scr.field == "phone" and "可不填" in scr.hint
    keys = {w.text: w for w in scr.ids.keypad.children if w.text}
    for digit in "13800138000":
        k.tap(keys[digit])
    k.tap(scr.ids.go)
    k.screen.until(lambda: k.app.model.ticket.s.state == "issued", 10, "the ticket")
    wait_for(lambda: rig.count("SELECT count(*) FROM tickets WHERE phone='13800138000' AND queue='A'") == 1, 5,
             "the phone kept with the ticket")
    k.app.home()
    assert not k.app.ask_phone  # the next citizen is not asked unless they choose it


@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE])
def test_the_home_screen_with_its_check_in_button_fits_in_english_and_large_text(kiosk_screen, kiosk_rig, size):
    k = kiosk_screen(kiosk_rig.hall, kiosk_rig.data_dir, size)
    k.app.toggle_language()
    k.app.toggle_large()
    k.screen.advance(0.3)
    home = k.app.screen("home")
    width = k.root.width
    for name in ("checkin", "take", "search"):  # a row of its own: the top bar keeps its room
        w = home.ids[name]
        assert w.x >= 0 and w.right <= width + 1, (name, w.x, w.right, width)
        assert w.texture_size[0] <= w.width + 1, (name, w.texture_size, w.size)
