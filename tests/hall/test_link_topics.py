"""The link's own topic match agrees with paho's `topic_matches_sub` (the MQTT rules for "+" and "#")."""

from __future__ import annotations

import itertools

import paho.mqtt.client as mqtt

from hall.link import topic_matches

FILTERS = ["hall/v1/miluo/hub/calls", "hall/v1/miluo/hub/state/window/+", "hall/v1/miluo/hub/state/#",
           "hall/v1/miluo/#", "#", "+/+", "+", "hall/+/miluo/+/call", "hall/v1/miluo/hub/state", "a/#", "a/+/#"]
TOPICS = ["hall/v1/miluo/hub/calls", "hall/v1/miluo/hub/call", "hall/v1/miluo/hub/state/window/3",
          "hall/v1/miluo/hub/state/window/3/x", "hall/v1/miluo/hub/state", "hall/v1/other/hub/calls", "a", "a/b",
          "a/b/c", "b", "hall/v2/miluo/hub/call", "", "a/", "/a"]


def test_the_links_topic_match_agrees_with_paho():
    for wanted, topic in itertools.product(FILTERS, TOPICS):
        assert topic_matches(tuple(wanted.split("/")), topic.split("/")) == mqtt.topic_matches_sub(wanted, topic), (
            wanted, topic)
