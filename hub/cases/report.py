"""The cases report (`hall cases report`): the cases accepted in a period, judged again with the rules.

Each case row of the period is judged again with the rules' own functions (`deadline_of`, `days_used`, `card_of`
in hub/cases/rules.py): its deadline, on-time verdict, working days used and card at the report's moment are
computed again, not taken from the columns the hub keeps for its screens: a report always says what the rules say.

A year is 120,000 cases, so the rows stay light (`CaseRow`, a named tuple of the stored text) and the rules are
asked once per distinct question: a case never suspended has a deadline that depends only on its local acceptance
date and its limit, days used that depend only on that date and its finishing date, and a card that depends only
on its deadline, so those answers are kept and reused (`_Judge`); a case with suspensions is judged in full. Each
case is counted once, for its department and item together, and the hall's, departments' and items' figures are
sums of those counts.

Figures: accepted, finished, on time, late, withdrawn, suspended, open by card; the on-time rate (按时办结率 =
finished on time / finished); the average working days used, promised and legal; the compression of the limits
(审批时限压缩 = 1 − promised / legal, over cases whose item has a legal limit); the yellow and red cards counted;
all of it for the hall, by department and by service item; and the follow-ups (差评整改, 投诉) opened in the
period with their outcome.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from hub.cases.rules import (
    ACCEPTED,
    FINISHED,
    FOLLOWUP_LABELS,
    GREEN,
    IN_PROGRESS,
    RED,
    SUSPENDED,
    WITHDRAWN,
    YELLOW,
    Clock,
    card_of,
    clock_from_hall,
    days_used,
    deadline_of,
)


class CaseRow(NamedTuple):
    """A stored case as the report needs it: the table's own text, parsed only where a rule needs it."""

    service: str | None
    department: str | None
    accepted_at: str          # ISO 8601 with its offset
    days: int
    legal_days: int | None
    status: str
    suspensions: str          # JSON: [[start, end or null], ...]
    finished_at: str | None


def read_rows(db: sqlite3.Connection, start: date, end: date) -> list[CaseRow]:
    """The cases accepted from `start` to `end`, in no particular order (the figures are sums), as plain tuples
    laid out as `CaseRow`: a year of them reads in about the time SQLite takes alone."""
    return db.execute(
        "SELECT service, department, accepted_at, days, legal_days, status, suspensions, finished_at FROM cases "
        "WHERE accepted_at >= ? AND accepted_at < ?",
        (start.isoformat(), (end + timedelta(days=1)).isoformat())).fetchall()


class _Judge:
    """The rules' verdicts on stored cases at one moment, each distinct question asked of the rules once."""

    def __init__(self, clock: Clock, now: datetime):
        self.clock, self.now, self.tz = clock, now, clock.tz
        self.today = now.astimezone(clock.tz).date()
        self.next_workday = clock.workdays.next_after(self.today)
        self._deadlines: dict[tuple[date, int], date | None] = {}
        self._used: dict[tuple[date, date], int] = {}
        self._closes: dict[date, datetime] = {}
        self._cards: dict[date | None, str | None] = {}

    def closes(self, day: date) -> datetime:
        closes = self._closes.get(day)
        if closes is None:
            closes = self._closes[day] = self.clock.closes(day)
        return closes

    def card(self, deadline: date | None) -> str | None:
        if deadline not in self._cards:
            self._cards[deadline] = card_of(self.clock, deadline, self.now, self.today, self.next_workday)
        return self._cards[deadline]

    def verdict(self, status: str, accepted_at: str, days: int, suspensions: str,
                finished_at: str | None) -> tuple[bool | None, int, str | None]:
        """(on time, working days used, card) of a stored case: on time and days used once finished, the card
        while open and not suspended."""
        if status == WITHDRAWN or status == SUSPENDED:
            return None, 0, None
        parse = datetime.fromisoformat
        accepted = parse(accepted_at)
        if suspensions != "[]":
            spans = [(parse(s), parse(e) if e else None) for s, e in json.loads(suspensions)]
            deadline = deadline_of(self.clock, accepted, days, spans)
            if status == FINISHED:
                finished = parse(finished_at)
                on_time = deadline is not None and finished <= self.closes(deadline)
                return on_time, days_used(self.clock, accepted, finished, spans), None
            return None, 0, self.card(deadline) if status in (ACCEPTED, IN_PROGRESS) else None
        # never suspended: the answers depend on local dates only
        tz = self.tz
        accepted_day = accepted.astimezone(tz).date()
        key = (accepted_day, days)
        deadline = self._deadlines.get(key, self)
        if deadline is self:
            deadline = self._deadlines[key] = deadline_of(self.clock, accepted, days, [])
        if status == FINISHED:
            finished = parse(finished_at)
            span = (accepted_day, finished.astimezone(tz).date())
            used = self._used.get(span)
            if used is None:
                used = self._used[span] = days_used(self.clock, accepted, finished, [])
            return deadline is not None and finished <= self.closes(deadline), used, None
        return None, 0, self.card(deadline) if status in (ACCEPTED, IN_PROGRESS) else None


class _Tally:
    __slots__ = ("accepted", "finished", "on_time", "late", "withdrawn", "suspended", "green", "yellow", "red",
                 "used", "promised", "legal_promised", "legal")

    def __init__(self):
        for name in self.__slots__:
            setattr(self, name, 0)

    def merge(self, other: _Tally) -> _Tally:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def figures(self) -> dict:
        return {"accepted": self.accepted, "finished": self.finished, "on_time": self.on_time, "late": self.late,
                "withdrawn": self.withdrawn, "suspended": self.suspended,
                "open_by_card": {"green": self.green, "yellow": self.yellow, "red": self.red},
                "on_time_rate": round(self.on_time / self.finished, 4) if self.finished else None,
                "avg_days_used": round(self.used / self.finished, 2) if self.finished else None,
                "avg_days_promised": round(self.promised / self.accepted, 2) if self.accepted else None,
                "avg_days_legal": round(self.legal / self.accepted, 2) if self.accepted and self.legal else None,
                "compression": round(1 - self.legal_promised / self.legal, 4) if self.legal else None}


def evaluate(clock: Clock, rows: list[CaseRow] | list[tuple], now: datetime, names: dict | None = None) -> dict:
    """The figures of the hall, by department and by service item (pure: the rows are given)."""
    names = names or {}
    judge = _Judge(clock, now)
    pairs: dict[tuple[str, str], _Tally] = {}
    verdict = judge.verdict
    for service, department, accepted_at, days, legal_days, status, suspensions, finished_at in rows:
        on_time, used, card = verdict(status, accepted_at, days, suspensions, finished_at)
        key = (department or "-", service or "-")
        t = pairs.get(key)
        if t is None:
            t = pairs[key] = _Tally()
        t.accepted += 1
        t.promised += days
        if legal_days:
            t.legal_promised += days
            t.legal += legal_days
        if status == FINISHED:
            t.finished += 1
            t.used += used
            if on_time:
                t.on_time += 1
            else:
                t.late += 1
        elif status == WITHDRAWN:
            t.withdrawn += 1
        elif status == SUSPENDED:
            t.suspended += 1
        elif card == GREEN:
            t.green += 1
        elif card == YELLOW:
            t.yellow += 1
        elif card == RED:
            t.red += 1
    total, depts, items = _Tally(), {}, {}
    for (dept, service), t in pairs.items():
        total.merge(t)
        depts.setdefault(dept, _Tally()).merge(t)
        items.setdefault(service, _Tally()).merge(t)
    return {
        "totals": total.figures(),
        "departments": [{"department": d, "name": names.get(("d", d), ""), **t.figures()}
                        for d, t in sorted(depts.items())],
        "services": [{"service": s, "name": names.get(("s", s), ""), **t.figures()} for s, t in sorted(items.items())],
    }


def cases_report(db_path: Path, hall, start: date, end: date, now: datetime) -> dict:
    clock = clock_from_hall(hall)
    names = {("d", d.id): d.name for d in hall.catalogue.departments} | \
            {("s", s.id): s.name for s in hall.catalogue.services}
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        rows = read_rows(db, start, end) if "cases" in tables else []
        report = {"from": start.isoformat(), "to": end.isoformat(), "at": now.isoformat(timespec="seconds"),
                  **evaluate(clock, rows, now, names)}
        upper = (end + timedelta(days=1)).isoformat()
        cards = {"yellow": 0, "red": 0}
        if "case_cards" in tables:
            for card, n in db.execute("SELECT card, count(*) FROM case_cards WHERE at >= ? AND at < ? "
                                      "AND number NOT LIKE 'Z%' AND number NOT LIKE 'T%' GROUP BY card",
                                      (start.isoformat(), upper)):
                cards[card] = n
        report["cards_raised"] = cards
        followups = []
        if "followups" in tables:
            for row in db.execute("SELECT id, kind, department, window, ticket, score, detail, opened_at, due, "
                                  "answered_at, answered_by, contact, cause, correction, on_time FROM followups "
                                  "WHERE opened_at >= ? AND opened_at < ? ORDER BY opened_at",
                                  (start.isoformat(), upper)):
                keys = ("id", "kind", "department", "window", "ticket", "score", "detail", "opened_at", "due",
                        "answered_at", "answered_by", "contact", "cause", "correction", "on_time")
                f = dict(zip(keys, row, strict=True))
                f["on_time"] = None if f["on_time"] is None else bool(f["on_time"])
                f["overdue"] = f["answered_at"] is None and now.date() > date.fromisoformat(f["due"])
                followups.append(f)
        report["followups"] = {
            kind: {"opened": sum(1 for f in followups if f["kind"] == kind),
                   "answered": sum(1 for f in followups if f["kind"] == kind and f["answered_at"]),
                   "on_time": sum(1 for f in followups if f["kind"] == kind and f["on_time"]),
                   "overdue": sum(1 for f in followups if f["kind"] == kind and f["overdue"])}
            for kind in FOLLOWUP_LABELS}
        report["followup_list"] = followups
    finally:
        db.close()
    return report


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def report_text(report: dict) -> str:
    t = report["totals"]
    lines = [f"办件报表 Cases {report['from']} – {report['to']} (as of {report['at']})",
             f"受理 accepted {t['accepted']}  办结 finished {t['finished']}  按时 on time {t['on_time']}  "
             f"超期 late {t['late']}  退件 withdrawn {t['withdrawn']}  补正 suspended {t['suspended']}",
             f"在办 open: 绿 green {t['open_by_card']['green']}  黄 yellow {t['open_by_card']['yellow']}  "
             f"红 red {t['open_by_card']['red']}",
             f"按时办结率 on-time rate {_pct(t['on_time_rate'])}  平均用时 avg days used {t['avg_days_used'] or '-'}  "
             f"承诺 promised {t['avg_days_promised'] or '-'}  法定 legal {t['avg_days_legal'] or '-'}  "
             f"审批时限压缩 compression {_pct(t['compression'])}",
             f"黄牌 yellow cards {report['cards_raised']['yellow']}  红牌 red cards {report['cards_raised']['red']}",
             "", "部门 department            受理  办结  按时  超期  按时率  压缩"]
    for d in report["departments"]:
        lines.append(f"{(d['name'] or d['department'])[:12]:<14}{d['department']:<10} {d['accepted']:>5} "
                     f"{d['finished']:>5} {d['on_time']:>5} {d['late']:>5} {_pct(d['on_time_rate']):>7} "
                     f"{_pct(d['compression']):>6}")
    lines.append("")
    for kind, (zh, en) in FOLLOWUP_LABELS.items():
        f = report["followups"][kind]
        lines.append(f"{zh} {en}: 开 opened {f['opened']}  回复 answered {f['answered']}  按时 on time "
                     f"{f['on_time']}  超期 overdue {f['overdue']}")
    return "\n".join(lines) + "\n"


def write_xlsx(report: dict, path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "汇总 Totals"
    ws.append(["办件报表 Cases", report["from"], report["to"], report["at"]])
    t = report["totals"]
    for key, label in (("accepted", "受理 accepted"), ("finished", "办结 finished"), ("on_time", "按时 on time"),
                       ("late", "超期 late"), ("withdrawn", "退件 withdrawn"), ("suspended", "补正 suspended"),
                       ("on_time_rate", "按时办结率 on-time rate"), ("avg_days_used", "平均用时 avg days used"),
                       ("avg_days_promised", "平均承诺时限 avg promised"), ("avg_days_legal", "平均法定时限 avg legal"),
                       ("compression", "审批时限压缩 compression")):
        ws.append([label, t[key]])
    for card, n in t["open_by_card"].items():
        ws.append([f"在办 open {card}", n])
    for card, n in report["cards_raised"].items():
        ws.append([f"{card} cards raised", n])
    cols = ["accepted", "finished", "on_time", "late", "withdrawn", "suspended", "on_time_rate", "avg_days_used",
            "avg_days_promised", "avg_days_legal", "compression"]
    for title, rows, key in (("部门 Departments", report["departments"], "department"),
                             ("事项 Services", report["services"], "service")):
        sheet = wb.create_sheet(title)
        sheet.append([key, "name", *cols])
        for row in rows:
            sheet.append([row[key], row["name"], *(row[c] for c in cols)])
    sheet = wb.create_sheet("整改 Follow-ups")
    keys = ["id", "kind", "department", "window", "ticket", "score", "opened_at", "due", "answered_at", "answered_by",
            "contact", "cause", "correction", "on_time", "overdue"]
    sheet.append(keys)
    for f in report["followup_list"]:
        sheet.append([f[k] for k in keys])
    wb.save(path)
