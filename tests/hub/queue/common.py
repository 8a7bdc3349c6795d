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

    def issue(self, queue: str = "A", priority: bool = False, at: str | None = None) -> Script:
        return self._add("issue", at, queue=queue, **({"priority": True} if priority else {}))

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
