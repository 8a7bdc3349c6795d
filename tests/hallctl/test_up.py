"""`hall up` runs a whole hall headless, accounts for every event it made, and keeps its devices running."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hallctl.up import restart_delay
from tests.helpers.cli import run_hall


def hall_up(cwd: Path, *args: str, **kw) -> subprocess.Popen:
    """`hall up` started from `cwd` the way the `hall` entry point starts it: the current folder is not on the
    import path of this process (-P), only, if the bug is there, on that of its children."""
    return subprocess.Popen([sys.executable, "-P", "-m", "hallctl.cli", "up", "--headless", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "DISPLAY": ""}, **kw)


def summary_of(out: str) -> dict:
    m = re.search(r"sent (\d+) events, stored (\d+) \(\+(\d+) resends absorbed\), rejected (\d+), "
                  r"still queued on devices (\d+)", out)
    assert m, out
    at_work = re.search(r"windows at work (\d+) of (\d+)", out)
    children = re.search(r"子进程 children (.*): 退出 deaths (\d+), 重启 restarts (\d+); (.*)", out)
    assert at_work and children, out
    sent, stored, dups, rejected, pending = map(int, m.groups())
    return {"sent": sent, "stored": stored, "rejected": rejected, "pending": pending,
            "windows_at_work": int(at_work.group(1)), "windows": int(at_work.group(2)),
            "children": children.group(1).split(", "), "deaths": int(children.group(2)),
            "restarts": int(children.group(3)), "state": children.group(4)}


@pytest.mark.slow
def test_hall_up_headless_runs_and_stops_with_a_summary(tmp_path):
    # run from a folder holding a folder named `hall` (the data folder itself): it must not hide the package
    # from the bus masters `hall up` starts, which would leave windows 1–17 closed
    proc = hall_up(tmp_path, "--duration", "25", "--data", "./hall", "--speed", "120")
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]
    data = tmp_path / "hall"
    port = int(re.search(r"broker\s+127\.0\.0\.1:(\d+)", out).group(1))
    assert port != 1883  # never the system broker's port
    summary = summary_of(out)
    assert summary["rejected"] == 0
    assert summary["sent"] > 100 and summary["sent"] == summary["stored"] + summary["pending"]
    assert summary["children"] == ["mosquitto", "caller", "led"]
    assert (summary["deaths"], summary["restarts"], summary["state"]) == (0, 0, "全部运行 all running"), out
    # one window is left to a person by default, printed with the command that opens its clerk's screen
    assert (summary["windows_at_work"], summary["windows"]) == (33, 34), out
    assert "留给你 free for you: 1" in out and f"hall window --window 1 --data {data.resolve()} --port {port}" in out
    assert "free for outside devices: win-01, kiosk-03, display-02, fp-02" in out
    with sqlite3.connect(data / "hub.db") as db:
        types = dict(db.execute("SELECT type, count(*) FROM events GROUP BY type").fetchall())
        tickets = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
        keypad_windows = {r[0] for r in db.execute(
            "SELECT DISTINCT json_extract(data, '$.window') FROM events WHERE device = 'caller-01'")}
    assert {"health", "punch", "ticket_request", "call_next", "login"} <= set(types), types
    assert tickets > 0
    assert keypad_windows == {str(w) for w in range(2, 18)}  # the keypad bus master served all its windows
    with sqlite3.connect(data / "hub.db") as db:
        # the keypad clerks log in first: no call is refused for want of someone at the desk
        assert db.execute("SELECT count(*) FROM events WHERE type='call_next' "
                          "AND json_extract(res, '$.code') = 'not_logged_in'").fetchone()[0] == 0
        # the window PCs' clerks (windows 18-34 here) wait for someone on their screen
        calls, issued = (db.execute(f"SELECT count(*) FROM events WHERE type='{t}' AND device {d}").fetchone()[0]
                         for t, d in (("call_next", "LIKE 'win-%'"), ("ticket_request", "LIKE 'kiosk-%'")))
        assert db.execute("SELECT count(*) FROM events WHERE device IN ('win-01', 'kiosk-03', 'display-02', "
                          "'fp-02')").fetchone()[0] == 0  # the free logins stay free
    assert calls <= issued + 3 * 17, (calls, issued)  # not calling on and on against empty queues

    assert len(list((data / "led").glob("screen-*.png"))) == 36  # 34 window screens and 2 strips, rendered

    stats = run_hall("stats", "--data", str(data), "--json")
    assert stats.returncode == 0 and '"events": ' in stats.stdout
    assert json.loads(stats.stdout)["hall_up"]["deaths"] == 0
    text = run_hall("stats", "--data", str(data))
    assert "events stored" in text.stdout and "kiosk-02" in text.stdout
    assert "子进程 children mosquitto, caller, led: 退出 deaths 0, 重启 restarts 0" in text.stdout


@pytest.mark.slow
def test_a_child_that_dies_is_restarted_and_its_death_is_reported(tmp_path):
    data = tmp_path / "data"
    proc = hall_up(tmp_path, "--duration", "6", "--data", str(data), "--speed", "120")
    try:
        record = data / "up.json"
        deadline = time.monotonic() + 60
        while not (record.exists() and "led" in json.loads(record.read_text(encoding="utf-8"))["children"]):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        victim = json.loads(record.read_text(encoding="utf-8"))["children"]["caller"]["pid"]
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    summary = summary_of(out)
    assert (summary["deaths"], summary["restarts"], summary["state"]) == (1, 1, "全部运行 all running"), out
    died = re.search(rf"caller +退出 died +pid {victim}, signal SIGKILL", out)
    restarted = re.search(r"caller +重启 restarted +pid (\d+), 1 s after it died", out)
    assert died and restarted, out
    assert "caller" in err and "SIGKILL" in err  # told when it happened, too
    assert summary["sent"] == summary["stored"] + summary["pending"] and summary["rejected"] == 0

    shown = json.loads(run_hall("stats", "--data", str(data), "--json").stdout)["hall_up"]
    assert shown["children"]["caller"] == {"pid": int(restarted.group(1)), "alive": True, "deaths": 1, "restarts": 1}
    assert [(e["child"], e["event"], e["signal"]) for e in shown["events"]] == [
        ("caller", "died", "SIGKILL"), ("caller", "restarted", None)]
    text = run_hall("stats", "--data", str(data)).stdout
    assert re.search(rf"caller +退出 died +pid {victim}, signal SIGKILL", text), text


def test_restarts_back_off_from_one_second_to_thirty():
    assert [restart_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_hall_up_refuses_a_port_in_use(tmp_path, rig):
    result = run_hall("up", "--headless", "--duration", "1", "--data", str(tmp_path / "x"), "--port", str(rig.port))
    assert result.returncode != 0 and "already in use" in (result.stderr + result.stdout)


@pytest.mark.slow
def test_ctrl_c_stops_the_hall_in_order(tmp_path):
    """A Ctrl-C in the terminal signals `hall up` and every process of its group at once: the broker must still be
    there while the devices hand over their last events and the hub says goodbye, and the hall stops in seconds."""
    proc = hall_up(tmp_path, "--data", "./hall", "--speed", "120", start_new_session=True)
    lines: list[str] = []

    def read():
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not any(line.startswith("  public") for line in lines) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            time.sleep(0.2)
        time.sleep(3)  # the devices at work
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does
        pressed = time.monotonic()
        proc.wait(60)
        stopped_in = time.monotonic() - pressed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(5)
    err = proc.stderr.read()
    assert "cannot reach the broker" not in err, err[-3000:]
    summary = summary_of("".join(lines))
    assert summary["pending"] == 0 and summary["sent"] == summary["stored"], summary
    assert (summary["deaths"], summary["state"]) == (0, "全部运行 all running"), summary
    assert stopped_in < 15, stopped_in
