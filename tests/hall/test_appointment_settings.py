"""hall.toml [appointments]: the shipped slots, strict numbers, known queues only."""

from __future__ import annotations

import pytest

from hall.settings import load_hall
from tests.helpers.settings import refused


def test_the_shipped_hall_books_four_queues():
    a = load_hall().appointments
    assert (a.days_ahead, a.checkin_before_minutes, a.no_show_limit, a.no_show_days, a.block_days) == (5, 30, 3, 30,
                                                                                                         30)
    assert {q: (s.slot_minutes, s.capacity) for q, s in a.queues.items()} == {
        "A": (60, 4), "B": (30, 2), "F": ("half_day", 20), "G": (60, 6)}
    assert a.id_required == []


@pytest.mark.parametrize("old, new, expected", [
    ("days_ahead = 5", 'days_ahead = "5"', "appointments.days_ahead"),
    ("checkin_before_minutes = 30", "checkin_before_minutes = 30.0", "appointments.checkin_before_minutes"),
    ("slot_minutes = 30", "slot_minutes = 5", "appointments.queues.B.slot_minutes"),
    ('slot_minutes = "half_day"', 'slot_minutes = "morning"', "appointments.queues.F.slot_minutes"),
    ("capacity = 2", "capacity = 0", "appointments.queues.B.capacity"),
    ("[appointments.queues.G]", "[appointments.queues.ZZ]", "unknown queue 'ZZ'"),
    ("id_required = []", 'id_required = ["Z"]', "appointments.id_required: unknown queue 'Z'"),
])
def test_a_bad_value_names_the_file_and_the_key(config_copy, old, new, expected):
    refused(config_copy, old, new, expected)
