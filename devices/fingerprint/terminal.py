"""The fingerprint terminal agent (`hall terminal`): wait for a finger, identify it, send the punch.

    agent = TerminalAgent(hall, "fp-01", "/dev/ttyUSB0", Path("var"))
    agent.start()        # opens the sensor and the device link, then identifies in a thread
    ...
    agent.stop()

Each finger on the glass is one identification. A match is mapped to a staff id through the terminal's own
template map and sent as a `punch` {"staff", "at", "score"} through the device link, whose outbox keeps it on disk
until the hub has it: punches made while the network or the hub is down go out later with their original times.
A finger that matches nothing, or matches a position no one is mapped to, is said so on the console and reported
in a `health` event; it is never guessed. A `health` heartbeat goes out every few minutes so the hub knows the
terminal is alive and has sent everything up to then (it closes a day's absences only then).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from devices.fingerprint.sensor import Sensor, SensorError
from devices.fingerprint.station import ControlServer, Station, TemplateMap, control_address, record_port
from hall.clock import now, stamp

Say = Callable[[str], None]


def console_line(text: str) -> None:
    print(text, flush=True)


class Beeper:
    """The terminal's buzzer. Without one, the console bell when the console is a terminal; a hardware buzzer
    (GPIO) plugs in as any callable taking "ok" or "error"."""

    def __init__(self, stream=None, enabled: bool = True):
        self.stream = stream or sys.stdout
        self.enabled = enabled and getattr(self.stream, "isatty", lambda: False)()

    def __call__(self, kind: str) -> None:
        if self.enabled:
            self.stream.write("\a" if kind == "ok" else "\a\a")
            self.stream.flush()


@dataclass(frozen=True)
class Outcome:
    """What one finger on the glass came to (kept for tests and the benchmark)."""

    kind: str            # punch, unmatched, unmapped, unreadable
    at: datetime
    staff: str | None = None
    score: int | None = None
    event_id: str | None = None
    position: int | None = None


class TerminalAgent:
    def __init__(self, hall, device_id: str, port: str, data_dir: Path, *, host: str | None = None,
                 broker_port: int | None = None, password: int = 0, baud: int = 57600, link=None,
                 console: Say = console_line, beep: Callable[[str], None] | None = None,
                 clock: Callable[[], datetime] | None = None, heartbeat: float = 300.0, poll: float = 0.0,
                 control: bool = True, on_outcome: Callable[[Outcome], None] | None = None):
        device = hall.device(device_id)
        if device is None or device.kind != "terminal":
            known = ", ".join(d.id for d in hall.devices_of("terminal"))
            raise ValueError(f"{device_id} 不是本大厅的考勤机 / {device_id} is not a terminal of this hall ({known})")
        self.hall = hall
        self.device = device_id
        self.port = port
        self.data_dir = Path(data_dir)
        self.password = password
        self.baud = baud
        self.console = console
        self.beep = beep or (lambda kind: None)
        self.clock = clock or (lambda: now(hall.tz))
        self.heartbeat = heartbeat
        self.poll = poll
        self.on_outcome = on_outcome
        self._own_link = link is None
        self._link_args = {"host": host, "port": broker_port}
        self.link = link
        self.templates = TemplateMap.of(self.data_dir, device_id)
        self.sensor: Sensor | None = None
        self.station: Station | None = None
        self.control: ControlServer | None = None
        self.outcomes: list[Outcome] = []
        self.unmatched = 0
        self._control_enabled = control
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_heartbeat: float | None = None  # the first goes out at start, however soon after boot
        self._last_error = ""

    # ------------------------------------------------------------ lifecycle

    def start(self) -> TerminalAgent:
        if self.link is None:
            from hall.link import DeviceLink

            self.link = DeviceLink(self.hall, self.device, self.data_dir, **self._link_args)
        if self._own_link:
            self.link.start()
        self._open_sensor()
        record_port(self.data_dir, self.device, self.port, self.baud)
        if self._control_enabled:
            self.control = ControlServer(self.station, control_address(self.data_dir, self.device),
                                         console=self.console, hall=self.hall)
            self.control.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"terminal-{self.device}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
            self._thread = None
        if self.control:
            self.control.stop()
            self.control = None
        if self.sensor:
            self.sensor.close()
            self.sensor = None
        if self.link is not None and self._own_link:
            self.link.stop()

    def wait(self) -> None:
        while self._thread and self._thread.is_alive():
            self._thread.join(0.5)

    def _open_sensor(self) -> None:
        self.sensor = Sensor(self.port, baud=self.baud, password=self.password)
        self.station = Station(self.device, self.sensor, self.templates)
        if self.control:
            self.control.station = self.station
        count = self.sensor.count()
        self.console(f"考勤机 {self.device} 就绪：传感器 {self.port}，已存 {count}/{self.sensor.capacity} 枚指纹 / "
                     f"terminal {self.device} ready: sensor {self.port}, {count} of {self.sensor.capacity} templates")

    # ------------------------------------------------------------ the identify loop

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._maybe_heartbeat()
                if not self.sensor.finger_down():
                    if self.poll:
                        self._stop.wait(self.poll)
                    continue
                self._on_finger(self.clock())
                self.sensor.wait_lift(timeout=10.0, stop=self._stop, poll=self.poll)
            except SensorError as err:
                self._sensor_failed(err)

    def _on_finger(self, at: datetime) -> None:
        at = at.replace(microsecond=(at.microsecond // 1000) * 1000)
        clock = at.strftime("%H:%M:%S")
        try:
            match = self.sensor.identify()
        except SensorError as err:
            self.beep("error")
            self.console(f"{clock} {err}")
            return self._record(Outcome("unreadable", at))
        if match is None:
            self.unmatched += 1
            self.beep("error")
            self.console(f"{clock} 未能识别此指纹，请重按或联系管理员登记 / finger not recognised: press again or ask to "
                         f"be enrolled")
            self._health({"sensor": "ok", "unmatched_finger": {"at": stamp(at, self.hall.tz), "count": self.unmatched}})
            return self._record(Outcome("unmatched", at))
        staff = self.templates.staff_at(match.position)
        if staff is None:
            self.beep("error")
            self.console(f"{clock} 指纹位置 {match.position} 未关联人员，请联系管理员 / template {match.position} "
                         f"belongs to no one on this terminal: ask the operator")
            self._health({"sensor": "ok", "unmapped_position": match.position, "at": stamp(at, self.hall.tz)})
            return self._record(Outcome("unmapped", at, position=match.position, score=match.score))
        event_id = self.link.send("punch", {"staff": staff, "at": stamp(at, self.hall.tz), "score": match.score},
                                  ts=stamp(at, self.hall.tz))
        member = self.hall.staff_member(staff)
        name = f" {member.name}" if member else ""
        offline = "" if getattr(self.link, "hub_online", True) else \
            "（网络中断，恢复后自动上传）/ (hub offline: sent when it is back)"
        self.beep("ok")
        self.console(f"{clock} 打卡成功 {staff}{name} / punch recorded for {staff} at {clock} (score {match.score})"
                     f"{offline}")
        self._record(Outcome("punch", at, staff, match.score, event_id, match.position))

    def _record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if self.on_outcome:
            self.on_outcome(outcome)

    def _health(self, data: dict) -> None:
        try:
            # stamped with the terminal's own clock, which the hub reads as "heard from up to then"
            self.link.send("health", data, ts=stamp(self.clock(), self.hall.tz))
        except Exception as err:  # the outbox is local; a failure here must not stop punches
            self.console(f"健康上报失败 / health report failed: {err}")

    def _maybe_heartbeat(self) -> None:
        if not self.heartbeat:
            return
        moment = time.monotonic()
        if self._last_heartbeat is not None and moment - self._last_heartbeat < self.heartbeat:
            return
        self._last_heartbeat = moment
        self._health({"sensor": "ok", "templates": len(self.templates.entries), "capacity": self.sensor.capacity,
                      "at": stamp(self.clock(), self.hall.tz)})

    def _sensor_failed(self, err: SensorError) -> None:
        text = str(err)
        if text != self._last_error:
            self.console(f"传感器故障 / sensor failure: {text}")
            self._health({"sensor": "error", "error": text})
            self._last_error = text
        self._stop.wait(1.0)
        try:  # a reset or replugged sensor: open it again
            if self.sensor:
                self.sensor.close()
            self._open_sensor()
            self._last_error = ""
        except SensorError:
            pass


def run_terminal(hall, device_id: str, data_dir: Path | str, serial_port: str, *, baud: int = 57600,
                 password: int = 0, host: str | None = None, broker_port: int | None = None,
                 beep: bool = True) -> int:
    """`hall terminal`: the agent of terminal `device_id` on the sensor at `serial_port`, run until interrupted
    (Ctrl-C or SIGTERM)."""
    agent = TerminalAgent(hall, device_id, serial_port, data_dir, host=host, broker_port=broker_port,
                          password=password, baud=baud, beep=Beeper(enabled=beep))
    stopping = threading.Event()

    def on_term(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    while True:
        try:
            agent.start()
            break
        except SensorError as err:
            print(f"{err}；2 秒后重试 / retrying in 2 s", file=sys.stderr, flush=True)
            if agent.link is not None and agent._own_link:
                agent.link.stop()
                agent.link = None
            if stopping.wait(2.0):
                return 1
    try:
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()
    return 0
