"""A guide in English: what the catalogue holds in English is shown in English; a guide whose body is held in
Chinese only says so."""

from __future__ import annotations

from hall.catalogue import parse_catalogue
from kiosk.model import make_guide
from tests.helpers.kiosk import shipped_catalogue


def test_a_guide_held_in_english_is_shown_in_english_without_a_notice():
    data = shipped_catalogue()
    service = next(s for s in data["services"] if s["id"] == "mz-001")
    service.update(conditions_en="Both parties are at least the legal age for marriage",
                   materials_en=["Each party's resident ID card", "Each party's household register"],
                   process_en=["Apply", "Review", "Register"], fee_en="Free of charge",
                   basis_en="Regulations on Marriage Registration")
    catalogue = parse_catalogue(data, "catalogue.json")
    guide = make_guide(catalogue, catalogue.service("mz-001"), "en")
    assert not guide.chinese_only
    text = dict(guide.sections)
    assert text["Conditions"] == "Both parties are at least the legal age for marriage"
    assert text["Documents to bring"] == "1．Each party's resident ID card\n2．Each party's household register"
    assert text["Fees"] == "Free of charge" and text["Legal basis"] == "Regulations on Marriage Registration"
    # Chinese readers still read Chinese
    zh = dict(make_guide(catalogue, catalogue.service("mz-001"), "zh").sections)
    assert "本人的居民身份证" in zh["申请材料"]


def test_a_guide_held_in_chinese_only_says_so_in_english():
    catalogue = parse_catalogue(shipped_catalogue(), "catalogue.json")
    guide = make_guide(catalogue, catalogue.service("crj-001"), "en")
    assert guide.chinese_only and guide.title == "Ordinary passport"
    assert not make_guide(catalogue, catalogue.service("crj-001"), "zh").chinese_only
    # partly translated is still not the whole guide
    data = shipped_catalogue()
    next(s for s in data["services"] if s["id"] == "crj-001")["fee_en"] = "CNY 120"
    partly = parse_catalogue(data, "catalogue.json")
    guide = make_guide(partly, partly.service("crj-001"), "en")
    assert guide.chinese_only and dict(guide.sections)["Fees"] == "CNY 120"
