"""With `tls = true` the hall LAN reaches the broker over TLS only: the plain listener serves this server alone."""

from __future__ import annotations

import re
import socket
import subprocess

import pytest

from hall.credentials import Secrets
from hall.settings import load_hall
from hub import broker
from hub.tls import make_tls
from tests.helpers.cli import run_hall
from tests.helpers.rig import wait_for
from tests.helpers.running_broker import BrokerProcess, WatchedLogin, lan_address, tls_hall


def _listeners(conf: str) -> list[str]:
    return [line for line in conf.splitlines() if line.startswith("listener ")]


def test_with_tls_the_generated_plain_listener_is_loopback_only(tmp_path):
    files = broker.BrokerFiles(tmp_path / "data")
    hall = load_hall(tls_hall(tmp_path / "config", tls_port=8883))
    # as the systemd unit asks: every interface
    assert _listeners(broker.config_text(hall, files, 1883, bind="0.0.0.0", tls_port=8883)) == [
        "listener 1883 127.0.0.1", "listener 8883 0.0.0.0"]
    # without --bind the plain listener ignores the config's host as well
    assert _listeners(broker.config_text(hall, files, 1883, tls_port=8883))[0] == "listener 1883 127.0.0.1"
    # without TLS the plain listener is the hall's only one and takes the address asked for
    plain = load_hall(None)
    assert _listeners(broker.config_text(plain, files, 1883, bind="0.0.0.0")) == ["listener 1883 0.0.0.0"]


def _listening(port: int) -> set[str]:
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
    return {re.split(r"\s+", line.strip())[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()}


def test_with_tls_the_plain_port_cannot_be_reached_from_the_lan(tmp_path):
    lan = lan_address()
    tls_port, port = broker.free_port(), broker.free_port()
    config = tls_hall(tmp_path / "config", tls_port=tls_port)
    data = tmp_path / "server"
    # the certificate names this machine's LAN address, as a device there would dial it
    make_tls(broker.BrokerFiles(data).tls_dir, load_hall(config).id, hosts=[lan] if lan else None)
    running = BrokerProcess(data, port, config=config, bind="0.0.0.0")
    try:
        assert _listening(port) == {"127.0.0.1"}
        assert _listening(tls_port) == {"0.0.0.0"}
        sec = Secrets.load(data / "secrets.toml")
        # the hub and local agents on the server: plain MQTT on loopback
        hub = WatchedLogin(port, "hub", sec.password("hub"))
        assert hub.connect() == "Success"
        hub.close()
        if lan is None:
            pytest.skip("this machine has no address besides loopback: listeners checked with ss only")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((lan, port), timeout=3).close()
        # a kiosk on the LAN: TLS with the hall CA
        kiosk = WatchedLogin(tls_port, "kiosk-01", sec.password("kiosk-01"), host=lan, tls_ca=str(running.files.ca))
        assert kiosk.connect() == "Success"
        # revoked, it is dropped from the TLS listener as from the plain one
        assert "broker reloaded" in run_hall("devices", "revoke", "kiosk-01", "--data", str(data)).stdout
        wait_for(lambda: kiosk.drops, 1.0, "the revoked kiosk dropped from the TLS listener")
        assert kiosk.connect() in ("Not authorized", "Bad user name or password")
        kiosk.close()
    finally:
        running.stop()
