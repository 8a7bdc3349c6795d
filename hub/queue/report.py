"""The day report (日报) of the queue: per queue, per window, per staff member and the hall's totals.

Read from the hub database (`tickets`, `calls`, `ratings`), never from the running engine, so it can be run at
any time, during the day or after it, while the hub keeps writing.

Definitions:
- issued: tickets issued in the queue that day; served: calls that ended done (in the queue the ticket was in
  when called); no-show: tickets whose last call ended as a no-show and were not requeued and served since.
- wait: from issue to the ticket's first call; handling: from a call to its completion (done calls only).
- satisfaction (满意率): the share of ratings (好差评, 1-5) of 3 or more.
- paused: from a window's pause to its resume (`queue_journal`), split by the reason given (会议, 午休, …; a pause
  given again with another reason starts that reason's share); a pause not resumed counts up to the day's closing
  time, or now while the day is still on.
- waited over 30 minutes: the share of the day's tickets whose wait passed 30 minutes, a ticket still waiting
  counting to the closing time (or now); the tickets called and those still waiting make the whole.
- by hour (时段): tickets issued in each hour, served (calls done, by the hour they ended) and the mean wait of
  the tickets issued in it; the peak is the hour with the most issued (the earlier on a tie).
- the day before: the same totals for the last earlier day with tickets, and the change from it.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import unicodedata
from datetime import date, datetime
from pathlib import Path

from hall.settings import pause_reason_text


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _avg(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _longest(values: list[float]) -> float | None:
    return round(max(values), 1) if values else None


def _ratings(scores: list[int]) -> dict:
    good = sum(1 for s in scores if s >= 3)
    return {"ratings": len(scores), "avg_score": _avg([float(s) for s in scores]),
            "satisfaction": round(good / len(scores), 4) if scores else None}


LONG_WAIT_S = 30 * 60
COMPARED = ("issued", "served", "no_show", "avg_wait_s", "over_30_share", "satisfaction", "paused_s")


def _pauses(rows, until: datetime) -> dict[str, dict[str | None, float]]:
    """Seconds each window was paused, by reason, from the day's `pause` and `resume` rows carried out, in order."""
    paused: dict[str, tuple[datetime, str | None]] = {}
    spent: dict[str, dict[str | None, float]] = {}

    def close(window: str, at: datetime) -> None:
        since, reason = paused.pop(window)
        share = spent.setdefault(window, {})
        share[reason] = share.get(reason, 0.0) + max(0.0, (at - since).total_seconds())

    for at, op, args, result in rows:
        if not json.loads(result).get("ok"):
            continue
        window, moment = json.loads(args).get("window"), datetime.fromisoformat(at)
        if window in paused:
            close(window, moment)
        if op == "pause":
            paused[window] = (moment, json.loads(args).get("reason"))
    for window in list(paused):
        close(window, until)
    return spent


def day_report(db_path: Path | str, day: date, hall, now: datetime | None = None) -> dict:
    """`now` bounds the pauses not resumed yet (the day being reported on is still on)."""
    conn = sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True, timeout=10)
    closing = datetime.combine(day, hall.hours.open[-1].end, tzinfo=hall.tz)
    now = now or datetime.now(hall.tz)
    try:
        report = _report(conn, day.isoformat(), hall, min(closing, now))
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        before = None
        if "tickets" in tables:
            before = conn.execute("SELECT max(day) FROM tickets WHERE day < ?", (day.isoformat(),)).fetchone()[0]
        report["previous"] = None
        report["change"] = None
        if before:
            until = datetime.combine(date.fromisoformat(before), hall.hours.open[-1].end, tzinfo=hall.tz)
            t = _report(conn, before, hall, until)["totals"]
            report["previous"] = {"date": before, **{k: t[k] for k in COMPARED}}
            report["change"] = {k: None if t[k] is None or report["totals"][k] is None
                                else round(report["totals"][k] - t[k], 4) for k in COMPARED}
        return report
    finally:
        conn.close()


def _report(conn: sqlite3.Connection, day: str, hall, until: datetime) -> dict:
    cat = hall.catalogue
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not {"tickets", "calls", "ratings"} <= tables:
        tickets, calls, ratings = [], [], []
    else:
        tickets = conn.execute("SELECT no, queue, origin, status, issued_at, called_at FROM tickets WHERE day=?",
                               (day,)).fetchall()
        calls = conn.execute("SELECT queue, window, staff, called_at, ended_at, outcome FROM calls WHERE day=?",
                             (day,)).fetchall()
        ratings = conn.execute("SELECT window, staff, score FROM ratings WHERE day=?", (day,)).fetchall()
    pauses = {}
    if "queue_journal" in tables:
        pauses = _pauses(conn.execute("SELECT at, op, args, result FROM queue_journal WHERE day=? AND op IN "
                                      "('pause', 'resume') ORDER BY id", (day,)).fetchall(), until)

    def waits(rows) -> list[float]:
        return [w for w in (_seconds(r[4], r[5]) for r in rows) if w is not None]

    def handling(rows) -> list[float]:
        return [h for h in (_seconds(r[3], r[4]) for r in rows if r[5] == "done") if h is not None]

    queues = []
    for q in cat.queues:
        issued = [t for t in tickets if t[2] == q.id]
        served = [c for c in calls if c[0] == q.id and c[5] == "done"]
        queues.append({
            "queue": q.id, "name": q.name, "name_en": q.name_en,
            "issued": len(issued), "served": len(served),
            "no_show": sum(1 for t in tickets if t[1] == q.id and t[3] == "no_show"),
            "avg_wait_s": _avg(waits(issued)), "longest_wait_s": _longest(waits(issued)),
            "avg_handling_s": _avg(handling(served)),
        })
    windows = []
    for w in cat.windows:
        mine = [c for c in calls if c[1] == w.id]
        windows.append({
            "window": w.id, "name": w.name, "name_en": w.name_en,
            "called": len(mine), "served": sum(1 for c in mine if c[5] == "done"),
            "no_show": sum(1 for c in mine if c[5] == "no_show"),
            "avg_handling_s": _avg(handling(mine)),
            **_ratings([r[2] for r in ratings if r[0] == w.id]),
            **_paused(pauses.get(w.id, {})),
        })
    staff = []
    for sid in sorted({c[2] for c in calls if c[2]} | {r[1] for r in ratings if r[1]}):
        mine = [c for c in calls if c[2] == sid]
        member = hall.staff_member(sid)
        staff.append({
            "staff": sid, "name": member.name if member else "",
            "served": sum(1 for c in mine if c[5] == "done"), "avg_handling_s": _avg(handling(mine)),
            **_ratings([r[2] for r in ratings if r[1] == sid]),
        })
    all_waits = waits(tickets)
    totals = {
        "issued": len(tickets), "served": sum(1 for c in calls if c[5] == "done"),
        "no_show": sum(1 for t in tickets if t[3] == "no_show"),
        "unserved": sum(1 for t in tickets if t[3] in ("waiting", "called")),
        "avg_wait_s": _avg(all_waits), "longest_wait_s": _longest(all_waits),
        "avg_handling_s": _avg(handling(calls)),
        **_ratings([r[2] for r in ratings]),
        "paused_s": round(sum(s for share in pauses.values() for s in share.values()), 1),
        **_long_waits(tickets, until),
    }
    hours = _hours(tickets, calls, hall.tz)
    totals["peak_hour"] = max(hours, key=lambda h: (h["issued"], -h["hour"]))["hour"] if tickets else None
    return {"hall": hall.id, "name": hall.info.name, "date": day, "queues": queues, "windows": windows,
            "staff": staff, "totals": totals, "hours": hours}


def _long_waits(tickets, until: datetime) -> dict:
    """How many of the day's tickets waited over 30 minutes, and their share (still waiting: up to `until`)."""
    seen = over = 0
    for _no, _queue, _origin, status, issued_at, called_at in tickets:
        if called_at:
            wait = _seconds(issued_at, called_at)
        elif status == "waiting":
            wait = (until - datetime.fromisoformat(issued_at)).total_seconds()
        else:
            continue
        seen += 1
        over += wait is not None and wait > LONG_WAIT_S
    return {"over_30": over, "over_30_share": round(over / seen, 4) if seen else None}


def _hours(tickets, calls, tz) -> list[dict]:
    """Issued, served and the mean wait, hour by hour (local time), from the first hour with anything to the last."""
    def hour(moment: str | None) -> int | None:
        return datetime.fromisoformat(moment).astimezone(tz).hour if moment else None

    issued: dict[int, list] = {}
    for t in tickets:
        issued.setdefault(hour(t[4]), []).append(t)
    served: dict[int, int] = {}
    for c in calls:
        if c[5] == "done" and c[4]:
            served[hour(c[4])] = served.get(hour(c[4]), 0) + 1
    span = sorted(set(issued) | set(served))
    if not span:
        return []
    return [{"hour": h, "issued": len(issued.get(h, [])), "served": served.get(h, 0),
             "avg_wait_s": _avg([w for w in (_seconds(t[4], t[5]) for t in issued.get(h, [])) if w is not None])}
            for h in range(span[0], span[-1] + 1)]


def _paused(share: dict[str | None, float]) -> dict:
    """A window's pause time in all and by reason, the longest share first (a pause with no reason: null)."""
    by_reason = sorted(share.items(), key=lambda item: (-item[1], item[0] or ""))
    return {"paused_s": round(sum(share.values()), 1),
            "pauses": [{"reason": reason, "paused_s": round(s, 1)} for reason, s in by_reason]}


def pause_reasons_text(pauses: list[dict]) -> str:
    """`会议 meeting 12.0, 未说明 none given 3.5` (minutes): how the text, CSV and workbook forms show the reasons."""
    return ", ".join(f"{pause_reason_text(p['reason']) or '未说明 none given'} {p['paused_s'] / 60:.1f}"
                     for p in pauses)


CSV_FIELDS = ["section", "id", "name", "issued", "called", "served", "no_show", "avg_wait_s", "longest_wait_s",
              "avg_handling_s", "ratings", "avg_score", "satisfaction", "paused_s", "pause_reasons", "over_30",
              "over_30_share"]


def report_csv(report: dict) -> str:
    """One row per queue, per window, per staff member, per hour and the day's total (section:
    queue/window/staff/hour/total)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in report["queues"]:
        writer.writerow({"section": "queue", "id": row["queue"], **row})
    for row in report["windows"]:
        writer.writerow({"section": "window", "id": row["window"], **row,
                         "pause_reasons": pause_reasons_text(row["pauses"])})
    for row in report["staff"]:
        writer.writerow({"section": "staff", "id": row["staff"], **row})
    for row in report.get("hours", []):
        writer.writerow({"section": "hour", "id": f"{row['hour']:02d}:00", **row})
    writer.writerow({"section": "total", "id": report["date"], "name": report["name"], **report["totals"]})
    return out.getvalue()


def _m(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def width(text: str) -> int:
    """Columns a text takes in a terminal: a Chinese character (East Asian wide or full width) takes two."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def _columns(header: list[str], rows: list[list[str]], left: int = 1) -> list[str]:
    """A table whose columns line up whatever the script: each padded to its widest cell by display width, the
    first `left` columns to the left, the others to the right, the last one (free text) unpadded."""
    widths = [max(width(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def line(cells: list[str]) -> str:
        out = []
        for c, cell in enumerate(cells):
            pad = " " * (widths[c] - width(cell)) if c < len(cells) - 1 or c < left else ""
            out.append(cell + pad if c < left else pad + cell)
        return "  ".join(out).rstrip()

    return [line(header)] + [line(r) for r in rows]


def _change(value, fmt) -> str:
    return "-" if value is None else ("+" if value > 0 else "±" if value == 0 else "-") + fmt(abs(value))


def report_text(report: dict) -> str:
    t = report["totals"]
    peak = "-" if t.get("peak_hour") is None else f"{t['peak_hour']:02d}:00"
    lines = [
        f"{report['name']} 排队日报 · queue report {report['date']}",
        f"取号 issued {t['issued']}  办结 served {t['served']}  过号 no-show {t['no_show']}  "
        f"未办 unserved {t['unserved']}  平均等候 avg wait {_m(t['avg_wait_s'])} min  "
        f"最长等候 longest {_m(t['longest_wait_s'])} min  平均办理 avg handling {_m(t['avg_handling_s'])} min  "
        f"满意率 satisfaction {_pct(t['satisfaction'])} ({t['ratings']})  窗口暂停 windows paused {_m(t['paused_s'])} min",
        f"等候超过30分钟 waited over 30 min {t['over_30']} ({_pct(t['over_30_share'])})  "
        f"高峰时段 peak hour {peak}",
    ]
    previous, change = report.get("previous"), report.get("change")
    if previous:
        lines.append(f"较前一日 ({previous['date']}) change from the day before: "
                     f"取号 issued {_change(change['issued'], str)}  办结 served {_change(change['served'], str)}  "
                     f"平均等候 avg wait {_change(change['avg_wait_s'], lambda v: f'{_m(v)} min')}  "
                     f"超30分钟 over 30 min {_change(change['over_30_share'], lambda v: f'{v * 100:.1f} pt')}  "
                     f"满意率 satisfaction {_change(change['satisfaction'], lambda v: f'{v * 100:.1f} pt')}")
    queues = [[q["queue"], q["name"], str(q["issued"]), str(q["served"]), str(q["no_show"]), _m(q["avg_wait_s"]),
               _m(q["longest_wait_s"]), _m(q["avg_handling_s"])]
              for q in report["queues"] if q["issued"] or q["served"]]
    lines += [""] + _columns(["类别 queue", "名称 name", "取号 issued", "办结 served", "过号 no-show", "平均等候 wait",
                              "最长 longest", "平均办理 handling", ""], [r + [""] for r in queues], left=2)
    windows = [[w["window"], w["name"], str(w["called"]), str(w["served"]), str(w["no_show"]),
                _m(w["avg_handling_s"]), str(w["ratings"]), _pct(w["satisfaction"]),
                _m(w["paused_s"]) if w["paused_s"] else "-", pause_reasons_text(w["pauses"])]
               for w in report["windows"] if w["called"] or w["ratings"] or w["paused_s"]]
    lines += [""] + _columns(["窗口 window", "名称 name", "叫号 called", "办结 served", "过号 no-show", "平均办理 handling",
                              "评价 ratings", "满意率 satisfaction", "暂停 paused", "暂停原因 why (min)"], windows, left=2)
    hours = [[f"{h['hour']:02d}:00", str(h["issued"]), str(h["served"]), _m(h["avg_wait_s"]),
              "高峰 peak" if h["hour"] == t["peak_hour"] else ""] for h in report.get("hours", [])]
    if hours:
        lines += [""] + _columns(["时段 hour", "取号 issued", "办结 served", "平均等候 wait", ""], hours)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the workbook

XLSX_SHEETS = {
    "queues": ("业务类别", "by queue", [
        ("queue", "类别", "Queue", 6), ("name", "名称", "Name", 14), ("issued", "取号", "Issued", 8),
        ("served", "办结", "Served", 8), ("no_show", "过号", "No-show", 8), ("avg_wait_s", "平均等候(分)", "Avg wait (min)", 12),
        ("longest_wait_s", "最长等候(分)", "Longest wait (min)", 12), ("avg_handling_s", "平均办理(分)", "Avg handling (min)", 12)]),
    "windows": ("窗口", "by window", [
        ("window", "窗口", "Window", 6), ("name", "名称", "Name", 12), ("called", "叫号", "Called", 8),
        ("served", "办结", "Served", 8), ("no_show", "过号", "No-show", 8),
        ("avg_handling_s", "平均办理(分)", "Avg handling (min)", 12), ("ratings", "评价数", "Ratings", 8),
        ("avg_score", "平均分", "Avg score", 8), ("satisfaction", "满意率", "Satisfaction", 10),
        ("paused_s", "暂停(分)", "Paused (min)", 10), ("pause_reasons", "暂停原因(分)", "Why paused (min)", 28)]),
    "staff": ("工作人员", "by staff member", [
        ("staff", "工号", "Staff", 8), ("name", "姓名", "Name", 10), ("served", "办结", "Served", 8),
        ("avg_handling_s", "平均办理(分)", "Avg handling (min)", 12), ("ratings", "评价数", "Ratings", 8),
        ("avg_score", "平均分", "Avg score", 8), ("satisfaction", "满意率", "Satisfaction", 10)]),
}
TOTAL_ROWS = [("issued", "取号", "Issued"), ("served", "办结", "Served"), ("no_show", "过号", "No-show"),
              ("unserved", "未办", "Unserved"), ("avg_wait_s", "平均等候(分)", "Avg wait (min)"),
              ("longest_wait_s", "最长等候(分)", "Longest wait (min)"),
              ("avg_handling_s", "平均办理(分)", "Avg handling (min)"), ("ratings", "评价数", "Ratings"),
              ("avg_score", "平均分", "Avg score"), ("satisfaction", "满意率", "Satisfaction"),
              ("paused_s", "窗口暂停(分)", "Windows paused (min)")]


def _cell_value(key: str, value):
    """Seconds become minutes (one decimal), as the text report prints them; shares stay shares (0.0 %)."""
    if value is None:
        return None
    if key.endswith("_s"):
        return round(value / 60, 1)
    return value


def write_xlsx(report: dict, path: Path | str) -> None:
    """The day report as an Excel workbook in the attendance workbook's manner (hub/attendance/excel.py): a title
    and its date, Chinese headers with English beneath, frozen headers, a sheet per table, printed landscape one
    page wide, and a chart of what each window served."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    font = "Microsoft YaHei"
    title_font, sub_font = Font(name=font, size=14, bold=True), Font(name=font, size=9, color="555555")
    head_font, head_en_font = Font(name=font, size=10, bold=True, color="FFFFFF"), Font(name=font, size=8, color="DDDDDD")
    body = Font(name=font, size=10)
    head_fill, head_en_fill = PatternFill("solid", fgColor="B71C1C"), PatternFill("solid", fgColor="7F1010")
    side = Side(style="thin", color="DDDDDD")
    box = Border(left=side, right=side, top=side, bottom=side)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)

    def titled(ws, zh: str, en: str, columns: int) -> None:
        ws.cell(1, 1, f"{report['name']} 排队日报 · {zh} · queue day report, {en}").font = title_font
        ws.cell(2, 1, f"日期 date {report['date']} · 时间为分钟 times in minutes").font = sub_font
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(columns, 2))
        ws.row_dimensions[1].height = 24

    def table(ws, columns: list[tuple], rows: list[dict]) -> int:
        for c, (_key, zh, en, width) in enumerate(columns, start=1):
            for r, text, f, fill in ((4, zh, head_font, head_fill), (5, en, head_en_font, head_en_fill)):
                cell = ws.cell(r, c, text)
                cell.font, cell.fill, cell.alignment, cell.border = f, fill, center, box
            ws.column_dimensions[cell.column_letter].width = max(width, len(en) + 2)
        for r, row in enumerate(rows, start=6):
            for c, (key, *_rest) in enumerate(columns, start=1):
                cell = ws.cell(r, c, _cell_value(key, row.get(key)))
                cell.font, cell.border = body, box
                cell.alignment = Alignment(horizontal="left" if key == "name" else "center")
                if key == "satisfaction":
                    cell.number_format = "0.0%"
        ws.freeze_panes = "C6"
        ws.print_title_rows = "4:5"
        return 5 + len(rows)

    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    titled(ws, "汇总", "the day", 3)
    for c, (text, f, fill) in enumerate((("项目 item", head_font, head_fill), ("数值 value", head_font, head_fill)), 1):
        cell = ws.cell(4, c, text)
        cell.font, cell.fill, cell.alignment, cell.border = f, fill, center, box
    for r, (key, zh, en) in enumerate(TOTAL_ROWS, start=5):
        ws.cell(r, 1, f"{zh} {en}").font = body
        cell = ws.cell(r, 2, _cell_value(key, report["totals"].get(key)))
        cell.font, cell.alignment = body, Alignment(horizontal="center")
        if key == "satisfaction":
            cell.number_format = "0.0%"
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 28, 14
    for section, (zh, en, columns) in XLSX_SHEETS.items():
        ws = wb.create_sheet(zh)
        titled(ws, zh, en, len(columns))
        rows = report[section]
        if section == "windows":
            rows = [{**row, "pause_reasons": pause_reasons_text(row["pauses"]) or None} for row in rows]
        last = table(ws, columns, rows)
        if section == "windows" and report[section]:
            chart = BarChart()
            chart.type = "col"
            chart.title = "各窗口办结 · Served by window"
            chart.add_data(Reference(ws, min_col=4, min_row=5, max_row=last), titles_from_data=True)
            chart.set_categories(Reference(ws, min_col=1, min_row=6, max_row=last))
            chart.legend = None
            chart.series[0].graphicalProperties.solidFill = "B71C1C"
            chart.height, chart.width = 7, 28
            chart.x_axis.delete = chart.y_axis.delete = False
            ws.add_chart(chart, "K4")
    for ws in wb.worksheets:
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
    wb.properties.title = f"{report['name']} 排队日报 {report['date']}"
    wb.save(path)
