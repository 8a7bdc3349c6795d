"""The window caller (`hall window`): its panel as plain data, and the Textual screen driven by keys against a
real broker and hub."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from devices.window_caller import NO_ANSWER, OFFLINE, WindowCallerApp, WindowPanel
from hall.protocol import Answer, read_from_hub
from hall.settings import load_hall
from tests.helpers.queueing import all_day_hall
from tests.helpers.rig import ROOT, wait_for

# ---------------------------------------------------------------- the panel, without a terminal


def test_the_panel_follows_only_its_window_and_queues():
    panel = WindowPanel.for_hall(load_hall(), "3")
    assert (panel.queues, panel.backup) == (["A"], ["U"])
    assert panel.on_hub_topic("hall/v1/miluo/hub/state/window/3", {"window": "3", "status": "serving",
                                                                    "ticket": "A007", "staff": "s009"})
    # a message that does not fit its model is ignored, and what the screen shows stays
    assert not panel.on_hub_topic("hall/v1/miluo/hub/state/window/3", {"window": "3", "status": "asleep"})
    assert not panel.on_hub_topic("hall/v1/miluo/hub/state/window/4", {"window": "4", "ticket": "B001"})
    assert panel.on_hub_topic("hall/v1/miluo/hub/state/queue/U", {"queue": "U", "waiting": 2, "est_wait_s": 600})
    assert not panel.on_hub_topic("hall/v1/miluo/hub/state/queue/B", {"queue": "B", "waiting": 9})
    assert panel.ticket_text() == "A007"
    assert panel.status_text().startswith("办理中 · serving") and "s009" in panel.status_text()
    [a, u] = panel.queue_lines()
    assert a.startswith("A  市场准入") and a.endswith("…")
    assert "备用 backup" in u and "等候 2 人" in u and "约 10 分钟" in u
    assert not panel.on_hub_topic("hall/v1/miluo/hub/state/queue/U", {"queue": "U", "waiting": -1})
    assert panel.waiting() == 0 and "等候 2 人" in panel.queue_lines()[1]


def test_the_panel_says_what_happened_chinese_first():
    panel = WindowPanel.for_hall(load_hall(), "3")

    def answer(**fields) -> Answer:
        return read_from_hub(Answer, {"re": "01JDX8R6Z3K6W5T3M4N2P1Q0RS", **fields})

    assert panel.describe("call_next", answer(ok=True, ticket={"no": "A012", "queue": "A"})) == \
        "请 A012 号到 3 号窗口 · A012 called to window 3"
    assert panel.describe("call_next", answer(ok=True, ticket=None)) == "暂无等候的号 · nobody is waiting"
    refused = panel.describe("recall", answer(ok=False, code="recall_limit",
                                              error="已达重呼次数上限 · the recall limit is reached"))
    assert refused == "未执行 refused: 已达重呼次数上限 · the recall limit is reached"
    assert panel.describe("skip", None) == NO_ANSWER


def test_an_unknown_window_is_refused_by_the_command():
    out = subprocess.run([sys.executable, "-m", "hallctl.cli", "window", "--window", "99"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "没有 99 号窗口" in out.stderr and "not in the catalogue" in out.stderr


# ---------------------------------------------------------------- the screen, with a real hall


async def until(pilot, predicate, what: str, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await pilot.pause(0.05)


def text_of(app, widget_id: str) -> str:
    return str(app.query_one(widget_id).content)


@pytest.fixture
def hall_rig(make_rig, tmp_path):
    return make_rig(config=all_day_hall(tmp_path / "config"))


def test_a_clerk_logs_in_calls_recalls_transfers_pauses_and_completes(hall_rig):
    hall_rig.start_hub()
    kiosk = hall_rig.link("kiosk-01")
    assert kiosk.wait_connected(10)
    for _ in range(3):
        assert kiosk.request("ticket_request", {"queue": "A"})["ok"]
    app = WindowCallerApp(hall_rig.hall, hall_rig.link("win-03"), "3")

    async def clerk() -> None:
        async with app.run_test() as pilot:
            p = app.panel
            await until(pilot, lambda: p.hub_online and "A" in p.queue_state and p.queue_state["A"].waiting == 3,
                        "the screen has the hub's state")
            assert "等候 3 人" in text_of(app, "#queues")
            await pilot.press("l", *"s011", "enter")
            await until(pilot, lambda: p.staff == "s011", "login")
            await pilot.press("n")
            await until(pilot, lambda: p.ticket == "A001" and "A001 called" in p.message, "a call")
            assert text_of(app, "#ticket") == "A001"
            assert "办理中 · serving" in text_of(app, "#status")
            await pilot.press("r")
            await until(pilot, lambda: p.message.startswith("重呼 A001"), "a recall")
            await pilot.press("t", "b", "enter")
            await until(pilot, lambda: p.ticket is None and "transferred to queue B" in p.message, "a transfer")
            await pilot.press("n")
            await until(pilot, lambda: p.ticket == "A002", "the next call")
            await pilot.press("p")
            await until(pilot, lambda: p.paused, "a pause")
            assert "暂停服务 · paused" in text_of(app, "#status")
            await pilot.press("n")
            await until(pilot, lambda: p.message.startswith("未执行 refused: 窗口暂停服务中"), "a refusal")
            await pilot.press("p")
            await until(pilot, lambda: not p.paused, "resume")
            await pilot.press("c")
            await until(pilot, lambda: p.message == "A002 办结 · A002 done", "completion")
            await until(pilot, lambda: "空闲 · idle" in text_of(app, "#status"), "an idle window")

    asyncio.run(clerk())
    # the report rows follow the answers once the burst is over
    wait_for(lambda: hall_rig.count("SELECT count(*) FROM calls WHERE window='3' AND staff='s011'") == 2, 5,
             "both calls in the report rows")


def test_the_screen_says_when_the_hub_is_offline_and_sends_nothing(hall_rig):
    hub = hall_rig.start_hub()
    link = hall_rig.link("win-03")
    app = WindowCallerApp(hall_rig.hall, link, "3")

    async def clerk() -> None:
        async with app.run_test() as pilot:
            await until(pilot, lambda: app.panel.hub_online, "the hub online")
            assert "中心在线" in text_of(app, "#connection")
            hall_rig.stop_hub(hub)
            await until(pilot, lambda: not app.panel.hub_online, "the hub offline")
            await pilot.press("n")
            await until(pilot, lambda: app.panel.message == OFFLINE, "the offline message")
            assert "中心离线" in text_of(app, "#connection") and "hub is offline" in text_of(app, "#message")

    asyncio.run(clerk())
    assert link.pending() == 0
