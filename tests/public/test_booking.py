"""网上预约 on the citizens' site, in-process against a real hub: the slots with places left, a booking (201 with the
code), the refusals (409 full or booked, 422 naming the field), cancelling with the ID's last 4, the pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.helpers.appointments import id_number
from tests.helpers.rig import wait_for
from tests.helpers.web_public import first_slot


@pytest.fixture(scope="module")
def client(public_hall):
    with TestClient(public_hall.app()) as c:
        yield c


def body(day: str, slot: dict, n: int, queue: str = "B", **more) -> dict:
    return {"queue": queue, "date": day, "time": slot["time"], "name": "欧阳娜娜", "id_number": id_number(n),
            "phone": "13800138000", **more}


def test_slots_book_and_the_places_left_go_down(client):
    day, slot = first_slot(client)
    assert slot["capacity"] == 2 and slot["left"] == 2  # queue B: half-hourly slots of 2
    made = client.post("/api/bookings", json=body(day, slot, 300))
    assert made.status_code == 201, made.text
    b = made.json()
    assert len(b["code"]) == 8 and b["name"] == "欧**娜" and (b["date"], b["time"]) == (day, slot["time"])
    assert "id_number" not in b and id_number(300) not in made.text
    left = wait_for(lambda: next(s for d in client.get("/api/slots?queue=B").json()["dates"] if d["date"] == day
                                 for s in d["slots"] if s["time"] == slot["time"])["left"] == 1, 5, "one left")
    assert left
    again = client.post("/api/bookings", json=body(day, slot, 300))
    assert again.status_code == 409 and again.json()["code"] == "already_booked"
    assert client.post("/api/bookings", json=body(day, slot, 301)).status_code == 201
    full = client.post("/api/bookings", json=body(day, slot, 302))
    assert full.status_code == 409 and full.json()["code"] == "slot_full" and "约满" in full.json()["detail"]
    # cancelling frees the place
    wrong = client.post(f"/api/bookings/{b['code']}/cancel", json={"id_last4": "0000"})
    assert wrong.status_code == 404
    gone = client.post(f"/api/bookings/{b['code']}/cancel", json={"id_last4": id_number(300)[-4:]})
    assert gone.status_code == 200 and gone.json()["status"] == "cancelled"
    assert client.post("/api/bookings", json=body(day, slot, 302)).status_code == 201


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"id_number": "110105194912310021"}, "id_number", "身份证号码"),   # the hub's check digit
    ({"id_number": "12345"}, "id_number", "身份证号码"),
    ({"phone": "12345678901"}, "phone", "手机号码"),
    ({"time": "09:10"}, "time", "预约时段"),
    ({"date": "2020-01-01"}, "date", "预约日期"),
    ({"queue": "Z"}, "queue", "业务类别"),
    ({"name": ""}, "name", "姓名"),
])
def test_what_is_not_valid_is_422_naming_the_field(client, change, field, says):
    day, slot = first_slot(client, "A")
    answer = client.post("/api/bookings", json={**body(day, slot, 400, queue="A"), **change})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field and says in answer.json()["detail"]


def test_slots_of_a_queue_that_takes_no_bookings_are_404(client):
    assert client.get("/api/slots?queue=C").status_code == 404
    assert client.get("/api/slots").status_code == 422


def test_the_pages_book_and_cancel_without_scripts(client):
    page = client.get("/book?queue=G")
    assert page.status_code == 200 and "网上预约" in page.text and "Book a visit" in page.text
    day, slot = first_slot(client, "G")
    dates = [d["date"] for d in client.get("/api/slots?queue=G").json()["dates"]]
    other = client.get(f"/book?queue=G&date={dates[-1]}").text  # one day's slots at a time
    assert f'value="{dates[-1]} ' in other and f'value="{dates[0]} ' not in other
    form = {"queue": "G", "slot": f"{day} {slot['time']}", "name": "张三", "id_number": id_number(500),
            "phone": "13800138000"}
    done = client.post("/book", data=form)
    assert done.status_code == 201 and "预约成功" in done.text and "张*" in done.text
    assert id_number(500) not in done.text and "张三" not in done.text
    code = done.text.split('id="code"><b>')[1].split("<")[0]
    bad = client.post("/book", data={**form, "id_number": id_number(501), "phone": "123"})
    assert bad.status_code == 422 and "手机号码" in bad.text and id_number(501) not in bad.text
    cancelled = client.post("/book/cancel", data={"code": code, "id_last4": id_number(500)[-4:]})
    assert cancelled.status_code == 200 and "已取消" in cancelled.text


def test_bookings_are_limited_per_address(public_hall):
    per_minute = public_hall.hall.public.lookups_per_minute
    with TestClient(public_hall.app(connect=False), client=("10.0.0.9", 40000)) as c:
        for _ in range(per_minute):
            assert c.post("/api/bookings", json={}).status_code == 422
        assert c.post("/api/bookings", json={}).status_code == 429


def test_a_booking_the_site_cannot_queue_is_503_and_reaches_no_one(client, monkeypatch):
    """The site's disk refuses the outbox write (full): the citizen is told to try again later, not shown a 500."""
    from hall.link import OutboxFull

    day, slot = first_slot(client)
    link = client.app.state.site.feed.link

    def full(events):
        raise OutboxFull(link.outbox.path, OSError(28, "No space left on device"))

    monkeypatch.setattr(link, "send_many", full)
    answer = client.post("/api/bookings", json=body(day, slot, 500))
    assert answer.status_code == 503 and "稍后再试" in answer.json()["detail"]
