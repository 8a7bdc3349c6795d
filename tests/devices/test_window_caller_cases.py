"""受理办件 at the window caller (`hall window`, key `a`): the item picked from the window's own, the applicant's
name and ID number typed, the case accepted by the real hub for the ticket being served and its number shown."""

from __future__ import annotations

import asyncio
import time

import pytest

from devices.window_caller import KEYS, WindowCallerApp, WindowPanel, _cells
from hall.protocol import Answer, read_from_hub
from hall.settings import load_hall
from tests.helpers.queueing import all_day_hall

ID = "11010519491231002X"


def test_the_panel_offers_the_windows_items_and_checks_the_form():
    hall = load_hall()
    panel = WindowPanel.for_hall(hall, "3")
    queues = {s.id: s.queue for s in hall.catalogue.services}
    assert panel.services and {queues[sid] for sid, _ in panel.services} <= {"A", "U"}
    assert any(line.startswith("scjg-005") and "承诺 5 日" in line for _, line in panel.services)
    assert all(_cells(line) <= 72 for _, line in panel.services)  # within the choice box
    assert ("a", "受理办件", "case") in KEYS
    data, why = panel.case_request("scjg-005", " 张三 ", ID.lower())
    assert data == {"service": "scjg-005", "applicant_name": "张三", "id_number": ID, "window": "3"} and not why
    panel.on_hub_topic("hall/v1/miluo/hub/state/window/3", {"window": "3", "status": "serving", "ticket": "A007",
                                                            "staff": "s009"})
    assert panel.case_request("scjg-005", "张三", ID)[0]["ticket"] == "A007"  # the case came from this ticket
    assert panel.case_request("scjg-005", "张三", "1101051949")[1].startswith("身份证号码应为 18 位")
    answer = read_from_hub(Answer, {"re": "01JDX8R6Z3K6W5T3M4N2P1Q0RS", "ok": True, "case": {
        "case": "202611300001", "service": "scjg-005", "status": "accepted", "deadline": "2026-12-07", "days": 5}})
    said = panel.describe("case_accept", answer)
    assert said.startswith("已受理 办件编号 202611300001") and "due 2026-12-07" in said
    assert all(_cells(line) <= 78 for line in said.splitlines()) and len(said.splitlines()) == 3


async def until(pilot, predicate, what: str, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await pilot.pause(0.05)


@pytest.fixture
def hall_rig(make_rig, tmp_path):
    return make_rig(config=all_day_hall(tmp_path / "config"))


def test_a_clerk_accepts_a_case_for_the_ticket_being_served(hall_rig):
    hall_rig.start_hub()
    kiosk = hall_rig.link("kiosk-01")
    assert kiosk.wait_connected(10)
    assert kiosk.request("ticket_request", {"queue": "A"})["ok"]
    app = WindowCallerApp(hall_rig.hall, hall_rig.link("win-03"), "3")
    down = [sid for sid, _ in app.panel.services].index("scjg-005")

    async def clerk() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            p = app.panel
            await until(pilot, lambda: p.hub_online and p.state is not None, "the screen has the hub's state")
            await pilot.press("l", *"s011", "enter")
            await until(pilot, lambda: p.staff == "s011", "login")
            await pilot.press("n")
            await until(pilot, lambda: p.ticket == "A001", "a call")
            # the item with the arrows, then the name and a number with a wrong check digit: the hub refuses
            await pilot.press("a", *["down"] * down, "enter", *"张三", "enter", *ID[:17], "1", "enter")
            await until(pilot, lambda: "未执行 refused: 身份证号码校验不通过" in p.message, "the check digit")
            await pilot.press("a", *["down"] * down, "enter", "escape")  # a form given up sends nothing
            await pilot.press("a", *["down"] * down, "enter", *"张三", "enter", *"1101", "enter")
            await until(pilot, lambda: p.message.startswith("身份证号码应为 18 位"), "a short number refused here")
            await pilot.press("a", *["down"] * down, "enter", *"张三", "enter", *ID.lower(), "enter")
            await until(pilot, lambda: p.message.startswith("已受理 办件编号"), "the case number shown")
            assert "办件编号" in app.export_screenshot()

    asyncio.run(clerk())
    row = hall_rig.db().execute("SELECT number, service, window, ticket, applicant, id_last4, device FROM cases"
                                ).fetchone()
    assert row[1:] == ("scjg-005", "3", "A001", "张*", "002X", "win-03")
    assert row[0] in app.panel.message
