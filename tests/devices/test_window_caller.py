"""The window caller (`hall window`): its panel as plain data, and the Textual screen driven by keys against a
real broker and hub."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from devices.window_caller import (
    KEYS,
    LOG_IN_FIRST,
    NO_ANSWER,
    OFFLINE,
    WindowCallerApp,
    WindowPanel,
    _cells,
    key_lines,
    ticket_number,
)
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
    [a, u, u_figures] = panel.queue_lines()
    assert a.startswith("A  市场准入") and a.endswith("…")
    assert "备用 backup" in u and "等候 2 人" in u_figures and "约 10 分钟" in u_figures
    assert not panel.on_hub_topic("hall/v1/miluo/hub/state/queue/U", {"queue": "U", "waiting": -1})
    assert panel.waiting() == 0 and "等候 2 人" in panel.queue_lines()[2]
    assert all(_cells(line) <= 78 for line in panel.queue_lines())


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


def test_the_panel_says_to_log_in_and_why_a_window_is_paused():
    panel = WindowPanel.for_hall(load_hall(), "3")
    panel.on_hub_topic("hall/v1/miluo/hub/state/window/3", {"window": "3", "status": "closed"})
    assert LOG_IN_FIRST in panel.status_text() and "请按 l 登录" in panel.status_text()
    panel.on_hub_topic("hall/v1/miluo/hub/state/window/3", {
        "window": "3", "status": "paused", "staff": "s011", "reason": "会议",
        "paused_since": "2026-11-30T10:02:00.000+08:00"})
    assert panel.status_text() == "暂停服务 · paused：会议 meeting（10:02 起 since）    工作人员 staff: s011"
    assert panel.pause_choices() == [("会议", "1  会议 meeting"), ("午休", "2  午休 lunch break"),
                                     ("系统故障", "3  系统故障 system fault"), ("其他", "4  其他 other")]
    choices = dict(panel.transfer_choices())
    assert len(choices) == len(load_hall().catalogue.queues)
    assert choices["B"] == "B  不动产登记 Real Estate Registration · 不动产登记中心"


def test_every_key_is_shown_within_80_columns():
    lines = key_lines()
    assert len(lines) == 3 and all(_cells(line) <= 78 for line in lines)
    shown = " ".join(lines)
    for key, chinese, english in KEYS:
        assert f"{key} {chinese} {english}" in shown
    assert {k for k, _, _ in KEYS} == {b.key for b in WindowCallerApp.BINDINGS}


def test_a_ticket_number_as_typed():
    assert ticket_number(" a012 ") == "A012" and ticket_number("AB1000") == "AB1000"
    assert ticket_number("a12") is None and ticket_number("") is None and ticket_number(None) is None


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
            await pilot.press("n")  # nobody logged in: the hub refuses, the screen says to log in
            await until(pilot, lambda: "未执行 refused: 窗口无人登录" in p.message, "a refusal without a login")
            assert "log in" in text_of(app, "#message") and LOG_IN_FIRST in text_of(app, "#status")
            await pilot.press("l", *"s011", "enter")
            await until(pilot, lambda: p.staff == "s011", "login")
            await pilot.press("n")
            await until(pilot, lambda: p.ticket == "A001" and "A001 called" in p.message, "a call")
            assert text_of(app, "#ticket") == "A001"
            assert "办理中 · serving" in text_of(app, "#status")
            await pilot.press("r")
            await until(pilot, lambda: p.message.startswith("重呼 A001"), "a recall")
            await pilot.press("t", "b")  # a letter picks the queue at once
            await until(pilot, lambda: p.ticket is None and "transferred to queue B" in p.message, "a transfer")
            await pilot.press("n")
            await until(pilot, lambda: p.ticket == "A002", "the next call")
            await pilot.press("p", "2")  # the second reason of the hall's list
            await until(pilot, lambda: p.paused, "a pause")
            assert "暂停服务 · paused：午休 lunch break" in text_of(app, "#status")
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


def test_a_clerk_requeues_a_no_show_calls_a_number_and_picks_with_the_arrows(hall_rig):
    hall_rig.start_hub()
    kiosk = hall_rig.link("kiosk-01")
    assert kiosk.wait_connected(10)
    for _ in range(3):
        assert kiosk.request("ticket_request", {"queue": "A"})["ok"]
    app = WindowCallerApp(hall_rig.hall, hall_rig.link("win-03"), "3")

    async def clerk() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            p = app.panel
            await until(pilot, lambda: p.hub_online and p.state is not None, "the screen has the hub's state")
            # at 80×24 the key bar is on the screen whole, at its bottom
            keys = app.query_one("#keys")
            assert keys.region.bottom == 24 and keys.region.height == 3 and keys.region.right <= 80
            svg = app.export_screenshot()
            for _key, chinese, english in KEYS:
                assert chinese.replace("/", "") in svg.replace("/", "") and english.split()[0] in svg
            await pilot.press("l", *"s011", "enter")
            await until(pilot, lambda: p.staff == "s011", "login")
            await pilot.press("n")
            await until(pilot, lambda: p.ticket == "A001", "a call")
            await pilot.press("s")
            await until(pilot, lambda: "A001 marked no-show" in p.message, "a no-show")
            await pilot.press("u", *"a001", "enter")
            await until(pilot, lambda: p.message.startswith("A001 已重新排队"), "a requeue by number")
            await pilot.press("j", *"A003", "enter")  # out of turn: the citizen is at the desk
            await until(pilot, lambda: p.ticket == "A003" and "A003 called" in p.message, "a call by number")
            await pilot.press("j", *"A9", "enter")
            await until(pilot, lambda: "not a ticket number" in p.message, "a bad number refused on the screen")
            await pilot.press("t", "down", "down", "enter")  # the third queue of the list: C
            await until(pilot, lambda: "transferred to queue C" in p.message, "a transfer picked with the arrows")
            await pilot.press("p", "down", "down", "enter")
            await until(pilot, lambda: p.paused and p.state.reason == "系统故障", "a pause with a reason")
            await pilot.press("p")
            await until(pilot, lambda: not p.paused, "resume")

    asyncio.run(clerk())
    journal = [r[0] for r in hall_rig.db().execute("SELECT op FROM queue_journal WHERE op != 'open_day' "
                                                   "AND json_extract(result, '$.ok') ORDER BY id")]
    assert journal[-6:] == ["skip", "requeue", "call_ticket", "transfer", "pause", "resume"]


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
