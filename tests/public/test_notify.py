"""The near-turn notice by SMS through a webhook: a real local HTTP receiver stands for the gateway. Retries with a
growing wait, a record of every try in the site's own 0600 file, one notice per ticket, and the whole way from a
phone number left at the kiosk to the gateway when the ticket comes near."""

from __future__ import annotations

import os
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from hall.settings import load_hall
from public.notify import Notifier
from tests.helpers.cli import run_hall
from tests.helpers.rig import wait_for
from tests.helpers.web_public import PublicHall, page_of, public_config


def notifier(tmp_path, **notify) -> Notifier:
    hall = load_hall(public_config(tmp_path / "config", notify={"backoff_ms": 50, **notify}))
    return Notifier(hall, tmp_path / "data").start()


def test_a_gateway_failing_twice_gets_the_notice_on_the_third_try(tmp_path, sms_receiver):
    gateway = sms_receiver(fail_first=2)
    n = notifier(tmp_path, url=gateway.url, attempts=4)
    try:
        assert n.submit("2026-12-01", "A012", "13812345678", "【汨罗】A012 前面还有 3 人")
        wait_for(lambda: n.notices()[0]["state"] == "sent", 10, "sent")
        [notice] = n.notices()
        assert notice["tries"] == 3 and [t["status"] for t in notice["log"]] == [500, 500, 200]
        assert notice["log"][0]["error"].startswith("HTTP 500") and notice["log"][2]["error"] is None
        # the wait before each retry doubles: 50 ms, then 100 ms
        at = [datetime.fromisoformat(t["at"]) for t in notice["log"]]
        gaps = [(b - a).total_seconds() for a, b in zip(at, at[1:], strict=False)]
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1
        assert [body for _, _, body in gateway.got] == [{"phone": "13812345678", "text": "【汨罗】A012 前面还有 3 人"}] * 3
        # once per ticket, ever
        assert not n.submit("2026-12-01", "A012", "13812345678", "again")
        assert n.noticed("2026-12-01", "A012") and not n.noticed("2026-12-01", "A013")
    finally:
        n.stop()
    assert os.stat(tmp_path / "data" / "public.db").st_mode & 0o777 == 0o600
    # the record as `hall public notices` prints it: the phone masked, every try
    listed = run_hall("public", "notices", "--config", str(tmp_path / "config" / "hall.toml"), "--data",
                      str(tmp_path / "data"))
    assert listed.returncode == 0, listed.stderr
    assert "A012" in listed.stdout and "****5678" in listed.stdout and "13812345678" not in listed.stdout
    assert "sent" in listed.stdout and listed.stdout.count("HTTP 500") == 2 and " 200 " in listed.stdout


def test_a_gateway_that_never_answers_well_leaves_a_failed_notice(tmp_path, sms_receiver):
    gateway = sms_receiver(fail_first=100)
    n = notifier(tmp_path, url=gateway.url, attempts=3, backoff_ms=10)
    try:
        n.submit("2026-12-01", "B001", "13900000000", "text")
        wait_for(lambda: n.notices()[0]["state"] == "failed", 10, "given up")
        assert n.notices()[0]["tries"] == 3 and len(gateway.got) == 3
    finally:
        n.stop()


def test_a_gateway_that_is_down_is_tried_again(tmp_path):
    n = notifier(tmp_path, url="http://127.0.0.1:9/send", attempts=2, backoff_ms=10)  # nothing listens on 9
    try:
        n.submit("2026-12-01", "C001", "13900000000", "text")
        wait_for(lambda: n.notices()[0]["state"] == "failed", 10, "given up")
        assert all(t["status"] is None and "Connect" in t["error"] for t in n.notices()[0]["log"])
    finally:
        n.stop()


def test_a_wechat_work_robot_gets_its_own_message_and_its_errcode_counts(tmp_path, sms_receiver):
    robot = sms_receiver(answer={"errcode": 93000, "errmsg": "invalid webhook url"})
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "sms.token").write_text("secret-token\n")
    n = notifier(tmp_path, url=robot.url, format="wecom", attempts=2, backoff_ms=10, token_file="sms.token")
    try:
        n.submit("2026-12-01", "D001", "13812345678", "快到您了")
        wait_for(lambda: n.notices()[0]["state"] == "failed", 10, "refused by the robot")
        path, headers, body = robot.got[0]
        assert body == {"msgtype": "text", "text": {"content": "快到您了", "mentioned_mobile_list": ["13812345678"]}}
        assert headers["Authorization"] == "Bearer secret-token"
        assert "errcode 93000" in n.notices()[0]["log"][0]["error"]
    finally:
        n.stop()


def test_a_notice_left_pending_is_sent_when_the_site_starts_again(tmp_path, sms_receiver):
    gateway = sms_receiver()
    hall = load_hall(public_config(tmp_path / "config", notify={"url": gateway.url}))
    first = Notifier(hall, tmp_path / "data")  # not started: the site stopped before it could send
    first.submit("2026-12-01", "E001", "13812345678", "text")
    first.stop()
    again = Notifier(hall, tmp_path / "data").start()
    try:
        wait_for(lambda: again.notices()[0]["state"] == "sent", 10, "sent after the restart")
        assert len(gateway.got) == 1
    finally:
        again.stop()


@pytest.fixture
def notifying_hall(tmp_path, sms_receiver):
    gateway = sms_receiver(fail_first=2)
    hall = PublicHall(tmp_path, notify={"url": gateway.url, "backoff_ms": 20}, near_turn=1)
    yield hall, gateway
    hall.close()


def test_a_phone_left_at_the_kiosk_gets_an_sms_when_its_ticket_comes_near(notifying_hall):
    hall, gateway = notifying_hall
    app = hall.app()
    with TestClient(app) as c:
        hall.issue("R")
        hall.issue("R")
        mine = hall.issue("R", phone="13812345678")
        assert page_of(c, mine)["near"] is False  # 2 ahead, the notice is at 1
        hall.window_pc("28")
        hall.serve("28")
        wait_for(lambda: len(gateway.got) == 3, 10, "the SMS, on the third try")
        [(_, _, body)] = {str(b): (p, h, b) for p, h, b in gateway.got}.values()
        assert body["phone"] == "13812345678" and mine["no"] in body["text"] and "前面还有 1 人" in body["text"]
        assert c.get(f"/api/t/{mine['follow']}").json()["near"] is True
        hall.serve("28")  # nobody ahead now: no second SMS
        page_of(c, mine, until=lambda page: page["ahead"] == 0)
        notices = app.state.site.notifier.notices()
        assert len(notices) == 1 and notices[0]["state"] == "sent" and notices[0]["tries"] == 3
        assert len(gateway.got) == 3
