"""The terminal agent: finger → identify → staff id → punch, on a simulated sensor.

The first tests give the agent a recording link; the last ones run it against a real Mosquitto and hub, with
the network cut while people punch.
"""

import json
import subprocess
import sys
import threading
import time
from datetime import datetime

import pytest

from devices.fingerprint.sensor import Sensor
from devices.fingerprint.station import Station, TemplateMap
from devices.fingerprint.terminal import TerminalAgent
from hall.clock import parse_stamp
from tests.helpers.attendance import run_cli
from tests.helpers.rig import ROOT, wait_for

pytestmark = pytest.mark.timeout(120)


class RecordingLink:
    hub_online = True

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    def send(self, event_type, data, ts=None):
        self.sent.append((event_type, data))
        return f"evt-{len(self.sent):04d}"


def enrol(sim, data_dir, staff, device="fp-01"):
    sensor = Sensor(sim.port)
    try:
        sim.touch(staff)
        sim.touch(staff)
        return Station(device, sensor, TemplateMap.of(data_dir, device)).enroll(staff, say=lambda t: None,
                                                                                 timeout=5)["position"]
    finally:
        sensor.close()


@pytest.fixture
def agent_factory(hall, tmp_path):
    made = []

    def make(sim, link=None, **kw):
        lines = []
        agent = TerminalAgent(hall, kw.pop("device", "fp-01"), sim.port, kw.pop("data_dir", tmp_path),
                              link=link if link is not None else RecordingLink(), console=lines.append,
                              heartbeat=kw.pop("heartbeat", 0), **kw)
        agent.lines = lines
        made.append(agent)
        return agent.start()

    yield make
    for agent in made:
        agent.stop()


def outcomes(agent, n, timeout=10):
    return wait_for(lambda: agent.outcomes[:n] if len(agent.outcomes) >= n else None, timeout, f"{n} outcomes")


def test_a_known_finger_becomes_a_punch(sim, tmp_path, agent_factory):
    enrol(sim, tmp_path, "s023")
    agent = agent_factory(sim)
    before = datetime.now().astimezone()
    sim.touch("s023")
    (outcome,) = outcomes(agent, 1)
    assert outcome.kind == "punch" and outcome.staff == "s023"
    (event_type, data), = agent.link.sent
    assert event_type == "punch" and data["staff"] == "s023" and 60 <= data["score"] < 250
    at = parse_stamp(data["at"])
    assert at.utcoffset().total_seconds() == 8 * 3600 and at >= before.replace(microsecond=0)
    assert any(line.split(" ", 1)[1].startswith("打卡成功 s023 田涛辉 / punch recorded for s023") for line in agent.lines)


def test_each_touch_is_one_punch(sim, tmp_path, agent_factory):
    enrol(sim, tmp_path, "s001")
    enrol(sim, tmp_path, "s002")
    agent = agent_factory(sim)
    sim.script([(0.0, "s001"), (0.1, "s002"), (0.2, "s001")])
    outcomes(agent, 3)
    assert [d["staff"] for _, d in agent.link.sent] == ["s001", "s002", "s001"]


def test_an_unknown_finger_is_reported_never_guessed(sim, tmp_path, agent_factory):
    enrol(sim, tmp_path, "s001")
    agent = agent_factory(sim)
    sim.touch("a-visitor")
    (outcome,) = outcomes(agent, 1)
    assert outcome.kind == "unmatched"
    (event_type, data), = agent.link.sent
    assert event_type == "health" and data["unmatched_finger"]["count"] == 1
    assert any("未能识别此指纹" in line and "finger not recognised" in line for line in agent.lines)


def test_a_template_no_one_is_mapped_to_is_reported(sim, tmp_path, agent_factory):
    sim.enrol_directly("old-colleague", 17)  # left on the sensor, missing from the terminal's map
    agent = agent_factory(sim)
    sim.touch("old-colleague")
    (outcome,) = outcomes(agent, 1)
    assert (outcome.kind, outcome.position) == ("unmapped", 17)
    assert agent.link.sent == [("health", {"sensor": "ok", "unmapped_position": 17,
                                           "at": agent.link.sent[0][1]["at"]})]


def test_a_smudged_finger_asks_to_press_again(sim, tmp_path, agent_factory):
    enrol(sim, tmp_path, "s001")
    agent = agent_factory(sim)
    sim.touch("s001", quality="messy")
    sim.touch("s001")
    first, second = outcomes(agent, 2)
    assert (first.kind, second.kind) == ("unreadable", "punch")
    assert any("请擦干手指重按" in line for line in agent.lines)


def test_heartbeat(sim, tmp_path, agent_factory):
    agent = agent_factory(sim, heartbeat=0.05)
    wait_for(lambda: len(agent.link.sent) >= 2, 10, "two heartbeats")
    event_type, data = agent.link.sent[0]
    assert event_type == "health" and data["capacity"] == 1000 and data["sensor"] == "ok"


def test_the_first_heartbeat_goes_out_at_start_even_just_after_boot(sim, agent_factory, monkeypatch):
    # a Pi switched on a minute ago: its monotonic clock is still below the five-minute heartbeat interval
    monkeypatch.setattr("devices.fingerprint.terminal.time.monotonic", lambda: 60.0)
    agent = agent_factory(sim, heartbeat=300.0)
    wait_for(lambda: agent.link.sent, 10, "the start-up heartbeat")
    assert agent.link.sent[0][0] == "health"


def test_enrolment_goes_through_the_running_agent(sim, tmp_path, agent_factory, capsys):
    agent = agent_factory(sim)

    def person_at_the_terminal():  # places the finger once the terminal asks for it
        wait_for(lambda: any("place your finger" in line for line in agent.lines), 10, "the prompt")
        sim.touch("s023")
        sim.touch("s023")

    threading.Thread(target=person_at_the_terminal, daemon=True).start()
    code = run_cli(["staff", "enroll", "s023", "--terminal", "fp-01", "--data", str(tmp_path), "--timeout", "5"])
    out = capsys.readouterr().out
    assert code == 0 and "enrolled s023 at position 0" in out
    assert any("place your finger" in line for line in agent.lines)  # the person at the terminal sees it too
    assert agent.link.sent == []  # the enrolment scans are not punches
    sim.touch("s023")
    outcomes(agent, 1)
    assert agent.link.sent[0][1]["staff"] == "s023"


# ---------------------------------------------------------------- with the real broker and hub

def hub_punches(rig):
    with rig.db() as conn:
        return conn.execute("SELECT staff, at, terminal, score FROM punches ORDER BY at").fetchall()


@pytest.mark.parametrize("cut", ["broker", "hub"])
def test_punches_made_while_the_network_is_down_arrive_later_with_their_times(rig, sensor_sim, agent_factory, cut):
    sim = sensor_sim()
    for staff in ("s001", "s002", "s003"):
        enrol(sim, rig.data_dir, staff)
    hub = rig.start_hub()
    link = rig.link("fp-01", start=False)
    agent = agent_factory(sim, link=link.start(), data_dir=rig.data_dir)
    assert link.wait_connected(10)
    sim.touch("s001")
    outcomes(agent, 1)
    assert link.wait_drained(10)
    assert [r[0] for r in hub_punches(rig)] == ["s001"]

    if cut == "broker":
        rig.stop_broker()
    else:
        rig.stop_hub(hub)
    sim.script([(0.0, "s002"), (0.2, "s003")])
    offline = outcomes(agent, 3)[1:]
    assert [o.staff for o in offline] == ["s002", "s003"]
    assert link.pending() == 2  # on the terminal's disk, not lost
    assert any("hub offline" in line for line in agent.lines)
    time.sleep(0.5)  # the punches' own times must survive the delay
    if cut == "broker":
        rig.start_broker()
    else:
        rig.start_hub()
    assert link.wait_drained(30)
    rows = hub_punches(rig)
    assert [r[0] for r in rows] == ["s001", "s002", "s003"]
    for outcome, row in zip(offline, rows[1:], strict=True):
        assert parse_stamp(row[1]) == outcome.at and row[2] == "fp-01" and row[3] >= 60
    with rig.db() as conn:
        received = [parse_stamp(r[0]) for r in conn.execute("SELECT received_at FROM punches ORDER BY at")]
    assert received[1] > offline[0].at  # stored later, judged by when the finger was there


def test_hall_terminal_process_end_to_end(rig, sensor_sim):
    sim = sensor_sim()
    rig.start_hub()
    cmd = [sys.executable, "-m", "hallctl.cli", "terminal", "--device", "fp-01", "--port", sim.port, "--data",
           str(rig.data_dir), "--broker-port", str(rig.port), "--no-beep"]
    log = open(rig.data_dir / "terminal.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "ready" in (rig.data_dir / "terminal.log").read_text(), 30, "terminal ready")
        enrolling = subprocess.Popen([sys.executable, "-m", "hallctl.cli", "staff", "enroll", "s042", "--terminal",
                                      "fp-01", "--data", str(rig.data_dir), "--timeout", "20"],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the person puts the finger down when the terminal asks for it
        wait_for(lambda: "place your finger" in (rig.data_dir / "terminal.log").read_text(), 30, "enrol prompt")
        sim.touch("s042")
        sim.touch("s042")
        out, err = enrolling.communicate(timeout=60)
        assert enrolling.returncode == 0, err
        assert "enrolled s042 at position 0" in out
        sim.touch("s042")
        sim.touch("stranger")
        wait_for(lambda: hub_punches(rig), 20, "punch at the hub")
        wait_for(lambda: "finger not recognised" in (rig.data_dir / "terminal.log").read_text(), 10, "unmatched")
        assert [r[0] for r in hub_punches(rig)] == ["s042"]
        # the start-up heartbeat and the unmatched finger
        wait_for(lambda: rig.count("SELECT count(*) FROM events WHERE type='health'") >= 2, 10, "health events")
        with rig.db() as conn:
            health = [json.loads(r[0]) for r in conn.execute("SELECT data FROM events WHERE type='health'")]
        assert any("unmatched_finger" in h for h in health)
        assert json.loads((rig.data_dir / "devices/fp-01/terminal.json").read_text())["port"] == sim.port
    finally:
        proc.terminate()
        proc.wait(10)
    text = (rig.data_dir / "terminal.log").read_text()
    assert "打卡成功 s042" in text and "未能识别此指纹" in text
