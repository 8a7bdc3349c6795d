"""The band's playlist: config/playlist.toml, guides from the catalogue, and going round."""

from __future__ import annotations

import pytest

from display.board import chunks
from display.playlist import Band, guide_text, load_playlist, parse_playlist
from hall.errors import ConfigError
from tests.helpers.display import guide_catalogue


def test_the_shipped_playlist_loads_with_notices_and_every_guide(board_hall):
    playlist = load_playlist()
    catalogue = guide_catalogue(board_hall)
    items = playlist.items(catalogue, board_hall.info.name)
    keys = [i.key for i in items]
    assert keys[:2] == ["notice:0", "notice:1"] and keys[-1] == "notice:3"
    assert [k for k in keys if k.startswith("guide:")] == [f"guide:{s.id}" for s in catalogue.services]
    first = items[0].text
    assert first.startswith("欢迎来到") and "Welcome" in first
    assert first.index("欢迎") < first.index("Welcome")  # Chinese first


def test_guide_text_says_what_to_bring_how_long_and_where(board_hall):
    catalogue = guide_catalogue(board_hall)
    text = guide_text(catalogue.service("bdc-002"), catalogue)
    assert text.startswith("【办事指南】不动产抵押登记（不动产登记中心）")
    for part in ("所需材料：①不动产权证书②主债权合同③抵押合同", "承诺时限：3 个工作日（法定 30 个工作日）",
                 "收费：80 元/件", "办理窗口：4、5 号", "Service guide: Mortgage registration, windows 4, 5"):
        assert part in text
    quick = guide_text(catalogue.service("scjg-001"), catalogue)
    assert "承诺时限：即办" in quick and "办理窗口：1、2、3 号" in quick  # windows of its queue


def test_selecting_guides_by_id_department_and_queue(board_hall):
    catalogue = guide_catalogue(board_hall)
    pl = parse_playlist({"items": [{"guides": ["bdc-002", "no-such"]}, {"department": "scjg"}, {"queue": "B"}]})
    assert [i.key for i in pl.items(catalogue)] == ["guide:bdc-002", "guide:scjg-001", "guide:bdc-002"]


def test_an_empty_band_still_welcomes(board_hall):
    pl = parse_playlist({"items": [{"department": "nobody"}]})
    assert [i.text for i in pl.items(board_hall.catalogue, "汨罗市政务服务中心")] == ["欢迎光临汨罗市政务服务中心    Welcome"]


@pytest.mark.parametrize("data, expected", [
    ({"items": []}, "items: got"),
    ({"items": [{"notice": "x", "guides": "all"}]}, "exactly one of notice, guides, department or queue"),
    ({"items": [{"guides": "some"}]}, "items[0].guides"),
    ({"items": [{"notise": "x"}]}, "did you mean 'notice'?"),
    ({"speed": 0, "items": [{"notice": "x"}]}, "speed: got 0"),
])
def test_bad_playlists_name_the_key(data, expected):
    with pytest.raises(ConfigError) as err:
        parse_playlist(data, "config/playlist.toml")
    assert expected in str(err.value) and "config/playlist.toml" in str(err.value)


def test_a_broken_file_names_itself(tmp_path):
    path = tmp_path / "playlist.toml"
    path.write_text("items = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_playlist(path)


def test_the_band_goes_round_and_keeps_its_place_when_the_catalogue_changes(board_hall):
    catalogue = guide_catalogue(board_hall)
    pl = parse_playlist({"items": [{"notice": "一"}, {"guides": "all"}, {"notice": "二"}]})
    band = Band(pl.items(catalogue))
    seen = [band.next().key for _ in range(5)]
    assert seen == ["notice:0", "guide:scjg-001", "guide:bdc-002", "notice:2", "notice:0"]
    band.next()  # guide:scjg-001 showing
    no_guides = catalogue.model_copy(update={"services": []})
    band.replace(pl.items(no_guides))  # the guides are gone
    assert band.next().key == "notice:0"
    band.replace(pl.items(catalogue))
    assert band.next().key == "guide:scjg-001"


def test_long_items_are_cut_into_textures_a_pi_can_hold():
    text = "办" * 500
    pieces = chunks(text, font_px=38)
    assert "".join(pieces) == text
    assert all(len(p) * 38 <= 1800 for p in pieces)
