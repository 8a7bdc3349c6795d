"""`hall caller` and `hall led` as the processes a hall runs: a key on a keypad calls a ticket onto an LED screen."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from devices.bus.codec import KeypadState
from devices.bus.simulator import BusSimulator
from devices.caller import CallerLayout
from devices.led.config import load_led_config
from tests.helpers.rig import ROOT


@pytest.fixture
def buses(rig):
    rig.hall.file.hours.__dict__["issuing"] = []  # tickets all day, whatever the hour the test runs at
    rig.start_hub()
    layout = CallerLayout.for_windows(rig.hall.device("caller-01").windows)
    callers = BusSimulator.for_callers(layout.keypads.values(), layout.rating_pads.values()).start()
    screens = BusSimulator.for_screens(load_led_config(None, rig.hall).screens).start()
    procs = []

    def run(command: str, device: str, port: str) -> subprocess.Popen:
        log = open(rig.data_dir / f"{command}.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "hallctl.cli", command, "--device", device, "--port", port,
                                 "--data", str(rig.data_dir), "--broker-port", str(rig.port)],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield rig, callers, screens, run
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(5)
    for name in ("caller", "led"):  # shown by pytest when the test failed
        log = rig.data_dir / f"{name}.log"
        if log.exists():
            print(f"---- {name}.log\n{log.read_text()[-3000:]}")
    callers.stop()
    screens.stop()


def test_a_key_on_a_keypad_calls_the_ticket_onto_the_window_screen(buses):
    rig, callers, screens, run = buses
    caller = run("caller", "caller-01", callers.port)
    led = run("led", "led-01", screens.port)
    # nobody is logged in at window 3 yet: the hub says it is closed
    screens.wait(lambda: "未开放" in (screens.screen(3).shown_text or ""), timeout=30)
    kiosk = rig.link("kiosk-01")
    assert kiosk.wait_connected()
    assert kiosk.request("ticket_request", {"queue": "A"})["ticket"]["no"] == "A001"

    callers.press(3, "login", "11", "enter", "next")
    screens.wait(lambda: screens.screen(3).text and screens.screen(3).text.text == "A001 请到3号窗口", timeout=30)
    callers.wait(lambda: callers.keypad(3).view.ticket == "A001", timeout=30)
    assert callers.keypad(3).view.state == KeypadState.SERVING

    callers.press(3, "complete")
    # at rest the screen names its window (and department); paused says so
    screens.wait(lambda: (screens.screen(3).shown_text or "").startswith("3号窗口"), timeout=30)
    callers.press(3, "pause")
    screens.wait(lambda: "暂停服务" in (screens.screen(3).shown_text or ""), timeout=30)

    for proc in (caller, led):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    assert "caller caller-01: 17 keypads, 17 rating pads" in (rig.data_dir / "caller.log").read_text()
    assert "led led-01: 34 window screens, 2 strips" in (rig.data_dir / "led.log").read_text()
