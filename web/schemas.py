"""The shapes of the JSON API (`/api/…`), for its OpenAPI description. The pages render the same data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from hall.protocol import Alert


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class LiveWindow(_Out):
    id: str
    name: str
    department: str | None
    department_name: str
    status: str                  # serving, idle, paused, closed
    status_label: str
    ticket: str | None
    staff: str | None
    staff_name: str | None
    queues: list[str]
    paused_since: str | None
    paused_min: float | None


class LiveQueue(_Out):
    id: str
    name: str
    name_en: str
    department: str | None
    waiting: int
    last_called: str | None
    oldest_since: str | None
    oldest_wait_min: float | None
    estimated_wait_min: float | None


class LiveCall(_Out):
    ticket: str
    window: str
    window_name: str
    queue: str | None
    at: str | None
    recall: int
    department: str | None


class Live(_Out):
    hub: str                     # online, offline, degraded, unknown
    connected: bool              # the console's own link to the broker
    at: str
    windows: list[LiveWindow]
    queues: list[LiveQueue]
    calls: list[LiveCall]
    alerts: list[Alert]
    alerts_published: bool       # false until the hub publishes hub/alerts


class AlertsOut(_Out):
    alerts: list[Alert]
    alerts_published: bool


class DeviceOut(_Out):
    id: str
    kind: str
    name: str
    windows: list[str]
    online: bool | None
    status: str | None
    last_seen: str | None
    clock_skew_s: float | None
    skew_flagged: bool
    seq_restarts: int
    version: str | None
    outbox_backlog: int | None
    printer: str | None
    health_at: str | None


class DevicesOut(_Out):
    devices: list[DeviceOut]


class UserOut(_Out):
    name: str
    role: str
    department: str | None
    created_at: str


class AuditOut(_Out):
    at: str
    by: str
    action: str
    subject: str | None
    detail: dict


class UsersOut(_Out):
    users: list[UserOut]
    audit: list[AuditOut]


class Problem(BaseModel):
    detail: str


AUTH_RESPONSES = {401: {"model": Problem, "description": "需要登录 no session: log in at /login"}}
