"""Where each window is (its `location` in the catalogue): checked when the catalogue loads, shown in guides and
printed on tickets."""

from __future__ import annotations

import pytest

from hall.catalogue import load_catalogue, parse_catalogue
from hall.errors import ConfigError
from hall.protocol import TicketInfo
from kiosk.model import make_guide, ticket_content, window_places
from tests.helpers.kiosk import CONFIG, shipped_catalogue


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(CONFIG / "catalogue.json")


def test_every_shipped_window_has_a_place_in_both_languages(catalogue):
    assert all(w.location and w.location_en for w in catalogue.windows)
    assert catalogue.window("1").location == "一楼东区"
    assert catalogue.window("27").location_en == "Floor 2, east hall"


@pytest.mark.parametrize("location", ["一楼\n东区", "一" * 25], ids=["line-break", "too-long"])
def test_a_bad_location_is_refused_naming_the_window_and_key(location):
    data = shipped_catalogue()
    data["windows"][0]["location"] = location
    with pytest.raises(ConfigError) as err:
        parse_catalogue(data, "catalogue.json")
    assert "location" in str(err.value) and "windows" in str(err.value)


def test_an_english_location_needs_the_chinese_one(catalogue):
    data = shipped_catalogue()
    data["windows"][0]["location"] = ""
    with pytest.raises(ConfigError, match=r"windows\[id='1'\]\.location: an English location needs the Chinese"):
        parse_catalogue(data, "catalogue.json")


def test_places_group_windows_by_where_they_are(catalogue):
    assert window_places(catalogue, ["1", "2", "3"], "zh") == ["1、2、3 号窗口：一楼东区"]
    assert window_places(catalogue, ["11", "12"], "en") == ["Window 11: Floor 1, east hall",
                                                            "Window 12: Floor 1, west hall"]
    data = shipped_catalogue()
    for w in data["windows"]:
        w.pop("location"), w.pop("location_en")
    bare = parse_catalogue(data, "catalogue.json")
    assert window_places(bare, ["1"], "zh") == []


def test_the_guide_and_the_ticket_say_where_the_windows_are(catalogue):
    guide = dict(make_guide(catalogue, catalogue.service("scjg-001"), "zh").sections)
    assert guide["办理窗口"] == "1、2、3 号窗口（一楼东区）"
    en = dict(make_guide(catalogue, catalogue.service("scjg-001"), "en").sections)
    assert en["Windows"] == "Window 1, 2, 3 (Floor 1, east hall)"

    class Hall:
        id = "miluo"
        tz = __import__("zoneinfo").ZoneInfo("Asia/Shanghai")

        class info:
            name, name_en = "汨罗市政务服务中心", "Miluo City Government Service Centre"

    ticket = TicketInfo.model_validate({"no": "A001", "queue": "A", "service": "scjg-001", "windows": ["1", "2", "3"],
                                        "ahead": 0, "est_wait_s": 0, "issued_at": "2026-11-30T09:12:00+08:00"})
    printed = ticket_content(Hall, catalogue, ticket)
    assert printed.places == ["1、2、3 号窗口：一楼东区"]
    assert printed.places_en == ["Window 1, 2, 3: Floor 1, east hall"]
