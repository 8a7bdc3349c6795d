"""办件 Cases: the open cases by card, the days' figures and the cases report on the page and its JSON twin, scoped
to a department head; follow-up answers and complaints sent from the page through the console's link to the real
hub."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.helpers.rig import wait_for
from tests.helpers.web import PEOPLE, csrf_of, login
from web import users

FIRST, LAST = date(2026, 11, 1), date(2026, 11, 30)
PERIOD = f"first={FIRST}&last={LAST}"


def client(app, name: str) -> TestClient:
    c = TestClient(app)
    assert login(c, name).status_code == 303
    return c


def write_cases(hall, db_path: Path) -> dict[str, str]:
    """Cases of 市场监管 scjg and 不动产 bdc in November 2026, written with the hub's own store; the cards are set as
    the hub keeps them. Returns a name for each case number."""
    from hub.cases import store
    from hub.cases.rules import CaseBook, clock_from_hall, services_from_hall
    from hub.store import open_db

    book = CaseBook(clock_from_hall(hall), services_from_hall(hall))

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=hall.tz)

    n = {}
    n["red"] = book.accept(at("2026-11-02 10:00"), service="scjg-005").case.number
    n["yellow"] = book.accept(at("2026-11-26 10:00"), service="scjg-005").case.number
    n["green"] = book.accept(at("2026-11-27 10:00"), service="scjg-008").case.number
    n["suspended"] = book.accept(at("2026-11-27 11:00"), service="scjg-008").case.number
    book.suspend(n["suspended"], at("2026-11-27 15:00"), "缺少场所证明")
    n["on_time"] = book.accept(at("2026-11-03 10:00"), service="scjg-005").case.number
    book.finish(n["on_time"], at("2026-11-06 10:00"))
    n["late"] = book.accept(at("2026-11-03 11:00"), service="scjg-002").case.number
    book.finish(n["late"], at("2026-11-06 10:00"))
    n["bdc_red"] = book.accept(at("2026-11-04 10:00"), service="bdc-001").case.number
    n["bdc_done"] = book.accept(at("2026-11-04 10:30"), service="bdc-003").case.number
    book.finish(n["bdc_done"], at("2026-11-05 10:00"))
    cards = {n["red"]: "red", n["yellow"]: "yellow", n["green"]: "green", n["bdc_red"]: "red"}
    z = book.open_followup("rating", at("2026-11-27 10:00"), department="scjg", window="1", score=1, rating=1).followup
    t = book.open_followup("complaint", at("2026-11-27 11:00"), department="bdc", detail="态度生硬",
                           by="inspector").followup
    db = open_db(db_path)
    store.create_tables(db)
    with db.conn:
        store.save_cases(db, book, list(book.cases.values()), cards, {})
        store.save_followups(db, book, [z, t], {z.id: "red"})
        store.count_cards(db, [(n["red"], "yellow", at("2026-11-06 17:01"), "scjg"),
                               (n["red"], "red", at("2026-11-09 17:01"), "scjg"),
                               (n["bdc_red"], "red", at("2026-11-09 17:01"), "bdc")])
    db.close()
    return {**n, "z": z.id, "t": t.id}


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    from hall.settings import load_hall
    from tests.helpers.queueing import all_day_hall
    from web.app import create_app

    tmp = tmp_path_factory.mktemp("cases")
    hall = load_hall(all_day_hall(tmp / "config"))
    data = tmp / "data"
    data.mkdir()
    numbers = write_cases(hall, data / "hub.db")
    db = users.open_db(data)
    for name, (role, dept, password) in PEOPLE.items():
        users.add_user(db, name, role, dept, password)
    db.close()
    return create_app(hall, data, connect=False), numbers


def test_the_page_and_its_twin_need_a_session(known):
    app, _ = known
    anonymous = TestClient(app)
    assert anonymous.get("/api/cases").status_code == 401
    page = anonymous.get("/cases", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/cases"
    assert anonymous.post("/cases/answer", data={}, follow_redirects=False).status_code == 303
    assert anonymous.post("/cases/complaint", data={}, follow_redirects=False).status_code == 303


def test_the_twin_has_the_open_cases_by_card_the_days_and_the_report(known):
    app, n = known
    k = client(app, "reader").get(f"/api/cases?{PERIOD}").json()
    assert (k["first"], k["last"], k["shortened"], k["department"], k["error"]) == (str(FIRST), str(LAST), False,
                                                                                     None, None)
    groups = {g["group"]: g for g in k["open"]}
    assert list(groups) == ["red", "yellow", "green", "suspended"]  # red first; none waits to be judged
    assert {c["number"] for c in groups["red"]["cases"]} == {n["red"], n["bdc_red"]}
    assert [g["count"] for g in k["open"]] == [2, 1, 1, 1]
    red = next(c for c in groups["red"]["cases"] if c["number"] == n["red"])
    assert (red["department"], red["department_name"], red["service"], red["deadline"], red["days"]) == \
        ("scjg", "市场监督管理局", "scjg-005", "2026-11-09", 5)
    assert groups["suspended"]["cases"][0]["deadline"] is None
    assert len(k["days"]) == 30 and k["days"][0]["day"] == "2026-11-01"
    day = {d["day"]: d for d in k["days"]}
    assert day["2026-11-03"]["accepted"] == 2 and day["2026-11-06"] == {
        "day": "2026-11-06", "accepted": 0, "finished": 2, "on_time": 1, "on_time_rate": 0.5}
    assert k["period"] == {"accepted": 8, "finished": 3, "on_time": 2, "on_time_rate": round(2 / 3, 4)}
    # the report is the command line's, judged again by the rules
    t = k["report"]["totals"]
    assert (t["accepted"], t["finished"], t["on_time"], t["late"], t["suspended"]) == (8, 3, 2, 1, 1)
    assert k["report"]["cards_raised"] == {"yellow": 1, "red": 2}
    assert {d["department"] for d in k["report"]["departments"]} == {"scjg", "bdc"}
    assert [f["id"] for f in k["followups"]] == [n["z"], n["t"]] and k["answered"] == []
    z = k["followups"][0]
    assert (z["kind"], z["department"], z["due"], z["card"], z["overdue"]) == ("rating", "scjg", "2026-11-30",
                                                                               "red", True)


def test_the_page_shows_cards_charts_report_and_no_forms_to_a_viewer(known):
    app, n = known
    page = client(app, "reader").get(f"/cases?{PERIOD}").text
    assert 'href="/cases" aria-current="page"' in page
    assert 'data-group="red"><b>2</b>红牌超期' in page and 'data-group="yellow"><b>1</b>黄牌预警' in page
    assert f'data-case="{n["red"]}"' in page and "2026-11-09 17:00" in page and "暂停计时 on hold" in page
    assert 'id="chart-cases"' in page and 'id="chart-on-time"' in page and "06 办结 finished: 2" in page
    assert 'id="report-department"' in page and "按时办结率" in page and "66.7%" in page
    assert f'data-followup="{n["z"]}"' in page and "差评整改" in page and "投诉" in page
    assert 'action="/cases/answer"' not in page and 'action="/cases/complaint"' not in page


def test_a_department_head_sees_only_their_department(known):
    app, n = known
    head = client(app, "scjg-head")
    k = head.get(f"/api/cases?{PERIOD}").json()
    assert k["department"] == "scjg"
    listed = [c for g in k["open"] for c in g["cases"]]
    assert listed and {c["department"] for c in listed} == {"scjg"} and n["bdc_red"] not in {c["number"] for c in listed}
    assert k["period"]["accepted"] == 6 and k["period"]["finished"] == 2
    r = k["report"]
    assert [d["department"] for d in r["departments"]] == ["scjg"] and r["totals"]["accepted"] == 6
    assert all(s["service"].startswith("scjg-") for s in r["services"])
    assert r["cards_raised"] == {"yellow": 1, "red": 1}
    assert {f["department"] for f in r["followup_list"]} == {"scjg"} and r["followups"]["complaint"]["opened"] == 0
    assert [f["id"] for f in k["followups"]] == [n["z"]]
    page = head.get(f"/cases?{PERIOD}").text
    assert n["bdc_red"] not in page and n["t"] not in page
    assert 'action="/cases/answer"' in page and 'action="/cases/complaint"' not in page


def test_a_long_range_is_shortened_and_a_backwards_one_turned_round(known):
    app, _ = known
    c = client(app, "reader")
    long = c.get("/api/cases?first=2020-01-01&last=2026-11-30").json()
    assert long["shortened"] and len(long["days"]) == 400 and long["last"] == "2026-11-30"
    back = c.get("/api/cases?first=2026-11-30&last=2026-11-01").json()
    assert (back["first"], back["last"]) == ("2026-11-01", "2026-11-30")


# ---------------------------------------------------------------- through the real hub

@pytest.fixture(scope="module")
def app(console_hall):
    app = console_hall.app()
    with TestClient(app):
        wait_for(lambda: app.state.console.feed.connected, 10, "the console's link")
        yield app


def test_a_complaint_entered_by_a_supervisor_is_answered_by_the_department_head(app, console_hall):
    rig = console_hall.rig
    inspector = client(app, "inspector")
    page = inspector.get("/cases")
    assert 'action="/cases/complaint"' in page.text and 'action="/cases/answer"' not in page.text
    entered = inspector.post("/cases/complaint", data={"department": "scjg", "window": "1", "ticket": "a012",
                                                       "detail": "窗口人员态度生硬 a rude clerk",
                                                       "csrf": csrf_of(page.text)})
    assert entered.status_code == 200 and "中心已登记" in entered.text, entered.text[:3000]
    fid = wait_for(lambda: (rig.db().execute("SELECT id FROM followups WHERE kind='complaint' AND department='scjg'")
                            .fetchone() or [None])[0], 5, "the complaint's follow-up")
    assert fid.startswith("T") and fid in entered.text
    stored = rig.db().execute("SELECT window, ticket, by FROM followups WHERE id=?", (fid,)).fetchone()
    assert stored == ("1", "A012", "inspector")

    head = client(app, "scjg-head")
    page = head.get("/cases").text
    assert f'data-followup="{fid}"' in page and 'action="/cases/complaint"' not in page
    answered = head.post("/cases/answer", data={"followup": fid, "contact": "已电话联系投诉人 called back",
                                                "cause": "高峰时段急躁 rushed at peak", "correction": "谈话提醒 spoken to",
                                                "csrf": csrf_of(page)})
    assert answered.status_code == 200 and "中心已登记" in answered.text and "已回复 answered by scjg-head" in answered.text
    row = rig.db().execute("SELECT answered_by, correction FROM followups WHERE id=?", (fid,)).fetchone()
    assert row == ("scjg-head", "谈话提醒 spoken to")
    k = head.get("/api/cases").json()
    assert fid not in {f["id"] for f in k["followups"]} and fid in {f["id"] for f in k["answered"]}
    assert {(x["type"], x["subject"], x["ok"]) for x in k["actions"]} >= {("complaint", fid, True),
                                                                       ("followup_answer", fid, True)}
    again = head.post("/cases/answer", data={"followup": fid, "contact": "a", "cause": "b", "correction": "c",
                                             "csrf": csrf_of(page)})
    assert "already_answered" in again.text
    db = users.open_db(console_hall.data_dir)
    assert {("complaint", "inspector"), ("followup_answer", "scjg-head")} <= {
        (a["action"], a["by"]) for a in users.audit_log(db)}
    db.close()


def test_only_the_right_people_may_answer_or_complain(app, console_hall):
    rig = console_hall.rig
    inspector = client(app, "inspector")
    token = csrf_of(inspector.get("/cases").text)
    other = inspector.post("/cases/complaint", data={"department": "bdc", "detail": "等候太久 waited too long",
                                                     "csrf": token})
    bdc_fid = wait_for(lambda: (rig.db().execute("SELECT id FROM followups WHERE kind='complaint' AND "
                                                 "department='bdc'").fetchone() or [None])[0], 5, "bdc's follow-up")
    assert bdc_fid in other.text
    # a supervisor does not answer, a department head does not answer another department's, nor complain
    assert inspector.post("/cases/answer", data={"followup": bdc_fid, "contact": "a", "cause": "b",
                                                 "correction": "c", "csrf": token}).status_code == 403
    head = client(app, "scjg-head")
    head_token = csrf_of(head.get("/cases").text)
    assert head.post("/cases/answer", data={"followup": bdc_fid, "contact": "a", "cause": "b", "correction": "c",
                                            "csrf": head_token}).status_code == 403
    assert head.post("/cases/complaint", data={"department": "scjg", "detail": "x", "csrf": head_token}
                     ).status_code == 403
    reader = client(app, "reader")
    assert reader.post("/cases/complaint", data={"department": "scjg", "detail": "x",
                                                 "csrf": csrf_of(reader.get("/cases").text)}).status_code == 403
    assert inspector.post("/cases/complaint", data={"department": "scjg", "detail": "x", "csrf": "forged"}
                          ).status_code == 403
    # a bad form is refused here and never sent
    before = rig.count("SELECT count(*) FROM events WHERE device='console-01' AND type='complaint'")
    nowhere = inspector.post("/cases/complaint", data={"department": "nowhere", "detail": "x", "csrf": token})
    assert "unknown_department" in nowhere.text
    empty = inspector.post("/cases/complaint", data={"department": "scjg", "detail": " ", "csrf": token})
    assert "invalid" in empty.text
    assert rig.count("SELECT count(*) FROM events WHERE device='console-01' AND type='complaint'") == before
    assert rig.db().execute("SELECT answered_at FROM followups WHERE id=?", (bdc_fid,)).fetchone()[0] is None
