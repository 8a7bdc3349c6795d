"""The cases report (`hall cases report`): the cases accepted in a period, judged again with the rules.

Each case row of the period is read back into the rules' `Case` (its acceptance, limit and suspensions) and its
deadline, on-time verdict, working days used and card at the report's moment are computed again, not taken from
the columns the hub keeps for its screens: a report always says what the rules say.

Figures: accepted, finished, on time, late, withdrawn, suspended, open by card; the on-time rate (按时办结率 =
finished on time / finished); the average working days used, promised and legal; the compression of the limits
(审批时限压缩 = 1 − promised / legal, over cases whose item has a legal limit); the yellow and red cards counted;
all of it for the hall, by department and by service item; and the follow-ups (差评整改, 投诉) opened in the
period with their outcome.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

from hub.cases.rules import (
    FINISHED,
    FOLLOWUP_LABELS,
    SUSPENDED,
    WITHDRAWN,
    Case,
    CaseBook,
    clock_from_hall,
)


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def read_cases(db: sqlite3.Connection, start: date, end: date) -> list[Case]:
    rows = db.execute(
        "SELECT number, service, department, accepted_at, days, legal_days, status, suspensions, finished_at, "
        "result, withdrawn_at FROM cases WHERE accepted_at >= ? AND accepted_at < ? ORDER BY accepted_at",
        (start.isoformat(), (end + timedelta(days=1)).isoformat()))
    out = []
    parse = datetime.fromisoformat
    for number, service, dept, accepted, days, legal, status, spans, finished, result, withdrawn in rows:
        suspensions = [(parse(s), _moment(e)) for s, e in json.loads(spans)] if spans != "[]" else []
        out.append(Case(number, parse(accepted), days, service, dept, legal, suspensions=suspensions, status=status,
                        finished_at=parse(finished) if finished else None, result=result,
                        withdrawn_at=parse(withdrawn) if withdrawn else None))
    return out


class _Tally:
    def __init__(self):
        self.accepted = self.finished = self.on_time = self.late = self.withdrawn = self.suspended = 0
        self.cards = {"green": 0, "yellow": 0, "red": 0}
        self.used = self.promised = 0
        self.legal_promised = self.legal = 0

    def add(self, case: Case, verdict: tuple[str, bool | None, int, str | None]) -> None:
        status, on_time, used, card = verdict
        self.accepted += 1
        self.promised += case.days
        if case.legal_days:
            self.legal_promised += case.days
            self.legal += case.legal_days
        if status == FINISHED:
            self.finished += 1
            self.used += used
            if on_time:
                self.on_time += 1
            else:
                self.late += 1
        elif status == WITHDRAWN:
            self.withdrawn += 1
        elif status == SUSPENDED:
            self.suspended += 1
        else:
            self.cards[card] += 1

    def figures(self) -> dict:
        return {"accepted": self.accepted, "finished": self.finished, "on_time": self.on_time, "late": self.late,
                "withdrawn": self.withdrawn, "suspended": self.suspended, "open_by_card": dict(self.cards),
                "on_time_rate": round(self.on_time / self.finished, 4) if self.finished else None,
                "avg_days_used": round(self.used / self.finished, 2) if self.finished else None,
                "avg_days_promised": round(self.promised / self.accepted, 2) if self.accepted else None,
                "avg_days_legal": round(self.legal / self.accepted, 2) if self.accepted and self.legal else None,
                "compression": round(1 - self.legal_promised / self.legal, 4) if self.legal else None}


def evaluate(book: CaseBook, cases: list[Case], now: datetime, names: dict | None = None) -> dict:
    """The figures of the hall, by department and by service item (pure: the cases are given)."""
    names = names or {}
    total, depts, items = _Tally(), defaultdict(_Tally), defaultdict(_Tally)
    today = now.astimezone(book.clock.tz).date()
    next_workday = book.clock.workdays.next_after(today)
    for case in cases:
        # each case judged once, then counted three times
        if case.status == FINISHED:
            verdict = (FINISHED, book.on_time(case), book.days_used(case, now), None)
        elif case.status in (WITHDRAWN, SUSPENDED):
            verdict = (case.status, None, 0, None)
        else:
            verdict = (case.status, None, 0, book.card(case, now, today, next_workday))
        total.add(case, verdict)
        depts[case.department or "-"].add(case, verdict)
        items[case.service or "-"].add(case, verdict)
    return {
        "totals": total.figures(),
        "departments": [{"department": d, "name": names.get(("d", d), ""), **t.figures()}
                        for d, t in sorted(depts.items())],
        "services": [{"service": s, "name": names.get(("s", s), ""), **t.figures()} for s, t in sorted(items.items())],
    }


def cases_report(db_path: Path, hall, start: date, end: date, now: datetime) -> dict:
    book = CaseBook(clock_from_hall(hall))
    names = {("d", d.id): d.name for d in hall.catalogue.departments} | \
            {("s", s.id): s.name for s in hall.catalogue.services}
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        cases = read_cases(db, start, end) if "cases" in tables else []
        report = {"from": start.isoformat(), "to": end.isoformat(), "at": now.isoformat(timespec="seconds"),
                  **evaluate(book, cases, now, names)}
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
