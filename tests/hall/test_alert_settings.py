"""hall.toml [alerts]: the shipped limits, strict numbers with ranges, rules switched off by name."""

from __future__ import annotations

import pytest

from hall.settings import ALERT_RULES, load_hall
from tests.helpers.settings import edit, refused


def test_the_shipped_limits_are_the_miluo_halls():
    a = load_hall().alerts
    assert (a.queue_wait_min, a.queue_length, a.window_paused_min, a.window_closed_min, a.poor_rating_max,
            a.device_offline_min, a.device_backlog, a.clear_after_s, a.off) == (30, 30, 15, 5, 2, 2, 200, 60, [])


@pytest.mark.parametrize("old, new, expected", [
    ("queue_wait_min = 30", 'queue_wait_min = "30"', "alerts.queue_wait_min"),
    ("queue_length = 30", "queue_length = 30.0", "alerts.queue_length"),
    ("window_paused_min = 15", "window_paused_min = true", "alerts.window_paused_min"),
    ("window_closed_min = 5", "window_closed_min = 0", "greater than or equal to 1"),
    ("poor_rating_max = 2", "poor_rating_max = 5", "less than or equal to 4"),
    ("off = []", 'off = ["queue_wiat"]', "alerts.off"),
])
def test_a_bad_limit_is_refused_naming_the_key(config_copy, old, new, expected):
    refused(config_copy, old, new, expected)


def test_any_rule_can_be_switched_off_by_name(config_copy):
    edit(config_copy, "off = []", f"off = {list(ALERT_RULES)!r}".replace("'", '"'))
    assert set(load_hall(config_copy).alerts.off) == set(ALERT_RULES)
