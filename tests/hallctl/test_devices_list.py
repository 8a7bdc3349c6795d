"""`hall devices list`: logins in use, the ones `hall up` leaves free, and two devices sharing one login."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from hall.link import DeviceLink
from hall.settings import load_hall
from hallctl.up import LOGINS_NAME, free_logins, parse_windows
from hub.alerts.logins import TakeoverWatch, takeovers_in
from tests.helpers.cli import run_hall
from tests.helpers.rig import wait_for

TZ = ZoneInfo("Asia/Shanghai")


def test_the_broker_log_names_a_login_taken_over_and_over(tmp_path):
    log = tmp_path / "mosquitto.log"
    lines = [f"{1796542550 + i}: Client kiosk-01 already connected, closing old connection.\n" for i in range(3)]
    log.write_text("1796542549: New client connected from 127.0.0.1:1 as kiosk-01 (p5, c1, k15, u'kiosk-01').\n"
                   + "".join(lines) + "1796542560: Client fp-01 already connected, closing old connection.\n")
    assert takeovers_in(log.read_bytes(), TZ)[0] == ("kiosk-01", datetime.fromtimestamp(1796542550, TZ))
    watch = TakeoverWatch(log, TZ)
    watch.read()
    now = datetime.fromtimestamp(1796542570, TZ)
    assert watch.shared(now) == {"kiosk-01": 3}  # one takeover (fp-01) is a device that rebooted fast
    assert watch.shared(datetime.fromtimestamp(1796542550 + 600, TZ)) == {}
    watch.read()  # read from where it stopped: nothing counted twice
    assert watch.shared(now) == {"kiosk-01": 3}


def test_hall_up_leaves_windows_and_logins_to_people():
    hall = load_hall()
    assert parse_windows(None, hall) == ["1"] and parse_windows("1-4,7", hall) == ["1", "2", "3", "4", "7"]
    for bad in ("4-1", "99", "a-b"):
        try:
            parse_windows(bad, hall)
        except ValueError as err:
            assert "--manual-windows" in str(err)
        else:
            raise AssertionError(bad)
    assert free_logins(hall, ["1", "2"]) == ["win-01", "win-02", "kiosk-03", "display-02", "fp-02"]


def test_devices_list_shows_logins_in_use_free_ones_and_a_shared_login(rig, tmp_path):
    rig.start_hub()
    (rig.data_dir / LOGINS_NAME).write_text(json.dumps({"manual_windows": ["1"], "free": ["win-01", "kiosk-03"],
                                                        "port": rig.port}))
    kiosk = rig.link("kiosk-01")
    assert kiosk.wait_connected(10)
    # a second device started with the same login: its own outbox, the same id
    second = DeviceLink(rig.hall, "kiosk-01", tmp_path / "second", port=rig.port,
                        password=rig.password("kiosk-01")).start()
    try:
        log = rig.files.log
        wait_for(lambda: log.read_text().count("kiosk-01 already connected") >= 3, 20, "the broker's takeovers")
        out = run_hall("devices", "list", "--data", str(rig.data_dir))
    finally:
        second.stop()
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert "online" in rows["kiosk-01"] and "free" in rows["kiosk-03"] and "free" in rows["win-01"]
    assert f"broker port {rig.port}" in out.stdout
    assert "警告 warning: kiosk-01" in out.stderr and "two connections share the login kiosk-01" in out.stderr
