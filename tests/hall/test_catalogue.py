"""The service catalogue: the shipped one is complete, and every kind of mistake gets a named error."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from hall.catalogue import load_catalogue, parse_catalogue
from hall.errors import ConfigError
from tests.helpers.kiosk import CONFIG, ROOT, shipped_catalogue


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hallctl.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def shipped():
    return load_catalogue(CONFIG / "catalogue.json")


def test_the_shipped_catalogue_is_a_whole_hall(shipped):
    assert len(shipped.services) >= 60
    departments = {s.department for s in shipped.services}
    assert len(departments) >= 12
    for dept in ("scjg", "bdc", "rs", "yb", "gjj", "gahz", "crj", "cgs", "sw", "mz", "zj", "wj", "jt", "zrzy"):
        assert dept in departments, dept
    assert shipped.problems() == [] and shipped.gaps() == []
    # every window promised by some service item, every queue with items
    assert {w for s in shipped.services for w in s.windows} == {w.id for w in shipped.windows}
    assert {s.queue for s in shipped.services} == {q.id for q in shipped.queues}
    # the 34 departments, 21 queues and 34 windows other parts use are still there
    assert (len(shipped.departments), len(shipped.queues), len(shipped.windows)) == (34, 21, 34)


@pytest.mark.parametrize("name, basis", [
    ("个体工商户设立登记", "市场主体登记管理条例"),
    ("内地居民结婚登记", "婚姻登记条例"),
    ("住房公积金提取（购买自住住房）", "住房公积金管理条例"),
    ("居民身份证申领、换领", "居民身份证法"),
    ("普通护照签发", "护照法"),
    ("机动车驾驶证期满换证", "机动车驾驶证申领和使用规定"),
    ("社会保障卡申领", "社会保险法"),
    ("零星医疗费用报销（医保报销）", "社会保险法"),
    ("不动产转移登记（二手房买卖）", "不动产登记暂行条例"),
])
def test_services_a_citizen_knows_have_complete_guides_with_their_legal_basis(shipped, name, basis):
    [item] = [s for s in shipped.services if s.name == name]
    assert basis in item.basis
    assert item.conditions and item.materials and item.process and item.fee and item.name_en
    assert item.promised_days is not None
    assert item.promised_days <= (item.time_limit_days if item.time_limit_days is not None else 10**6)
    assert set(item.windows) <= set(shipped.windows_serving(item.queue))


def test_business_licence_guide_says_what_to_bring(shipped):
    item = shipped.service("scjg-001")
    assert item.queue == "A" and item.windows == ["1", "2", "3"]
    assert "营业执照" in item.keywords
    assert any("身份证" in m for m in item.materials)


# ---------------------------------------------------------------- named errors

def _broken(change) -> list[str]:
    data = copy.deepcopy(shipped_catalogue())
    change(data)
    with pytest.raises(ConfigError) as err:
        parse_catalogue(data, "broken.json")
    assert err.value.path == "broken.json"
    return err.value.problems


def test_unknown_department_of_a_service_is_named():
    def change(d):
        d["services"][0]["department"] = "nowhere"
    assert _broken(change) == ["services[id='scjg-001'].department: unknown department 'nowhere'"]


def test_unknown_queue_of_a_service_is_named():
    def change(d):
        d["services"][1]["queue"] = "ZZ"
    assert _broken(change) == ["services[id='scjg-002'].queue: unknown queue 'ZZ'"]


def test_duplicate_service_ids_are_named():
    def change(d):
        d["services"][2]["id"] = "scjg-001"
    assert "services[id='scjg-001']: duplicate id" in _broken(change)


def test_a_service_promising_a_window_that_does_not_serve_its_queue_is_named():
    def change(d):
        d["services"][0]["windows"] = ["1", "20"]
    assert _broken(change) == ["services[id='scjg-001'].windows: window '20' does not serve queue 'A'"]


def test_a_window_with_no_queue_is_named():
    def change(d):
        d["windows"][33]["queues"] = []
    problems = _broken(change)
    assert "windows[id='34'].queues: the window serves nothing" in problems
    assert "queues[id='W']: no window serves this queue" in problems


def test_a_queue_no_window_serves_is_named():
    def change(d):
        d["queues"].append({"id": "X", "prefix": "X", "name": "新业务", "department": "scjg"})
    assert _broken(change) == ["queues[id='X']: no window serves this queue"]


def test_gaps_name_a_window_serving_no_service_item_and_incomplete_guides():
    data = shipped_catalogue()
    data["services"] = [s for s in data["services"] if s["queue"] != "W"]
    data["services"][0]["materials"] = []
    data["services"][0]["basis"] = ""
    cat = parse_catalogue(data)  # loading a hall allows it; the check does not
    gaps = cat.gaps()
    assert "queues[id='W']: no service item belongs to this queue" in gaps
    assert "windows[id='34']: the window serves nothing (no service item in queues ['W'])" in gaps
    assert "services[id='scjg-001']: incomplete guide, empty materials, basis" in gaps


def test_a_renamed_field_is_refused_with_a_suggestion():
    def change(d):
        d["queues"][0]["prefx"] = d["queues"][0].pop("prefix")
    problems = _broken(change)
    assert any("prefix" in p and "missing" in p for p in problems)
    assert any("prefx: unknown key; did you mean 'prefix'?" in p for p in problems)


def test_halls_may_add_fields_to_service_items():
    data = shipped_catalogue()
    data["services"][0]["online_url"] = "https://example.org/scjg-001"
    cat = parse_catalogue(data)
    assert cat.service("scjg-001").model_dump()["online_url"] == "https://example.org/scjg-001"


# ---------------------------------------------------------------- hall catalogue check

def test_check_command_accepts_the_shipped_catalogue():
    done = _cli("catalogue", "check")
    assert done.returncode == 0, done.stderr
    assert "126 service items" in done.stdout or "service items in 34 of 34 departments" in done.stdout


def test_check_command_names_every_problem(tmp_path):
    data = shipped_catalogue()
    data["services"][0]["department"] = "nowhere"
    data["services"][2]["id"] = "scjg-001"
    data["services"][3]["queue"] = "ZZ"
    data["windows"][33]["queues"] = []
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    done = _cli("catalogue", "check", str(path), "--json")
    assert done.returncode == 2
    out = json.loads(done.stdout)
    assert out["ok"] is False
    assert set(out["errors"]) >= {
        "services[id='scjg-001']: duplicate id",
        "services[id='scjg-001'].department: unknown department 'nowhere'",
        "services[id='scjg-004'].queue: unknown queue 'ZZ'",
        "windows[id='34'].queues: the window serves nothing",
        "queues[id='W']: no window serves this queue",
    }
    text = _cli("catalogue", "check", str(path))
    assert text.returncode == 2 and "unknown department 'nowhere'" in text.stderr


def test_check_command_reports_bad_json_with_its_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"version": "1",\n "departments": [}', encoding="utf-8")
    done = _cli("catalogue", "check", str(path))
    assert done.returncode == 2
    assert "line 2" in done.stderr and "not valid JSON" in done.stderr


# ---------------------------------------------------------------- the wire and the generator

def test_the_wire_payload_round_trips_and_a_wrong_digest_is_refused(shipped):
    from hall.catalogue import from_wire

    wire = json.loads(json.dumps(shipped.wire(), ensure_ascii=False))
    assert from_wire(wire).digest == shipped.digest == wire["sha256"]
    wire["services"][0]["name"] = "改过的名字"
    with pytest.raises(ConfigError, match="sha256"):
        from_wire(wire)


@pytest.mark.parametrize("items", [60, 411, 5000])
def test_the_generator_scales_the_catalogue_and_the_result_passes_the_check(shipped, items):
    from kiosk.generate import generate

    cat = generate(shipped, items)
    assert len(cat.services) == items
    assert len({s.id for s in cat.services}) == items
    assert cat.problems() == [] and cat.gaps() == []
    assert generate(shipped, items).digest == cat.digest  # deterministic


def test_generate_command_writes_a_catalogue_the_check_accepts(tmp_path):
    out = tmp_path / "c411.json"
    done = _cli("catalogue", "generate", "--items", "411", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text(encoding="utf-8"))["services"]) == 411
    assert _cli("catalogue", "check", str(out)).returncode == 0


# ---------------------------------------------------------------- values read as written, files read safely

@pytest.mark.parametrize("change, expected", [
    (lambda d: d["queues"][0].update(standard_minutes="12"),
     "queues[0](id='A').standard_minutes: got '12', expected input should be a valid number"),
    (lambda d: d["queues"][0].update(standard_minutes=True),
     "queues[0](id='A').standard_minutes: got True, expected input should be a valid number"),
    (lambda d: d["queues"][0].update(cap="50"), "queues[0](id='A').cap: got '50', expected input should be a valid"),
    (lambda d: d["queues"][0].update(cap=12.0), "queues[0](id='A').cap: got 12.0, expected input should be a valid"),
    (lambda d: d["services"][0].update(promised_days="5"),
     "services[0](id='scjg-001').promised_days: got '5', expected input should be a valid integer"),
    (lambda d: d["services"][0].update(time_limit_days=-1),
     "services[0](id='scjg-001').time_limit_days: got -1, expected input should be greater than or equal to 0"),
])
def test_numbers_in_the_catalogue_must_be_written_as_numbers(change, expected):
    assert any(expected in p for p in _broken(change))


def test_check_command_names_the_place_of_bytes_that_are_not_utf8(tmp_path):
    text = json.dumps(shipped_catalogue(), ensure_ascii=False, indent=1)
    path = tmp_path / "gbk.json"
    path.write_bytes(text.encode("gb18030"))  # what a spreadsheet on a Chinese Windows PC saves
    done = _cli("catalogue", "check", str(path), "--json")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    [problem] = json.loads(done.stdout)["errors"]
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if any(ord(c) > 127 for c in row))
    assert problem.startswith(f"line {line} column ") and "expected UTF-8 text" in problem


def test_a_lone_surrogate_in_the_catalogue_is_refused_before_the_hub_publishes_it():
    data = shipped_catalogue()
    data["services"][0]["name"] = "\ud800"
    with pytest.raises(ConfigError) as err:
        parse_catalogue(data, "broken.json")
    assert err.value.problems == ["services[0].name: got text with a lone surrogate escape (\\ud800-\\udfff), "
                                  "expected Unicode text"]


def test_the_shipped_catalogue_has_board_names_that_fit():
    from hall.settings import load_hall

    cat = load_hall().catalogue
    assert cat.too_long_for_the_board() == []
    assert cat.department("rs").board_name == "人社局" and cat.department("sw").board_name == "税务局"
    assert cat.queue("V").board_name_en == "Urban & Fire" and cat.queue("C").board_name_en == "Social Insurance"


def test_short_names_longer_than_the_board_shows_are_refused():
    data = {"departments": [{"id": "rs", "name": "人力资源和社会保障局", "short": "人力资源和社会保障局"}],
            "queues": [{"id": "C", "prefix": "C", "name": "社会保险", "name_en": "Social Insurance Services",
                        "en_short": "Social Insurance Services", "department": "rs"}],
            "windows": [{"id": "1", "queues": ["C"]}]}
    with pytest.raises(ConfigError) as err:
        parse_catalogue(data)
    text = str(err.value)
    assert "short" in text and "en_short" in text
    # without short forms the hall still runs, and says which names the board can show only cut short
    long_names = parse_catalogue({**data, "departments": [{"id": "rs", "name": "人力资源和社会保障局"}],
                                  "queues": [{**data["queues"][0], "en_short": ""}]})
    assert [p.split(":")[0] for p in long_names.too_long_for_the_board()] == ["departments[id='rs'].short",
                                                                              "queues[id='C'].en_short"]
