"""`hall doctor` on a real hall: all is well on a healthy one, and each fault is named when something breaks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hall.credentials import Endpoint, Secrets
from hallctl.cli import main
from hallctl.install.doctor import examine, faults, sntp_offset
from tests.helpers.rig import ROOT


def doctor(*args: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "hallctl.cli", "doctor", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def fault_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "故障 FAULT" in line]


def test_a_healthy_server_is_all_well_and_a_broken_one_names_its_fault(rig):  # the rig runs the broker
    hub = rig.hub_process()
    code, out = doctor("--data", str(rig.data_dir))
    assert code == 0, out
    assert "一切正常 all is well" in out and "the broker holds the hub's password" in out
    assert "hall hub running" in out and "turns strangers away" in out

    hub.terminate()
    hub.wait(15)
    code, out = doctor("--data", str(rig.data_dir))
    assert code == 1 and fault_lines(out) == ["  故障 FAULT  hall hub 未运行 / hall hub is not running"], out
    assert "1 项故障" in out

    rig.stop_broker()
    code, out = doctor("--data", str(rig.data_dir))
    assert code == 1
    assert any("cannot reach the broker" in line for line in fault_lines(out)), out


def test_a_broker_password_file_that_lost_the_hub_is_named(rig):
    passwd = rig.files.passwd
    passwd.write_text("".join(line + "\n" for line in passwd.read_text().splitlines() if not line.startswith("hub:")))
    findings = examine(data=rig.data_dir)
    assert [f.en for f in faults(findings) if "password file" in f.en], findings


def device_folder(rig, tmp_path: Path, device: str) -> Path:
    """What `hall devices export` gives a device, pointing at the rig's broker."""
    out = tmp_path / device
    assert main(["devices", "export", device, "--host", "127.0.0.1", "--out", str(out),
                 "--data", str(rig.data_dir)]) == 0
    Endpoint(host="127.0.0.1", port=rig.port).save(out)
    return out


def test_a_device_login_the_broker_accepts_and_one_it_refuses(rig, tmp_path, time_server):
    folder = device_folder(rig, tmp_path, "led-01")
    clock = time_server()
    args = dict(data=folder, device="led-01", server="127.0.0.1", ntp_port=clock.port)
    findings = {f.en: f.ok for f in examine(**args)}
    assert findings["the broker accepts the login of led-01"] is True
    assert any(en.startswith("clock +0.0 s off") or en.startswith("clock -0.0 s off") for en in findings), findings
    # the agent is not running and its bus adapter is not plugged in: both named
    assert findings["hall led is not running"] is False
    assert findings["RS-485 bus adapter port /dev/ttyUSB0 missing"] is False

    Secrets(folder / "secrets.toml", {"led-01": "not-the-password"}).save()
    refused = [f for f in faults(examine(**args)) if "refuses the login of led-01" in f.en]
    assert refused and "hall devices rotate led-01" in refused[0].remedy


def test_the_clock_offset_is_measured_against_the_server(time_server):
    clock = time_server(offset=-30.0)
    assert sntp_offset("127.0.0.1", clock.port) == pytest.approx(30.0, abs=0.5)


def test_a_clock_off_by_more_than_the_hubs_limit_is_named(rig, tmp_path, time_server):
    folder = device_folder(rig, tmp_path, "fp-01")
    clock = time_server(offset=12.0)
    bad = faults(examine(data=folder, device="fp-01", server="127.0.0.1", ntp_port=clock.port))
    assert any(f.en.startswith("clock -12") and "NTP=127.0.0.1" in f.remedy for f in bad), bad
    silent = faults(examine(data=folder, device="fp-01", server="127.0.0.1", ntp_port=clock.port + 1))
    assert any(f.en.startswith("no time from 127.0.0.1") and "chrony" in f.remedy for f in silent), silent


def test_nothing_installed_is_said_plainly(tmp_path, capsys):
    assert main(["doctor", "--data", str(tmp_path / "nothing")]) == 1
    out = capsys.readouterr().out
    assert "nothing installed here" in out and "hall install server" in out
