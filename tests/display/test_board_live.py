"""The board against a real Mosquitto with the hall's secured config: it starts from the retained topics, follows
calls by push, and marks itself offline when the hub says so or the broker goes away."""

from __future__ import annotations

import json

import pytest

from tests.helpers.display import call

pytestmark = pytest.mark.gui


def publish(client, hall_id: str, suffix: str, payload: dict, retain: bool = True) -> None:
    info = client.publish(f"hall/v1/{hall_id}/{suffix}", json.dumps(payload, ensure_ascii=False), qos=1,
                          retain=retain)
    info.wait_for_publish(5)


@pytest.fixture
def live(rig, make_board):
    hub = rig.mqtt("hub")
    hid = rig.hall.id
    publish(hub, hid, "hub/status", {"state": "online", "kind": "hub", "version": "0.1.0", "ts": "x"})
    publish(hub, hid, "hub/state/window/3", {"window": "3", "status": "serving", "ticket": "A011", "staff": "s023",
                                             "queues": ["A"]})
    publish(hub, hid, "hub/state/window/5", {"window": "5", "status": "paused", "ticket": None, "staff": "s030",
                                             "queues": ["B"]})
    publish(hub, hid, "hub/state/queue/A", {"queue": "A", "waiting": 4, "est_wait_s": 480, "last_called": "A011"})
    publish(hub, hid, "hub/calls", {"calls": [call("A011", "3")]})
    link = rig.link("display-01", start=False)
    board = make_board(link=link)
    link.start()
    return rig, hub, board


def test_board_starts_from_retained_topics_and_follows_calls(live):
    rig, hub, board = live
    screen = board.screen
    screen.until(lambda: board.tile("3").ids.ticket.text == "A011", message="retained window state shown")
    screen.until(lambda: board.root.link_text == "", message="online")
    assert board.tile("5").ids.status.text == "暂停服务  Paused"
    assert board.root.queue_rows["A"].ids.waiting.text == "4 人"
    assert board.root.ids.now.ids.ticket.text == "A011"
    publish(hub, rig.hall.id, "hub/call", call("A012", "3"), retain=False)
    screen.until(lambda: board.tile("3").ids.ticket.text == "A012", message="the call reached tile 3")
    assert board.tile("3").lit and board.root.ids.now.ids.ticket.text == "A012"
    publish(hub, rig.hall.id, "hub/state/queue/A", {"queue": "A", "waiting": 3, "est_wait_s": 360,
                                                    "last_called": "A012"})
    screen.until(lambda: board.root.queue_rows["A"].ids.waiting.text == "3 人", message="queue count followed")


def test_offline_when_the_hub_says_so_and_when_the_broker_goes(live):
    rig, hub, board = live
    screen = board.screen
    screen.until(lambda: board.root.link_text == "", message="online")
    publish(hub, rig.hall.id, "hub/status", {"state": "offline", "kind": "hub"})
    screen.until(lambda: board.root.link_text.startswith("离线"), message="offline mark for the hub")
    publish(hub, rig.hall.id, "hub/status", {"state": "online", "kind": "hub"})
    screen.until(lambda: board.root.link_text == "", message="online again")
    rig.stop_broker(kill=True)
    screen.until(lambda: board.root.link_text.startswith("离线"), timeout=20, message="offline mark for the broker")
    assert board.tile("3").ids.ticket.text == "A011"  # the last state stays
