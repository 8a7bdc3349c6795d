"""hall.screen: the X screen's size, asked of the X server, and the window settings that cover it."""

from __future__ import annotations

import pytest

from hall.screen import covering, screen_size
from tests.helpers.xscreen import own_screen


def test_a_covering_window_is_borderless_the_screens_size_at_its_corner():
    assert covering((1080, 1920)) == {"fullscreen": "0", "borderless": "1", "width": "1080", "height": "1920",
                                      "position": "custom", "left": "0", "top": "0"}


def test_without_a_screen_to_measure_sdls_own_full_screen_is_all_there_is(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    assert screen_size() is None
    assert covering(None) == {"fullscreen": "auto"}


@pytest.mark.parametrize("size", [(1024, 600), (1920, 1080)])
def test_the_size_is_the_x_servers(monkeypatch, size):
    with own_screen(*size) as display:
        monkeypatch.setenv("DISPLAY", display)
        assert screen_size() == size
