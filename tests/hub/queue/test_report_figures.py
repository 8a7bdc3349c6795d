"""The day report's figures on a known day: the hours and the peak, the share waiting over 30 minutes, the
change from the day before, and a text whose columns line up when the names are Chinese."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time

from hall.settings import load_hall
from hub.queue.report import day_report, report_csv, report_text, width
from tests.helpers.queueing import DAY, TZ, DomainDriver

BEFORE = date(2026, 11, 27)  # the Friday before: the weekend had no tickets


def known_day(path):
    """Friday: 2 tickets, both called within 5 minutes. Monday: 5 tickets, three in the 10 o'clock hour; A002
    waits 40 minutes, A005 is never called (still waiting at the 17:00 close), A001 waits 2 minutes."""
    d = DomainDriver(path)
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "14:00:00", day=BEFORE)
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "14:01:00", day=BEFORE)
    d.send("win-01", "login", {"window": "1", "staff": "s001"}, "14:02:00", day=BEFORE)
    d.send("win-01", "call_next", {"window": "1"}, "14:03:00", day=BEFORE)         # 180 s
    d.send("win-01", "call_next", {"window": "1"}, "14:06:00", day=BEFORE)         # 300 s; the first done
    d.send("win-01", "complete", {"window": "1"}, "14:10:00", day=BEFORE)

    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:58:00")                # A001
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "10:05:00")                # A002
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "10:10:00")                # A003
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "10:20:00")                # A004
    d.send("win-01", "login", {"window": "1", "staff": "s001"}, "10:00:00")
    d.send("win-01", "call_next", {"window": "1"}, "10:00:00")                      # A001 waited 120 s
    d.send("win-01", "call_next", {"window": "1"}, "10:45:00")                      # A001 done; A002 waited 2400 s
    d.send("win-01", "call_next", {"window": "1"}, "10:50:00")                      # A002 done; A003 waited 2400 s
    d.send("win-01", "call_next", {"window": "1"}, "11:00:00")                      # A003 done; A004 waited 2400 s
    d.send("win-01", "complete", {"window": "1"}, "11:05:00")                       # A004 done
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "16:00:00")                # A005: never called
    return d


def test_hours_peak_long_waits_and_the_day_before(tmp_path):
    known_day(tmp_path / "hub.db")
    report = day_report(tmp_path / "hub.db", DAY, load_hall(), now=datetime.combine(DAY, time(20), tzinfo=TZ))
    t = report["totals"]
    # A002, A003, A004 waited 40 min; A005 waited 16:00 to the 17:00 close: 4 of 5 over 30 minutes
    assert (t["over_30"], t["over_30_share"]) == (4, 0.8)
    assert t["peak_hour"] == 10
    by_hour = {h["hour"]: h for h in report["hours"]}
    assert sorted(by_hour) == list(range(9, 17))  # every hour from the first to the last, quiet ones too
    assert by_hour[9] == {"hour": 9, "issued": 1, "served": 0, "avg_wait_s": 120.0}
    # served by the hour the call ended: A001 10:45, A002 10:50, A003 11:00, A004 11:05
    assert by_hour[10] == {"hour": 10, "issued": 3, "served": 2, "avg_wait_s": 2400.0}
    assert by_hour[11] == {"hour": 11, "issued": 0, "served": 2, "avg_wait_s": None}
    assert by_hour[16] == {"hour": 16, "issued": 1, "served": 0, "avg_wait_s": None}
    assert report["previous"] == {"date": "2026-11-27", "issued": 2, "served": 2, "no_show": 0,
                                  "avg_wait_s": 240.0, "over_30_share": 0.0, "satisfaction": None, "paused_s": 0.0}
    assert report["change"]["issued"] == 3 and report["change"]["served"] == 2
    assert report["change"]["avg_wait_s"] == round((120 + 2400 * 3) / 4 - 240, 4)
    assert report["change"]["over_30_share"] == 0.8 and report["change"]["satisfaction"] is None
    # the Friday itself has nothing before it
    friday = day_report(tmp_path / "hub.db", BEFORE, load_hall(), now=datetime.combine(DAY, time(20), tzinfo=TZ))
    assert (friday["previous"], friday["change"], friday["totals"]["peak_hour"]) == (None, None, 14)


def test_the_text_shows_them_with_columns_aligned_by_display_width(tmp_path):
    known_day(tmp_path / "hub.db")
    report = day_report(tmp_path / "hub.db", DAY, load_hall(), now=datetime.combine(DAY, time(20), tzinfo=TZ))
    text = report_text(report)
    assert "等候超过30分钟 waited over 30 min 4 (80.0%)  高峰时段 peak hour 10:00" in text
    assert "较前一日 (2026-11-27) change from the day before: 取号 issued +3  办结 served +2" in text
    assert "平均等候 avg wait +26.5 min  超30分钟 over 30 min +80.0 pt  满意率 satisfaction -" in text
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert [r["id"] for r in rows if r["section"] == "hour"][:2] == ["09:00", "10:00"]
    assert [(r["over_30"], r["over_30_share"]) for r in rows if r["section"] == "total"] == [("4", "0.8")]
    lines = text.splitlines()
    [hour10] = [line for line in lines if line.startswith("10:00")]
    assert hour10.endswith("高峰 peak")
    for head, left, free in (("类别 queue", 2, False), ("窗口 window", 2, True), ("时段 hour", 1, False)):
        start = next(i for i, line in enumerate(lines) if line.startswith(head))
        table = lines[start:lines.index("", start) if "" in lines[start:] else len(lines)]
        assert len(table) >= 2, table
        # in display columns, though the names are Chinese: the name columns start where their header does, the
        # figures end where theirs does, the free text at the end starts where its header does
        spans = [_cells(line) for line in table]
        heads = spans[0]
        for row in spans[1:]:
            for c, (cell_start, cell_end) in enumerate(row[:len(heads)]):  # 高峰 peak stands after the table
                if c < left or (free and c == len(heads) - 1):
                    assert cell_start == heads[c][0], (table, c)
                else:
                    assert cell_end == heads[c][1], (table, c)
    [row] = [line for line in lines if line.startswith("A ")]
    assert "市场准入" in row and width(row) == len(row) + 4


def _cells(line: str) -> list[tuple[int, int]]:
    """(start, end) display columns of each cell (cells are separated by two or more spaces)."""
    import re

    return [(width(line[:m.start()]), width(line[:m.end()])) for m in re.finditer(r"\S+(?: \S+)*", line)]


def test_display_width():
    assert (width("1号窗口"), width("abc"), width("（无）")) == (7, 3, 6)
