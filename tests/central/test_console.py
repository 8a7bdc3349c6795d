"""The central console over a real PostgreSQL filled by the real consumer from real uplinks: logins, the halls now,
a hall's reports, the year side by side and summed, rankings; and in Chromium, the live summary pushed."""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from central.console.app import create_app
from central.console.figures import ranking
from central.console.users import Users
from central.consumer import Consumer
from central.uplink import Uplink
from hall.clock import now as hall_now
from hallctl.commands.central import ConsoleServer, SimulatedHall
from tests.helpers.central import TEST_HALLS, fresh_database, fresh_stream, needs_central, run_apart, stored
from tests.helpers.web import chromium  # noqa: F401 (the fixture)

pytestmark = needs_central

PASSWORD = "central-password-1"


def write(folder, name, steps, seed):
    hall = SimulatedHall(name, folder / name, seed=seed)
    hall.backlog(steps)
    hall.close()
    return folder / name / "hub.db"


def send(cluster, database, journals: dict) -> None:
    async def run():
        for name, journal in journals.items():
            await Uplink(name, journal, cluster.login(name)).drain()
        await Consumer(database, cluster.login("central")).run(idle_exit_s=1.5)
    run_apart(run)


@pytest.fixture(scope="module")
def filled(tmp_path_factory, shared_cluster, pg):
    """Two halls' journals, sent up and stored; the database and the journals."""
    folder = tmp_path_factory.mktemp("halls")
    fresh_stream(shared_cluster.login("central"))
    database = fresh_database(pg)
    journals = {name: write(folder, name, 400, seed=i + 3) for i, name in enumerate(TEST_HALLS)}
    send(shared_cluster, database, journals)
    return database, journals, folder


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("users") / "central-users.json"
    Users(path).add("zhang", PASSWORD)
    return path


@pytest.fixture
def client(filled, users_file):
    with TestClient(create_app(filled[0], users_file)) as c:
        c.post("/login", data={"username": "zhang", "password": PASSWORD}, follow_redirects=False)
        yield c


def q(journal, sql):
    db = sqlite3.connect(journal)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def expected_live(journal) -> dict:
    """What the hall's own journal says now, computed apart from the console's SQL."""
    today = hall_now().date().isoformat()  # the halls' day, not the machine's
    issued = q(journal, f"SELECT count(*) FROM queue_journal WHERE op='issue' AND day='{today}'")[0][0]
    called = q(journal, f"SELECT count(*) FROM queue_journal WHERE op='call_next' AND day='{today}'")[0][0]
    windows = q(journal, f"SELECT count(DISTINCT json_extract(args, '$.window')) FROM queue_journal "
                         f"WHERE op='call_next' AND day='{today}'")[0][0]
    last = dict(q(journal, "SELECT alert, change FROM alerts_journal ORDER BY id"))
    open_alerts = sum(1 for change in last.values() if change != "cleared")
    return {"waiting": issued - called, "issued": issued, "called": called, "windows_open": windows,
            "alerts": open_alerts, "devices_offline": open_alerts}


def test_pages_need_a_login(filled, users_file):
    with TestClient(create_app(filled[0], users_file)) as c:
        assert c.get("/", follow_redirects=False).headers["location"].startswith("/login")
        assert c.get("/api/live").status_code == 401
        wrong = c.post("/login", data={"username": "zhang", "password": "not-it-at-all"}, follow_redirects=False)
        assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
        good = c.post("/login", data={"username": "zhang", "password": PASSWORD, "next": "/year"},
                      follow_redirects=False)
        assert good.status_code == 303 and good.headers["location"] == "/year"
        assert c.get("/api/live").status_code == 200


def test_the_halls_now_agree_with_their_journals(client, filled):
    _, journals, _ = filled
    live = client.get("/api/live").json()
    by_hall = {h["hall"]: h for h in live["halls"]}
    assert sorted(by_hall) == sorted(journals)
    for name, journal in journals.items():
        shown = {k: by_hall[name][k] for k in ("waiting", "issued", "called", "windows_open", "alerts",
                                               "devices_offline")}
        assert shown == expected_live(journal), name
    assert live["total"]["waiting"] == sum(h["waiting"] for h in live["halls"])
    page = client.get("/")
    assert page.status_code == 200 and "各大厅实况" in page.text and "Halls now" in page.text
    assert all(f'id="h-{name}"' in page.text for name in journals)


def test_a_halls_report_per_month_and_day(client, filled):
    database, journals, _ = filled
    name, journal = next(iter(journals.items()))
    month = client.get(f"/api/halls/{name}?by=month").json()
    total = month["total"]
    assert total["tickets"] == q(journal, "SELECT count(*) FROM queue_journal WHERE op='issue'")[0][0]
    assert total["called"] == q(journal, "SELECT count(*) FROM queue_journal WHERE op='call_next'")[0][0]
    assert total["ratings"] == q(journal, "SELECT count(*) FROM events WHERE type='rating'")[0][0] > 0
    assert total["punches"] == q(journal, "SELECT count(*) FROM events WHERE type='punch'")[0][0] > 0
    assert total["cases_accepted"] == q(journal, "SELECT count(*) FROM events WHERE type='case_accept'")[0][0] > 0
    on_time = q(journal, "SELECT count(*) FROM events WHERE type='case_finish' "
                         "AND json_extract(res, '$.case.on_time')")[0][0]
    assert total["on_time"] == on_time
    assert sum(r["tickets"] for r in month["rows"]) == total["tickets"]
    day = client.get(f"/api/halls/{name}?by=day").json()
    assert day["rows"][-1]["period"] == hall_now().date().isoformat()
    html = client.get(f"/halls/{name}?by=day")
    assert html.status_code == 200 and "报表" in html.text and "Median wait" in html.text


def test_the_year_side_by_side_and_summed_in_sql(client, filled):
    database, journals, _ = filled
    table = client.get("/api/year").json()
    rows = {r["hall"]: r for r in table["halls"]}
    total = table["total"]
    for column in ("tickets", "called", "ratings", "good", "punches", "cases_accepted", "cases_finished", "on_time"):
        assert total[column] == sum(r[column] for r in rows.values()), column
    # the sum's median is over every hall's tickets, not a median of medians
    waits = []
    for journal in journals.values():
        # a ticket is its number on its day: a backlog across midnight has an A001 on each day
        issued = {(day, no): at for day, no, at in q(journal, "SELECT day, json_extract(result, '$.ticket.no'), "
                                                            "json_extract(result, '$.ticket.issued_at') "
                                                            "FROM queue_journal WHERE op='issue'")}
        for day, no, at in q(journal, "SELECT day, json_extract(result, '$.ticket.no'), json_extract(result, "
                                      "'$.ticket.called_at') FROM queue_journal WHERE op='call_next'"):
            waits.append((datetime.fromisoformat(at) - datetime.fromisoformat(issued[day, no])).total_seconds()
                         / 60)
    waits.sort()
    nearest_rank = waits[math.ceil(0.5 * len(waits)) - 1]
    assert total["wait_median"] == round(nearest_rank, 1)
    good = sum(r["good"] for r in rows.values())
    assert total["satisfaction"] == round(good / total["ratings"], 4)
    html = client.get("/year")
    assert "年度汇总" in html.text and 'id="sum"' in html.text and "hall-only" not in html.text


def test_rankings_order_the_halls_and_share_places():
    rows = [{"hall": "a", "satisfaction": 0.9}, {"hall": "b", "satisfaction": 0.95},
            {"hall": "c", "satisfaction": 0.9}, {"hall": "d", "satisfaction": None}]
    assert [(r["place"], r["hall"]) for r in ranking(rows, "satisfaction")] == [
        (1, "b"), (2, "a"), (2, "c"), (None, "d")]
    waits = [{"hall": "a", "wait_median": 12.0}, {"hall": "b", "wait_median": 3.5}]
    assert [r["hall"] for r in ranking(waits, "wait_median")] == ["b", "a"]  # a shorter wait is better


def test_the_rankings_page(client, filled):
    got = client.get("/api/rankings").json()["rankings"]
    assert set(got) == {"satisfaction", "wait_median", "on_time_rate"}
    year = {r["hall"]: r for r in client.get("/api/year").json()["halls"]}
    best = got["satisfaction"]["halls"][0]
    assert best["value"] == max(r["satisfaction"] for r in year.values())
    assert "排名" in client.get("/rankings").text


def test_chromium_sees_the_halls_change_without_a_reload(chromium, filled, users_file, shared_cluster, tmp_path):  # noqa: F811
    database, journals, folder = filled
    server = ConsoleServer(database, users_file).start()
    try:
        context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{server.url}/")
        page.fill("input[name=username]", "zhang")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_function("document.body.dataset.push === 'connected'", timeout=10_000)
        page.evaluate("window.__notReloaded = true")
        name = TEST_HALLS[0]
        before = int(page.inner_text(f"#h-{name} [data-f=issued_called]").split("/")[0])
        hall = SimulatedHall(name, folder / name, seed=77)
        hall.issued = {k: 900 for k in hall.issued}  # new ticket numbers, after the module's
        for _ in range(30):
            hall._step()
            hall.db.conn.commit()
        hall.close()
        send(shared_cluster, database, {name: journals[name]})
        after = expected_live(journals[name])["issued"]
        assert after > before
        page.wait_for_function(f"document.querySelector('#h-{name} [data-f=issued_called]').textContent"
                               f".startsWith('{after} /')", timeout=10_000)
        assert page.evaluate("window.__notReloaded") is True
        page.screenshot(path=str(tmp_path / "central-live.png"), full_page=True)
        page.click("nav a[href='/year']")
        assert page.locator("#year tbody tr").count() == len(journals)
        page.screenshot(path=str(tmp_path / "central-year.png"), full_page=True)
        context.close()
    finally:
        server.stop()
    assert stored(database) > 0


def test_hall_central_console_command(tmp_path, filled):
    import subprocess
    import sys
    import time

    import httpx

    users = tmp_path / "central-users.json"
    add = subprocess.run([sys.executable, "-m", "hallctl.cli", "central", "console", "--pg", filled[0], "--users",
                          str(users), "--add-user", "li"], input="short\n", capture_output=True, text=True, timeout=60)
    assert add.returncode == 2 and "至少" in add.stderr  # a password too short is refused, in Chinese and English
    add = subprocess.run([sys.executable, "-m", "hallctl.cli", "central", "console", "--pg", filled[0], "--users",
                          str(users), "--add-user", "li"], input="li-password-1\n", capture_output=True, text=True,
                         timeout=60)
    assert add.returncode == 0 and Users(users).check("li", "li-password-1")
    server = subprocess.Popen([sys.executable, "-m", "hallctl.cli", "central", "console", "--pg", filled[0],
                               "--users", str(users), "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert "中心控制台 central console: http://127.0.0.1:" in line
        url = line.split(": ", 1)[1].strip()
        end = time.monotonic() + 20
        while True:
            try:
                page = httpx.get(f"{url}login", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < end, "the console did not answer"
                time.sleep(0.2)
        assert page.status_code == 200 and "登录" in page.text
        with httpx.Client(base_url=url) as c:
            c.post("/login", data={"username": "li", "password": "li-password-1"})
            assert {h["hall"] for h in c.get("/api/live").json()["halls"]} == set(filled[1])
    finally:
        server.terminate()
        server.wait(15)


def test_the_halls_stream_ends_when_its_person_is_taken_out(filled, tmp_path):
    users_file = tmp_path / "users.json"
    users = Users(users_file)
    users.add("zhang", PASSWORD)
    users.add("li", PASSWORD)
    with TestClient(create_app(filled[0], users_file, push_s=0.1)) as c:
        c.post("/login", data={"username": "li", "password": PASSWORD}, follow_redirects=False)
        with c.stream("GET", "/live/stream") as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("event: live")
            data = json.loads(users_file.read_text(encoding="utf-8"))
            del data["users"]["li"]  # the operator takes li out of the file
            users_file.write_text(json.dumps(data), encoding="utf-8")
            rest = list(itertools.islice(lines, 200))  # the stream ends: no endless quiet pushes
            assert len(rest) < 200
        assert c.get("/api/live").status_code == 401
