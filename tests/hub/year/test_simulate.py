"""A simulated span of the year, written into a real hub.db: the hub's own tables, read by the hub's own reports,
replayed by the hub's own domains without a difference; the annual table, its page and its workbook over it; window
planning over its arrivals. Two weeks here; the whole year runs in bench/year.py."""

from __future__ import annotations

import logging
import sqlite3
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from hall.settings import load_hall, load_year_simulation
from hub.year.simulate import SimulationError, simulate

TZ = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2016, 3, 1), date(2016, 3, 14)  # 10 working days
NOW = datetime(2016, 6, 1, 12, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def hall():
    return load_hall()


@pytest.fixture(scope="module")
def span(tmp_path_factory, hall):
    data = tmp_path_factory.mktemp("year")
    said = []
    figures = simulate(hall, load_year_simulation(hall=hall), data, FIRST, LAST, progress=said.append)
    return data, figures, said


def test_the_span_is_written_at_the_halls_scale(span):
    data, figures, said = span
    assert figures.days == 10
    assert 4000 < figures.tickets < 6000          # ≈ 520 a working day
    assert 0.95 * figures.tickets < figures.cases <= figures.tickets
    assert 5000 < figures.punches < 6000          # 149 window staff, four a day, less leave and forgotten ones
    assert any("10/10" in s for s in said)       # progress as it goes
    db = sqlite3.connect(data / "hub.db")
    counts = dict(db.execute("SELECT type, count(*) FROM events GROUP BY type").fetchall())
    assert counts["ticket_request"] + counts["checkin"] == figures.tickets and counts["punch"] == figures.punches
    # appointments: booked on the citizens' site, checked in at a kiosk, the rest no-shows when their day is over
    bookings = dict(db.execute("SELECT status, count(*) FROM bookings GROUP BY status").fetchall())
    assert bookings["checked_in"] == counts["checkin"] and bookings.get("no_show", 0) < 0.15 * bookings["checked_in"]
    assert db.execute("SELECT count(*) FROM tickets WHERE booked IS NOT NULL").fetchone()[0] == counts["checkin"]
    assert counts["case_accept"] == figures.cases and counts["rating"] > 0.5 * figures.tickets
    # every request carries the answer the hub gave it, addressed to it
    eid, res = db.execute("SELECT id, res FROM events WHERE type='call_next' LIMIT 1").fetchone()
    assert res.startswith('{"re":"' + eid + '","ok":true')
    assert db.execute("SELECT count(*) FROM events WHERE type='punch' AND res IS NOT NULL").fetchone()[0] == 0
    # the devices' watermarks cover their events, as ingest leaves them
    assert db.execute("SELECT count(*) FROM devices d WHERE watermark < (SELECT max(seq) FROM events e "
                      "WHERE e.device = d.id)").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM attendance_dates WHERE final=1").fetchone()[0] == 14
    assert db.execute("SELECT count(*) FROM cases WHERE on_time = 0").fetchone()[0] == 0


def test_the_same_seed_writes_the_same_journal(tmp_path, hall):
    # (each hub keeps its own key for ID number hashes, so only those differ)
    sim = load_year_simulation(hall=hall)
    for name in ("one", "two"):
        simulate(hall, sim, tmp_path / name, date(2016, 3, 1), date(2016, 3, 1), seed=7)
    rows = [sqlite3.connect(tmp_path / name / "hub.db").execute(
        "SELECT id, device, type, seq, ts FROM events ORDER BY id").fetchall() for name in ("one", "two")]
    assert rows[0] == rows[1] and len(rows[0]) > 1000


def test_a_journal_with_events_is_never_written_over(span, hall):
    data, _, _ = span
    with pytest.raises(SimulationError, match="empty data folder"):
        simulate(hall, load_year_simulation(hall=hall), data, FIRST, FIRST)


def test_the_hubs_reports_read_it(span, hall):
    from hub.attendance.report import build_report
    from hub.cases.report import cases_report
    from hub.queue.report import day_report

    data, figures, _ = span
    day = day_report(data / "hub.db", date(2016, 3, 8), hall)
    assert day["totals"]["issued"] > 300 and day["totals"]["served"] > 0.9 * day["totals"]["issued"]
    cases = cases_report(data / "hub.db", hall, FIRST, LAST, NOW)
    assert cases["totals"]["accepted"] == figures.cases and cases["totals"]["on_time_rate"] == 1.0
    att = build_report(hall, data, "2016-03", 1, today=date(2016, 6, 1))
    window_staff = [p for p in att["people"] if p["role"] == "window"]
    assert sum(p["workdays"] for p in window_staff) == 149 * 10
    assert att["pending_dates"][:1] == ["2016-03-15"]  # only the days after the span wait


def test_the_hubs_domains_replay_it_exactly(span, hall, caplog):
    import sqlite_utils

    from hub.cases.domain import CasesDomain
    from hub.domain import Emit
    from hub.queue.domain import QueueDomain

    data, _, _ = span
    db = sqlite_utils.Database(data / "hub.db")
    caplog.set_level(logging.INFO)
    try:
        with db.conn:
            queue = QueueDomain(hall)
            queue.setup(db, Emit())
            CasesDomain(hall).setup(db, Emit())
        db.conn.rollback()
    finally:
        db.close()
    rebuilt = [r.getMessage() for r in caplog.records if "rebuilt from" in r.getMessage()]
    assert rebuilt and rebuilt[0].endswith("(0 differ)"), rebuilt
    assert not [r for r in caplog.records if "replays as" in r.getMessage() or r.levelno >= logging.ERROR]
    assert queue.engine.day == date(2016, 3, 14) and len(queue.engine.tickets) > 300


def test_the_annual_table_page_and_workbook(span, hall, tmp_path):
    from openpyxl import load_workbook

    from hub.year.render import page_html, write_xlsx
    from hub.year.report import bimonth_report, summary, year_report

    data, figures, _ = span
    table, rows = year_report(hall, data / "hub.db", 2016, now=NOW)
    t = table["totals"]
    assert t["tickets_issued"] == figures.tickets and t["cases_accepted"] == figures.cases
    assert t["on_time_rate"] == 1.0 and 0.95 < t["satisfaction"]["rate"] < 0.99
    assert t["windows"] == 34 and t["staff"] > 100 and t["departments"] > 25
    assert set(summary(table, 1.0)) == {"cases", "on_time_rate", "satisfaction", "tickets", "median_wait_min",
                                        "p90_wait_min", "red_flag_windows", "service_stars", "allowance_total",
                                        "seconds"}
    # the JSON names the query of each figure
    assert "FROM cases" in table["sources"]["on_time_rate"]["query"]["cases"]
    march = table["reviews"][1]
    assert len(march["red_flag_windows"]) == 2 and len(march["service_stars"]) == 7
    assert march["allowance_total"] > 0 and len(march["bottom"]["people"]) <= 5
    review = bimonth_report(hall, data / "hub.db", 2016, 2, now=NOW)
    assert [w["window"] for w in review["red_flag_windows"]] == [w["window"] for w in march["red_flag_windows"]]

    page = page_html(table)
    assert page.count("<svg") == 4 and "<script" not in page and "<link" not in page and "http" not in page
    assert "@page { size: A4" in page and "年度总表" in page and "satisfaction by window" in page

    out = tmp_path / "year.xlsx"
    write_xlsx(table, rows, out)
    wb = load_workbook(out, read_only=True)
    assert {"总表 figures", "办件 cases", "取号 tickets", "评价 ratings", "讲评 reviews", "出勤费 allowance"} <= \
        set(wb.sheetnames)
    # the query, the header, a row per case or ticket
    assert sum(1 for _ in wb["办件 cases"].iter_rows(values_only=True)) == figures.cases + 2
    assert sum(1 for _ in wb["取号 tickets"].iter_rows(values_only=True)) == figures.tickets + 2


def test_window_planning_replays_the_arrivals(span, hall):
    from hub.year.plan import chart_svg, plan, read_arrivals

    data, _, _ = span
    arrivals = read_arrivals(data / "hub.db", "C", FIRST, LAST)
    assert len(arrivals) == 10
    result = plan(arrivals, [1, 2, 4], [(s.start, s.end) for s in hall.hours.open])
    p90 = [p["p90_wait_min"] for p in result["plans"]]
    assert p90[0] >= p90[1] >= p90[2]  # more windows never make the line slower
    assert result["tickets"] == sum(len(v) for v in arrivals.values())
    nine = next(r for r in result["plans"][2]["hours"] if r["hour"] == 9)  # 4 windows carry the peak
    assert nine["erlang_p90_wait_min"] is not None and nine["arrivals_per_day"] > 0
    assert chart_svg(result, "C").startswith("<svg")
