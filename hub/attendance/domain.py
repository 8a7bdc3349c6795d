"""Attendance inside the hub: punches stored from the pipeline, days closed and evaluated as they end.

`apply()` stores each punch (event id, staff, the time on the terminal, terminal, score). A punch whose staff id
is not in the staff list is kept, flagged `unknown_staff` and logged: it was a real finger on a real terminal (a
new colleague whose row is missing, a stale template map), so it must not vanish, but it counts for no one.

`tick()` closes days. A date's evening window ends at 23:59; its absences are final only once every terminal of
the hall has been heard from with an event stamped after that moment (their outboxes send in order, so by then
every punch of the day is in). Terminals send a heartbeat every few minutes, so on a normal night a date closes
within minutes. A terminal that stays silent is named in a warning (log and the retained `hub/state/attendance`)
and the date waits; nobody is marked absent because a terminal was unplugged. Punches that reach a closed date
later re-evaluate that person's day, marked `revised`. The days stored at closing are what the reports count.

Managers act from the console with two requests, answered on its `res`: `leave` (a LeaveEntry, stored in `leave`
with who entered it and why) and `punch_correction` (补卡, stored in `punch_corrections` with who and why: it counts
as a punch, and `punches` stays as the terminals sent it). Each judges again the closed days it touches; a day not
closed yet counts it when it closes. The events themselves (with their answers) are the audit trail: the
`manager_actions` view lists them.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta

import sqlite_utils

from hall.protocol import Answer, AttendanceState, CorrectionInfo, LeaveInfo, RevisedDay, SlotInfo
from hub.attendance import store
from hub.attendance.rules import Schedule, WorkCalendar
from hub.domain import Emit, Event

log = logging.getLogger("hub.attendance")

SILENT_WARNING_AFTER = timedelta(hours=2)  # after the evening window, how long before a silent terminal is named
RECHECK_EVERY = timedelta(seconds=30)       # while a date waits, how often to look for the terminals again


# refusals of the manager actions (answered with ok: false); Chinese first, English second
UNKNOWN_STAFF = "unknown_staff"
ALREADY_ENTERED = "already_entered"
NOT_YET = "not_yet"
MESSAGES = {
    UNKNOWN_STAFF: "没有这个工作人员 · no such staff member",
    ALREADY_ENTERED: "这段假期已经登记过 · this leave is already entered",
    NOT_YET: "补卡时间还没到 · a correction cannot be for a time still to come",
}


def refusal(code: str, detail: str) -> Answer:
    return Answer.build(ok=False, code=code, error=f"{MESSAGES[code]}: {detail}")


class AttendanceDomain:
    types = frozenset({"punch", "leave", "punch_correction"})

    def __init__(self, hall):
        self.hall = hall
        self.tz = hall.tz
        self.schedule = Schedule.from_rules(hall.attendance)
        self.calendar = WorkCalendar.from_rules(hall.attendance, warn=log.warning)
        self.staff = [s.id for s in hall.staff]
        self._known = set(self.staff)
        self.terminals = [d.id for d in hall.devices_of("terminal")]
        self._open: date | None = None        # the first date not yet closed
        self._next_check: datetime | None = None
        self._warned: set[date] = set()
        self._not_in_service: set[str] = set()

    # ------------------------------------------------------------ Domain

    def setup(self, db: sqlite_utils.Database, emit: Emit) -> None:
        store.create_tables(db)
        # the first date still to close: after the last closed one, or earlier if punches wait on a date never closed
        candidates = []
        row = db.execute("SELECT max(date) FROM attendance_dates WHERE final=1").fetchone()
        if row and row[0]:
            candidates.append(date.fromisoformat(row[0]) + timedelta(days=1))
        unclosed = db.execute("SELECT min(p.date) FROM punches p LEFT JOIN attendance_dates d ON d.date = p.date "
                              "WHERE d.final IS NULL OR d.final = 0").fetchone()[0]
        if unclosed:
            candidates.append(date.fromisoformat(unclosed))
        self._open = min(candidates) if candidates else None
        waiting = db.execute("SELECT date, waiting_for, warning FROM attendance_dates WHERE final=0 "
                             "ORDER BY date LIMIT 1").fetchone()
        if waiting:
            emit.hub("state/attendance", AttendanceState.build(
                date=waiting[0], final=False, waiting_for=json.loads(waiting[1] or "[]"), warning=waiting[2]))

    def apply(self, db: sqlite_utils.Database, event: Event, emit: Emit) -> Answer | None:
        if event.type == "leave":
            return self._enter_leave(db, event)
        if event.type == "punch_correction":
            return self._correct_punch(db, event)
        punch = event.data
        at = punch.at.astimezone(self.tz)
        flag = None if punch.staff in self._known else "unknown_staff"
        if flag:
            log.warning("punch %s from %s names unknown staff %r: kept, flagged, counted for no one",
                        event.id, event.device, punch.staff)
        store.insert_punch(db, event.id, punch.staff, at, event.device, punch.score, event.received_at, flag)
        day = at.date()
        if self._open is None or day < self._open:
            if self._is_final(db, day):
                if not flag:
                    self._revise(db, punch.staff, day, event.received_at)
            else:  # an earlier date never closed (a terminal's backlog, a hub started later): close it in turn
                self._open = day
                self._next_check = None
        return None

    def flush(self, db: sqlite_utils.Database, emit: Emit) -> None:
        """A punch changes no retained state until its date closes (in tick)."""

    def tick(self, db: sqlite_utils.Database, now: datetime, emit: Emit) -> None:
        now = now.astimezone(self.tz)
        if self._open is None:
            self._open = now.date()
            return
        if self._next_check and now < self._next_check:
            return
        while self._close_moment(self._open) <= now:
            if not self._try_close(db, self._open, now, emit):
                self._next_check = now + RECHECK_EVERY
                return
            self._open += timedelta(days=1)
        self._next_check = self._close_moment(self._open)

    # ------------------------------------------------------------ closing a date

    def _close_moment(self, day: date) -> datetime:
        return datetime.combine(day, self.schedule.closes, tzinfo=self.tz)

    def heard_since(self, db, terminal: str) -> datetime | None:
        """The device time of the terminal's latest event below its committed watermark."""
        row = db.execute(
            "SELECT e.ts FROM events e JOIN devices d ON d.id = e.device WHERE e.device = ? AND e.seq <= d.watermark "
            "ORDER BY e.seq DESC LIMIT 1", (terminal,)).fetchone() if "events" in db.table_names() else None
        return datetime.fromisoformat(row[0]) if row else None

    def last_received(self, db, terminal: str) -> datetime | None:
        """When the hub last received anything from the terminal, by the hub's clock."""
        row = db.execute("SELECT last_seen FROM devices WHERE id = ?", (terminal,)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def _is_final(self, db, day: date) -> bool:
        row = db.execute("SELECT final FROM attendance_dates WHERE date=?", (day.isoformat(),)).fetchone()
        return bool(row and row[0])

    def _try_close(self, db, day: date, now: datetime, emit: Emit) -> bool:
        if self._is_final(db, day):
            return True
        closes = self._close_moment(day)
        waiting = []
        for terminal in self.terminals:
            heard = self.heard_since(db, terminal)
            if heard is None and self.last_received(db, terminal) is None:
                # never heard from at all: not in service yet (just configured, or a login left free for an outside
                # device); it holds no punches of this hall, so days do not wait for it
                if terminal not in self._not_in_service:
                    self._not_in_service.add(terminal)
                    log.info("考勤机 %s 尚未接入，关账不等待 / terminal %s has never reported: dates close without it",
                             terminal, terminal)
                continue
            if heard is None or heard < closes:
                waiting.append(terminal)
        key = day.isoformat()
        if waiting:
            warning = None
            # A terminal still sending (a backlog draining, a simulated clock behind the hub's) holds the date up
            # but is not silent: only one the hub has received nothing from for a while is named.
            silent = [t for t in waiting if now - max(closes, self.last_received(db, t) or closes)
                      >= SILENT_WARNING_AFTER]
            if silent:
                warning = (f"考勤机 {'、'.join(silent)} 自 {key} 晚间打卡时段结束后无消息，当日缺勤暂不认定 / terminals "
                           f"{', '.join(silent)} not heard from since the evening window of {key} closed: the "
                           f"day's absences wait for them")
                if day not in self._warned:
                    log.warning(warning)
                    self._warned.add(day)
            db.execute("INSERT INTO attendance_dates(date, final, waiting_for, warning) VALUES (?,0,?,?) "
                       "ON CONFLICT(date) DO UPDATE SET waiting_for=excluded.waiting_for, warning=excluded.warning",
                       (key, json.dumps(waiting), warning))
            emit.hub("state/attendance", AttendanceState.build(date=key, final=False, waiting_for=waiting,
                                                               warning=warning))
            return False
        days = store.close_date(db, day, self.staff, schedule=self.schedule, calendar=self.calendar, tz=self.tz,
                                now=now)
        counts: dict[str, int] = {}
        for d in days:
            counts[d.status] = counts.get(d.status, 0) + 1
        log.info("attendance %s closed: %s", key, counts)
        emit.hub("state/attendance", AttendanceState.build(date=key, final=True, counts=counts))
        return True

    def _revise(self, db, staff: str, day: date, at: datetime) -> None:
        result, = store.revise_days(db, [staff], day, day, schedule=self.schedule, calendar=self.calendar,
                                    tz=self.tz, at=at)
        log.info("attendance of %s on %s revised by a late punch: now %s", staff, day, result.status)

    # ------------------------------------------------------------ manager actions

    def _enter_leave(self, db, event: Event) -> Answer:
        entry = event.data
        if entry.staff not in self._known:
            return refusal(UNKNOWN_STAFF, repr(entry.staff))
        start, end = entry.start.astimezone(self.tz), entry.end.astimezone(self.tz)
        row = store.add_leave(db, staff=entry.staff, kind=entry.kind, start=start, end=end, by=entry.by,
                              reason=entry.reason, event=event.id, entered_at=event.received_at)
        if row is None:
            return refusal(ALREADY_ENTERED, f"{entry.staff} {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}")
        revised = store.revise_days(db, [entry.staff], start.date(), end.date(), schedule=self.schedule,
                                    calendar=self.calendar, tz=self.tz, at=event.received_at)
        log.info("leave %s for %s %s – %s entered by %s (%s): %d closed days judged again", entry.kind,
                 entry.staff, start, end, entry.by, entry.reason, len(revised))
        leave = LeaveInfo.build(id=row, staff=entry.staff, kind=entry.kind, start=start.isoformat(),
                                end=end.isoformat(), by=entry.by, reason=entry.reason)
        return Answer.build(ok=True, leave=leave, revised=[_day_wire(d) for d in revised])

    def _correct_punch(self, db, event: Event) -> Answer:
        correction = event.data
        if correction.staff not in self._known:
            return refusal(UNKNOWN_STAFF, repr(correction.staff))
        at = correction.at.astimezone(self.tz)
        if at > event.received_at:
            return refusal(NOT_YET, at.isoformat(timespec="minutes"))
        row = store.add_correction(db, staff=correction.staff, at=at, by=correction.by, reason=correction.reason,
                                   event=event.id, entered_at=event.received_at)
        day = at.date()
        revised = []
        if self._is_final(db, day):
            revised = store.revise_days(db, [correction.staff], day, day, schedule=self.schedule,
                                        calendar=self.calendar, tz=self.tz, at=event.received_at)
        elif self._open is not None and day < self._open:  # an earlier date never closed: close it in turn
            self._open = day
            self._next_check = None
        log.info("punch correction for %s at %s entered by %s (%s)", correction.staff, at, correction.by,
                 correction.reason)
        done = CorrectionInfo.build(id=row, staff=correction.staff, at=at.isoformat(), by=correction.by,
                                    reason=correction.reason)
        return Answer.build(ok=True, correction=done, revised=[_day_wire(d) for d in revised])


def _day_wire(day) -> RevisedDay:
    """A day judged again, as the console shows it."""
    out = day.to_dict()
    slots = None if out["slots"] is None else {n: SlotInfo.build(**s) for n, s in out["slots"].items()}
    return RevisedDay.build(staff=out["staff"], date=out["date"], status=out["status"], slots=slots)
