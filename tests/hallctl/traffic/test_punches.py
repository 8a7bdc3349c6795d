"""Traffic for `hall up`: simulated terminals, staff punching on a fast clock, punches arriving at the hub."""

from datetime import date, datetime

import pytest

from hall.clock import parse_stamp
from hall.settings import load_hall
from hallctl.traffic.punches import Traffic, plan_day, plan_period
from hub.attendance.rules import WorkCalendar
from tests.helpers.attendance import TZ
from tests.helpers.rig import wait_for

pytestmark = pytest.mark.timeout(120)


def test_a_day_plan_is_mostly_on_time_and_repeatable():
    staff = [f"s{i:03d}" for i in range(1, 180)]
    plan = plan_day(staff, date(2026, 11, 30), workday=True, tz=TZ, seed=3)
    assert plan == plan_day(staff, date(2026, 11, 30), workday=True, tz=TZ, seed=3)
    assert 179 * 4 * 0.95 < len(plan) < 179 * 4 * 1.1
    morning = [p for p in plan if p.at.hour < 10]
    late = [p for p in morning if p.at > datetime(2026, 11, 30, 9, 0, tzinfo=TZ)]
    assert 0 < len(late) < 0.15 * len(morning)
    assert plan == sorted(plan, key=lambda p: (p.at, p.staff))


def test_rest_days_bring_only_a_little_overtime():
    staff = [f"s{i:03d}" for i in range(1, 180)]
    plan = plan_period(staff, date(2026, 11, 28), date(2026, 11, 29), tz=TZ,
                       is_workday=WorkCalendar().is_workday, seed=3)
    assert len(plan) < 0.1 * 179 * 2 * 2


def test_traffic_punches_reach_the_hub_with_simulated_times(rig):
    hall = load_hall()
    rig.start_hub()
    people = [s.id for s in hall.staff[:12]] + [s.id for s in hall.staff if s.window == "20"][:4]
    start = datetime(2026, 11, 30, 8, 10, tzinfo=TZ)
    traffic = Traffic(hall, rig.data_dir, speed=600, start=start, seed=5, port=rig.port, staff=people)
    traffic.start()
    try:
        wait_for(lambda: traffic.clock() > datetime(2026, 11, 30, 9, 40, tzinfo=TZ), 60, "simulated 09:40")
        assert traffic.wait_drained(30)
    finally:
        traffic.stop()
    planned = [p for p in plan_day(people, start.date(), workday=True, tz=TZ, seed=5)
               if p.at < datetime(2026, 11, 30, 9, 20, tzinfo=TZ)]
    assert planned
    with rig.db() as conn:
        got = conn.execute("SELECT staff, at, terminal FROM punches ORDER BY at").fetchall()
    arrived = {(staff, terminal) for staff, _, terminal in got}
    for p in planned:  # every planned touch became a punch, at about its planned (simulated) time
        assert any(staff == p.staff and abs((parse_stamp(at) - p.at).total_seconds()) < 300 for staff, at, _ in got)
    # window 20 is on the second floor: its people punch at fp-02, the first floor's at fp-01
    assert {t for s, t in arrived if hall.staff_member(s).window == "20"} <= {"fp-02"}
    assert {t for s, t in arrived if hall.staff_member(s).window in ("1", "2", "3")} <= {"fp-01"}
    assert traffic.stats.get("punch", 0) >= len(planned)


def test_a_simulation_starts_where_people_punch():
    from hallctl.traffic.punches import busy_start

    workday = WorkCalendar().is_workday
    during = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)
    assert busy_start(during, workday) == during
    assert busy_start(datetime(2026, 11, 30, 20, 0, tzinfo=TZ), workday) == datetime(2026, 11, 30, 8, 20, tzinfo=TZ)
    # Saturday night and Monday before dawn: back to Friday morning
    assert busy_start(datetime(2026, 11, 28, 1, 0, tzinfo=TZ), workday) == datetime(2026, 11, 27, 8, 20, tzinfo=TZ)
    assert busy_start(datetime(2026, 11, 30, 5, 0, tzinfo=TZ), workday) == datetime(2026, 11, 27, 8, 20, tzinfo=TZ)
