"""Enrolment, removal, listing and template copies: the station API and `hall staff …`, on simulated sensors."""

import json
import threading

import pytest

from devices.fingerprint.sensor import Sensor, SensorError
from devices.fingerprint.station import Station, StationError, TemplateMap
from tests.helpers.attendance import run_cli

pytestmark = pytest.mark.timeout(60)


def station(sim, data_dir, device="fp-01", password=0):
    return Station(device, Sensor(sim.port, password=password), TemplateMap.of(data_dir, device))


def enrol(st, sim, staff, finger=None):
    finger = finger or staff
    sim.touch(finger)
    sim.touch(finger)
    return st.enroll(staff, say=lambda text: None, timeout=5)


def test_enrol_two_scans_then_identify(sim, tmp_path):
    st = station(sim, tmp_path)
    said = []
    sim.touch("s023")
    sim.touch("s023")
    result = st.enroll("s023", finger="right-index", say=said.append, timeout=5)
    assert result == {"terminal": "fp-01", "ok": True, "staff": "s023", "position": 0}
    assert said[0].startswith("请") and "place your finger" in said[0]
    assert any("place the same finger again" in s for s in said)
    stored = json.loads((tmp_path / "devices/fp-01/templates.json").read_text())
    assert stored["positions"]["0"]["staff"] == "s023" and stored["positions"]["0"]["finger"] == "right-index"
    sim.touch("s023")
    assert st.sensor.wait_finger(5)
    match = st.sensor.identify()
    assert match.position == 0 and match.score >= 60


def test_a_finger_already_enrolled_is_refused(sim, tmp_path):
    st = station(sim, tmp_path)
    enrol(st, sim, "s023")
    sim.touch("s023")
    with pytest.raises(StationError, match="already enrolled"):
        st.enroll("s024", say=lambda t: None, timeout=5)


def test_two_different_fingers_are_not_one_enrolment(sim, tmp_path):
    st = station(sim, tmp_path)
    sim.touch("s023")
    sim.touch("someone-else")
    with pytest.raises(StationError, match="do not match"):
        st.enroll("s023", say=lambda t: None, timeout=5)
    assert st.sensor.count() == 0


def test_a_full_sensor_gives_a_clear_error(sensor_sim, tmp_path):
    sim = sensor_sim("zfm20")
    for position in range(162):
        sim.enrol_directly(f"p{position}", position)
    st = station(sim, tmp_path)
    with pytest.raises(SensorError, match=r"传感器已满（162/162）.*the sensor is full \(162 of 162"):
        enrol(st, sim, "s023")


def test_wrong_sensor_password(sensor_sim, tmp_path):
    sim = sensor_sim(password=0xBEEF)
    with pytest.raises(SensorError, match="wrong sensor password"):
        Sensor(sim.port, password=0x1111)
    assert Sensor(sim.port, password=0xBEEF).capacity == 1000


def test_remove_deletes_from_sensor_and_map(sim, tmp_path):
    st = station(sim, tmp_path)
    enrol(st, sim, "s001")
    enrol(st, sim, "s002")
    enrol(st, sim, "s001", "s001/left-index")
    assert st.remove("s001")["removed"] == [0, 2]
    assert st.sensor.used_positions() == [1]
    assert list(st.templates.entries) == [1]


def test_copy_between_sensors_is_verified_by_a_match(sensor_sim, tmp_path):
    a, b = sensor_sim("r307"), sensor_sim("as608")
    first, second = station(a, tmp_path, "fp-01"), station(b, tmp_path, "fp-02")
    enrol(first, a, "s023")
    exported = first.export("s023")
    result = second.import_templates("s023", exported["templates"], "copy:fp-01")
    assert result["ok"] and result["placed"][0]["position"] == 0 and result["placed"][0]["score"] >= 60
    assert second.templates.entries[0].source == "copy:fp-01"
    again = second.import_templates("s023", exported["templates"], "copy:fp-01")
    assert again["placed"][0]["already"] is True
    b.touch("s023")  # the person's own finger now works on the second terminal
    assert second.sensor.wait_finger(5)
    assert second.sensor.identify().position == 0


# ---------------------------------------------------------------- hall staff … (no agent running: --port)

def staff_cli(capsys, *argv):
    code = run_cli(["staff", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_enroll_list_copy_remove_commands(sensor_sim, tmp_path, capsys):
    a, b = sensor_sim("r307"), sensor_sim("as608")
    data = str(tmp_path)
    a.touch("s023")
    a.touch("s023")
    code, out, _ = staff_cli(capsys, "enroll", "s023", "--terminal", "fp-01", "--data", data, "--port", a.port,
                             "--finger", "right-index", "--timeout", "5")
    assert code == 0 and "登记成功" in out and "enrolled s023 at position 0" in out

    code, out, _ = staff_cli(capsys, "copy", "s023", "--from", "fp-01", "--to", "fp-02", "--data", data,
                             "--port", f"fp-01={a.port}", "--port", f"fp-02={b.port}")
    assert code == 0
    assert "fp-02: 成功 / ok: 位置 position 0 比对分 score" in out

    code, out, _ = staff_cli(capsys, "list", "--data", data, "--json")
    rows = json.loads(out)
    assert [(r["terminal"], r["position"], r["staff"], r["name"], r["source"]) for r in rows] == [
        ("fp-01", 0, "s023", "田涛辉", "enrol"), ("fp-02", 0, "s023", "田涛辉", "copy:fp-01")]
    code, out, _ = staff_cli(capsys, "list", "--data", data)
    assert "s023\t田涛辉" in out and "2 templates" in out

    code, out, _ = staff_cli(capsys, "remove", "s023", "--terminal", "all", "--data", data,
                             "--port", f"fp-01={a.port}", "--port", f"fp-02={b.port}")
    assert code == 0 and "fp-01: 已删除 1 枚" in out and "fp-02: 已删除 1 枚" in out
    assert a.templates() == {} and b.templates() == {}


def test_copy_reports_each_terminal_and_a_full_one_fails_alone(sensor_sim, tmp_path, capsys):
    a, full = sensor_sim("r307"), sensor_sim("zfm20")
    for position in range(162):
        full.enrol_directly(f"p{position}", position)
    st = station(a, tmp_path, "fp-01")
    enrol(st, a, "s023")
    st.sensor.close()
    code, out, _ = staff_cli(capsys, "copy", "s023", "--from", "fp-01", "--to", "all", "--data", str(tmp_path),
                             "--port", f"fp-01={a.port}", "--port", f"fp-02={full.port}")
    assert code == 1
    assert "fp-02: 失败 / failed: 传感器已满（162/162）" in out


def test_enroll_command_errors(sensor_sim, tmp_path, capsys):
    sim = sensor_sim(password=7)
    code, _, err = staff_cli(capsys, "enroll", "s023", "--terminal", "fp-01", "--data", str(tmp_path),
                             "--port", sim.port)
    assert code == 1 and "wrong sensor password" in err
    code, _, err = staff_cli(capsys, "enroll", "nobody", "--terminal", "fp-01", "--data", str(tmp_path))
    assert code == 1 and "nobody is not in the staff list" in err
    code, _, err = staff_cli(capsys, "enroll", "s023", "--terminal", "fp-09", "--data", str(tmp_path))
    assert code == 1 and "fp-09 is not a terminal of this hall" in err
    code, _, err = staff_cli(capsys, "enroll", "s023", "--terminal", "fp-01", "--data", str(tmp_path))
    assert code == 1 and "no serial port known for fp-01" in err


def test_enroll_command_on_a_full_sensor_exits_3(sensor_sim, tmp_path, capsys):
    sim = sensor_sim("zfm20")
    for position in range(162):
        sim.enrol_directly(f"p{position}", position)
    code, _, err = staff_cli(capsys, "enroll", "s023", "--terminal", "fp-01", "--data", str(tmp_path),
                             "--port", sim.port)
    assert code == 3 and "the sensor is full" in err


def test_enrolment_can_be_stopped(sim, tmp_path):
    st = station(sim, tmp_path)
    stop = threading.Event()
    stop.set()
    with pytest.raises(StationError, match="no finger"):
        st.enroll("s023", say=lambda t: None, timeout=5, stop=stop)
