"""The scenario runner (`hall cases simulate`): a script of case operations through the real rules, with a fixed clock.

A scenario is JSON:

    {"steps": [{"at": "2026-11-30T10:00:00+08:00", "op": "accept", "case": "C1", "days": 5, "service": "scjg-001"},
               {"at": "2026-12-01T16:00:00+08:00", "op": "suspend", "case": "C1"},
               {"at": "2026-12-02T09:30:00+08:00", "op": "resume", "case": "C1"},
               {"at": "2026-12-04T10:00:00+08:00", "op": "check", "case": "C1"},
               {"at": "2026-12-07T16:00:00+08:00", "op": "finish", "case": "C1", "result": "approved"}]}

Ops: `accept` (with `days`, the promised limit, and an optional catalogue `service`; without `days` the item's
promised limit), `suspend`, `resume`, `finish` (optional `result`: approved or refused), `withdraw` and `check` (no
change). The case ids are the script's own. Each step gives one result, in order:

    {"ok": true, "case": "C1", "status": "accepted", "deadline": "2026-12-08", "card": "green", "on_time": null}

`status` is accepted, suspended, finished or withdrawn; `deadline` the day whose closing time is the deadline
(null while suspended); `card` green, yellow or red at the step's moment (null when suspended, finished or
withdrawn); `on_time` true or false once finished. `ok` is false when the op does not apply; nothing changes then.
The calendar and the closing time are the hall's (hall.toml [hours] open, [attendance] extra days).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hall.errors import ConfigError, describe_validation
from hub.cases.rules import (
    APPROVED,
    IN_PROGRESS,
    REFUSED,
    CaseBook,
    Outcome,
    clock_from_hall,
    services_from_hall,
)

OPS = ("accept", "suspend", "resume", "finish", "withdraw", "check")


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: datetime
    op: Literal["accept", "suspend", "resume", "finish", "withdraw", "check"]
    case: str = Field(min_length=1, max_length=64)
    days: int | None = Field(default=None, ge=0, le=3650)
    service: str | None = None
    result: Literal["approved", "refused"] = APPROVED
    reason: str = ""

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("an ISO time with its UTC offset, e.g. 2026-11-30T10:00:00+08:00")
        return value


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: list[Step]


def parse_scenario(data: object, source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, describe_validation(err, data, Scenario)) from None


def run_scenario(scenario: Scenario, hall_loader: Callable[[], object]) -> dict:
    hall = hall_loader()
    book = CaseBook(clock_from_hall(hall), services_from_hall(hall))
    results = []
    for step in scenario.steps:
        out = _carry_out(book, step)
        results.append(result_of(book, step.case, step.at, out.ok))
    return {"steps": results}


def _carry_out(book: CaseBook, step: Step) -> Outcome:
    if step.op == "accept":
        # the script's limit wins; without one, the catalogue item's promise
        return book.accept(step.at, days=step.days, service=step.service, reason=step.reason,
                           number=step.case, enforce=step.days is None)
    if step.op == "suspend":
        return book.suspend(step.case, step.at, step.reason)
    if step.op == "resume":
        return book.resume(step.case, step.at)
    if step.op == "finish":
        return book.finish(step.case, step.at, REFUSED if step.result == REFUSED else APPROVED)
    if step.op == "withdraw":
        return book.withdraw(step.case, step.at, step.reason)
    return Outcome(ok=step.case in book.cases)


def result_of(book: CaseBook, number: str, at: datetime, ok: bool) -> dict:
    case = book.cases.get(number)
    if case is None:
        return {"ok": ok, "case": number, "status": None, "deadline": None, "card": None, "on_time": None}
    deadline = book.shown_deadline(case)
    return {"ok": ok, "case": number, "status": "accepted" if case.status == IN_PROGRESS else case.status,
            "deadline": deadline.isoformat() if deadline else None, "card": book.card(case, at),
            "on_time": book.on_time(case)}
