"""No device speaks for another: logins, the generated ACL, TLS and the hub's own checks, on a real Mosquitto."""

from __future__ import annotations

import json
import os
import ssl
import stat
import subprocess
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hall.clock import stamp
from hall.credentials import Secrets
from hall.protocol import envelope, evt_topic, new_event_id
from hub import broker
from tests.helpers.cli import run_hall
from tests.helpers.rig import wait_for


def _try_connect(port: int, user: str | None, password: str | None, client_id: str | None = None,
                 tls_ca: str | None = None) -> str:
    """Connect once and say how it went: 'ok' or the broker's reason."""
    result = {}
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or user or "", protocol=mqtt.MQTTv5)
    if user is not None:
        c.username_pw_set(user, password)
    if tls_ca:
        c.tls_set(ca_certs=tls_ca)
    c.on_connect = lambda cl, u, f, rc, p=None: result.setdefault("rc", str(rc))
    try:
        c.connect("127.0.0.1", port, keepalive=10)
    except (ssl.SSLError, OSError) as err:
        return f"tls: {type(err).__name__}"
    c.loop_start()
    try:
        wait_for(lambda: "rc" in result, 5, "CONNACK")
    except AssertionError:
        result["rc"] = "no answer"
    finally:
        c.disconnect()
        c.loop_stop()
    return "ok" if result["rc"] == "Success" else result["rc"]


def test_wrong_password_and_no_password_are_refused(rig):
    assert _try_connect(rig.port, "kiosk-01", rig.password("kiosk-01")) == "ok"
    assert _try_connect(rig.port, "kiosk-01", "not-the-password") in ("Not authorized", "Bad user name or password")
    assert _try_connect(rig.port, None, None, client_id="anon") in ("Not authorized", "Bad user name or password")
    assert _try_connect(rig.port, "stranger", "x") in ("Not authorized", "Bad user name or password")


def test_provisioning_keeps_passwords_and_writes_private_files(rig):
    before = Secrets.load(rig.files.secrets).passwords
    assert len(before) == len(rig.hall.devices) + 1  # every device and the hub
    assert all(len(p) >= 32 for p in before.values())  # 24 random bytes, url-safe: 192 bits
    assert stat.S_IMODE(os.stat(rig.files.secrets).st_mode) == 0o600
    assert broker.provision(rig.hall, rig.files) == {}
    assert Secrets.load(rig.files.secrets).passwords == before
    hashed = rig.files.passwd.read_text()
    assert "kiosk-01:$7$" in hashed and before["kiosk-01"] not in hashed


def test_a_kiosk_cannot_publish_on_a_terminals_topic(rig):
    rig.start_hub()
    kiosk = rig.mqtt("kiosk-01")
    body = envelope(new_event_id(), 1, {"staff": "s001", "at": stamp()}, stamp())
    kiosk.publish(evt_topic(rig.hall.id, "fp-01", "punch"), json.dumps(body), qos=1).wait_for_publish(5)
    # a legitimate event after it proves the hub was listening all along
    link = rig.link("kiosk-02")
    link.wait_connected(10)
    link.send("health", {"ok": True})
    assert link.wait_drained(10)
    assert rig.count("SELECT count(*) FROM events WHERE device='fp-01'") == 0
    assert rig.count("SELECT count(*) FROM rejected") == 0


def test_a_kiosk_sending_a_punch_on_its_own_topic_is_rejected_as_forbidden(rig):
    rig.start_hub()
    kiosk = rig.mqtt("kiosk-01")
    body = envelope(new_event_id(), 1, {"staff": "s001", "at": stamp()}, stamp())
    kiosk.publish(evt_topic(rig.hall.id, "kiosk-01", "punch"), json.dumps(body), qos=1)
    wait_for(lambda: rig.count("SELECT count(*) FROM rejected WHERE code='forbidden'") == 1, 10, "rejected")
    assert rig.count("SELECT count(*) FROM events") == 0


def test_a_device_cannot_read_another_devices_answers_or_write_hub_topics(rig):
    rig.start_hub()
    _, spy = rig.listen("kiosk-02", "kiosk-01/res", decode=False)
    _, spy_all = rig.listen("fp-01", "#", decode=False)
    kiosk = rig.link("kiosk-01")
    kiosk.wait_connected(10)
    answer = kiosk.request("ticket_request", {"queue": "A"}, timeout=10)
    assert answer is not None
    # writing the hub's topics: dropped by the broker
    forger = rig.mqtt("kiosk-02", name="kiosk-02-forger")
    forger.publish(f"hall/v1/{rig.hall.id}/hub/status", json.dumps({"state": "offline"}), qos=1, retain=True)
    forger.publish(f"hall/v1/{rig.hall.id}/kiosk-01/ack", json.dumps({"through_seq": 999}), qos=1, retain=True)
    forger.publish(f"hall/v1/{rig.hall.id}/hub/call", json.dumps({"ticket": "Z999", "window": "1"}), qos=1)
    time.sleep(0.5)
    assert spy == []
    assert not any(t.endswith("/kiosk-01/res") or t.endswith("/kiosk-01/ack") for t, _ in spy_all)
    assert not any(b"Z999" in p for _, p in spy_all)
    statuses = [json.loads(p) for t, p in spy_all if t.endswith("/hub/status")]
    assert statuses and all(s["state"] == "online" for s in statuses)
    assert kiosk.hub_online


def test_another_devices_client_id_cannot_disconnect_it(rig):
    rig.start_hub()
    kiosk = rig.link("kiosk-01")
    assert kiosk.wait_connected(10)
    drops = []
    kiosk.client.on_disconnect = lambda *a: drops.append(a)
    # kiosk-02's own login, claiming kiosk-01's client id: the broker names the session after the user
    assert _try_connect(rig.port, "kiosk-02", rig.password("kiosk-02"), client_id="kiosk-01") == "ok"
    time.sleep(0.5)
    assert drops == [] and kiosk.connected
    kiosk.send("health", {"still": "here"})
    assert kiosk.wait_drained(10)


def test_revoked_device_is_refused_after_reload_and_rotation_gives_a_new_login(rig):
    old = rig.password("kiosk-03")
    assert _try_connect(rig.port, "kiosk-03", old) == "ok"
    broker.revoke(rig.files, "kiosk-03")
    rig.reload_broker()
    assert _try_connect(rig.port, "kiosk-03", old) != "ok"
    assert broker.provision(rig.hall, rig.files) == {}  # provisioning does not bring a revoked login back
    new = broker.rotate(rig.files, "kiosk-03")
    rig.reload_broker()
    assert new != old
    assert _try_connect(rig.port, "kiosk-03", new) == "ok"
    assert _try_connect(rig.port, "kiosk-01", rig.password("kiosk-01")) == "ok"  # others unaffected


def test_devices_commands(rig):
    def run(*a):
        return run_hall("devices", *a, "--data", str(rig.data_dir))

    listing = run("list")
    assert listing.returncode == 0 and "kiosk-01" in listing.stdout and "ok" in listing.stdout
    assert "revoked kiosk-02" in run("revoke", "kiosk-02").stdout
    assert "kiosk-02" in run("list").stdout and "revoked" in run("list").stdout


def test_tls_listener_needs_the_hall_ca(make_rig):
    rig = make_rig(tls=True)
    ca = str(rig.files.ca)
    assert _try_connect(rig.tls_port, "kiosk-01", rig.password("kiosk-01"), tls_ca=ca) == "ok"
    other_ca = rig.data_dir / "other"
    from hub.tls import make_tls
    make_tls(other_ca, "elsewhere")
    assert _try_connect(rig.tls_port, "kiosk-01", rig.password("kiosk-01"), tls_ca=str(other_ca / "ca.crt")).startswith("tls")
    # the whole pipeline over TLS: a device link and the hub both verify the broker with the CA
    from hub.ingest import Hub
    hub = Hub(rig.hall, rig.data_dir, port=rig.tls_port, tls_ca=ca).start()
    try:
        assert hub.wait_ready(10)
        link = rig.link("kiosk-01", tls_ca=ca, port=rig.tls_port)
        assert link.wait_connected(10)
        link.send("health", {"tls": True})
        assert link.wait_drained(10)
    finally:
        hub.stop()
    assert rig.count("SELECT count(*) FROM events") == 1


def test_generated_acl_gives_each_login_only_its_own_topics(rig):
    acl = rig.files.acl.read_text()
    root = f"hall/v1/{rig.hall.id}"
    assert f"user kiosk-01\ntopic write {root}/kiosk-01/evt/#\ntopic write {root}/kiosk-01/status\n" in acl
    assert f"topic read {root}/kiosk-01/res\ntopic read {root}/hub/#\n" in acl
    assert f"user hub\ntopic readwrite {root}/#" in acl
    assert "pattern" not in acl
    conf = rig.files.conf.read_text()
    assert "allow_anonymous false" in conf and "use_username_as_clientid true" in conf


def test_export_gives_a_device_only_its_own_login(rig, tmp_path):
    out = tmp_path / "kiosk-pi"
    result = run_hall("devices", "export", "kiosk-01", "--host", "127.0.0.1", "--out", str(out),
                      "--data", str(rig.data_dir))
    assert result.returncode == 0, result.stderr
    exported = Secrets.load(out / "secrets.toml")
    assert exported.passwords == {"kiosk-01": rig.password("kiosk-01")}
    assert stat.S_IMODE(os.stat(out / "secrets.toml").st_mode) == 0o600
    # the exported folder is all a device needs: it connects and delivers with it
    from hall.credentials import Endpoint
    ep = Endpoint.load(out)
    Endpoint(host=ep.host, port=rig.port).save(out)  # the rig's broker listens on a test port
    rig.start_hub()
    from hall.link import DeviceLink
    link = DeviceLink(rig.hall, "kiosk-01", out).start()
    try:
        assert link.wait_connected(10)
        link.send("health", {"exported": True})
        assert link.wait_drained(10)
    finally:
        link.stop()


def test_hall_broker_runs_mosquitto_secured_from_the_hall_config(tmp_path):
    import signal
    import sys

    from tests.helpers.rig import ROOT

    data = tmp_path / "server"
    port = broker.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hallctl.cli", "broker", "--data", str(data), "--port", str(port),
                             "--bind", "127.0.0.1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: broker.port_in_use(port), 10, "broker listening")
        conf = (data / "broker" / "mosquitto.conf").read_text()
        assert "persistence true" in conf and "autosave_interval 10" in conf
        assert "max_queued_messages 1000000" in conf and "allow_anonymous false" in conf
        secrets = Secrets.load(data / "secrets.toml")
        assert _try_connect(port, "kiosk-01", secrets.password("kiosk-01")) == "ok"
        assert _try_connect(port, None, None, client_id="anyone") != "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
