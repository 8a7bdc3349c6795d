"""`hall display` (and the kiosk) as systemd runs them: real processes on the X server, full screen without a
window manager (each on an X screen of its own of a given size, asked of the X server itself), stopped by
SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hall.screen import screen_size
from tests.helpers.xscreen import XWindow, own_screen, windows_on

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


def covering_window(display: str, size: tuple[int, int], proc, timeout: float = 60.0) -> list[XWindow]:
    """Waits until the X server shows one window covering the whole screen, borderless at (0, 0)."""
    whole = XWindow(0, 0, size[0], size[1], decorated=False)
    end = time.monotonic() + timeout
    shown: list[XWindow] = []
    while time.monotonic() < end:
        shown = windows_on(display)
        if whole in shown:
            return shown
        assert proc.poll() is None, f"exited with {proc.returncode}"
        time.sleep(0.3)
    raise AssertionError(f"no window covers the {size[0]}×{size[1]} screen: the X server shows {shown}")


@pytest.mark.parametrize("size", [(1080, 1920), (1366, 768)])
def test_fullscreen_kiosk_covers_its_screen_without_a_window_manager(screen_env, tmp_path, size):
    with own_screen(*size) as display:
        env = dict(screen_env, DISPLAY=display)
        proc, log = start(env, tmp_path, "kiosk", "--fullscreen")
        try:
            # Kivy logs "a: b" as "[a] b"
            wait_for(log, rf"kiosk window covers the screen\W+\({size[0]}, {size[1]}\)", proc, timeout=180)
            shown = covering_window(display, size, proc)
            assert len(shown) == 1, shown  # nothing else on the screen (SDL's 800×600 corner before)
        finally:
            stop_with_sigterm(proc)


def test_fullscreen_board_covers_a_screen_of_another_size(screen_env, tmp_path):
    size = (1366, 768)
    with own_screen(*size) as display:
        env = dict(screen_env, DISPLAY=display)
        proc, log = start(env, tmp_path, "display", "--device", "display-01", "--no-voice", "--fullscreen")
        try:
            found = wait_for(log, WINDOW, proc)
            assert (int(found[1]), int(found[2]), found[4]) == (*size, "full screen")
            assert len(covering_window(display, size, proc)) == 1
        finally:
            stop_with_sigterm(proc)
