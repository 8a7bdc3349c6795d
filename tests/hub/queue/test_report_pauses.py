"""The day report's pause figures: each window's time paused, in all and by the reason the clerk gave."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time

from openpyxl import load_workbook

from hall.settings import load_hall
from hub.queue.report import day_report, report_csv, report_text, write_xlsx
from tests.helpers.queueing import DAY, TZ, DomainDriver


def at(clock: str) -> datetime:
    return datetime.combine(DAY, time.fromisoformat(clock), tzinfo=TZ)


def paused_day(path):
    d = DomainDriver(path)
    d.send("win-01", "login", {"window": "1", "staff": "s001"}, "09:00:00")
    d.send("win-02", "login", {"window": "2", "staff": "s006"}, "09:00:00")
    d.send("win-01", "pause", {"window": "1", "reason": "会议"}, "09:10:00")
    d.send("win-01", "pause", {"window": "1", "reason": "系统故障"}, "09:30:00")   # the reason changes: 20 min 会议
    d.send("win-01", "resume", {"window": "1"}, "09:35:00")                       # 5 min 系统故障
    d.send("win-01", "pause", {"window": "1", "reason": "不存在"}, "09:40:00")     # refused: not a pause
    d.send("win-01", "pause", {"window": "1"}, "10:00:00")                        # no reason given
    d.send("win-01", "resume", {"window": "1"}, "10:01:30")
    d.send("win-01", "resume", {"window": "1"}, "10:02:00")                       # not paused: nothing
    d.send("win-02", "pause", {"window": "2", "reason": "午休"}, "16:30:00")       # never resumed
    return d


def test_pause_time_per_window_and_by_reason(tmp_path):
    paused_day(tmp_path / "hub.db")
    report = day_report(tmp_path / "hub.db", DAY, load_hall(), now=at("20:00"))
    w1, w2 = (next(w for w in report["windows"] if w["window"] == wid) for wid in ("1", "2"))
    assert w1["paused_s"] == 20 * 60 + 5 * 60 + 90
    assert w1["pauses"] == [{"reason": "会议", "paused_s": 1200.0}, {"reason": "系统故障", "paused_s": 300.0},
                            {"reason": None, "paused_s": 90.0}]
    # not resumed: counts up to the day's closing (17:00), not to the moment the report was made
    assert w2["pauses"] == [{"reason": "午休", "paused_s": 1800.0}]
    assert report["totals"]["paused_s"] == 1590.0 + 1800.0
    # while the day is on, up to now
    early = day_report(tmp_path / "hub.db", DAY, load_hall(), now=at("16:40"))
    assert next(w for w in early["windows"] if w["window"] == "2")["paused_s"] == 600.0
    idle = next(w for w in report["windows"] if w["window"] == "3")
    assert (idle["paused_s"], idle["pauses"]) == (0, [])


def test_the_text_csv_and_workbook_show_the_reasons_chinese_first(tmp_path):
    paused_day(tmp_path / "hub.db")
    report = day_report(tmp_path / "hub.db", DAY, load_hall(), now=at("20:00"))
    text = report_text(report)
    assert "暂停 paused" in text and "暂停原因 why (min)" in text and "窗口暂停 windows paused 56.5 min" in text
    [row1] = [line for line in text.splitlines() if line.startswith("1 ")]
    assert row1.endswith("26.5  会议 meeting 20.0, 系统故障 system fault 5.0, 未说明 none given 1.5"), row1
    [row2] = [line for line in text.splitlines() if line.startswith("2 ")]
    assert "午休 lunch break 30.0" in row2  # a window that only paused is listed too
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(report_csv(report))) if r["section"] == "window"}
    assert (rows["1"]["paused_s"], rows["2"]["pause_reasons"]) == ("1590.0", "午休 lunch break 30.0")
    write_xlsx(report, tmp_path / "day.xlsx")
    ws = load_workbook(tmp_path / "day.xlsx")["窗口"]
    head = [c.value for c in ws[4]]
    col = head.index("暂停(分)")
    assert head[col + 1] == "暂停原因(分)" and ws.cell(5, col + 1).value == "Paused (min)"
    first = next(r for r in ws.iter_rows(min_row=6, values_only=True) if r[0] == "1")
    assert first[col] == 26.5 and first[col + 1].startswith("会议 meeting 20.0")
