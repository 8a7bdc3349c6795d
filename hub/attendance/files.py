"""The attendance CSV files: punches and leave read into the rules' records, the report's tables written out.

Every bad row is reported with its file and line, all of them at once, and nothing is evaluated until the files
are clean: a half-read file would silently turn into absences.

The report's two tables (people, windows) are laid out here, column by column with Chinese and English headers,
for the CSV files and the Excel workbook (hub/attendance/excel.py) alike.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from pathlib import Path

from hub.attendance.rules import LEAVE_KINDS, Leave, Punch

TIME_FORMS = "RFC 3339 (2026-11-30T08:59:12+08:00) or local 'YYYY-MM-DD HH:MM:SS'"


class CsvError(ValueError):
    """One or more bad rows; each problem names the file and the line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Rows:
    path: Path
    rows: list[tuple[int, dict[str, str]]]


def _read(path: Path, required: tuple[str, ...], problems: list[str]) -> Rows:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        problems.append(f"{path}: file not found")
        return Rows(path, [])
    except UnicodeDecodeError as err:
        problems.append(f"{path}: not UTF-8 text (byte {err.start})")
        return Rows(path, [])
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        problems.append(f"{path}: line 1: empty file, expected the header {','.join(required)}")
        return Rows(path, [])
    names = [h.strip() for h in header]
    missing = [r for r in required if r not in names]
    if missing:
        problems.append(f"{path}: line 1: header must name the columns {','.join(required)}; missing {','.join(missing)}")
        return Rows(path, [])
    rows = []
    for lineno, cells in enumerate(reader, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            problems.append(f"{path}: line {lineno}: {len(cells)} columns, expected {len(names)} ({','.join(names)})")
            continue
        rows.append((lineno, {n: c.strip() for n, c in zip(names, cells, strict=True)}))
    return Rows(path, rows)


def parse_moment(text: str, tz: tzinfo, *, end_of_day: bool = False) -> datetime:
    """RFC 3339, or a local time without offset ('YYYY-MM-DD HH:MM[:SS]'), or a bare date (start or end of day)."""
    text = text.strip()
    if not text:
        raise ValueError("empty")
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime.combine(day, time(23, 59, 59) if end_of_day else time(0, 0), tzinfo=tz)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


def read_punches(path: Path, tz: tzinfo) -> list[Punch]:
    """A punches CSV: header `staff,time`."""
    problems: list[str] = []
    rows = _read(path, ("staff", "time"), problems)
    out = []
    for lineno, row in rows.rows:
        where = f"{path}: line {lineno}"
        if not row["staff"]:
            problems.append(f"{where}: staff: empty, expected a staff id")
            continue
        try:
            out.append(Punch(parse_moment(row["time"], tz), row["staff"]))
        except ValueError:
            problems.append(f"{where}: time: got {row['time']!r}, expected {TIME_FORMS}")
    if problems:
        raise CsvError(problems)
    return out


def read_leave(path: Path, tz: tzinfo) -> list[Leave]:
    """A leave CSV: header `staff,start,end,kind`; kind 请假/公出/调休 or leave/business/in_lieu."""
    problems: list[str] = []
    rows = _read(path, ("staff", "start", "end", "kind"), problems)
    out = []
    for lineno, row in rows.rows:
        where = f"{path}: line {lineno}"
        bad = len(problems)
        if not row["staff"]:
            problems.append(f"{where}: staff: empty, expected a staff id")
        moments = {}
        for key in ("start", "end"):
            try:
                moments[key] = parse_moment(row[key], tz, end_of_day=key == "end")
            except ValueError:
                problems.append(f"{where}: {key}: got {row[key]!r}, expected {TIME_FORMS} or a date")
        kind = LEAVE_KINDS.get(row["kind"].strip().lower() if row["kind"].isascii() else row["kind"].strip())
        if kind is None:
            problems.append(f"{where}: kind: got {row['kind']!r}, expected 请假, 公出 or 调休 (leave, business, in_lieu)")
        if len(moments) == 2 and moments["end"] < moments["start"]:
            problems.append(f"{where}: end: {row['end']!r} comes before start {row['start']!r}")
        if len(problems) == bad:
            out.append(Leave(row["staff"], moments["start"], moments["end"], kind))
    if problems:
        raise CsvError(problems)
    return out


def evaluate_files(hall, punches_path: Path, *, leave_path: Path | None = None, staff_path: Path | None = None,
                   first: date | None = None, last: date | None = None, warn=None) -> list:
    """What `hall attendance evaluate` prints, as AttendanceDays: the files are read, checked, then evaluated.

    Without a staff file, the people are those named in the punches and leave files; without dates, the dates
    the punches span. Punches of people missing from a given staff file are left out with a warning.
    """
    from hall.settings import load_staff
    from hub.attendance.rules import Schedule, WorkCalendar, date_range, evaluate

    tz = hall.tz
    problems: list[str] = []
    punches: list[Punch] = []
    leaves: list[Leave] = []
    try:
        punches = read_punches(punches_path, tz)
    except CsvError as err:
        problems += err.problems
    if leave_path is not None:
        try:
            leaves = read_leave(leave_path, tz)
        except CsvError as err:
            problems += err.problems
    if problems:
        raise CsvError(problems)
    if staff_path is not None:
        people = [s.id for s in load_staff(Path(staff_path))]
        strangers = sorted({p.staff for p in punches} - set(people))
        if strangers and warn:
            warn(f"警告：打卡文件中有人员不在人员名单中，已忽略 / warning: punches of people not in {staff_path} "
                 f"are ignored: {', '.join(strangers[:10])}{' …' if len(strangers) > 10 else ''}")
    else:
        people = sorted({p.staff for p in punches} | {lv.staff for lv in leaves})
    local_days = sorted({p.at.astimezone(tz).date() for p in punches})
    if first is None:
        first = local_days[0] if local_days else last
    if last is None:
        last = local_days[-1] if local_days else first
    if first is None or last is None:
        return []
    if last < first:
        raise CsvError([f"--to {last} comes before --from {first}"])
    calendar = WorkCalendar.from_rules(hall.attendance, warn)
    return evaluate(punches, leaves, staff=people, dates=date_range(first, last),
                    schedule=Schedule.from_rules(hall.attendance), calendar=calendar, tz=tz)


# ---------------------------------------------------------------- the report's tables, written out

# (key in the report's rows, Chinese header, English header, the column's width in the workbook)
PEOPLE_COLUMNS = [
    ("rank", "排名", "Rank", 6), ("staff", "工号", "Staff", 8), ("name", "姓名", "Name", 9),
    ("window", "窗口", "Window", 6), ("workdays", "应出勤天数", "Workdays", 10),
    ("ok_days", "正常天数", "OK days", 9), ("late", "迟到次数", "Late", 9),
    ("late_minutes", "迟到分钟", "Late min", 9), ("early", "早退次数", "Early", 9),
    ("early_minutes", "早退分钟", "Early min", 9), ("missing", "缺卡次数", "Missing punches", 9),
    ("absent_days", "旷工天数", "Absent days", 9), ("leave_days", "请假天数", "Leave days", 9),
    ("pending_days", "待结算天数", "Pending days", 10), ("attendance_rate", "出勤率", "Attendance", 9),
    ("score", "考勤得分", "Score", 9),
]
WINDOW_COLUMNS = [
    ("rank", "排名", "Rank", 6), ("window", "窗口", "Window", 6), ("name", "窗口名称", "Window name", 10),
    ("department", "部门", "Department", 22), ("people", "人数", "People", 6),
    ("workdays", "应出勤人天", "Person-days", 10), ("ok_days", "正常人天", "OK person-days", 10),
    ("late", "迟到次数", "Late", 9), ("late_minutes", "迟到分钟", "Late min", 9), ("early", "早退次数", "Early", 9),
    ("early_minutes", "早退分钟", "Early min", 9), ("missing", "缺卡次数", "Missing punches", 9),
    ("absent_days", "旷工人天", "Absent", 9), ("leave_days", "请假人天", "Leave", 9),
    ("attendance_rate", "出勤率", "Attendance", 9), ("score", "平均得分", "Mean score", 9),
    ("good_rate", "满意率", "Satisfaction", 9), ("ratings", "评价数", "Ratings", 8),
    ("mean_stars", "平均星级", "Mean stars", 9),
]


def column_value(row: dict, key: str):
    """A row's value in a column: satisfaction (good_rate, ratings, mean_stars) sits in the row's nested
    `satisfaction`."""
    if key in SATISFACTION_KEYS:
        sat = row.get("satisfaction")
        return sat[SATISFACTION_KEYS[key]] if sat else None
    return row.get(key)


SATISFACTION_KEYS = {"good_rate": "good_rate", "ratings": "ratings", "mean_stars": "mean"}


def _csv_text(columns: list[tuple], rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([f"{zh} {en}" for _, zh, en, _ in columns])
    for row in rows:
        w.writerow(["" if column_value(row, k) is None else column_value(row, k) for k, *_ in columns])
    return buf.getvalue()


def write_csv(report: dict, out: Path | str) -> None:
    """People in OUT, windows in OUT's stem + '-windows.csv' (both with a BOM so Excel reads the Chinese)."""
    people = _csv_text(PEOPLE_COLUMNS, report["people"])
    windows = _csv_text(WINDOW_COLUMNS, report["windows"])
    if str(out) == "-":
        sys.stdout.write(people + "\n" + windows)
        return
    out = Path(out)
    out.write_text("\ufeff" + people, encoding="utf-8")
    out.with_name(out.stem + "-windows.csv").write_text("\ufeff" + windows, encoding="utf-8")


def window_order(window: str | None) -> tuple:
    """Windows in the hall's order: numbered ones by number (2 before 10), then the named ones."""
    return (0, int(window)) if window and window.isdigit() else (1, window or "")
