"""QueueDomain as ingest drives it, over a real SQLite file but no broker: answers, access, journal, rebuild."""

from __future__ import annotations

from datetime import date, timedelta

from hall.protocol import Answer, hub_message_model, parse_topic, read_from_hub
from tests.helpers.queueing import DAY, DomainDriver


def test_ticket_request_answers_the_ticket_with_windows_ahead_and_wait(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    d.published()
    first = d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    assert len(first["ticket"].pop("follow")) == 22  # the token of its page on the citizens' site (tests/public)
    assert first == {"ok": True, "ticket": {
        "no": "A001", "queue": "A", "service": None, "priority": False, "status": "waiting",
        "issued_at": "2026-11-30T09:00:00.000+08:00", "window": None, "windows": ["1", "2", "3"], "ahead": 0,
        "est_wait_s": 0}}
    second = d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:01")
    # 1 ahead × 12 minutes ÷ 3 windows of A
    assert (second["ticket"]["ahead"], second["ticket"]["est_wait_s"]) == (1, 240)
    state = d.published()
    assert state["state/queue/A"][-1] == {"queue": "A", "waiting": 2, "est_wait_s": 480, "last_called": None}


def test_ticket_request_refusals(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    assert d.send("kiosk-01", "ticket_request", {"queue": "A"}, "08:00:00")["code"] == "closed"
    assert d.send("kiosk-01", "ticket_request", {"queue": "ZZ"})["code"] == "unknown_queue"
    assert d.send("kiosk-01", "ticket_request", {"service": "nope"})["code"] == "unknown_queue"
    refused = d.send("kiosk-01", "ticket_request", {"queue": "A"}, "12:00:00")
    assert refused["ok"] is False and refused["error"].startswith("现在不是取号时间")


def test_call_next_answers_publishes_the_call_and_the_state(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    d.send("win-03", "login", {"window": "3", "staff": "s011"}, "09:00:30")
    d.published()
    res = d.send("win-03", "call_next", {"window": "3"}, "09:01:00")
    assert res["ok"] and res["ticket"]["no"] == "A001" and res["ticket"]["window"] == "3"
    assert (res["waiting"], res["completed"]) == (0, None)
    out = d.published()
    call = {"ticket": "A001", "window": "3", "queue": "A", "at": "2026-11-30T09:01:00.000+08:00", "recall": 0}
    assert out["call"] == [call]
    assert out["calls"] == [{"calls": [call]}]
    assert out["state/window/3"] == [{"window": "3", "status": "serving", "ticket": "A001", "staff": "s011",
                                      "queues": ["A"]}]
    assert out["state/queue/A"][-1]["last_called"] == "A001"
    assert {k: d.retain[k] for k in out} == {"call": False, "calls": True, "state/window/3": True,
                                             "state/queue/A": True}
    assert d.send("win-03", "call_next", {"window": "3"}, "09:02:00") == {
        "ok": True, "ticket": None, "waiting": 0, "completed": "A001"}


def test_a_device_acts_only_for_its_own_windows(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    assert d.send("win-03", "call_next", {"window": "4"})["code"] == "forbidden"
    assert d.send("win-03", "call_next", {"window": "99"})["code"] == "unknown_window"
    assert d.send("caller-01", "call_next", {"window": "17"})["code"] == "not_logged_in"
    assert d.send("caller-01", "login", {"window": "17", "staff": "s078"})["ok"] is True
    assert d.send("caller-01", "call_next", {"window": "17"})["ok"] is True
    assert d.send("caller-01", "pause", {"window": "18"})["code"] == "forbidden"
    assert d.send("caller-01", "transfer", {"window": "17", "queue": "nope"})["code"] == "unknown_queue"
    forbidden = d.send("caller-02", "rating", {"window": "3", "score": 5})
    assert forbidden["code"] == "forbidden" and "不能代表" in forbidden["error"]


def test_a_terminal_login_finds_the_window_in_the_staff_list(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    res = d.send("fp-01", "login", {"staff": "s001"})
    assert res["window"]["window"] == "1" and res["window"]["staff"] == "s001"


def test_ratings_are_stored_with_ticket_window_and_staff(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    d.send("win-02", "login", {"window": "2", "staff": "s006"}, "09:00:10")
    d.send("win-02", "call_next", {"window": "2"}, "09:01:00")
    d.send("win-02", "complete", {"window": "2"}, "09:09:00")
    res = d.send("caller-01", "rating", {"window": "2", "score": 2}, "09:09:10")
    assert res["rating"] == {"window": "2", "ticket": "A001", "staff": "s006", "score": 2, "good": False}
    rows = list(d.db.query("SELECT day, window, ticket, staff, score, good FROM ratings"))
    assert rows == [{"day": "2026-11-30", "window": "2", "ticket": "A001", "staff": "s006", "score": 2, "good": 0}]


def _busy_morning(d: DomainDriver) -> None:
    for i in range(12):
        d.send("kiosk-01", "ticket_request", {"queue": "ABCB"[i % 4], "priority": i == 7}, f"09:00:{i:02d}")
    d.send("win-01", "login", {"window": "1", "staff": "s001"}, "09:01:00")
    d.send("win-04", "call_next", {"window": "4"}, "09:02:00")
    d.send("win-01", "call_next", {"window": "1"}, "09:02:05")
    d.send("win-01", "recall", {"window": "1"}, "09:02:30")
    d.send("win-01", "skip", {"window": "1"}, "09:03:00")
    d.send("win-01", "call_next", {"window": "1"}, "09:03:05")
    d.send("win-01", "transfer", {"window": "1", "queue": "C"}, "09:07:00")
    d.send("kiosk-01", "requeue", {"ticket": "A001"}, "09:10:00")
    d.send("win-05", "pause", {"window": "5"}, "09:11:00")
    d.send("win-04", "call_next", {"window": "4"}, "09:15:00")


def test_a_restarted_domain_rebuilds_the_same_day_and_numbering_continues(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    _busy_morning(d)
    before = d.domain.snapshot()
    again = DomainDriver(tmp_path / "hub.db")
    assert again.domain.snapshot() == before
    # the retained state it publishes on start is the state it had
    retained = {k: v[-1] for k, v in again.published().items()}
    assert retained["state/window/5"]["status"] == "paused"
    assert retained["calls"] == {"calls": [c.model_dump() for c in d.domain.engine.recent_calls(20)]}
    assert again.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:20:00")["ticket"]["no"] == "A004"


def test_replay_keeps_decisions_even_when_the_hours_change(tmp_path):
    from hall.settings import load_hall

    hall = load_hall()
    d = DomainDriver(tmp_path / "hub.db", hall)
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    hall.file.hours.__dict__["issuing"] = []  # as if hall.toml had changed before the restart
    again = DomainDriver(tmp_path / "hub.db", hall)
    assert again.domain.snapshot()["lines"]["A"] == ["A001"]


def test_a_new_day_restarts_numbering_and_keeps_logins(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    d.send("win-01", "login", {"window": "1", "staff": "s001"}, "08:50:00")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    d.send("win-01", "call_next", {"window": "1"}, "09:01:00")
    tomorrow = DAY + timedelta(days=1)
    res = d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00", day=tomorrow)
    assert res["ticket"]["no"] == "A001"
    state = d.published()
    assert state["state/window/1"][-1] == {"window": "1", "status": "idle", "ticket": None, "staff": "s001",
                                           "queues": ["A"]}
    assert state["calls"][-1] == {"calls": []}
    again = DomainDriver(tmp_path / "hub.db")
    assert again.domain.snapshot() == d.domain.snapshot()
    assert again.domain.engine.day == date(2026, 12, 1)


def test_a_rolled_back_batch_is_forgotten(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    try:
        with d.db.atomic():
            d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:01")
            raise RuntimeError("the batch failed to commit")
    except RuntimeError:
        pass
    assert d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:02")["ticket"]["no"] == "A002"


def test_a_ticket_for_a_service_item_goes_to_its_queue(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    item = next(s for s in d.hall.catalogue.services if s.queue == "C")
    res = d.send("kiosk-01", "ticket_request", {"service": item.id, "priority": True}, "09:00:00")
    assert (res["ticket"]["no"], res["ticket"]["service"], res["ticket"]["priority"]) == ("C001", item.id, True)
    assert res["ticket"]["windows"] == (item.windows or d.hall.catalogue.windows_serving("C"))
    row = next(d.db.query("SELECT service, priority, device, channel FROM tickets WHERE no='C001'"))
    assert row == {"service": item.id, "priority": 1, "device": "kiosk-01", "channel": "kiosk"}


def test_report_rows_cut_short_by_a_crash_are_written_again_from_the_journal(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:01")
    d.send("win-01", "call_next", {"window": "1"}, "09:01:00")
    rows = list(d.db.query("SELECT no, status, device, called_at FROM tickets ORDER BY no"))
    calls = list(d.db.query("SELECT n, ticket, window FROM calls"))
    # the hub stopped after committing the journal and before writing the rows that derive from it
    with d.db.atomic():
        d.db.execute("DELETE FROM tickets WHERE no='A002'")
        d.db.execute("UPDATE tickets SET status='waiting', called_at=NULL WHERE no='A001'")
        d.db.execute("DELETE FROM calls")
    again = DomainDriver(tmp_path / "hub.db")
    with again.db.atomic():
        again.domain.flush(again.db, again.emit)
    healed = list(again.db.query("SELECT no, status, device, called_at FROM tickets ORDER BY no"))
    assert [(r["no"], r["status"], r["called_at"]) for r in healed] == [
        (r["no"], r["status"], r["called_at"]) for r in rows]
    assert healed[0]["device"] == "kiosk-01"  # a row that survived keeps who asked for the ticket
    assert list(again.db.query("SELECT n, ticket, window FROM calls")) == calls


def test_a_ticket_whose_rows_a_crash_cut_off_comes_back_whole(tmp_path):
    from hall.protocol import EVENT_MODELS
    from hub.domain import Event
    from tests.helpers.queueing import at

    d = DomainDriver(tmp_path / "hub.db")
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    # the next ticket's event and journal row commit; the hub dies before flush() writes the rows for reports
    moment = at("09:00:01")
    event = Event(id="evt-kiosk-02-cut-off", device="kiosk-02", kind="kiosk", type="ticket_request", seq=1,
                  ts=moment, received_at=moment, data=EVENT_MODELS["ticket_request"].model_validate({"queue": "A"}),
                  raw={"queue": "A"})
    with d.db.atomic():
        assert d.domain.apply(d.db, event, d.emit).ticket.no == "A002"
    assert d.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    again = DomainDriver(tmp_path / "hub.db")
    with again.db.atomic():
        again.domain.flush(again.db, again.emit)
    rows = list(again.db.query("SELECT no, device, event, channel, status FROM tickets ORDER BY no"))
    assert rows[1] == {"no": "A002", "device": "kiosk-02", "event": "evt-kiosk-02-cut-off", "channel": "kiosk",
                       "status": "waiting"}
    assert rows[0]["device"] == "kiosk-01" and rows[0]["event"] is not None


def test_every_message_of_a_day_fits_its_model(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    answers = [
        d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00"),
        d.send("kiosk-01", "ticket_request", {"queue": "A", "priority": True}, "09:00:01"),
        d.send("kiosk-01", "ticket_request", {"queue": "ZZ"}, "09:00:02"),
        d.send("win-03", "login", {"window": "3", "staff": "s011"}, "09:00:30"),
        d.send("win-03", "call_next", {"window": "3"}, "09:01:00"),
        d.send("win-03", "recall", {"window": "3"}, "09:01:30"),
        d.send("win-03", "call_next", {"window": "3"}, "09:05:00"),
        d.send("win-03", "skip", {"window": "3"}, "09:06:00"),
        d.send("kiosk-01", "requeue", {"ticket": "A001"}, "09:07:00"),
        d.send("win-03", "call_next", {"window": "3"}, "09:08:00"),
        d.send("win-03", "transfer", {"window": "3", "queue": "B"}, "09:09:00"),
        d.send("win-03", "pause", {"window": "3"}, "09:10:00"),
        d.send("win-03", "resume", {"window": "3"}, "09:11:00"),
        d.send("win-03", "logout", {"window": "3", "staff": "s011"}, "09:12:00"),
    ]
    for answer in answers:
        read_from_hub(Answer, {"re": "01JDX8R6Z3K6W5T3M4N2P1Q0RS", **answer})
    published = d.published()
    assert {"call", "calls", "state/window/3", "state/queue/A"} <= published.keys()
    for suffix, payloads in published.items():
        model = hub_message_model(parse_topic(f"hall/v1/miluo/hub/{suffix}"))
        for payload in payloads:
            assert read_from_hub(model, payload).model_dump(exclude_unset=True) == payload
