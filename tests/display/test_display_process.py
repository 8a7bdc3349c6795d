"""`hall display` (and the kiosk) as systemd runs them: real processes on the X server, full screen without a
window manager, stopped by SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from display.board import screen_size

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
WINDOW = re.compile(r"board window (\d+)×(\d+) at (\S+), (full screen|windowed)")


@pytest.fixture
def screen_env(tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.skip("no X display: run under xvfb-run")
    env = dict(os.environ, KIVY_HOME=str(tmp_path / "kivy"), KIVY_NO_ARGS="1", HALL_DATA=str(tmp_path / "var"))
    env.pop("KIVY_NO_CONSOLELOG", None)  # the kiosk's start is read from Kivy's log (GUI tests turn it off)
    return env


def start(env, tmp_path, *args) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"{args[0]}.log"
    out = open(log, "w")
    # port 1: no broker there; the screen comes up all the same, marked as connecting
    proc = subprocess.Popen([sys.executable, "-m", "hallctl.cli", *args, "--data", str(tmp_path / "var"),
                             "--port", "1"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return proc, log


def wait_for(log: Path, pattern: re.Pattern | str, proc, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = log.read_text(errors="replace")
        found = re.search(pattern, text)
        if found:
            return found
        assert proc.poll() is None, f"exited with {proc.returncode}:\n{text[-2000:]}"
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not in the log within {timeout} s:\n{log.read_text()[-2000:]}")


def stop_with_sigterm(proc, timeout: float = 30.0) -> float:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"still running {timeout} s after SIGTERM") from None
    assert rc == 0
    return time.monotonic() - t0


def test_fullscreen_board_fills_the_screen_and_stops_on_sigterm(screen_env, tmp_path):
    width, height = screen_size()
    proc, log = start(screen_env, tmp_path, "display", "--device", "display-01", "--no-voice", "--fullscreen")
    try:
        found = wait_for(log, WINDOW, proc)
        assert (int(found[1]), int(found[2]), found[3], found[4]) == (width, height, "0", "full screen")
        time.sleep(1.0)  # idle: no frame drawn, the loop asleep in its clock
    finally:
        took = stop_with_sigterm(proc)
    assert "SIGTERM: stopping" in log.read_text() and took < 30


def test_board_size_and_position(screen_env, tmp_path):
    proc, log = start(screen_env, tmp_path, "display", "--device", "display-01", "--no-voice", "--size", "800x450",
                      "--position", "40,30")
    try:
        found = wait_for(log, WINDOW, proc)
        assert (int(found[1]), int(found[2]), found[4]) == (800, 450, "windowed")
    finally:
        stop_with_sigterm(proc)


def test_a_bad_size_is_refused(capsys):
    from hallctl.cli import main

    with pytest.raises(SystemExit):
        main(["display", "--device", "display-01", "--size", "big"])
    assert "expected WIDTHxHEIGHT" in capsys.readouterr().err


def test_fullscreen_kiosk_stops_on_sigterm(screen_env, tmp_path):
    proc, log = start(screen_env, tmp_path, "kiosk", "--fullscreen")
    try:
        wait_for(log, r"Start application main loop", proc, timeout=180)
        time.sleep(1.0)
    finally:
        stop_with_sigterm(proc)


@pytest.mark.parametrize("screen", [(1920, 1080), (1280, 720), (3840, 2160), (1920, 1200)])
def test_hall_up_puts_the_kiosk_and_the_board_side_by_side(screen):
    from hallctl.up import screen_places

    places = screen_places(screen)
    (kx, ky), (kw, kh) = places["kiosk"]
    (bx, by), (bw, bh) = places["display"]
    assert kx + kw <= bx  # the board starts where the kiosk ends: no overlap
    assert bx + bw <= screen[0] and by + bh <= screen[1] and ky + kh <= screen[1]
    assert abs(kw / kh - 9 / 16) < 0.01 and abs(bw / bh - 16 / 9) < 0.01
