"""Guide search: Chinese anywhere, pinyin and initials, names above keywords above guide text."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hall.catalogue import load_catalogue, parse_catalogue
from hall.search import TIER_GUIDE, TIER_KEYWORD, TIER_NAME, SearchIndex
from tests.helpers.kiosk import CONFIG, ROOT, shipped_catalogue


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(CONFIG / "catalogue.json")


@pytest.fixture(scope="module")
def index(catalogue):
    return SearchIndex.build(catalogue)


def ids(hits) -> list[str]:
    return [h.id for h in hits]


# ---------------------------------------------------------------- what citizens type

@pytest.mark.parametrize("query", ["yyzz", "yingye", "yingyezhizhao", "营业执照", "ying ye"])
def test_business_licence_by_characters_pinyin_and_initials(index, query):
    hits = index.search(query, 10)
    assert "营业执照" in hits[0].name  # the item named for it first
    assert "scjg-001" in ids(hits)[:5]  # 个体工商户设立登记 has it as a keyword


@pytest.mark.parametrize("query", ["sfz", "shenfenzheng", "身份证"])
def test_identity_card(index, query):
    hits = index.search(query, 5)
    assert set(ids(hits)[:3]) == {"gahz-001", "gahz-002", "gahz-003"}
    assert all("身份证" in h.name for h in hits[:3])


@pytest.mark.parametrize("query, expected", [
    ("护照", "crj-001"), ("huzhao", "crj-001"), ("hz", "crj-004"),
    ("结婚", "mz-001"), ("jiehun", "mz-001"), ("jhdj", "mz-001"),
    ("公积金提取", "gjj-001"), ("gjjtq", "gjj-001"),
    ("驾驶证", "cgs-001"), ("jszhz", "cgs-001"),
    ("社保卡", "rs-001"), ("sbk", "rs-001"),
    ("医保报销", "yb-002"), ("过户", "gs-002"), ("passport", "crj-001"),
])
def test_common_requests_find_their_service_at_the_top(index, query, expected):
    assert expected in ids(index.search(query, 3)), query


def test_names_rank_above_keywords_above_guide_text(index, catalogue):
    hits = index.search("营业执照", None)
    tiers = [h.tier for h in hits]
    assert tiers == sorted(tiers, reverse=True)
    assert {TIER_NAME, TIER_KEYWORD, TIER_GUIDE} <= set(tiers)
    for h in hits:
        item = catalogue.service(h.id)
        if h.tier == TIER_NAME:
            assert "营业执照" in item.name
        elif h.tier == TIER_KEYWORD:
            assert "营业执照" not in item.name and any("营业执照" in k for k in item.keywords)
        else:
            assert "营业执照" not in item.name and not any("营业执照" in k for k in item.keywords)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_text_found_only_in_guides(index, catalogue):
    hits = index.search("民法典", None)  # the civil code is cited in guides, named nowhere
    assert hits and all(h.tier == TIER_GUIDE for h in hits)
    assert all("民法典" in catalogue.service(h.id).basis for h in hits)
    assert "mz-001" in ids(hits)


def test_an_exact_name_beats_a_longer_one(index):
    assert ids(index.search("生育登记", 2))[0] == "wj-004"


@pytest.mark.parametrize("query", ["证", "户", "照", "公证", "过户", "报销"])
def test_one_and_two_character_queries_find_what_a_substring_scan_finds(index, catalogue, query):
    """The trigram index cannot answer them: the single-character table does, with the same results."""
    from hall.search import guide_text

    found = set(ids(index.search(query, None)))
    depts = {d.id: f"{d.name} {d.name_en}" for d in catalogue.departments}
    scan = {s.id for s in catalogue.services
            if query in s.name or any(query in k for k in s.keywords) or query in depts[s.department]
            or query in guide_text(s)}
    assert found == scan


def test_three_character_queries_agree_with_a_substring_scan(index, catalogue):
    from hall.search import guide_text

    for query in ("身份证", "申请书", "不动产", "工作日", "营业执"):
        found = set(ids(index.search(query, None)))
        scan = {s.id for s in catalogue.services
                if query in s.name or any(query in k for k in s.keywords) or query in guide_text(s)}
        assert found >= scan and found, query


def test_words_separated_by_spaces_must_all_match(index):
    hits = index.search("社保 卡", 10)
    assert ids(hits)[:2] == ["rs-001", "rs-002"]
    assert index.search("护照 结婚", 10) == []


def test_nothing_found_and_empty_queries(index):
    assert index.search("", 10) == []
    assert index.search("   ", 10) == []
    assert index.search("qqqqxxx", 10) == []
    assert index.search('"', 10) == []  # quotes cannot break the FTS query


def test_limit(index):
    assert len(index.search("登记", 5)) == 5
    assert len(index.search("登记", None)) > 20


# ---------------------------------------------------------------- the index file

def test_an_index_file_opens_without_pypinyin(catalogue, tmp_path):
    path = tmp_path / "search.db"
    SearchIndex.build(catalogue, path)
    assert SearchIndex.digest_of(path) == catalogue.digest
    code = (f"import sys; from hall.search import SearchIndex; ix = SearchIndex.open({str(path)!r}); "
            "hits = ix.search('yyzz', 3); print(hits[0].id, 'pypinyin' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["scjg-006", "False"], done.stderr


def test_an_index_is_rebuilt_when_the_catalogue_changes(catalogue, tmp_path):
    path = tmp_path / "search.db"
    SearchIndex.open_or_build(catalogue, path)
    data = shipped_catalogue()
    data["services"][0]["name"] = "个体户开业登记"
    changed = parse_catalogue(data)
    index = SearchIndex.open_or_build(changed, path)
    assert index.digest == changed.digest
    assert ids(index.search("开业", 1)) == ["scjg-001"]


def test_a_damaged_index_file_is_not_trusted(tmp_path):
    path = tmp_path / "search.db"
    path.write_bytes(b"not sqlite at all" * 100)
    assert SearchIndex.digest_of(path) is None
    assert SearchIndex.digest_of(tmp_path / "missing.db") is None


def test_a_generated_catalogue_is_searchable(catalogue):
    from kiosk.generate import generate

    big = SearchIndex.build(generate(catalogue, 1500))
    assert len(big) == 1500
    hits = big.search("sfz", 10)
    assert all("身份证" in h.name for h in hits)


# ---------------------------------------------------------------- hall guide search

def test_guide_search_command_prints_json_best_first():
    done = subprocess.run([sys.executable, "-m", "hallctl.cli", "guide", "search", "yyzz", "--limit", "3", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert len(out) == 3
    assert set(out[0]) == {"id", "name", "department", "score"}
    assert out[0] == {"id": "scjg-006", "name": "营业执照遗失补领、换发", "department": "scjg",
                      "score": out[0]["score"]}
    assert [o["score"] for o in out] == sorted((o["score"] for o in out), reverse=True)


def test_guide_search_command_takes_another_catalogue(tmp_path):
    data = shipped_catalogue()
    data["services"] = [s for s in data["services"] if s["department"] == "crj"]
    data["queues"] = [q for q in data["queues"] if q["id"] == "G"]
    data["windows"] = [w | {"backup": []} for w in data["windows"] if w["queues"] == ["G"]]
    path = tmp_path / "crj.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "hallctl.cli", "guide", "search", "证", "--catalogue", str(path),
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert {o["department"] for o in json.loads(done.stdout)} == {"crj"}
