"""The scenario runner (`hall queue simulate`): a scripted day through the pure queue engine, step by step.

A scenario is JSON:

    {"date": "2026-11-30",
     "hall": {"queues": [{"id": "A", "prefix": "A", "cap": 50}], "windows": [{"id": "1", "queues": ["A"], "backup": []}],
              "issuing": [["08:30", "11:30"]], "rules": {"recall_limit": 3}},
     "steps": [{"at": "09:00:05", "op": "issue", "queue": "A", "priority": false}, ...]}

`hall` may be omitted (the default hall's queues, windows, issuing hours and rules are used); a scenario hall
without `issuing` issues all day. Each step gives one entry of the output, in order.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hall.errors import ConfigError, describe_validation
from hub.queue.engine import (
    Layout,
    Outcome,
    QueueEngine,
    QueueSpec,
    Rules,
    WindowSpec,
    layout_from_hall,
    parse_issuing,
    rules_from_hall,
)

OPS = ("issue", "call_next", "recall", "skip", "complete", "transfer", "requeue", "pause", "resume", "login",
       "logout")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScenarioQueue(_Model):
    id: str = Field(min_length=1)
    prefix: str = Field(default="", pattern=r"^([A-Z]{1,2})?$")
    standard_minutes: float = Field(default=10, gt=0)
    cap: int | None = Field(default=None, ge=1)
    id_required: bool = False


class ScenarioWindow(_Model):
    id: str = Field(min_length=1)
    queues: list[str] = Field(min_length=1)
    backup: list[str] = []


class ScenarioRules(_Model):
    recall_limit: int = Field(default=3, ge=0)
    requeue_window_minutes: int = Field(default=30, ge=0)
    requeue_after: int = Field(default=3, ge=0)
    average_after: int = Field(default=5, ge=1)


class ScenarioHall(_Model):
    queues: list[ScenarioQueue] = Field(min_length=1)
    windows: list[ScenarioWindow] = Field(min_length=1)
    issuing: list[tuple[str, str]] = []
    rules: ScenarioRules = ScenarioRules()
    timezone: str = "Asia/Shanghai"

    @model_validator(mode="after")
    def _cross_check(self):
        ids = [q.id for q in self.queues]
        if len(set(ids)) != len(ids):
            raise ValueError("queue ids must be unique")
        prefixes = [q.prefix or q.id for q in self.queues]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError("queue prefixes must be unique")
        for q in self.queues:
            if not q.prefix and not (q.id.isascii() and q.id.isupper() and q.id.isalpha() and len(q.id) <= 2):
                raise ValueError(f"queue {q.id!r} needs a prefix of one or two capital letters")
        for w in self.windows:
            for name in (*w.queues, *w.backup):
                if name not in ids:
                    raise ValueError(f"window {w.id!r} names unknown queue {name!r}")
        parse_issuing(self.issuing)
        return self


class Step(_Model):
    at: time
    op: Literal[OPS]  # type: ignore[valid-type]
    queue: str | None = None
    window: str | None = None
    ticket: str | None = None
    priority: bool = False
    staff: str | None = None
    booked: time | None = None   # issue: a booking checked in on time, for this slot
    person: str | None = None    # issue: who (the keyed hash of an ID number), for the walk-in limit

    @field_validator("at", "booked", mode="before")
    @classmethod
    def _clock(cls, value):
        if isinstance(value, str):
            return time.fromisoformat(value)
        return value

    @model_validator(mode="after")
    def _needs(self):
        need = {"issue": ("queue",), "transfer": ("window", "queue"), "requeue": ("ticket",),
                "login": ("window", "staff"), "logout": ("window", "staff")}.get(self.op, ("window",))
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"op {self.op!r} needs {', '.join(missing)}")
        return self


class Scenario(_Model):
    date: date
    hall: ScenarioHall | None = None
    steps: list[Step]

    @model_validator(mode="after")
    def _in_order(self):
        for i in range(1, len(self.steps)):
            if self.steps[i].at < self.steps[i - 1].at:
                raise ValueError(f"steps[{i}].at {self.steps[i].at} comes before the step above it")
        return self


def parse_scenario(data: object, source: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, describe_validation(err, data, Scenario)) from None


def _engine_for(scenario: Scenario, default_hall) -> tuple[QueueEngine, ZoneInfo]:
    h = scenario.hall
    if h is None:
        if default_hall is None:
            from hall.settings import load_hall

            default_hall = load_hall
        hall = default_hall() if callable(default_hall) else default_hall
        return QueueEngine(layout_from_hall(hall), rules_from_hall(hall), scenario.date), hall.tz
    layout = Layout(
        queues={q.id: QueueSpec(q.id, q.prefix or q.id, q.standard_minutes, q.cap, q.id_required) for q in h.queues},
        windows={w.id: WindowSpec(w.id, tuple(w.queues), tuple(w.backup)) for w in h.windows},
    )
    rules = Rules(recall_limit=h.rules.recall_limit, requeue_window=timedelta(minutes=h.rules.requeue_window_minutes),
                  requeue_after=h.rules.requeue_after, average_after=h.rules.average_after,
                  issuing=parse_issuing(h.issuing))
    return QueueEngine(layout, rules, scenario.date), ZoneInfo(h.timezone)


def apply_step(engine: QueueEngine, step: Step, at: datetime) -> Outcome:
    match step.op:
        case "issue":
            return engine.issue_ticket(step.queue, at, priority=step.priority, booked=step.booked,
                                       person=step.person)
        case "call_next":
            return engine.call_next(step.window, at)
        case "recall":
            return engine.recall(step.window, at)
        case "skip":
            return engine.skip(step.window, at)
        case "complete":
            return engine.complete(step.window, at)
        case "transfer":
            return engine.transfer(step.window, step.queue, at)
        case "requeue":
            return engine.requeue(step.ticket, at)
        case "pause":
            return engine.pause(step.window, at)
        case "resume":
            return engine.resume(step.window, at)
        case "login":
            return engine.login(step.window, step.staff, at)
        case "logout":
            return engine.logout(step.window, step.staff, at)
    raise AssertionError(step.op)


def step_result(step: Step, out: Outcome) -> dict:
    """One line of the output: ok or the refusal code; the ticket it concerns; people ahead when it joins a line."""
    entry: dict = {"op": step.op, "ok": out.ok}
    if not out.ok:
        entry["code"] = out.code
        return entry
    if step.op in ("pause", "resume", "login", "logout"):
        return entry
    entry["ticket"] = out.ticket.no if out.ticket else None
    if step.op in ("issue", "requeue"):
        entry["ahead"] = out.ahead
    return entry


def run_scenario(scenario: Scenario, default_hall=None) -> dict:
    engine, tz = _engine_for(scenario, default_hall)
    steps = []
    for step in scenario.steps:
        at = datetime.combine(scenario.date, step.at, tzinfo=tz)
        steps.append(step_result(step, apply_step(engine, step, at)))
    return {"steps": steps}
