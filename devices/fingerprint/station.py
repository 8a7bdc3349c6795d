"""A terminal's fingerprint station: its sensor plus the local map from template positions to staff ids.

Templates live on the sensor; which person a position belongs to lives only on the terminal, in
`DATA/devices/{device}/templates.json` (written atomically and fsynced). Only staff ids and match scores leave
the terminal (template copies between terminals go through the operator's command, never the hub).

Enrolment, removal and template copies are operator commands (`hall staff …`). While `hall terminal` runs it
holds the serial port, so it also listens on a local control socket (see control_address) and the commands ask it to do
the work (the prompts appear on the terminal's console, where the person stands, and on the operator's). When no
agent runs, the commands open the sensor themselves: the port comes from `--port`, or from
`DATA/devices/{device}/terminal.json`, which the agent writes when it starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devices.fingerprint.sensor import Sensor, SensorError, SensorFull
from hall.clock import now, stamp

Say = Callable[[str], None]


class StationError(Exception):
    """An operator-facing failure, Chinese first, English second."""


def device_dir(data_dir: Path, device: str) -> Path:
    return Path(data_dir) / "devices" / device


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- the local map

@dataclass(frozen=True)
class Enrolled:
    position: int
    staff: str
    finger: str = ""
    enrolled_at: str = ""
    source: str = "enrol"   # "enrol", or "copy:fp-01" for a template copied from another terminal

    def to_dict(self) -> dict:
        return {"staff": self.staff, "finger": self.finger, "enrolled_at": self.enrolled_at, "source": self.source}


class TemplateMap:
    """Template position → staff id, for one terminal."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = threading.RLock()
        self.entries: dict[int, Enrolled] = {}
        if self.path.exists():
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self.entries = {int(pos): Enrolled(int(pos), **e) for pos, e in raw.get("positions", {}).items()}

    @classmethod
    def of(cls, data_dir: Path, device: str) -> TemplateMap:
        return cls(device_dir(data_dir, device) / "templates.json")

    def save(self) -> None:
        with self.lock:
            _write_json(self.path, {"positions": {str(p): e.to_dict() for p, e in sorted(self.entries.items())}})

    def staff_at(self, position: int) -> str | None:
        entry = self.entries.get(position)
        return entry.staff if entry else None

    def positions_of(self, staff: str) -> list[int]:
        return sorted(p for p, e in self.entries.items() if e.staff == staff)

    def assign(self, entry: Enrolled) -> None:
        with self.lock:
            self.entries[entry.position] = entry
            self.save()

    def forget(self, positions: list[int]) -> None:
        with self.lock:
            for pos in positions:
                self.entries.pop(pos, None)
            self.save()


# ---------------------------------------------------------------- the station

class Station:
    """Sensor + map of one terminal; every operation an operator can ask for."""

    def __init__(self, device: str, sensor: Sensor, templates: TemplateMap):
        self.device = device
        self.sensor = sensor
        self.templates = templates

    def _name(self, hall, staff: str) -> str:
        member = hall.staff_member(staff) if hall else None
        return f"{staff} {member.name}" if member else staff

    def enroll(self, staff: str, *, finger: str = "", say: Say = print, timeout: float = 60.0,
               stop: threading.Event | None = None, hall=None) -> dict:
        """Two scans of one finger, combined and stored; refuses a finger the sensor already knows."""
        s = self.sensor
        with s.lock:
            s.ensure_room()
            say(f"请 {self._name(hall, staff)} 按手指 / {staff}: place your finger on the sensor")
            if not s.wait_finger(timeout, stop):
                raise StationError("等待手指超时 / no finger within the time allowed")
            s.extract(1)
            known = s.search()
            if known is not None:
                owner = self.templates.staff_at(known.position)
                who = f"{owner} " if owner else "无人关联的 / an unmapped "
                raise StationError(f"此指纹已登记：{who}位置 {known.position} / this finger is already enrolled "
                                   f"(position {known.position}{', staff ' + owner if owner else ', mapped to no one'})")
            say("请移开手指 / lift your finger")
            s.wait_lift(timeout, stop)
            say("请再按一次同一手指 / place the same finger again")
            if not s.wait_finger(timeout, stop):
                raise StationError("等待第二次按压超时 / no second scan within the time allowed")
            s.extract(2)
            if not s.combine():
                raise StationError("两次指纹不一致，请重新登记 / the two scans do not match: enrol again")
            position = s.store()
            s.wait_lift(5.0, stop)  # or the terminal would take the finger still on the glass for a punch
        entry = Enrolled(position, staff, finger, stamp(now()), "enrol")
        self.templates.assign(entry)
        say(f"登记成功：{self._name(hall, staff)}，位置 {position} / enrolled {staff} at position {position}")
        return {"terminal": self.device, "ok": True, "staff": staff, "position": position}

    def remove(self, staff: str) -> dict:
        positions = self.templates.positions_of(staff)
        removed = []
        for pos in positions:
            self.sensor.delete(pos)
            removed.append(pos)
        self.templates.forget(removed)
        return {"terminal": self.device, "ok": True, "staff": staff, "removed": removed}

    def export(self, staff: str) -> dict:
        positions = self.templates.positions_of(staff)
        if not positions:
            raise StationError(f"{staff} 未在 {self.device} 登记指纹 / {staff} has no finger enrolled on {self.device}")
        items = []
        for pos in positions:
            entry = self.templates.entries[pos]
            items.append({"finger": entry.finger, "template": self.sensor.read_template(pos).hex()})
        return {"terminal": self.device, "ok": True, "staff": staff, "templates": items}

    def import_templates(self, staff: str, items: list[dict], source: str) -> dict:
        """Upload each template, store it, then check it by a match against the library."""
        s = self.sensor
        placed = []
        for item in items:
            data = bytes.fromhex(item["template"])
            with s.lock:
                if not s.write_buffer(data):
                    raise StationError("模板上传后校验不一致 / the uploaded template did not read back the same")
                known = s.search()
                if known is not None:
                    owner = self.templates.staff_at(known.position)
                    if owner == staff:
                        placed.append({"position": known.position, "score": known.score, "already": True})
                        continue
                    raise StationError(f"该指纹在 {self.device} 已属于 {owner or '无人关联的位置'}（位置 {known.position}）/ "
                                       f"this finger is already on {self.device} at position {known.position}"
                                       f" ({'staff ' + owner if owner else 'mapped to no one'})")
                position = s.store()
                check = s.search()  # CharBuffer1 still holds the uploaded template
            if check is None or check.position != position:
                s.delete(position)
                raise StationError(f"复制后比对失败 / the copied template does not match itself on {self.device}")
            self.templates.assign(Enrolled(position, staff, item.get("finger", ""), stamp(now()), source))
            placed.append({"position": position, "score": check.score, "already": False})
        return {"terminal": self.device, "ok": True, "staff": staff, "placed": placed}

    def status(self) -> dict:
        return {"terminal": self.device, "ok": True, "capacity": self.sensor.capacity, "count": self.sensor.count(),
                "mapped": len(self.templates.entries)}

    def handle(self, request: dict, say: Say, stop: threading.Event | None = None, hall=None) -> dict:
        """One operator request (from the control socket or the command line)."""
        op = request.get("op")
        if op == "enroll":
            return self.enroll(request["staff"], finger=request.get("finger", ""), say=say,
                               timeout=float(request.get("timeout", 60.0)), stop=stop, hall=hall)
        if op == "remove":
            return self.remove(request["staff"])
        if op == "export":
            return self.export(request["staff"])
        if op == "import":
            return self.import_templates(request["staff"], request["templates"], request.get("source", "copy"))
        if op == "status":
            return self.status()
        raise StationError(f"未知操作 / unknown operation {op!r}")


# ---------------------------------------------------------------- control socket (the running agent)

def control_address(data_dir: Path, device: str) -> str:
    """A Linux abstract socket named after the terminal's data directory: no file to go stale after a crash and
    no limit on the data directory's path length."""
    key = hashlib.sha256(str(device_dir(data_dir, device).resolve()).encode()).hexdigest()[:24]
    return f"\0hallkit-terminal-{key}"


class ControlServer:
    """Serves operator requests to a running terminal agent over a Unix socket (one JSON line in, prompt lines
    and a final answer line out)."""

    def __init__(self, station: Station, address: str, *, console: Say, hall=None):
        self.station = station
        self.address = address
        self.console = console
        self.hall = hall
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline()
                try:
                    request = json.loads(line)
                except json.JSONDecodeError:
                    return

                def say(text: str) -> None:
                    outer.console(text)
                    try:
                        self.wfile.write((json.dumps({"say": text}, ensure_ascii=False) + "\n").encode())
                        self.wfile.flush()
                    except OSError:
                        pass

                try:
                    answer = outer.station.handle(request, say, hall=outer.hall)
                except (StationError, SensorError) as err:
                    answer = {"terminal": outer.station.device, "ok": False, "error": str(err),
                              "full": isinstance(err, SensorFull)}
                self.wfile.write((json.dumps(answer, ensure_ascii=False) + "\n").encode())

        self._server = socketserver.ThreadingUnixStreamServer(self.address, Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="terminal-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class RemoteStation:
    """The same operations, asked of a running agent."""

    def __init__(self, device: str, address: str):
        self.device = device
        self.address = address

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.address)
        except OSError:
            sock.close()
            raise
        return sock

    def reachable(self) -> bool:
        try:
            self._connect().close()
            return True
        except OSError:
            return False

    def handle(self, request: dict, say: Say, stop=None, hall=None) -> dict:
        with self._connect() as sock:
            sock.sendall((json.dumps(request) + "\n").encode())
            reader = sock.makefile("r", encoding="utf-8")
            for line in reader:
                message = json.loads(line)
                if "say" in message:
                    say(message["say"])
                    continue
                if not message.get("ok"):
                    raise StationError(message.get("error", "failed"))
                return message
        raise StationError(f"{self.device} 的终端程序中断了连接 / the agent of {self.device} closed the connection")


def recorded_port(data_dir: Path, device: str) -> dict | None:
    path = device_dir(data_dir, device) / "terminal.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def record_port(data_dir: Path, device: str, port: str, baud: int) -> None:
    _write_json(device_dir(data_dir, device) / "terminal.json", {"port": port, "baud": baud,
                                                                 "since": stamp(now())})


@contextmanager
def open_station(data_dir: Path, device: str, port: str | None = None, *, password: int = 0):
    """The running agent of `device` if there is one, else the sensor on `port` (or the recorded port)."""
    remote = RemoteStation(device, control_address(data_dir, device))
    if port is None and remote.reachable():
        yield remote
        return
    if port is None:
        recorded = recorded_port(data_dir, device)
        port = recorded and recorded.get("port")
    if not port:
        raise StationError(f"不知道 {device} 的串口：请用 --port 指定，或先运行 hall terminal --device {device} / "
                           f"no serial port known for {device}: give --port or run `hall terminal --device {device}`")
    try:
        sensor = Sensor(port, password=password)
    except SensorError as err:
        raise StationError(f"{device}: {err}") from None
    try:
        yield Station(device, sensor, TemplateMap.of(data_dir, device))
    finally:
        sensor.close()


def ask(data_dir: Path, device: str, request: dict, *, port: str | None = None, password: int = 0,
        say: Say = print, hall=None) -> dict:
    """Run one operator request on a terminal; failures come back as {"ok": False, "error": …}."""
    try:
        with open_station(data_dir, device, port, password=password) as station:
            return station.handle(request, say, hall=hall)
    except (StationError, SensorError) as err:
        return {"terminal": device, "ok": False, "error": str(err), "full": isinstance(err, SensorFull)}


# ---------------------------------------------------------------- the operator's actions (`hall staff …`)

def terminals(hall, names: Iterable[str]) -> list[str]:
    """The hall's terminals by name ('all' for every one), each once, in the order given."""
    known = [d.id for d in hall.devices_of("terminal")]
    out: list[str] = []
    for name in names:
        for item in (known if name == "all" else [name]):
            if item not in known:
                raise StationError(f"{item} 不是本大厅的考勤机 / {item} is not a terminal of this hall "
                                   f"(terminals: {', '.join(known)})")
            if item not in out:
                out.append(item)
    return out


def _check_staff(hall, staff: str) -> None:
    if hall.staff_member(staff) is None:
        raise StationError(f"人员名单中没有 {staff} / {staff} is not in the staff list ({hall.relative(hall.info.staff)})")


def _say(text: str) -> None:
    print(text, flush=True)


def enroll_finger(hall, data_dir: Path, staff: str, terminal: str, *, finger: str = "", timeout: float = 60.0,
                  port: str | None = None, password: int = 0, say: Say = _say) -> dict:
    """Enrol one of `staff`'s fingers on `terminal` (two scans, prompts through `say`): the terminal's answer,
    {"ok": False, "error": …, "full": …} when it failed. `port`: the sensor's, when no agent runs there."""
    _check_staff(hall, staff)
    (device,) = terminals(hall, [terminal])
    return ask(data_dir, device, {"op": "enroll", "staff": staff, "finger": finger, "timeout": timeout},
               port=port, password=password, say=say, hall=hall)


def list_templates(hall, data_dir: Path, names: Iterable[str] = ("all",)) -> list[dict]:
    """The fingers enrolled on the terminals named, one row per template, with the person's name and window."""
    rows = []
    for device in terminals(hall, names):
        for pos, entry in sorted(TemplateMap.of(data_dir, device).entries.items()):
            member = hall.staff_member(entry.staff)
            rows.append({"terminal": device, "position": pos, "staff": entry.staff,
                         "name": member.name if member else "", "window": member.window if member else None,
                         "finger": entry.finger, "enrolled_at": entry.enrolled_at, "source": entry.source})
    return rows


def remove_templates(hall, data_dir: Path, staff: str, names: Iterable[str], *,
                     ports: Mapping[str, str] | None = None, password: int = 0, say: Say = _say) -> dict[str, dict]:
    """Remove `staff`'s fingers from each terminal named: each terminal's answer."""
    ports = ports or {}
    return {device: ask(data_dir, device, {"op": "remove", "staff": staff}, port=ports.get(device),
                        password=password, say=say, hall=hall)
            for device in terminals(hall, names)}


def copy_templates(hall, data_dir: Path, staff: str, source: str, targets: Iterable[str], *,
                   ports: Mapping[str, str] | None = None, password: int = 0, say: Say = _say) -> dict[str, dict]:
    """Download `staff`'s templates from `source`, upload them to each target and verify each by a match: each
    target's answer, or only the source's when its templates could not be read."""
    _check_staff(hall, staff)
    ports = ports or {}
    (source,) = terminals(hall, [source])
    targets = [t for t in terminals(hall, targets) if t != source]
    exported = ask(data_dir, source, {"op": "export", "staff": staff}, port=ports.get(source), password=password,
                   say=say, hall=hall)
    if not exported["ok"]:
        return {source: exported}
    return {target: ask(data_dir, target, {"op": "import", "staff": staff, "templates": exported["templates"],
                                           "source": f"copy:{source}"}, port=ports.get(target),
                        password=password, say=say, hall=hall)
            for target in targets}
