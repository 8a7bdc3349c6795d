"""The hall config: the shipped hall loads; every mistake names the file, the key, the value and what was expected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hall.errors import ConfigError
from hall.settings import CONFIG_DIR, load_hall
from tests.helpers.cli import run_hall


@pytest.fixture
def config_copy(tmp_path) -> Path:
    for name in ("hall.toml", "catalogue.json", "staff.csv"):
        shutil.copy(CONFIG_DIR / name, tmp_path / name)
    return tmp_path / "hall.toml"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def check(path):
    return run_hall("config", "check", str(path))


def test_the_shipped_hall_is_the_miluo_centre():
    hall = load_hall()
    assert hall.id == "miluo" and hall.info.name == "汨罗市政务服务中心"
    assert len(hall.catalogue.windows) == 34
    assert len(hall.catalogue.departments) == 34
    assert len([s for s in hall.staff if s.role == "window"]) == 149
    assert {q.prefix for q in hall.catalogue.queues} >= {"A", "B", "C"}
    assert [str(s.start) for s in hall.hours.open] == ["09:00:00", "13:00:00"]
    assert hall.attendance.am_out.strftime("%H:%M") == "11:40"
    kinds = {d.kind for d in hall.devices}
    assert kinds >= {"kiosk", "display", "terminal", "caller", "window", "led"}


def test_config_check_says_ok():
    result = check(CONFIG_DIR / "hall.toml")
    assert result.returncode == 0
    assert result.stdout.startswith("ok: ")


def test_a_typo_in_a_key_is_named_with_a_suggestion(config_copy):
    edit(config_copy, "recall_limit = 3", "recal_limit = 3")
    result = check(config_copy)
    assert result.returncode != 0
    assert str(config_copy) in result.stderr
    assert "queue.recal_limit: unknown key; did you mean 'recall_limit'?" in result.stderr


def test_a_bad_value_names_key_value_and_expectation(config_copy):
    edit(config_copy, 'am_in = "09:00"', 'am_in = "9 o\'clock"')
    with pytest.raises(ConfigError) as err:
        load_hall(config_copy)
    message = str(err.value)
    assert "attendance.am_in" in message and "9 o'clock" in message and "expected" in message


def test_a_bad_port_is_named(config_copy):
    edit(config_copy, "port = 1883", "port = 99999")
    with pytest.raises(ConfigError, match=r"broker\.port: got 99999, expected input should be less than or equal to 65535"):
        load_hall(config_copy)


def test_broken_toml_names_the_line(config_copy):
    edit(config_copy, "[hours]", "[hours")
    result = check(config_copy)
    assert result.returncode != 0 and "not valid TOML" in result.stderr and "line" in result.stderr


@pytest.mark.parametrize("old,new,expected", [
    ('{ id = "kiosk-02", kind = "kiosk"', '{ id = "kiosk-01", kind = "kiosk"', "duplicate device id"),
    ('{ id = "kiosk-02", kind = "kiosk"', '{ id = "Kiosk_02", kind = "kiosk"', "devices[1](id='Kiosk_02').id"),
    ('{ id = "kiosk-02", kind = "kiosk"', '{ id = "hub", kind = "kiosk"', "'hub' is the hub's own id"),
    ('{ id = "kiosk-02", kind = "kiosk"', '{ id = "kiosk-02", kind = "toaster"', "devices[1](id='kiosk-02').kind"),
    ('windows = ["1", "2"', 'windows = ["99", "2"', "unknown window '99'"),
])
def test_bad_devices_are_named(config_copy, old, new, expected):
    edit(config_copy, old, new)
    with pytest.raises(ConfigError) as err:
        load_hall(config_copy)
    assert expected in str(err.value)


def test_catalogue_errors_name_the_file(config_copy):
    cat = config_copy.parent / "catalogue.json"
    edit(cat, '"department": "scjg",', '"department": "nowhere",')
    with pytest.raises(ConfigError) as err:
        load_hall(config_copy)
    assert "catalogue.json" in str(err.value) and "unknown department 'nowhere'" in str(err.value)


def test_staff_file_errors_name_the_line(config_copy):
    staff = config_copy.parent / "staff.csv"
    staff.write_text(staff.read_text(encoding="utf-8") + "s001,重复,1,window\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"staff\.csv: line 188: staff: duplicate id 's001'"):
        load_hall(config_copy)
