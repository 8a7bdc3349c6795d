"""The live hall as the console sees it: every configured window and queue, the last calls, the alerts.

Pure: `LiveHall.apply(topic, payload, now)` takes one message the hub published (parsed with the core's models)
and returns the changes it made, as (kind, item) pairs ready for the push stream; `snapshot(now)` is the whole
hall for `/api/live`. What the hub's messages do not carry (since when the oldest ticket of a queue waits, since
when a window is paused) is set by the shell from the journal (`set_oldest`, `set_paused_since`).

A message that does not parse is logged with its topic, payload and reason and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from hall.protocol import (
    Alerts,
    AppointmentsState,
    Call,
    Calls,
    HubStatus,
    ProtocolError,
    QueueState,
    WindowState,
    hub_message_model,
    parse_topic,
    read_from_hub,
)

log = logging.getLogger("web.live")

CALLS_KEPT = 20

STATUS_LABELS = {
    "serving": ("服务中", "serving"),
    "idle": ("空闲", "idle"),
    "paused": ("暂停", "paused"),
    "closed": ("关闭", "closed"),
}


def minutes_since(since: str | None, now: datetime) -> float | None:
    if not since:
        return None
    try:
        then = datetime.fromisoformat(since)
    except ValueError:
        return None
    return round(max((now - then).total_seconds(), 0.0) / 60, 1)


@dataclass
class WindowLive:
    id: str
    name: str
    department: str | None
    department_name: str
    queues: list[str]
    status: str = "closed"
    ticket: str | None = None
    staff: str | None = None
    staff_name: str | None = None
    paused_since: str | None = None
    heard: bool = False   # the hub has published this window's state

    def wire(self, now: datetime) -> dict:
        zh, en = STATUS_LABELS.get(self.status, (self.status, self.status))
        return {"id": self.id, "name": self.name, "department": self.department,
                "department_name": self.department_name, "status": self.status, "status_label": f"{zh} {en}",
                "ticket": self.ticket, "staff": self.staff, "staff_name": self.staff_name, "queues": self.queues,
                "paused_since": self.paused_since,
                "paused_min": minutes_since(self.paused_since, now) if self.status == "paused" else None}


@dataclass
class QueueLive:
    id: str
    name: str
    name_en: str
    department: str | None
    waiting: int = 0
    est_wait_s: float | None = None
    last_called: str | None = None
    oldest_since: str | None = None   # issued_at of the first waiting ticket
    booked_today: int | None = None   # 预约: today's bookings (checked in or not); None: the queue takes none
    checked_in_today: int | None = None

    def wire(self, now: datetime) -> dict:
        return {"id": self.id, "name": self.name, "name_en": self.name_en, "department": self.department,
                "waiting": self.waiting, "last_called": self.last_called, "oldest_since": self.oldest_since,
                "booked_today": self.booked_today, "checked_in_today": self.checked_in_today,
                "oldest_wait_min": minutes_since(self.oldest_since, now) if self.waiting else None,
                "estimated_wait_min": None if self.est_wait_s is None else round(self.est_wait_s / 60, 1)}


@dataclass
class LiveHall:
    windows: dict[str, WindowLive]
    queues: dict[str, QueueLive]
    calls: list[dict] = field(default_factory=list)
    alerts: list[dict] | None = None      # None: the hub publishes no alerts (yet)
    hub: str = "unknown"                  # online, offline, degraded, unknown
    _call_keys: list[tuple] = field(default_factory=list)
    _staff_names: dict[str, str] = field(default_factory=dict)
    _queue_department: dict[str, str] = field(default_factory=dict)
    _window_department: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, hall) -> LiveHall:
        cat = hall.catalogue
        depts = {d.id: d for d in cat.departments}

        def dept_name(dept_id: str | None) -> str:
            d = depts.get(dept_id or "")
            return f"{d.name} {d.name_en}".strip() if d else ""

        windows = {w.id: WindowLive(w.id, w.name or w.id, w.department or None, dept_name(w.department),
                                    list(w.queues)) for w in cat.windows}
        queues = {q.id: QueueLive(q.id, q.name, q.name_en, q.department or None) for q in cat.queues}
        return cls(windows, queues, _staff_names={s.id: s.name for s in hall.staff},
                   _queue_department={q.id: q.department for q in cat.queues},
                   _window_department={w.id: w.department for w in cat.windows})

    # ------------------------------------------------------------ reading what the hub sent

    def apply(self, topic: str, payload: bytes | str | dict, now: datetime) -> list[tuple[str, dict]]:
        parsed = parse_topic(topic)
        if parsed is None or parsed.device != "hub":
            return []
        model = hub_message_model(parsed)
        if model is None:
            return []  # the catalogue, or a topic this console does not show
        if payload in (b"", "", {}):
            return []  # a retained topic cleared
        try:
            msg = read_from_hub(model, payload)
        except ProtocolError as err:
            log.warning("unreadable hub message on %s: %s — payload %.300r", topic, err, payload)
            return []
        if isinstance(msg, WindowState):
            return self._window(msg, now)
        if isinstance(msg, QueueState):
            return self._queue(msg, now)
        if isinstance(msg, Call):
            return self._call(msg)
        if isinstance(msg, Calls):
            return self._calls(msg)
        if isinstance(msg, Alerts):
            self.alerts = [a.model_dump() for a in msg.alerts]
            for a in self.alerts:
                a["department"] = a.get("department") or self._subject_department(a)
            return [("alerts", {"alerts": self.alerts})]
        if isinstance(msg, AppointmentsState):
            return self._appointments(msg, now)
        if isinstance(msg, HubStatus):
            self.hub = msg.state
            return [("hub", {"state": msg.state, "cause": msg.cause})]
        return []

    def _window(self, msg: WindowState, now: datetime) -> list[tuple[str, dict]]:
        w = self.windows.get(msg.window)
        if w is None:
            log.warning("hub state of window %r, which this hall's config does not have", msg.window)
            return []
        if msg.status == "paused" and w.status != "paused" and w.heard:
            w.paused_since = now.isoformat(timespec="seconds")   # seen pausing: it paused now
        elif msg.status != "paused":
            w.paused_since = None
        w.status, w.ticket, w.staff, w.heard = msg.status, msg.ticket, msg.staff, True
        w.staff_name = self._staff_names.get(msg.staff) if msg.staff else None
        if msg.queues:
            w.queues = list(msg.queues)
        return [("window", w.wire(now))]

    def _queue(self, msg: QueueState, now: datetime) -> list[tuple[str, dict]]:
        q = self.queues.get(msg.queue)
        if q is None:
            log.warning("hub state of queue %r, which this hall's config does not have", msg.queue)
            return []
        q.waiting, q.est_wait_s, q.last_called = msg.waiting, msg.est_wait_s, msg.last_called
        if not q.waiting:
            q.oldest_since = None
        return [("queue", q.wire(now))]

    def _appointments(self, msg: AppointmentsState, now: datetime) -> list[tuple[str, dict]]:
        """Today's bookings of a queue (docs/appointments.md): how many, and how many checked in at a kiosk."""
        q = self.queues.get(msg.queue)
        if q is None:
            return []
        checked_in = msg.today.get("checked_in", 0)
        q.booked_today, q.checked_in_today = msg.today.get("booked", 0) + checked_in, checked_in
        return [("queue", q.wire(now))]

    def _call(self, call: Call) -> list[tuple[str, dict]]:
        if call.key in self._call_keys:
            return []  # the same announcement again (a resend, or an overlapping subscription)
        self._call_keys = [call.key, *self._call_keys[:CALLS_KEPT * 2]]
        item = self._call_item(call)
        self.calls = [item, *self.calls[:CALLS_KEPT - 1]]
        return [("call", item)]

    def _calls(self, msg: Calls) -> list[tuple[str, dict]]:
        self.calls = [self._call_item(c) for c in msg.calls[:CALLS_KEPT]]
        self._call_keys = [c.key for c in msg.calls[:CALLS_KEPT * 2]]
        return [("calls", {"calls": self.calls})]

    def _call_item(self, call: Call) -> dict:
        w = self.windows.get(call.window)
        return {"ticket": call.ticket, "window": call.window, "window_name": w.name if w else call.window,
                "queue": call.queue, "at": call.at, "recall": call.recall,
                "department": self._window_department.get(call.window)}

    def _subject_department(self, alert: dict) -> str | None:
        subject = alert.get("subject")
        return self._window_department.get(subject) or self._queue_department.get(subject)

    # ------------------------------------------------------------ what the shell adds from the journal

    def set_oldest(self, queue: str, since: str | None, now: datetime) -> list[tuple[str, dict]]:
        q = self.queues.get(queue)
        if q is None or q.oldest_since == since:
            return []
        q.oldest_since = since if q.waiting else None
        return [("queue", q.wire(now))]

    def set_paused_since(self, window: str, since: str | None, now: datetime) -> list[tuple[str, dict]]:
        w = self.windows.get(window)
        if w is None or w.status != "paused" or w.paused_since == since:
            return []
        w.paused_since = since
        return [("window", w.wire(now))]

    # ------------------------------------------------------------ the whole hall

    def snapshot(self, now: datetime) -> dict:
        return {"hub": self.hub, "at": now.isoformat(timespec="seconds"),
                "windows": [w.wire(now) for w in self.windows.values()],
                "queues": [q.wire(now) for q in self.queues.values()],
                "calls": list(self.calls),
                "alerts": list(self.alerts or []), "alerts_published": self.alerts is not None}
