"""The attendance report as an Excel workbook (openpyxl): Chinese headers with English beneath, frozen header
rows, widths that fit the text, and a chart sheet, since a manager would rather look than read.

It only renders: the figures come made in the report's dict (hub/attendance/report.py), the tables' columns from
hub/attendance/files.py, which the CSV files share.

Sheets: 个人考勤 (people), 窗口考勤 (windows), 评选与排名 (candidates and the bottom), 图表 (attendance rate by
window, highest first, and the faults), 说明 (how the figures are made, and what is still pending), and the charts'
figures on a hidden sheet 图表数据, so they never print. Every printed sheet has its print area set.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from hub.attendance.files import PEOPLE_COLUMNS, WINDOW_COLUMNS, column_value, window_order

FONT = "Microsoft YaHei"
TITLE = Font(name=FONT, size=14, bold=True)
SUBTITLE = Font(name=FONT, size=9, color="555555")
HEADER = Font(name=FONT, size=10, bold=True, color="FFFFFF")
HEADER_EN = Font(name=FONT, size=8, color="DDDDDD")
BODY = Font(name=FONT, size=10)
HEADER_FILL = PatternFill("solid", fgColor="B71C1C")    # the red of the hall's banners
HEADER_EN_FILL = PatternFill("solid", fgColor="7F1010")
SECTION = Font(name=FONT, size=12, bold=True, color="B71C1C")
ZEBRA = PatternFill("solid", fgColor="FBF3F3")
WARN_FILL = PatternFill("solid", fgColor="FFE0E0")
GOOD_FILL = PatternFill("solid", fgColor="E3F2E1")
THIN = Side(style="thin", color="DDDDDD")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)

PERCENT_KEYS = {"attendance_rate", "good_rate"}
SCORE_KEYS = {"score", "composite", "star_composite", "mean_stars"}
TEXT_KEYS = {"department"}


def _width(value) -> int:
    """Display width: a CJK character takes two columns."""
    text = "" if value is None else (f"{value:.1%}" if isinstance(value, float) and value <= 1 else str(value))
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _title(ws, report: dict, title_zh: str, title_en: str, columns: int) -> None:
    hall, period = report["hall"], report["period"]
    ws.cell(1, 1, f"{hall['name']} {period['label']}{title_zh} · {title_en}").font = TITLE
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(columns, 2))
    sub = (f"统计区间 {period['first']} 至 {period['last']}（已评估至 {period['evaluated_through']}）"
           f" · period {period['first']} – {period['last']}")
    if report["pending_dates"]:
        sub += f" · 待结算 {len(report['pending_dates'])} 天 / {len(report['pending_dates'])} days pending"
    ws.cell(2, 1, sub).font = SUBTITLE
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=max(columns, 2))
    ws.row_dimensions[1].height = 24


def _table(ws, top: int, columns: list[tuple], rows: list[dict], *, zebra: bool = True) -> int:
    """Headers at `top` (Chinese) and `top + 1` (English), rows below; returns the next free row."""
    widths = {}
    for c, (_key, zh, en, width) in enumerate(columns, start=1):
        head = ws.cell(top, c, zh)
        head.font, head.fill, head.alignment, head.border = HEADER, HEADER_FILL, CENTER, BOX
        sub = ws.cell(top + 1, c, en)
        sub.font, sub.fill, sub.alignment, sub.border = HEADER_EN, HEADER_EN_FILL, CENTER, BOX
        widths[c] = max(width, _width(zh) + 2)
    for r, row in enumerate(rows, start=top + 2):
        for c, (key, *_rest) in enumerate(columns, start=1):
            value = column_value(row, key)
            cell = ws.cell(r, c, value)
            cell.font, cell.border = BODY, BOX
            if key in PERCENT_KEYS:
                cell.number_format = "0.0%"
            elif key in SCORE_KEYS:
                cell.number_format = "0.0"
            cell.alignment = Alignment(horizontal="left" if key in TEXT_KEYS else "center", vertical="center")
            if zebra and (r - top) % 2:
                cell.fill = ZEBRA
            widths[c] = max(widths[c], min(_width(value) + 2, 40))
    for c, w in widths.items():
        letter = get_column_letter(c)
        seen = ws.column_dimensions[letter].customWidth and ws.column_dimensions[letter].width or 0
        ws.column_dimensions[letter].width = max(seen, w)
    ws.row_dimensions[top].height = 20
    return top + 2 + len(rows)


def _highlight(ws, columns: list[tuple], first: int, last: int) -> None:
    """Red where points were lost (absences, low scores), green for a full score."""
    if last < first:
        return
    keys = [k for k, *_ in columns]
    for key, rule in (("absent_days", CellIsRule(operator="greaterThan", formula=["0"], fill=WARN_FILL)),
                      ("score", CellIsRule(operator="lessThan", formula=["90"], fill=WARN_FILL)),
                      ("score", CellIsRule(operator="equal", formula=["100"], fill=GOOD_FILL))):
        if key in keys:
            col = get_column_letter(keys.index(key) + 1)
            ws.conditional_formatting.add(f"{col}{first}:{col}{last}", rule)


def _people_sheet(wb, report: dict) -> None:
    ws = wb.active
    ws.title = "个人考勤"
    _title(ws, report, "个人考勤", "attendance by person", len(PEOPLE_COLUMNS))
    end = _table(ws, 3, PEOPLE_COLUMNS, report["people"])
    ws.freeze_panes = "D5"  # the two header rows and rank/staff/name stay in view
    ws.auto_filter.ref = f"A4:{get_column_letter(len(PEOPLE_COLUMNS))}{max(end - 1, 4)}"
    ws.print_area = ws.auto_filter.ref.replace("A4", "A1")
    _highlight(ws, PEOPLE_COLUMNS, 5, end - 1)


def _windows_sheet(wb, report: dict) -> None:
    ws = wb.create_sheet("窗口考勤")
    _title(ws, report, "窗口考勤", "attendance by window", len(WINDOW_COLUMNS))
    end = _table(ws, 3, WINDOW_COLUMNS, report["windows"])
    ws.freeze_panes = "D5"
    ws.auto_filter.ref = f"A4:{get_column_letter(len(WINDOW_COLUMNS))}{max(end - 1, 4)}"
    ws.print_area = ws.auto_filter.ref.replace("A4", "A1")
    _highlight(ws, WINDOW_COLUMNS, 5, end - 1)


def _candidates_sheet(wb, report: dict) -> None:
    ws = wb.create_sheet("评选与排名")
    satisfaction = [("ratings", "评价数", "Ratings", 7), ("mean_stars", "平均星级", "Mean stars", 9),
                    ("good_rate", "满意率", "Satisfaction", 9)]
    window_cols = [("rank", "排名", "Rank", 6), ("window", "窗口", "Window", 6), ("name", "窗口名称", "Name", 10),
                   ("department", "部门", "Department", 22), ("score", "平均得分", "Score", 9),
                   ("attendance_rate", "出勤率", "Attendance", 9), *satisfaction, ("composite", "综合分", "Composite", 9)]
    people_cols = [("rank", "排名", "Rank", 6), ("staff", "工号", "Staff", 8), ("name", "姓名", "Name", 9),
                   ("window", "窗口", "Window", 6), ("score", "考勤得分", "Score", 9),
                   ("late", "迟到", "Late", 6), ("early", "早退", "Early", 6), ("missing", "缺卡", "Missing", 6),
                   ("absent_days", "旷工", "Absent", 6), *satisfaction]
    _title(ws, report, "评选与排名", "candidates and ranking", len(people_cols) + 1)
    row = 4
    mark = "（暂定 provisional：本期尚未全部结算 / the period is not closed yet）" if report.get("provisional") else ""
    sections = [
        ("红旗窗口候选 · Red flag window candidates" + mark, window_cols, report["red_flag_windows"]),
        ("服务标兵候选 · Service star candidates" + mark, people_cols + [("star_composite", "综合分", "Composite", 9)],
         report["service_stars"]),
        ("排名靠后窗口 · Windows at the bottom of the ranking", window_cols, report["bottom"]["windows"]),
        ("排名靠后人员 · People at the bottom of the ranking", people_cols, report["bottom"]["people"]),
    ]
    for title, cols, rows in sections:
        ws.cell(row, 1, title).font = SECTION
        row = _table(ws, row + 1, cols, rows, zebra=False)
        if not rows:
            ws.cell(row, 1, "（无 / none）").font = SUBTITLE
            row += 1
        row += 1
    rules = report.get("candidate_rules")
    if rules:
        ws.cell(row, 1, f"候选须至少 {rules['min_ratings']} 条评价；同分时依次比较综合分、迟到早退分钟（少者先）、评价数（多者先）、"
                        f"窗口号或工号 · candidates need at least {rules['min_ratings']} ratings; ties go to the "
                        "higher composite, then fewer late and early minutes, then more ratings, then the number or "
                        "id").font = SUBTITLE
        row += 1
    ws.freeze_panes = "A4"
    ws.print_area = f"A1:{get_column_letter(len(people_cols) + 1)}{row}"


def chart_rows(report: dict) -> list[dict]:
    """The windows the charts show: those with expected person-days (a window nobody was due at has no rate),
    highest attendance rate first, then the hall's order."""
    windows = [w for w in report["windows"] if w.get("expected_days") and w["attendance_rate"] is not None]
    return sorted(windows, key=lambda w: (-w["attendance_rate"], window_order(w["window"])))


def _chart_sheet(wb, report: dict) -> None:
    ws = wb.create_sheet("图表")
    _title(ws, report, "各窗口出勤情况", "attendance by window", 12)
    windows = chart_rows(report)
    data = wb.create_sheet("图表数据")  # the charts' figures, on a hidden sheet: they never print
    data.sheet_state = "hidden"
    headers = ["窗口 Window", "出勤率 Attendance", "迟到 Late", "早退 Early", "缺卡 Missing", "旷工 Absent"]
    top = 1
    for c, h in enumerate(headers, start=1):
        data.cell(top, c, h).font = Font(name=FONT, bold=True)
    for r, w in enumerate(windows, start=top + 1):
        data.cell(r, 1, f"{w['window']} {w['name']}" if w.get("name") else w["window"])
        cell = data.cell(r, 2, w["attendance_rate"])
        cell.number_format = "0.0%"
        for c, key in enumerate(("late", "early", "missing", "absent_days"), start=3):
            data.cell(r, c, w[key])
    last = top + max(len(windows), 1)
    labels = Reference(data, min_col=1, min_row=top + 1, max_row=last)
    if not windows:
        ws.cell(3, 1, "本期无应出勤的窗口 / no window was due this period").font = SUBTITLE

    rate = BarChart()
    rate.type = "col"
    rate.title = "各窗口出勤率（从高到低）· Attendance rate by window, highest first"
    rate.y_axis.title = "出勤率 Attendance"
    rate.y_axis.number_format = "0%"
    rate.y_axis.scaling.min = 0
    rate.y_axis.scaling.max = 1
    rate.x_axis.title = "窗口 Window"
    rate.add_data(Reference(data, min_col=2, min_row=top, max_row=last), titles_from_data=True)
    rate.set_categories(labels)
    rate.legend = None
    rate.series[0].graphicalProperties.solidFill = "B71C1C"
    rate.height, rate.width = 7, 28
    rate.x_axis.delete = False
    rate.y_axis.delete = False
    ws.add_chart(rate, "A3")

    faults = BarChart()
    faults.type = "col"
    faults.grouping = "stacked"
    faults.overlap = 100
    faults.title = "迟到、早退、缺卡、旷工 · Late, early, missing, absent"
    faults.y_axis.title = "次数 Count"
    faults.add_data(Reference(data, min_col=3, max_col=6, min_row=top, max_row=last), titles_from_data=True)
    faults.set_categories(labels)
    for series, colour in zip(faults.series, ("F9A825", "EF6C00", "8E24AA", "B71C1C"), strict=False):
        series.graphicalProperties.solidFill = colour
    faults.height, faults.width = 7, 28
    faults.x_axis.title = "窗口 Window"
    faults.x_axis.delete = False
    faults.y_axis.delete = False
    ws.add_chart(faults, "A18")
    ws.print_area = "A1:P32"  # the two charts, on one page
    ws.column_dimensions["A"].width = 12
    ws.column_dimensions["B"].width = 16


def _notes_sheet(wb, report: dict) -> None:
    ws = wb.create_sheet("说明")
    lines = [
        ("说明 · Notes", TITLE),
        ("考勤得分：满分 100；每次迟到或早退扣 1 分，另按分钟每分钟扣 0.1 分（每次最多再扣 2 分，即每次最多 3 分）；每次缺卡扣 2 分；"
         "每天旷工扣 10 分；请假不扣分。", BODY),
        ("Score: 100 for a clean period; each late arrival or early leave costs 1 point plus 0.1 per minute (at most 2 "
         "more per occurrence, so at most 3); each missing punch 2; each absent day 10; leave costs nothing.",
         SUBTITLE),
        ("窗口得分为该窗口人员得分的平均值；综合分 = 70% 考勤得分 + 30% 满意率（有评价时）。", BODY),
        ("A window's score is the mean of its people's; composite = 70 % score + 30 % satisfaction (when rated).",
         SUBTITLE),
        ("只有已结算的日期（各考勤机在晚间时段结束后均有消息）才计入；其余为待结算，不计入任何数字和得分，评选结果为暂定。", BODY),
        ("Only closed dates count (every terminal heard from after the evening window); the others are pending, "
         "left out of every figure and score, and the candidates are provisional.", SUBTITLE),
    ]
    for warning in report["warnings"]:
        lines.append((warning, Font(name=FONT, size=10, color="B71C1C")))
    for r, (text, font) in enumerate(lines, start=1):
        cell = ws.cell(r, 1, text)
        cell.font = font
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 120
    ws.print_area = f"A1:A{len(lines)}"


def _print_setup(ws, header_rows: str | None) -> None:
    """Landscape, one page wide, header rows repeated on every printed page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    if header_rows:
        ws.print_title_rows = header_rows


def write_xlsx(report: dict, path: Path) -> None:
    wb = Workbook()
    _people_sheet(wb, report)
    _windows_sheet(wb, report)
    _candidates_sheet(wb, report)
    _chart_sheet(wb, report)
    _notes_sheet(wb, report)
    wb.move_sheet("图表数据", offset=len(wb.sheetnames) - 1 - wb.sheetnames.index("图表数据"))  # last, out of the way
    for ws in wb.worksheets:
        _print_setup(ws, "3:4" if ws.title in ("个人考勤", "窗口考勤") else None)
    wb.properties.title = f"{report['hall']['name']} {report['period']['label']} 考勤讲评"
    wb.save(path)
