"""The parts of the hub that turn stored events into hall state, in the order ingest offers them events."""

from __future__ import annotations

import importlib

DOMAINS = [
    "hub.queue.domain:QueueDomain",
    "hub.attendance.domain:AttendanceDomain",
    "hub.cases.domain:CasesDomain",
    "hub.appointments.domain:AppointmentsDomain",
    # last: its clock work reads what the others wrote in theirs
    "hub.alerts.domain:AlertsDomain",
]


def load_domains(hall) -> list:
    out = []
    for spec in DOMAINS:
        module, name = spec.split(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except ModuleNotFoundError as err:
            if err.name and module.startswith(err.name):
                continue  # that part of the hub is not installed in this build
            raise
        out.append(cls(hall))
    return out
