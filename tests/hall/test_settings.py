"""The hall config: the shipped hall loads; every mistake names the file, the key, the value and what was expected."""

from __future__ import annotations

import re

import pytest

from hall.errors import ConfigError
from hall.settings import CONFIG_DIR, load_hall
from tests.helpers.cli import run_hall
from tests.helpers.settings import edit, refused


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
    message = str(refused(config_copy, 'am_in = "09:00"', 'am_in = "9 o\'clock"', "attendance.am_in"))
    assert "9 o'clock" in message and "expected" in message


def test_a_bad_port_is_named(config_copy):
    refused(config_copy, "port = 1883", "port = 99999",
            "broker.port: got 99999, expected input should be less than or equal to 65535")


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
    refused(config_copy, old, new, expected)


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


# ---------------------------------------------------------------- values are read as written, never converted

@pytest.mark.parametrize("old,new,expected", [
    ("recall_limit = 3", 'recall_limit = "3"', "queue.recall_limit: got '3', expected input should be a valid integer"),
    ("recall_limit = 3", "recall_limit = true", "queue.recall_limit: got True, expected input should be a valid integer"),
    ("average_after = 5", "average_after = 5.0", "queue.average_after: got 5.0, expected input should be a valid integer"),
    ("merge_seconds = 60", "merge_seconds = 86400",
     "attendance.merge_seconds: got 86400, expected input should be less than or equal to 3600"),
    ("port = 1883", 'port = "1883"', "broker.port: got '1883', expected input should be a valid integer"),
    ("tls = false", 'tls = "false"', "broker.tls: got 'false', expected input should be a valid boolean"),
    ("autosave_interval = 10", "autosave_interval = 0",
     "broker.autosave_interval: got 0, expected input should be greater than or equal to 1"),
])
def test_numbers_and_switches_must_be_written_as_such(config_copy, old, new, expected):
    edit(config_copy, old, new)
    result = check(config_copy)
    assert result.returncode == 2, result.stdout
    assert str(config_copy) in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("old,new,expected", [
    ('open = [["09:00", "11:40"], ["13:00", "17:00"]]', 'open = [["09:00", "13:40"], ["13:00", "17:00"]]',
     "hours.open: got list, expected spans that do not overlap: 09:00-13:40 overlaps 13:00-17:00"),
    ('open = [["09:00", "11:40"], ["13:00", "17:00"]]', 'open = [["13:00", "17:00"], ["09:00", "11:40"]]',
     "hours.open: got list, expected spans in time order, earliest first: 09:00-11:40 comes after 13:00-17:00"),
    ('issuing = [["08:30", "11:30"], ["12:50", "16:45"]]', 'issuing = [["08:30", "11:30"], ["11:00", "16:45"]]',
     "hours.issuing: got list, expected spans that do not overlap: 08:30-11:30 overlaps 11:00-16:45"),
    ('open = [["09:00", "11:40"], ["13:00", "17:00"]]', "open = []",
     "hours.open: got list, expected list should have at least 1 item"),
    ('open = [["09:00", "11:40"]', 'open = [["11:40", "09:00"]', "hours.open[0]: got list, expected a span whose end"),
    ('open = [["09:00", "11:40"]', 'open = [[900, "11:40"]', 'hours.open[0].start: got 900, expected a time of day'),
    ('am_in = "09:00"', "am_in = 32400", 'attendance.am_in: got 32400, expected a time of day such as "09:00"'),
    ('am_in = "09:00"', 'am_in = "24:00"', "attendance.am_in: got '24:00', expected a time of day"),
    ("extra_holidays = []", "extra_holidays = [20261001]",
     'attendance.extra_holidays[0]: got 20261001, expected a date such as "2026-10-01"'),
    ("extra_holidays = []", 'extra_holidays = ["2026-02-30"]', "attendance.extra_holidays[0]: got '2026-02-30'"),
    ("extra_holidays = []\nextra_workdays = []", "extra_holidays = [2026-10-01]\nextra_workdays = [2026-10-01]",
     "not both: 2026-10-01"),
])
def test_hours_and_days_must_be_well_formed(config_copy, old, new, expected):
    err = refused(config_copy, old, new, expected)
    assert any(expected in p for p in err.problems), err.problems  # in one problem, not across two


def test_times_and_dates_written_the_toml_way_are_read(config_copy):
    edit(config_copy, 'am_in = "09:00"', "am_in = 08:30:00")
    edit(config_copy, "extra_holidays = []", 'extra_holidays = [2031-10-01, "2031-10-02"]')
    hall = load_hall(config_copy)
    assert hall.attendance.am_in.strftime("%H:%M") == "08:30"
    assert [d.isoformat() for d in hall.attendance.extra_holidays] == ["2031-10-01", "2031-10-02"]


def test_the_rating_time_window_is_a_setting(config_copy):
    assert load_hall(config_copy).queue_rules.rating_within_minutes == 30
    text = re.sub(r"(?m)^rating_within_minutes = .*\n", "", config_copy.read_text(encoding="utf-8"))
    config_copy.write_text(text.replace("recall_limit = 3", 'recall_limit = 3\nrating_within_minutes = "45"'),
                           encoding="utf-8")
    with pytest.raises(ConfigError, match=r"queue\.rating_within_minutes: got '45', expected"):
        load_hall(config_copy)


# ---------------------------------------------------------------- files that cannot be read

@pytest.mark.parametrize("name,raw,expected", [
    ("catalogue.json", b'{"version": "1",\n "departments": [{"id": "a", "name": "' + "市场".encode("gbk") + b'"}]}',
     "line 2 column 39: got byte 0xca, expected UTF-8 text"),
    ("catalogue.json", b'{"version": "1",\n "departments": NaN}', "line 2 column 17: got NaN, expected a JSON number"),
    ("catalogue.json", b'{"x": "[[[",\n "y": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "line 2 column 70: got nesting deeper than 64 levels"),
    ("catalogue.json", b'["departments"]',
     "(top level): got an array, expected an object with the keys version, departments"),
    ("catalogue.json", b'{"departments": {"a": 1}, "queues": [], "windows": []}',
     "departments: got dict, expected input should be a valid list"),
    ("catalogue.json", b'{"departments": [{"id": "a", "name": "\\ud800"}], "queues": [], "windows": []}',
     "departments[0].name: got text with a lone surrogate escape"),
    ("staff.csv", b"staff,name,window,role\ns001," + "张三".encode("gbk") + b",1,window\n",
     "line 2 column 6: got byte 0xd5, expected UTF-8 text"),
])
def test_config_files_that_are_not_utf8_or_not_json_are_named_with_the_place(config_copy, name, raw, expected):
    target = config_copy.parent / name
    target.write_bytes(raw)
    result = check(config_copy)
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"{target}: {expected}" in result.stderr


def test_a_utf8_byte_order_mark_is_allowed(config_copy):
    cat = config_copy.parent / "catalogue.json"
    cat.write_bytes(b"\xef\xbb\xbf" + cat.read_bytes())
    assert len(load_hall(config_copy).catalogue.windows) == 34


def test_a_folder_where_a_file_should_be_is_named(config_copy):
    cat = config_copy.parent / "catalogue.json"
    cat.unlink()
    cat.mkdir()
    with pytest.raises(ConfigError, match="catalogue.json: got a folder, expected a file"):
        load_hall(config_copy)
