"""`hall install` and `hall uninstall` into a throwaway root: what each part gets, and nothing left behind."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from hall.credentials import Endpoint, Secrets
from hall.settings import load_hall
from hallctl.cli import main
from hallctl.install import InstallError, install_device, uninstall
from hub import broker
from tests.helpers.machines import tree
from tests.helpers.rig import ROOT

WANTS = "etc/systemd/system/multi-user.target.wants"


def hall(root: Path, *args: str) -> int:
    return main([*args, "--root", str(root)])


def account(root: Path, name: str) -> list[str] | None:
    for line in (root / "etc/passwd").read_text().splitlines():
        if line.split(":")[0] == name:
            return line.split(":")
    return None


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> Path:
    """Device bundles as the server makes them: `hall devices export`, folders and tar archives."""
    out = tmp_path_factory.mktemp("server")
    broker.provision(load_hall(), broker.BrokerFiles(out / "data"))
    for device in ("fp-01", "kiosk-01", "led-01", "display-01", "caller-01"):
        assert main(["devices", "export", device, "--host", "192.168.10.2", "--out", str(out / device),
                     "--data", str(out / "data")]) == 0
        with tarfile.open(out / f"{device}.tar.gz", "w:gz") as tar:
            tar.add(out / device, arcname=device)
    return out


def test_server_install_then_uninstall_leaves_nothing_behind(machine, capsys):
    before = tree(machine)
    assert hall(machine, "install", "server", "--keep-days", "7") == 0
    said = capsys.readouterr().out
    user = account(machine, "hall")
    assert user and user[5] == "/srv/hall" and user[6] == "/usr/sbin/nologin"
    data = machine / "srv/hall/data"
    secrets = data / "secrets.toml"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600 and secrets.stat().st_uid == int(user[2])
    assert Secrets.load(secrets).password("fp-01") and (data / "broker/passwd").exists()
    for unit in ("hall-broker.service", "hall-hub.service", "hall-web.service"):
        text = (machine / "etc/systemd/system" / unit).read_text()
        assert "@" not in text.replace("%i", "") and "User=hall" in text and "--data /srv/hall/data" in text
        assert (machine / WANTS / unit).is_symlink()
    backup = (machine / "etc/systemd/system/hall-backup.service").read_text()
    assert "sqlite3" in backup and ".backup" in backup and str(7 * 1440 - 60) in backup
    assert (machine / "etc/systemd/system/timers.target.wants/hall-backup.timer").is_symlink()
    # the distribution's broker would hold port 1883: off, and said so
    assert not (machine / WANTS / "mosquitto.service").exists()
    assert "Mosquitto" in said and "1883" in said
    assert "allow 192.168.0.0/16" in (machine / "etc/chrony/conf.d/hall.conf").read_text()
    # what each device needs next
    assert "devices export fp-01" in said and "./hallkit install terminal --server" in said
    assert "users add admin" in said
    record = json.loads((machine / "etc/hallkit/install.json").read_text())
    assert record["part"] == "server" and record["mosquitto_disabled"] is True

    assert hall(machine, "uninstall", "server", "--purge") == 0
    assert tree(machine) == before
    assert (machine / WANTS / "mosquitto.service").is_symlink()


def test_the_citizens_site_runs_only_where_the_hall_chooses_to_face_the_public(machine, capsys):
    before = tree(machine)
    assert hall(machine, "install", "server") == 0
    assert not (machine / "etc/systemd/system/hall-public.service").exists()
    assert hall(machine, "uninstall", "server", "--purge") == 0
    assert hall(machine, "install", "server", "--public") == 0
    unit = (machine / "etc/systemd/system/hall-public.service").read_text()
    assert "hall public --data /srv/hall/data --host 127.0.0.1 --port 8900" in unit and "User=hall" in unit
    assert (machine / WANTS / "hall-public.service").is_symlink()
    assert "hall-public.service" in capsys.readouterr().out
    assert hall(machine, "uninstall", "server", "--purge") == 0
    assert tree(machine) == before


def test_uninstall_keeps_the_journal_and_the_user_unless_purged(machine, capsys):
    assert hall(machine, "install", "server", "--tls") == 0
    (machine / "srv/hall/data/hub.db").write_bytes(b"the journal")
    assert hall(machine, "uninstall") == 0
    assert "--purge" in capsys.readouterr().out
    assert (machine / "srv/hall/data/hub.db").read_bytes() == b"the journal"
    assert (machine / "srv/hall/data/broker/tls/ca.crt").exists()
    assert account(machine, "hall") is not None
    assert not (machine / "etc/systemd/system/hall-hub.service").exists()
    assert not (machine / "etc/hallkit").exists()


@pytest.mark.parametrize("kind,device,archive", [("terminal", "fp-01", True), ("led", "led-01", False),
                                                 ("kiosk", "kiosk-01", True), ("display", "display-01", False)])
def test_a_device_install_then_uninstall_leaves_nothing_behind(machine, bundles, kind, device, archive):
    before = tree(machine)
    bundle = bundles / (f"{device}.tar.gz" if archive else device)
    args = ["install", kind, "--server", "192.168.10.2", "--device", device, "--bundle", str(bundle)]
    if kind in ("kiosk", "display"):
        args += ["--user", "clerk"]
    assert hall(machine, *args) == 0
    data = machine / "srv/hall/data"
    assert Secrets.load(data / "secrets.toml").password(device)
    assert stat.S_IMODE((data / "secrets.toml").stat().st_mode) == 0o600
    assert Endpoint.load(data).host == "192.168.10.2"
    env = (machine / f"etc/hallkit/agent-{kind}.env").read_text()
    assert f"HALL_ARGS=--device {device}" in env
    assert "NTP=192.168.10.2" in (machine / "etc/systemd/timesyncd.conf.d/hall.conf").read_text()
    if kind in ("kiosk", "display"):
        assert "--fullscreen" in env
        unit = (machine / "etc/systemd/user/hall-screen@.service").read_text()
        assert "Restart=always" in unit and "\nWatchdogSec=" not in unit
        autostart = (machine / f"etc/xdg/autostart/hall-{kind}.desktop").read_text()
        assert f"hall-screen@{kind}.service" in autostart
        assert '"BlankTime" "0"' in (machine / "etc/X11/xorg.conf.d/10-hall-screen.conf").read_text()
        user = account(machine, "clerk")
        assert user and user[5] == "/home/clerk" and (machine / "home/clerk").is_dir()
        assert data.stat().st_uid == int(user[2])
    else:
        unit = (machine / "etc/systemd/system/hall-agent@.service").read_text()
        assert "Restart=always" in unit and "\nWatchdogSec=" not in unit and "User=hall" in unit
        assert (machine / WANTS / f"hall-agent@{kind}.service").is_symlink()
        assert account(machine, "hall")[6] == "/usr/sbin/nologin"
    assert hall(machine, "uninstall", kind, "--purge") == 0
    assert tree(machine) == before


def test_a_bundle_of_another_device_is_refused(machine, bundles):
    with pytest.raises(InstallError, match="not the bundle of fp-02"):
        install_device("terminal", ROOT, device="fp-02", server="192.168.10.2", bundle=bundles / "fp-01.tar.gz",
                       root=machine, say=lambda *_: None)


def test_a_device_must_be_of_its_kind(machine, capsys):
    assert hall(machine, "install", "kiosk", "--server", "h", "--device", "fp-01") == 1
    assert "fp-01" in capsys.readouterr().err and "kiosk-01" not in os.listdir(machine)


def test_one_machine_one_part(machine, bundles):
    assert hall(machine, "install", "led", "--server", "192.168.10.2", "--device", "led-01") == 0
    with pytest.raises(InstallError, match="set up as led"):
        install_device("caller", ROOT, device="caller-01", server="x", root=machine, say=lambda *_: None)
    with pytest.raises(InstallError, match="not server"):
        uninstall(part="server", root=machine)
    uninstall(part="led", purge=True, root=machine, say=lambda *_: None)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_the_units_written_pass_systemd_analyze_verify(machine, tmp_path):
    """Every unit install writes, rendered for this checkout, as systemd itself reads it."""
    units = tmp_path / "units"
    units.mkdir()
    assert hall(machine, "install", "server", "--public") == 0
    for unit in ("hall-broker.service", "hall-hub.service", "hall-web.service", "hall-public.service",
                 "hall-backup.service", "hall-backup.timer"):
        shutil.copy(machine / "etc/systemd/system" / unit, units / unit)
    assert hall(machine, "uninstall", "--purge") == 0
    for kind, device in (("terminal", "fp-01"), ("caller", "caller-01"), ("led", "led-01")):
        assert hall(machine, "install", kind, "--server", "192.168.10.2", "--device", device) == 0
        shutil.copy(machine / "etc/systemd/system/hall-agent@.service", units / f"hall-agent@{kind}.service")
        assert hall(machine, "uninstall", "--purge") == 0
    assert hall(machine, "install", "kiosk", "--server", "192.168.10.2", "--device", "kiosk-01", "--user", "clerk") == 0
    # a user unit: its keys are the same; checked as a system unit since no user manager runs here
    shutil.copy(machine / "etc/systemd/user/hall-screen@.service", units / "hall-screen@kiosk.service")
    names = sorted(p.name for p in units.iterdir())
    assert len(names) == 10
    done = subprocess.run(["systemd-analyze", "verify", *names], cwd=units, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
