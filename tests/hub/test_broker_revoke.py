"""`hall devices revoke` and `rotate` act on the running broker at once, however it was started: the kiosk's open
connection is dropped within a second and its old password no longer logs in. Real Mosquitto, real commands."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from hall.clock import stamp
from hall.credentials import Secrets
from hall.protocol import envelope, evt_topic, new_event_id
from hall.settings import load_hall
from hub import broker
from tests.helpers.cli import run_hall
from tests.helpers.rig import HallRig, wait_for
from tests.helpers.running_broker import BrokerProcess, Observer, WatchedLogin

HALL = load_hall(None).id
REFUSED = ("Not authorized", "Bad user name or password")


class Running:
    """A running hall broker, whichever way it was started: its data directory, its port, how to stop it."""

    def __init__(self, data: Path, port: int, pid: int, stop):
        self.data, self.port, self.pid, self.stop = data, port, pid, stop
        self.files = broker.BrokerFiles(data)

    def password(self, user: str) -> str | None:
        return Secrets.load(self.files.secrets).password(user)


@pytest.fixture(params=["hall broker", "start_mosquitto"])
def running(request, tmp_path):
    """The broker as `hall broker` runs it (and systemd, which runs the same Mosquitto on the same config), and
    as `hall up` and the test rig start it (`broker.start_mosquitto`)."""
    if request.param == "hall broker":
        proc = BrokerProcess(tmp_path / "server")
        yield Running(proc.data, proc.port, proc.proc.pid, proc.stop)
        proc.stop()
    else:
        rig = HallRig(tmp_path / "hall").start_broker()
        yield Running(rig.data_dir, rig.port, rig.broker_proc.pid, rig.stop_broker)
        rig.close()


def _health(device: str, seq: int) -> tuple[str, str]:
    body = envelope(new_event_id(), seq, {"still": "here"}, stamp())
    return evt_topic(HALL, device, "health"), json.dumps(body)


def _devices(data: Path, *args: str) -> subprocess.CompletedProcess:
    result = run_hall("devices", *args, "--data", str(data))
    assert result.returncode == 0, result.stderr
    return result


def _mosquitto_pub(running: Running, user: str, password: str) -> int:
    topic, payload = _health(user, 99)
    return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(running.port), "-V", "mqttv5", "-q", "1",
                           "-u", user, "-i", user, "-P", password, "-t", topic, "-m", payload],
                          capture_output=True, timeout=10).returncode


def test_the_running_broker_keeps_its_own_pid_file_and_removes_it_when_it_stops(running):
    assert running.files.pid.read_text().strip() == str(running.pid)
    assert broker.running_broker(running.files) == running.pid
    running.stop()
    assert not running.files.pid.exists()
    assert broker.reload(running.files) is False


def test_revoke_drops_a_connected_kiosk_within_a_second_and_keeps_it_out(running):
    watch = Observer(running.port, running.password("hub"), f"hall/v1/{HALL}/+/evt/#")
    old = running.password("kiosk-01")
    kiosk = WatchedLogin(running.port, "kiosk-01", old)
    try:
        assert kiosk.connect() == "Success"
        kiosk.publish(*_health("kiosk-01", 1))
        wait_for(lambda: len(watch.got) == 1, 5, "the kiosk's event at the hub's login")

        out = _devices(running.data, "revoke", "kiosk-01").stdout
        done = time.monotonic()
        assert "revoked kiosk-01" in out and "broker reloaded" in out
        wait_for(lambda: kiosk.drops, 1.0, "the revoked kiosk's connection dropped")
        assert kiosk.drops[0] - done < 1.0

        # it cannot log in again, nor publish with Mosquitto's own client
        assert kiosk.connect() in REFUSED
        assert _mosquitto_pub(running, "kiosk-01", old) != 0
        time.sleep(0.3)
        assert [t for t, _ in watch.got] == [evt_topic(HALL, "kiosk-01", "health")]
        listed = {line.split()[0]: line for line in _devices(running.data, "list").stdout.splitlines()}
        assert "revoked" in listed["kiosk-01"] and "revoked" not in listed["kiosk-02"]

        # the other devices keep their logins and their connections
        other = WatchedLogin(running.port, "kiosk-02", running.password("kiosk-02"))
        assert other.connect() == "Success"
        other.publish(*_health("kiosk-02", 1))
        wait_for(lambda: len(watch.got) == 2, 5, "another kiosk's event")
        other.close()
    finally:
        kiosk.close()
        watch.close()


def test_rotate_drops_the_old_password_and_the_new_one_works(running):
    watch = Observer(running.port, running.password("hub"), f"hall/v1/{HALL}/kiosk-02/evt/#")
    old = running.password("kiosk-02")
    kiosk = WatchedLogin(running.port, "kiosk-02", old)
    try:
        assert kiosk.connect() == "Success"
        out = _devices(running.data, "rotate", "kiosk-02").stdout
        done = time.monotonic()
        assert "broker reloaded" in out
        wait_for(lambda: kiosk.drops, 1.0, "the old password's connection dropped")
        assert kiosk.drops[0] - done < 1.0
        assert kiosk.connect() in REFUSED
        assert _mosquitto_pub(running, "kiosk-02", old) != 0

        new = running.password("kiosk-02")
        assert new and new != old
        replacement = WatchedLogin(running.port, "kiosk-02", new)
        assert replacement.connect() == "Success"
        replacement.publish(*_health("kiosk-02", 1))
        wait_for(lambda: len(watch.got) == 1, 5, "the new password's event")
        replacement.close()
        assert _mosquitto_pub(running, "kiosk-02", new) == 0
        wait_for(lambda: len(watch.got) == 2, 5, "mosquitto_pub's event")
    finally:
        kiosk.close()
        watch.close()


def test_a_stale_pid_file_never_signals_another_process(tmp_path):
    """A broker killed with SIGKILL leaves its pid file; the number may since belong to any program."""
    data = tmp_path / "server"
    files = broker.BrokerFiles(data)
    broker.provision(load_hall(None), files)
    bystander = subprocess.Popen(["sleep", "30"])  # SIGHUP would end it
    other_hall = HallRig(tmp_path / "other").start_broker()  # a Mosquitto, but another data directory's
    try:
        for pid in (bystander.pid, other_hall.broker_proc.pid):
            files.pid.write_text(f"{pid}\n")
            out = _devices(data, "revoke", "kiosk-01").stdout
            assert "revoked kiosk-01" in out and "no running broker" in out
            assert broker.running_broker(files) is None
        time.sleep(0.3)
        assert bystander.poll() is None
        assert other_hall.broker_proc.poll() is None
        assert broker.running_broker(other_hall.files) == other_hall.broker_proc.pid
        # numbers kill(2) reads as "a whole group" or "everyone" are never taken for a broker
        for junk in ("0", "-1", "not a number", ""):
            files.pid.write_text(junk)
            assert broker.running_broker(files) is None and broker.reload(files) is False
    finally:
        bystander.kill()
        bystander.wait()
        other_hall.close()


def test_the_hubs_login_cannot_be_revoked_and_rotating_it_says_it_logs_in_again(tmp_path):
    data = tmp_path / "server"
    broker.provision(load_hall(None), broker.BrokerFiles(data))
    before = Secrets.load(data / "secrets.toml").password("hub")
    refused = run_hall("devices", "revoke", "hub", "--data", str(data))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr and "rotate it instead" in refused.stderr
    assert Secrets.load(data / "secrets.toml").password("hub") == before
    rotated = _devices(data, "rotate", "hub").stdout
    assert "the hub logs in again with its new password" in rotated
    assert Secrets.load(data / "secrets.toml").password("hub") not in (None, before)


def test_a_rotated_login_on_the_server_logs_in_again_with_its_new_password(tmp_path):
    """The hub and a link that read their password from the server's secrets (the console's, the site's) are
    dropped by the rotation and are back within seconds, logged in with the new password: no restart."""
    rig = HallRig(tmp_path / "hall").start_broker()
    try:
        hub = rig.start_hub()
        link = rig.link("kiosk-01")
        assert link.wait_connected(10)
        generation = hub.connection.generation
        for login in ("hub", "kiosk-01"):
            old = rig.password(login)
            assert "broker reloaded" in _devices(rig.data_dir, "rotate", login).stdout
            assert rig.password(login) != old
        wait_for(lambda: hub.connection.generation > generation and hub.connected, 10, "the hub back")
        wait_for(lambda: link.connected and link.hub_online, 10, "the kiosk's link back")
        event = link.send("health", {"after": "rotation"})
        wait_for(lambda: rig.count("SELECT count(*) FROM events WHERE id=?", event) == 1, 10, "its event stored")
    finally:
        rig.close()
