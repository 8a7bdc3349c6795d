"""办件查询 at the kiosk: the flow as a plain object, and the screen driven by touch against a real hub that
accepted a case at a window."""

from __future__ import annotations

import pytest

from kiosk.caselookup import ASKING, ENTERING, FOUND, NO_ANSWER, NOT_FOUND, OFFLINE, CaseLookupFlow
from tests.helpers.kiosk import all_day_hall
from tests.helpers.rig import wait_for

ID = "11010519491231002X"
PORTRAIT, LANDSCAPE = (1080, 1920), (1024, 600)


class FakeLink:
    def __init__(self, answer=None, online=True):
        self.answer, self.hub_online, self.asked = answer, online, []

    def request(self, event_type, data, timeout):
        self.asked.append((event_type, data))
        return self.answer


def typed(flow: CaseLookupFlow, keys: str) -> None:
    for key in keys:
        flow.press(key)


def test_the_flow_types_two_fields_and_asks_the_hub_only_when_both_are_whole():
    found = {"re": "01JDX8R6Z3K6W5T3M4N2P1Q0RS", "ok": True,
             "case": {"case": "202611300001", "service": "scjg-005", "status": "accepted", "deadline": "2026-12-07"}}
    link = FakeLink(found)
    flow = CaseLookupFlow(link)
    typed(flow, "20261130000")
    assert not flow.ready and not flow.ask() and link.asked == []
    typed(flow, "1")
    flow.press("X")  # an X belongs only at the end of the ID's last 4
    assert flow.s.number == "202611300001" and flow.s.last4 == ""
    flow.press("last4")
    typed(flow, "X002X9")
    assert flow.s.last4 == "002X"  # X only as the fourth character, nothing past four
    assert flow.ready and flow.ask()
    wait_for(lambda: flow.s.state == FOUND, 5, "the answer")
    assert link.asked == [("case_lookup", {"case": "202611300001", "id_last4": "002X"})]
    text = flow.result_text("zh", {"scjg-005": "食品经营许可"}.get)
    assert text.splitlines() == ["办件编号 202611300001", "事项：食品经营许可", "状态：已受理", "承诺办结期限：2026-12-07 下班前"]
    assert "Due by the close of 2026-12-07" in flow.result_text("en", lambda s: "")
    flow.press("back")  # typing again starts a new question
    assert (flow.s.state, flow.s.last4, flow.s.case) == (ENTERING, "002", None)
    flow.press("clear")
    assert (flow.s.number, flow.s.last4, flow.s.field) == ("", "", "number")


@pytest.mark.parametrize(("answer", "online", "state", "says"), [
    ({"re": "01JDX8R6Z3K6W5T3M4N2P1Q0RS", "ok": False, "code": "not_found", "error": "查无此件"}, True, NOT_FOUND,
     "查无此件"),
    (None, True, NO_ANSWER, "未应答"),
    (None, False, OFFLINE, "离线"),
])
def test_the_flow_says_why_there_is_no_case(answer, online, state, says):
    flow = CaseLookupFlow(FakeLink(answer, online))
    typed(flow, "202611300001")
    flow.press("last4")
    typed(flow, "1234")
    flow.ask()
    wait_for(lambda: flow.s.state not in (ENTERING, ASKING), 5, "an outcome")
    assert flow.s.state == state and says in flow.result_text("zh", lambda s: "")


@pytest.fixture
def hall_with_a_case(make_rig, tmp_path):
    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    rig.start_hub()
    window = rig.link("win-01")
    assert window.wait_connected(10)
    answer = window.request("case_accept", {"service": "scjg-005", "applicant_name": "张三", "id_number": ID},
                            timeout=10)
    assert answer["ok"], answer
    return rig, answer["case"]


@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE])
def test_a_citizen_looks_up_a_case_on_the_keypad(kiosk_screen, hall_with_a_case, size, printer_sim, ticket_printer):
    rig, case = hall_with_a_case
    link = rig.link("kiosk-01")
    k = kiosk_screen(rig.hall, rig.data_dir, size, link=link, request_timeout=5.0, printer=ticket_printer)
    assert link.wait_connected(10)
    k.screen.until(lambda: k.app.ui.hub_online, 10, "the kiosk sees the hub online")
    k.tap_id("home", "cases")
    assert k.app.current == "caselookup"
    scr = k.app.screen("caselookup")
    keys = {w.text: w for w in scr.ids.keypad.children if w.text}
    for digit in case["case"]:
        k.tap(keys[digit])
    assert scr.number == case["case"] and scr.field == "last4"  # a whole number: on to the last 4
    assert scr.ids.ask.disabled and scr.ids["print"].disabled  # nothing to print before a case is found
    for key in "1234":
        k.tap(keys[key])
    k.tap(scr.ids.ask)
    k.screen.until(lambda: "查无此件" in scr.result, 10, "a wrong pair refused")
    assert "张" not in scr.result
    for _ in range(4):
        k.tap(scr.ids.key_back)
    for key in "002":
        k.tap(keys[key])
    k.tap(scr.ids.key_x)
    k.tap(scr.ids.ask)
    k.screen.until(lambda: scr.found, 10, "the case found")
    assert "状态：已受理" in scr.result and "食品经营许可" in scr.result and case["deadline"] in scr.result
    assert "Status: accepted" in scr.result and "张" not in scr.result  # nothing personal comes back
    # the slip: the number, and how to look it up again
    k.tap(scr.ids["print"])
    k.screen.until(lambda: "请取走打印单" in scr.result, 15, "the slip printed")
    [slip] = printer_sim.wait_tickets(1)
    assert slip.find(case["case"]) and slip.find("食品经营许可") and slip.find("凭办件编号") and slip.find("已受理")
    from devices.printer.render import render_ticket

    render_ticket(slip, k.shots / f"case-slip-{size[0]}.png")
    shot = k.shot(f"case-lookup-{size[0]}x{size[1]}")
    assert shot.exists()
    k.tap(scr.ids.bar.ids.home)
    assert k.app.current == "home" and k.app.model.cases.s.number == ""  # the next citizen starts clean
