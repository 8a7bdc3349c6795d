"""The hall's alerts (告警): the rules of hall.toml [alerts] over the hall's facts, and every alert's life, as plain
objects over plain data.

No clock, no I/O: `AlertBook.evaluate` is given what the hall looks like at one moment (`Facts`, with `now`) and
returns the changes it made; `AlertBook.acknowledge` is given who acknowledged, with a note, and when. The hub
journals every change (`alerts_journal`) and publishes the alerts not cleared on `hub/alerts`; replaying the
journal's changes into a fresh book (`AlertBook.replay`) gives back the same alerts after a restart.

An alert's life:

    condition holds ──▶ firing ──acknowledge(by, note)──▶ acknowledged
                          │                                   │
                          └─ condition ended clear_after ago ─┴──▶ cleared

A *condition* (a queue waiting too long, a device offline) holds for a while: its alert fires once when it begins,
stays while it holds, acknowledged or not, and clears only once the condition has ended for `clear_after` (60 s),
so a queue hovering around its limit does not raise a new alert every few seconds. When it holds again after
that, it is a new alert with a new id. An *occurrence* (a poor rating) has nothing to end: it fires once and
clears when someone acknowledges it.

The rules (each switched off by naming it in [alerts] `off`):

| rule | holds when | subject |
|---|---|---|
| queue_wait | the oldest waiting ticket has waited `queue_wait_min` minutes of opening hours | queue |
| queue_length | `queue_length` tickets or more wait, in opening hours | queue |
| window_paused | the window has been paused `window_paused_min` minutes of opening hours | window |
| window_closed | nobody has been at the window for `window_closed_min` minutes of opening hours while one of its queues had people waiting | window |
| poor_rating | (occurrence) a rating of `poor_rating_max` or less | ticket, else window |
| device_offline | the device said it is offline and has not been heard from for `device_offline_min` minutes | device |
| clock_skew | the hub flagged the device's clock as off | device |
| device_backlog | the device's health report says `device_backlog` events or more wait in its outbox | device |
| paper_out | the device's health report says `printer: paper_out` | device |
| punch_missed | a fingerprint terminal has not been heard from since a date's evening punch window, long enough for the attendance domain to warn about it | terminal |
| case_yellow | a case's deadline is today or the next working day, or a follow-up is due so (黄牌预警, docs/cases.md) | case or follow-up |
| case_red | a case's deadline has passed, or a follow-up is overdue (红牌超期) | case or follow-up |
| duplicate_login | the broker closed a device's connection for a newer one under the same login 3 times within 2 minutes (hub/alerts/logins.py): two devices share one login | device |

Minutes "of opening hours" count only the time inside hall.toml [hours] `open`: over the lunch break nobody is
expected to serve, so a pause at 11:30 is 10 minutes old at 13:00, and outside opening hours the queue and window
rules do not hold at all (their alerts clear).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

# states on the wire (hall.protocol.Alert); cleared alerts leave hub/alerts
FIRING = "firing"
ACKNOWLEDGED = "acknowledged"

# changes, as journaled
RAISED = "raised"
ACKNOWLEDGE = "acknowledged"
CLEARED = "cleared"

WARNING = "warning"
CRITICAL = "critical"

# refusal codes (answered with ok: false)
UNKNOWN_ALERT = "unknown_alert"
ALREADY_ACKNOWLEDGED = "already_acknowledged"

# Chinese first, English second: these reach the console as they are.
MESSAGES = {
    UNKNOWN_ALERT: "没有这个告警，或它已解除 · no such alert, or it has cleared",
    ALREADY_ACKNOWLEDGED: "该告警已被确认 · the alert is already acknowledged",
}

# rules whose alerts are occurrences (cleared by acknowledging), not conditions (cleared when they end)
OCCURRENCE_RULES = frozenset({"poor_rating"})

PAPER_OUT = "paper_out"
OFFLINE = "offline"
PAUSED = "paused"
CLOSED = "closed"


# ---------------------------------------------------------------- limits

@dataclass(frozen=True)
class Limits:
    """hall.toml [alerts] and the opening hours, as the rules use them."""
    queue_wait: timedelta = timedelta(minutes=30)
    queue_length: int = 30
    window_paused: timedelta = timedelta(minutes=15)
    window_closed: timedelta = timedelta(minutes=5)
    poor_rating_max: int = 2
    device_offline: timedelta = timedelta(minutes=2)
    device_backlog: int = 200
    clear_after: timedelta = timedelta(seconds=60)
    off: frozenset[str] = frozenset()
    open: tuple[tuple[time, time], ...] = ((time(9, 0), time(11, 40)), (time(13, 0), time(17, 0)))  # [start, end)

    def is_open(self, moment: datetime) -> bool:
        return any(start <= moment.time() < end for start, end in self.open)

    def open_time(self, since: datetime, now: datetime) -> timedelta:
        """How much of [since, now) lies in opening hours (on every date it spans, in now's time zone)."""
        if since >= now:
            return timedelta(0)
        tz = now.tzinfo
        since = since.astimezone(tz)
        total = timedelta(0)
        day = since.date()
        while day <= now.date():
            for start, end in self.open:
                lo = max(since, datetime.combine(day, start, tzinfo=tz))
                hi = min(now, datetime.combine(day, end, tzinfo=tz))
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total


def limits_from_hall(hall) -> Limits:
    a = hall.alerts
    return Limits(queue_wait=timedelta(minutes=a.queue_wait_min), queue_length=a.queue_length,
                  window_paused=timedelta(minutes=a.window_paused_min),
                  window_closed=timedelta(minutes=a.window_closed_min), poor_rating_max=a.poor_rating_max,
                  device_offline=timedelta(minutes=a.device_offline_min), device_backlog=a.device_backlog,
                  clear_after=timedelta(seconds=a.clear_after_s), off=frozenset(a.off),
                  open=tuple((s.start, s.end) for s in hall.hours.open))


# ---------------------------------------------------------------- facts: what the hall looks like now

@dataclass(frozen=True)
class QueueFact:
    queue: str
    waiting: int
    oldest_since: datetime | None = None  # when the longest-waiting ticket began waiting
    department: str | None = None
    name: str = ""                        # for titles: 市场准入
    name_en: str = ""


@dataclass(frozen=True)
class WindowFact:
    window: str
    status: str                           # serving, idle, paused, closed (as on the screens)
    since: datetime | None = None         # when it took that status
    queues: tuple[str, ...] = ()          # its own queues (not its backup ones)
    department: str | None = None
    name: str = ""
    name_en: str = ""


@dataclass(frozen=True)
class DeviceFact:
    device: str
    kind: str | None = None
    status: str | None = None             # online or offline, as the device (or its last will) last said
    last_seen: datetime | None = None
    skew_flagged: bool = False
    clock_skew_s: float | None = None
    backlog: int | None = None            # events waiting in its outbox, from its latest health report saying so
    printer: str | None = None            # ok, paper_low, paper_out, offline, from its health reports
    name: str = ""


@dataclass(frozen=True)
class RatingFact:
    id: int                               # the rating's row: one occurrence each
    window: str
    score: int
    at: datetime
    ticket: str | None = None
    staff: str | None = None
    department: str | None = None
    window_name: str = ""


@dataclass(frozen=True)
class TerminalFact:
    """A fingerprint terminal that a date's closing still waits for, and has waited for long enough to warn."""
    terminal: str
    date: date
    name: str = ""


@dataclass(frozen=True)
class CaseFact:
    """An open case or follow-up with a yellow or red card, as the cases domain judged it (`cases.card`)."""
    number: str
    card: str                             # yellow, red
    deadline: date | None = None
    department: str | None = None
    kind: str = "case"                    # case, rating (差评整改), complaint (投诉)
    name: str = ""                        # the service item's name
    name_en: str = ""


@dataclass(frozen=True)
class LoginFact:
    """A login the broker saw taken over and over: a new connection under it made Mosquitto close the older one
    ("Client X already connected, closing old connection.") `takeovers` times within the last WITHIN."""
    device: str
    takeovers: int
    last_at: datetime
    name: str = ""


@dataclass(frozen=True)
class Facts:
    now: datetime
    queues: tuple[QueueFact, ...] = ()
    windows: tuple[WindowFact, ...] = ()
    devices: tuple[DeviceFact, ...] = ()
    ratings: tuple[RatingFact, ...] = ()
    terminals: tuple[TerminalFact, ...] = ()
    cases: tuple[CaseFact, ...] = ()
    logins: tuple[LoginFact, ...] = ()


# ---------------------------------------------------------------- the rules

@dataclass(frozen=True)
class Finding:
    """One rule holding for one subject now."""
    rule: str
    subject: str
    title: str
    title_en: str
    detail: str = ""
    department: str | None = None
    severity: str = WARNING
    occurrence: str | None = None         # an occurrence's own token (a rating's row)

    @property
    def key(self) -> str:
        """The same condition of the same subject has the same key for as long as it holds."""
        return f"{self.rule}:{self.subject}" + (f":{self.occurrence}" if self.occurrence else "")


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def queue_wait(facts: Facts, limits: Limits) -> Iterable[Finding]:
    if not limits.is_open(facts.now):
        return
    for q in facts.queues:
        if q.waiting and q.oldest_since is not None:
            waited = limits.open_time(q.oldest_since, facts.now)
            if waited >= limits.queue_wait:
                name, name_en = q.name or q.queue, q.name_en or q.queue
                yield Finding("queue_wait", q.queue, f"{q.queue} {name} 排队等候超过 {_minutes(limits.queue_wait)} 分钟",
                              f"queue {q.queue} {name_en}: a ticket has waited over {_minutes(limits.queue_wait)} min",
                              f"最久的已等 {_minutes(waited)} 分钟，{q.waiting} 人在等 · the oldest has waited "
                              f"{_minutes(waited)} min, {q.waiting} waiting", q.department)


def queue_length(facts: Facts, limits: Limits) -> Iterable[Finding]:
    if not limits.is_open(facts.now):
        return
    for q in facts.queues:
        if q.waiting >= limits.queue_length:
            name, name_en = q.name or q.queue, q.name_en or q.queue
            yield Finding("queue_length", q.queue, f"{q.queue} {name} 排队人数达 {q.waiting} 人",
                          f"queue {q.queue} {name_en}: {q.waiting} waiting",
                          f"上限 {limits.queue_length} 人 · the limit is {limits.queue_length}", q.department)


def window_paused(facts: Facts, limits: Limits) -> Iterable[Finding]:
    if not limits.is_open(facts.now):
        return
    for w in facts.windows:
        if w.status == PAUSED and w.since is not None:
            paused = limits.open_time(w.since, facts.now)
            if paused >= limits.window_paused:
                yield Finding("window_paused", w.window, f"{w.name or w.window} 暂停服务超过 {_minutes(limits.window_paused)} 分钟",
                              f"{w.name_en or 'window ' + w.window} paused over {_minutes(limits.window_paused)} min",
                              f"暂停自 {w.since:%H:%M} · paused since {w.since:%H:%M}", w.department)


def window_closed(facts: Facts, limits: Limits) -> Iterable[Finding]:
    if not limits.is_open(facts.now):
        return
    queues = {q.queue: q for q in facts.queues}
    for w in facts.windows:
        if w.status != CLOSED or w.since is None:
            continue
        # closed while a queue waited: from the later of the two beginnings
        waiting = [queues[q] for q in w.queues if q in queues and queues[q].waiting and queues[q].oldest_since]
        if not waiting:
            continue
        overlap = max(limits.open_time(max(w.since, q.oldest_since), facts.now) for q in waiting)
        if overlap >= limits.window_closed:
            people = sum(q.waiting for q in waiting)
            yield Finding("window_closed", w.window, f"{w.name or w.window} 无人值守，{people} 人在等候",
                          f"{w.name_en or 'window ' + w.window} unstaffed while {people} wait for it",
                          f"{'、'.join(q.queue for q in waiting)} 有人等候已 {_minutes(overlap)} 分钟 · "
                          f"queue {', '.join(q.queue for q in waiting)} waiting for {_minutes(overlap)} min",
                          w.department, CRITICAL)


def poor_rating(facts: Facts, limits: Limits) -> Iterable[Finding]:
    for r in facts.ratings:
        if r.score <= limits.poor_rating_max:
            who = f"，工作人员 {r.staff}" if r.staff else ""
            who_en = f", staff {r.staff}" if r.staff else ""
            yield Finding("poor_rating", r.ticket or r.window, f"{r.window_name or r.window + '号窗口'} 收到差评（{r.score} 分）",
                          f"poor rating {r.score}/5 at window {r.window}",
                          f"{r.at:%H:%M} 票号 {r.ticket or '-'}{who} · at {r.at:%H:%M}, ticket {r.ticket or '-'}{who_en}",
                          r.department, occurrence=f"r{r.id}")


def device_offline(facts: Facts, limits: Limits) -> Iterable[Finding]:
    for d in facts.devices:
        if d.status == OFFLINE and d.last_seen is not None:
            silent = facts.now - d.last_seen
            if silent >= limits.device_offline:
                yield Finding("device_offline", d.device, f"设备 {d.name or d.device} 离线",
                              f"device {d.device} offline",
                              f"最后联系 {d.last_seen:%m-%d %H:%M}，已 {_minutes(silent)} 分钟 · last heard "
                              f"{d.last_seen:%m-%d %H:%M}, {_minutes(silent)} min ago", severity=CRITICAL)


def clock_skew(facts: Facts, limits: Limits) -> Iterable[Finding]:
    for d in facts.devices:
        if d.skew_flagged:
            off = f"{d.clock_skew_s:+.0f}" if d.clock_skew_s is not None else "?"
            yield Finding("clock_skew", d.device, f"设备 {d.name or d.device} 时钟偏差 {off} 秒",
                          f"device {d.device} clock off by {off} s",
                          "请检查网络校时（NTP） · check its network time (NTP)")


def device_backlog(facts: Facts, limits: Limits) -> Iterable[Finding]:
    for d in facts.devices:
        if d.backlog is not None and d.backlog >= limits.device_backlog:
            yield Finding("device_backlog", d.device, f"设备 {d.name or d.device} 积压 {d.backlog} 条未发送",
                          f"device {d.device} has {d.backlog} events waiting to be sent",
                          f"上限 {limits.device_backlog} 条 · the limit is {limits.device_backlog}")


def paper_out(facts: Facts, limits: Limits) -> Iterable[Finding]:
    for d in facts.devices:
        if d.printer == PAPER_OUT:
            yield Finding("paper_out", d.device, f"{d.name or d.device} 打印机缺纸", f"{d.device}: printer out of paper",
                          "取号只能显示在屏幕上，请换纸 · tickets show on screen only: load paper", severity=CRITICAL)


def punch_missed(facts: Facts, limits: Limits) -> Iterable[Finding]:
    for t in facts.terminals:
        yield Finding("punch_missed", t.terminal, f"考勤机 {t.name or t.terminal} 自 {t.date} 晚间打卡时段结束后无消息",
                      f"terminal {t.terminal} not heard from since the evening punch window of {t.date}",
                      f"{t.date} 的缺勤暂不认定 · the absences of {t.date} wait for it")


FOLLOWUP_NAMES = {"rating": ("差评整改", "poor-rating follow-up"), "complaint": ("投诉", "complaint")}


def _case_finding(c: CaseFact, rule: str, severity: str) -> Finding:
    due = f"{c.deadline:%Y-%m-%d}" if c.deadline else "-"
    if c.kind == "case":
        what, what_en = f"办件 {c.number} {c.name}".rstrip(), f"case {c.number} {c.name_en}".rstrip()
    else:
        zh, en = FOLLOWUP_NAMES.get(c.kind, (c.kind, c.kind))
        what, what_en = f"{zh} {c.number}", f"{en} {c.number}"
    if rule == "case_red":
        return Finding(rule, c.number, f"{what} 已超期（红牌）", f"{what_en} is overdue (red card)",
                       f"期限 {due} · due {due}", c.department, severity)
    return Finding(rule, c.number, f"{what} 即将到期（黄牌）", f"{what_en} is due soon (yellow card)",
                   f"期限 {due} · due {due}", c.department, severity)


def case_yellow(facts: Facts, limits: Limits) -> Iterable[Finding]:
    for c in facts.cases:
        if c.card == "yellow":
            yield _case_finding(c, "case_yellow", WARNING)


def case_red(facts: Facts, limits: Limits) -> Iterable[Finding]:
    for c in facts.cases:
        if c.card == "red":
            yield _case_finding(c, "case_red", CRITICAL)


def duplicate_login(facts: Facts, limits: Limits) -> Iterable[Finding]:
    for d in facts.logins:
        yield Finding("duplicate_login", d.device, f"设备 {d.name or d.device} 的登录被两个连接同时使用",
                      f"two connections share the login {d.device}",
                      f"两分钟内代理断开旧连接 {d.takeovers} 次，最近一次 {d.last_at:%H:%M:%S}；两边的应答都会丢失，"
                      f"请给第二台设备单独的登录 · the broker closed the older connection {d.takeovers} times in "
                      f"2 min, last at {d.last_at:%H:%M:%S}; both lose answers: give the second device its own login",
                      severity=CRITICAL)


# the electronic supervision's cards (电子监察)
CASE_RULES: dict[str, Callable[[Facts, Limits], Iterable[Finding]]] = {f.__name__: f for f in (case_yellow, case_red)}

RULES: dict[str, Callable[[Facts, Limits], Iterable[Finding]]] = {
    f.__name__: f for f in (queue_wait, queue_length, window_paused, window_closed, poor_rating, device_offline,
                            clock_skew, device_backlog, paper_out, punch_missed, case_yellow, case_red,
                            duplicate_login)
}


# ---------------------------------------------------------------- alerts and the book

@dataclass
class Alert:
    id: str
    key: str
    rule: str
    subject: str
    title: str
    title_en: str
    raised_at: datetime
    detail: str = ""
    department: str | None = None
    severity: str = WARNING
    state: str = FIRING
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    note: str | None = None
    holds_at: datetime | None = field(default=None, compare=False)  # the last moment its condition was seen

    @property
    def occurrence(self) -> bool:
        return self.rule in OCCURRENCE_RULES

    def wire(self) -> dict:
        """As hall.protocol.Alert has it, on `hub/alerts` and in the journal."""
        return {"id": self.id, "rule": self.rule, "severity": self.severity, "subject": self.subject,
                "department": self.department, "title": self.title, "title_en": self.title_en, "detail": self.detail,
                "raised_at": _stamp(self.raised_at), "state": self.state, "acknowledged_by": self.acknowledged_by,
                "acknowledged_at": _stamp(self.acknowledged_at), "note": self.note}

    @classmethod
    def from_wire(cls, key: str, raw: dict) -> Alert:
        def moment(text):
            return datetime.fromisoformat(text) if text else None
        raised = moment(raw["raised_at"])
        return cls(id=raw["id"], key=key, rule=raw["rule"], subject=raw["subject"], title=raw["title"],
                   title_en=raw["title_en"], raised_at=raised, detail=raw.get("detail", ""),
                   department=raw.get("department"), severity=raw.get("severity", WARNING),
                   state=raw.get("state", FIRING), acknowledged_by=raw.get("acknowledged_by"),
                   acknowledged_at=moment(raw.get("acknowledged_at")), note=raw.get("note"), holds_at=raised)


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds") if moment else None


@dataclass(frozen=True)
class Change:
    """One step of an alert's life, as journaled: raised, acknowledged or cleared, with the alert after it."""
    change: str
    alert: Alert
    at: datetime


@dataclass
class Outcome:
    ok: bool
    code: str | None = None
    error: str | None = None
    alert: Alert | None = None
    changes: list[Change] = field(default_factory=list)

    @classmethod
    def refuse(cls, code: str, detail: str = "") -> Outcome:
        message = MESSAGES[code]
        return cls(ok=False, code=code, error=f"{message}: {detail}" if detail else message)


class AlertBook:
    """The alerts not cleared yet, and the occurrences already raised (so none is raised twice)."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.active: dict[str, Alert] = {}      # by key
        self._by_id: dict[str, Alert] = {}
        self.raised_occurrences: set[str] = set()  # keys

    # ------------------------------------------------------------ deciding

    def evaluate(self, facts: Facts) -> list[Change]:
        """Raise what holds and is not raised yet, clear conditions that ended `clear_after` ago."""
        now = facts.now
        found: dict[str, Finding] = {}
        for rule, check in RULES.items():
            if rule not in self.limits.off:
                for finding in check(facts, self.limits):
                    found.setdefault(finding.key, finding)
        changes: list[Change] = []
        for key, finding in found.items():
            alert = self.active.get(key)
            if alert is not None:
                alert.holds_at = now
            elif key not in self.raised_occurrences:
                changes.append(self._raise(finding, now))
        for key, alert in list(self.active.items()):
            if alert.occurrence or key in found:
                continue
            if now - (alert.holds_at or alert.raised_at) >= self.limits.clear_after:
                changes.append(self._clear(alert, now))
        return changes

    def acknowledge(self, alert_id: str, by: str, note: str, at: datetime) -> Outcome:
        """Someone has seen it, with a note. An occurrence is then cleared; a condition stays until it ends."""
        alert = self._by_id.get(alert_id)
        if alert is None:
            return Outcome.refuse(UNKNOWN_ALERT, repr(alert_id))
        if alert.state == ACKNOWLEDGED:
            return Outcome.refuse(ALREADY_ACKNOWLEDGED, f"{alert_id} · {alert.acknowledged_by} "
                                                        f"{alert.acknowledged_at:%H:%M}")
        alert.state, alert.acknowledged_by, alert.acknowledged_at, alert.note = ACKNOWLEDGED, by, at, note
        out = Outcome(ok=True, alert=alert, changes=[Change(ACKNOWLEDGE, replace(alert), at)])
        if alert.occurrence:
            out.changes.append(self._clear(alert, at))
        return out

    # ------------------------------------------------------------ views

    def alerts(self) -> list[Alert]:
        """The alerts not cleared, newest first."""
        return sorted(self.active.values(), key=lambda a: (a.raised_at, a.id), reverse=True)

    def get(self, alert_id: str) -> Alert | None:
        return self._by_id.get(alert_id)

    # ------------------------------------------------------------ from the journal

    def replay(self, change: str, key: str, raw: dict, at: datetime) -> None:
        """One journaled change again, as it was decided (never decided again)."""
        if change == RAISED:
            alert = Alert.from_wire(key, raw)
            self.active[key] = alert
            self._by_id[alert.id] = alert
            if alert.occurrence:
                self.raised_occurrences.add(key)
            return
        alert = self._by_id.get(raw["id"])
        if alert is None:
            return  # raised before the part of the journal replayed
        if change == ACKNOWLEDGE:
            alert.state, alert.acknowledged_by, alert.note = ACKNOWLEDGED, raw.get("acknowledged_by"), raw.get("note")
            alert.acknowledged_at = datetime.fromisoformat(raw["acknowledged_at"]) if raw.get("acknowledged_at") else at
        elif change == CLEARED:
            self._drop(alert)

    # ------------------------------------------------------------ internals

    def _raise(self, finding: Finding, now: datetime) -> Change:
        alert_id = finding.key if finding.occurrence else f"{finding.key}:{now:%Y%m%dT%H%M%S}"
        alert = Alert(id=alert_id, key=finding.key, rule=finding.rule, subject=finding.subject, title=finding.title,
                      title_en=finding.title_en, raised_at=now, detail=finding.detail, department=finding.department,
                      severity=finding.severity, holds_at=now)
        self.active[finding.key] = alert
        self._by_id[alert_id] = alert
        if alert.occurrence:
            self.raised_occurrences.add(finding.key)
        return Change(RAISED, replace(alert), now)

    def _clear(self, alert: Alert, now: datetime) -> Change:
        self._drop(alert)
        return Change(CLEARED, replace(alert), now)

    def _drop(self, alert: Alert) -> None:
        self.active.pop(alert.key, None)
        self._by_id.pop(alert.id, None)
