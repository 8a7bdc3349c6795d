"""Ranking of pinyin and initials over a small catalogue written for it (not the shipped one): letters that match
a whole keyword, a whole name or a word's start rank above the same letters found inside a word."""

from __future__ import annotations

import pytest

from hall.catalogue import parse_catalogue
from hall.search import TIER_KEYWORD, TIER_NAME, SearchIndex

SERVICES = [
    # 二手房转移登记: e-s-f-z-y-d-j, `sfz` inside a word (手房转)
    {"id": "fc-001", "name": "二手房转移登记", "department": "fc", "queue": "F", "keywords": ["二手房", "过户"]},
    # 居民身份证换领: `sfz` is its keyword 身份证, a word inside its name
    {"id": "ga-001", "name": "居民身份证换领", "department": "ga", "queue": "G", "keywords": ["身份证", "换证"]},
    # a keyword alone names it: 临时身份证
    {"id": "ga-002", "name": "临时证件办理", "department": "ga", "queue": "G", "keywords": ["临时身份证"]},
    # the whole name is the initials: 社会服务证 (s-h-f-w-z), and one that starts with them
    {"id": "mz-001", "name": "社区服务站备案", "department": "mz", "queue": "G", "keywords": ["社区"]},
    {"id": "mz-002", "name": "婚姻登记", "department": "mz", "queue": "G", "keywords": ["结婚", "离婚"]},
    # `hydj` inside a word: 婚姻登记 starts with it, 出生医学证明换发 (c-s-y-x-z-m-h-f) does not hold it
    {"id": "ws-001", "name": "卫生许可证换发", "department": "ws", "queue": "F", "keywords": ["许可证"]},
    {"id": "gs-001", "name": "个体工商户设立登记", "department": "gs", "queue": "F", "keywords": ["个体户", "营业执照"]},
]


@pytest.fixture(scope="module")
def index():
    cat = parse_catalogue({
        "departments": [{"id": d, "name": n} for d, n in (("fc", "不动产登记中心"), ("ga", "公安局"),
                                                          ("mz", "民政局"), ("ws", "卫健局"), ("gs", "市场监管局"))],
        "queues": [{"id": "F", "prefix": "F", "name": "综合", "department": "gs"},
                   {"id": "G", "prefix": "G", "name": "公安民政", "department": "ga"}],
        "windows": [{"id": "1", "queues": ["F", "G"]}],
        "services": SERVICES,
    })
    return SearchIndex.build(cat)


def ids(hits) -> list[str]:
    return [h.id for h in hits]


def score(hits, sid: str) -> float:
    return next(h.score for h in hits if h.id == sid)


def test_initials_of_a_keyword_in_the_name_rank_above_initials_inside_a_word(index):
    hits = index.search("sfz", None)
    assert ids(hits)[0] == "ga-001"  # 居民身份证换领: 身份证 is a word of its name
    assert score(hits, "ga-001") > score(hits, "fc-001")
    assert hits[0].tier == TIER_NAME
    # 临时证件办理 by its keyword 临时身份证 (lsfz... holds sfz inside a word too), 二手房转移登记 inside a word
    assert set(ids(hits)) >= {"ga-001", "fc-001"}
    assert ids(hits).index("ga-001") < ids(hits).index("fc-001")


def test_a_whole_keyword_by_initials_ranks_above_initials_inside_a_name(index):
    hits = index.search("lssfz", None)
    assert ids(hits)[0] == "ga-002"  # the whole keyword 临时身份证
    hits = index.search("gth", None)
    assert ids(hits)[0] == "gs-001"  # keyword 个体户, and the name starts with it


def test_a_word_start_in_the_name_by_full_pinyin(index):
    hits = index.search("shenfenzheng", None)
    assert ids(hits)[0] == "ga-001" and hits[0].tier == TIER_NAME


def test_initials_at_the_start_and_the_whole_name(index):
    assert ids(index.search("hydj", None))[0] == "mz-002"  # the whole name
    assert ids(index.search("sqfwz", None))[0] == "mz-001"  # the start of the name
    assert index.search("hydj", None)[0].score > index.search("sqfwz", None)[0].score  # whole above start


def test_initials_only_inside_a_word_rank_below_the_keyword_tier(index):
    # 卫生许可证换发: w-s-x-k-z-h-f; `kzh` is only inside words (可证换)
    [hit] = [h for h in index.search("kzh", None) if h.id == "ws-001"]
    assert TIER_KEYWORD * 1000 <= hit.score < TIER_KEYWORD * 1000 + 100
    # its keyword 许可证 (xkz) starts a word of the name: a name-tier match
    [hit] = [h for h in index.search("xkz", None) if h.id == "ws-001"]
    assert hit.tier == TIER_NAME


def test_characters_still_outrank_pinyin(index):
    assert ids(index.search("身份证", None))[0] == "ga-001"
