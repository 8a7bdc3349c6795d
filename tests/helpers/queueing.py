"""Helpers shared by the queue tests: scripted days for the scenario runner."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.queue.scenario import parse_scenario, run_scenario

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 30)

# two queues, window 1 serves A with B as backup, window 2 serves B, window 3 serves A and B
HALL = {
    "queues": [{"id": "A", "prefix": "A"}, {"id": "B", "prefix": "B"}],
    "windows": [{"id": "1", "queues": ["A"], "backup": ["B"]}, {"id": "2", "queues": ["B"]},
                {"id": "3", "queues": ["A", "B"]}],
}


def at(clock: str) -> datetime:
    return datetime.combine(DAY, time.fromisoformat(clock), tzinfo=TZ)


class Script:
    """A scripted day, one second per step unless a step names its time."""

    def __init__(self, hall: dict | None = None, start: str = "09:00:00"):
        self.hall = HALL if hall is None else hall
        self.steps: list[dict] = []
        self._clock = datetime.combine(DAY, time.fromisoformat(start))

    def _add(self, op: str, at: str | None = None, **kw) -> Script:
        if at is not None:
            self._clock = datetime.combine(DAY, time.fromisoformat(at))
        else:
            self._clock += timedelta(seconds=1)
        self.steps.append({"at": self._clock.time().isoformat(), "op": op, **kw})
        return self

    def issue(self, queue: str = "A", priority: bool = False, at: str | None = None, booked: str | None = None,
              person: str | None = None) -> Script:
        """A ticket; `booked`: a booking of that slot checked in on time; `person`: an ID number's hash given."""
        more = {"priority": True} if priority else {}
        if booked is not None:
            more["booked"] = booked
        if person is not None:
            more["person"] = person
        return self._add("issue", at, queue=queue, **more)

    def call(self, window: str = "1", at: str | None = None) -> Script:
        return self._add("call_next", at, window=window)

    def recall(self, window: str = "1", at: str | None = None) -> Script:
        return self._add("recall", at, window=window)

    def skip(self, window: str = "1", at: str | None = None) -> Script:
        return self._add("skip", at, window=window)

    def complete(self, window: str = "1", at: str | None = None) -> Script:
        return self._add("complete", at, window=window)

    def pause(self, window: str = "1", at: str | None = None) -> Script:
        return self._add("pause", at, window=window)

    def resume(self, window: str = "1", at: str | None = None) -> Script:
        return self._add("resume", at, window=window)

    def transfer(self, queue: str, window: str = "1", at: str | None = None) -> Script:
        return self._add("transfer", at, window=window, queue=queue)

    def requeue(self, ticket: str, at: str | None = None) -> Script:
        return self._add("requeue", at, ticket=ticket)

    def scenario(self) -> dict:
        body = {"date": DAY.isoformat(), "steps": self.steps}
        if self.hall:
            body["hall"] = self.hall
        return body

    def run(self) -> list[dict]:
        return run_scenario(parse_scenario(self.scenario()))["steps"]

    def tickets(self) -> list[str | None]:
        """The ticket of every call_next step, in order."""
        return [r.get("ticket") for s, r in zip(self.steps, self.run(), strict=True) if s["op"] == "call_next"]


# ---------------------------------------------------------------- the domain without a broker

class DomainDriver:
    """QueueDomain over a SQLite file, fed events the way ingest feeds them (each in its own transaction)."""

    def __init__(self, path, hall=None):
        import sqlite_utils

        from hall.settings import load_hall
        from hub.domain import Emit
        from hub.queue.domain import QueueDomain

        self.path = path
        self.hall = hall or load_hall()
        self.db = sqlite_utils.Database(path)
        self.domain = QueueDomain(self.hall)
        self.emit = Emit()
        with self.db.atomic():
            self.domain.setup(self.db, self.emit)
        self._seq = 0
        self.retain: dict[str, bool] = {}

    def send(self, device: str, event_type: str, data: dict, clock: str = "09:00:00",
             day: date = DAY) -> dict | None:
        from hall.protocol import EVENT_MODELS
        from hub.domain import Event

        self._seq += 1
        moment = datetime.combine(day, time.fromisoformat(clock), tzinfo=TZ)
        kind = self.hall.device(device).kind
        event = Event(id=f"evt-{device}-{self._seq:06d}", device=device, kind=kind, type=event_type, seq=self._seq,
                      ts=moment, received_at=moment, data=EVENT_MODELS[event_type].model_validate(data), raw=data)
        with self.db.atomic():
            answer = self.domain.apply(self.db, event, self.emit)
            self.domain.flush(self.db, self.emit)
        return None if answer is None else _as_sent(answer)

    def published(self) -> dict[str, list]:
        """Everything emitted since the last call, by hub topic suffix, as the wire carries it."""
        out: dict[str, list] = {}
        for parts, payload, retain in self.emit.drain():
            suffix = "/".join(parts[1:]) if parts[0] == "hub" else "/".join(parts)
            out.setdefault(suffix, []).append(_as_sent(payload))
            self.retain[suffix] = retain
        return out


def _as_sent(message) -> dict:
    """A message the hub built, as JSON on the wire (the answers without `re`: ingest adds it)."""
    import json

    from hall.protocol import dumps

    return json.loads(dumps(message))


# ---------------------------------------------------------------- a real hall for end-to-end tests

def all_day_hall(dest):
    """The shipped hall, issuing tickets all day: end-to-end tests run on the real clock, at any hour."""
    import re
    import shutil
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "config"
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("catalogue.json", "staff.csv"):
        shutil.copy(src / name, dest / name)
    text = (src / "hall.toml").read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^issuing = .*$", "issuing = []", text)
    assert n == 1
    (dest / "hall.toml").write_text(text, encoding="utf-8")
    return dest / "hall.toml"


class MosquittoTools:
    """Drive the hall with Mosquitto's own command-line clients only, as a third-party device would."""

    def __init__(self, rig):
        self.rig = rig
        self._seq: dict[str, int] = {}

    def _envelope(self, device: str, data: dict) -> tuple[str, str]:
        import json

        from hall.protocol import envelope, new_event_id

        self._seq[device] = self._seq.get(device, 0) + 1
        event_id = new_event_id()
        return event_id, json.dumps(envelope(event_id, self._seq[device], data), ensure_ascii=False)

    def _topic(self, *parts: str) -> str:
        return "/".join(("hall/v1", self.rig.hall.id, *parts))

    def request(self, device: str, event_type: str, data: dict) -> dict:
        """mosquitto_rr: subscribe to the device's `res`, publish the event, print the first answer."""
        import json
        import subprocess

        event_id, body = self._envelope(device, data)
        out = subprocess.run(
            ["mosquitto_rr", *self.rig.mosquitto_args(device), "-t", self._topic(device, "evt", event_type),
             "-e", self._topic(device, "res"), "-m", body, "-W", "10"],
            capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        answer = json.loads(out.stdout.strip().splitlines()[-1])
        assert answer.pop("re") == event_id
        return answer

    def publish(self, device: str, event_type: str, data: dict) -> str:
        import subprocess

        event_id, body = self._envelope(device, data)
        subprocess.run(["mosquitto_pub", *self.rig.mosquitto_args(device), "-t",
                        self._topic(device, "evt", event_type), "-m", body], check=True, timeout=20)
        return event_id

    def retained(self, suffix: str, reader: str = "display-01", until=None, timeout: float = 5.0) -> dict:
        """The retained message of one hub topic, read with mosquitto_sub. With `until`, read again until it holds
        (the hub sends retained state once a burst of events is over, a few milliseconds after the answers) and
        return the last one read either way, for the caller's assertion to show."""
        import json
        import subprocess
        import time

        end = time.monotonic() + timeout
        while True:
            out = subprocess.run(["mosquitto_sub", *self.rig.mosquitto_args(reader), "-t",
                                  self._topic("hub", suffix), "-C", "1", "-W", "10", "--retained-only"],
                                 capture_output=True, text=True, timeout=20)
            assert out.returncode == 0, f"no retained message on hub/{suffix}: {out.stderr}"
            state = json.loads(out.stdout)
            if until is None or until(state) or time.monotonic() > end:
                return state
            time.sleep(0.02)

    def follow(self, suffix: str, count: int, reader: str = "display-02"):
        """Start mosquitto_sub on a hub topic and return once it is subscribed; .collect() gives the payloads."""
        return _Follower(self.rig, self._topic("hub", suffix), count, reader)


class _Follower:
    def __init__(self, rig, topic: str, count: int, reader: str):
        import subprocess

        self.proc = subprocess.Popen(
            # line-buffered, so the SUBACK debug line arrives as it happens
            ["stdbuf", "-oL", "mosquitto_sub", *rig.mosquitto_args(reader), "-t", topic, "-C", str(count), "-W", "20",
             "-d"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in self.proc.stdout:  # the debug lines say when the broker has granted the subscription
            if "SUBACK" in line:
                break

    def collect(self) -> list[dict]:
        import json

        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]
