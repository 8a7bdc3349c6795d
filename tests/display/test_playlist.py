"""The band's playlist: config/playlist.toml, guides from the catalogue, and going round."""

from __future__ import annotations

import unicodedata

import pytest

from display.playlist import (
    Band,
    guide_card,
    guide_text,
    hold_for,
    load_playlist,
    loop_seconds,
    paginate,
    parse_playlist,
    tokens,
)
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
    items = pl.items(board_hall.catalogue, "汨罗市政务服务中心")
    assert [(i.zh, i.en, i.text) for i in items] == [("欢迎光临汨罗市政务服务中心", "Welcome",
                                                      "欢迎光临汨罗市政务服务中心    Welcome")]


@pytest.mark.parametrize("data, expected", [
    ({"items": []}, "items: got"),
    ({"items": [{"notice": "x", "guides": "all"}]}, "exactly one of notice, guides, department or queue"),
    ({"items": [{"guides": "some"}]}, "items[0].guides"),
    ({"items": [{"notise": "x"}]}, "did you mean 'notice'?"),
    ({"page": 0, "items": [{"notice": "x"}]}, "page: got 0"),
    ({"transition": 5, "items": [{"notice": "x"}]}, "transition: got 5"),
    ({"speed": 120, "items": [{"notice": "x"}]}, "speed: unknown key"),  # the band no longer scrolls
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


def width(text: str) -> float:
    """A stand-in for the font: a Chinese character or full-width mark is 10 wide, anything else 5."""
    return sum(10 if unicodedata.east_asian_width(c) in "WF" else 5 for c in text)


def test_notices_and_guides_keep_their_chinese_and_english_apart(board_hall):
    catalogue = guide_catalogue(board_hall)
    items = load_playlist().items(catalogue)
    notice, guide = items[0], next(i for i in items if i.key == "guide:bdc-002")
    assert notice.zh.startswith("欢迎来到") and notice.en.startswith("Welcome") and notice.zh in notice.text
    assert guide.text == "    ".join(guide_card(catalogue.service("bdc-002"), catalogue))  # the shipped form: cards
    full = parse_playlist({"items": [{"guides": "all", "form": "full"}]}).items(catalogue)
    assert full[1].text == guide_text(catalogue.service("bdc-002"), catalogue)
    assert full[1].en == "Service guide: Mortgage registration, windows 4, 5" and "Service" not in full[1].zh


def test_pages_fit_the_width_and_keep_every_character(board_hall):
    catalogue = guide_catalogue(board_hall)
    for item in load_playlist().items(catalogue):
        for part in (item.zh, item.en):
            pages = paginate(part, 300, width)
            assert all(width(p) <= 300 for p in pages)
            assert "".join("".join(p.split()) for p in pages) == "".join(part.split())


def test_a_page_never_starts_with_closing_punctuation_nor_splits_a_word():
    text = "办理条件：年满十八周岁，有经营能力（含个体户）。所需材料：①身份证原件②经营场所使用证明。" * 3
    pages = paginate(text, 120, width)
    assert len(pages) > 3
    for page in pages:
        assert page[0] not in "，。、；：）】" and page[-1] not in "（【①②"
    english = "Take a ticket at a kiosk and go to the window when your number is called."
    for page in paginate(english, 100, width):
        assert all(word in english.split() for word in page.split())
    assert tokens("收费：80 元/件") == ["收费：", "80 ", "元/", "件"]


def test_a_page_ends_where_a_part_of_a_guide_ends_when_one_is_near():
    text = "所需材料：身份证原件和户口簿　办理流程：申请受理审核发证　承诺时限：即办"
    pages = paginate(text, 200, width)
    assert pages[0] == "所需材料：身份证原件和户口簿"  # not "…户口簿　办理流程：申" cut in the middle
    assert pages[1].startswith("办理流程")


def test_a_piece_wider_than_the_page_is_cut_by_characters():
    pages = paginate("网址：" + "x" * 100, 100, width)
    assert all(width(p) <= 100 for p in pages) and "".join(pages) == "网址：" + "x" * 100


def test_how_long_a_page_stays():
    assert hold_for(1.0, 10) == 10 and hold_for(0.5, 10) == 5
    assert hold_for(0.05, 10) == 3           # a short page still stays long enough to read
    assert hold_for(2.0, 10) == 10 and hold_for(0.1, 2) == 2


# ---------------------------------------------------------------- words, cards, loops

def band_measure(text: str) -> float:
    """Widths as the band draws them at 1920×1080 (34 px): a Chinese character 34 px, anything else ~0.55 of it."""
    return sum(34 if unicodedata.east_asian_width(c) in "WF" else 19 for c in text)


BAND_WIDTH = 1920 - 2 * 24 - 80 - 24   # the band less its margins and the page count


@pytest.mark.parametrize("word", ["受理审查", "电子执照", "身份证原件", "营业执照", "不动产权证书"])
def test_pages_break_only_between_words(word):
    text = f"办理条件：申请人提交{word}后，窗口当场{word}。" * 6
    for width in range(220, 500, 17):  # wider than any of the words (a longer word goes by characters)
        pages = paginate(text, width, band_measure)
        for left, right in zip(pages, pages[1:], strict=False):
            for k in range(1, len(word)):
                assert not (left.endswith(word[:k]) and right.startswith(word[k:])), (word, left, right)


def test_a_full_loop_of_the_shipped_playlist_over_the_shipped_catalogue_is_under_20_minutes(board_hall):
    playlist = load_playlist()
    band = Band(playlist.groups(board_hall.catalogue, board_hall.info.name))
    seen: set[str] = set()
    loops = []
    for _ in range(6):
        loop = band.next_loop()
        loops.append(loop_seconds(loop, BAND_WIDTH, band_measure, playlist.page))
        seen |= {i.key for i in loop}
    assert max(loops) < 20 * 60, loops
    guides = {f"guide:{s.id}" for s in board_hall.catalogue.services}
    assert guides <= seen  # every guide within a few loops
    print(f"loop {max(loops) / 60:.1f} min, {len(guides)} guides in {len(loops)} loops")


def test_a_loop_favours_the_queues_where_people_wait(board_hall):
    playlist = load_playlist()
    band = Band(playlist.groups(board_hall.catalogue))
    band.set_waiting({"R": 3, "C": 9, "A": 0})
    guides = [i for i in band.next_loop() if i.key.startswith("guide:")]
    assert [i.queue for i in guides[:2]] == ["C", "R"]
    again = [i for i in band.next_loop() if i.key.startswith("guide:")]
    assert [i.queue for i in again[:2]] == ["C", "R"] and again[0].key != guides[0].key  # the next of its guides


def test_the_card_says_what_to_bring_and_where(board_hall):
    from display.playlist import guide_card

    catalogue = guide_catalogue(board_hall)
    zh, en = guide_card(catalogue.service("bdc-002"), catalogue)
    assert zh == "【带齐材料】不动产抵押登记　①不动产权证书②主债权合同③抵押合同　办理窗口：4、5 号"
    assert en.startswith("What to bring: Mortgage registration, windows 4, 5")
    [item] = [i for i in load_playlist().items(catalogue) if i.key == "guide:bdc-002"]
    assert item.zh == zh  # the shipped playlist shows cards
