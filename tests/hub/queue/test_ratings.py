"""Ratings (好差评): once per ticket, only for a ticket served at that window in time, only from its rating pad.

The engine's rules first (pure), then the hub's check of who sends a rating, over a real SQLite file.
"""

from __future__ import annotations

from datetime import date, datetime, time

from hall.protocol import EVENT_MODELS
from hub.domain import Event
from hub.queue.engine import Layout, QueueEngine, QueueSpec, Rules, WindowSpec
from tests.helpers.queueing import DAY, TZ, DomainDriver, at


def small_hall() -> QueueEngine:
    layout = Layout(queues={"A": QueueSpec("A", "A")},
                    windows={"1": WindowSpec("1", ("A",)), "2": WindowSpec("2", ("A",))})
    return QueueEngine(layout, Rules(), date(2026, 11, 30))


def served(e: QueueEngine, window: str = "1", called: str = "09:01", done: str = "09:05") -> str:
    """A ticket issued, called at the window and done there: its number."""
    no = e.issue_ticket("A", at("09:00")).ticket.no
    assert e.call_next(window, at(called)).ticket.no == no
    e.complete(window, at(done))
    return no


# ---------------------------------------------------------------- the engine's rules

def test_without_a_ticket_a_rating_is_about_the_ticket_being_served_or_just_done():
    e = small_hall()
    e.login("1", "s001", at("08:55"))
    e.issue_ticket("A", at("09:00"))
    e.issue_ticket("A", at("09:00"))
    e.call_next("1", at("09:01"))
    out = e.rate("1", None, at("09:02"))             # while A001 is being served
    assert (out.ok, out.ticket.no, out.staff) == (True, "A001", "s001")
    e.call_next("1", at("09:05"))                     # A001 done, A002 called
    e.complete("1", at("09:10"))
    e.login("1", "s002", at("09:11"))                 # a colleague takes the desk
    out = e.rate("1", None, at("09:12"))
    assert (out.ok, out.ticket.no, out.staff) == (True, "A002", "s001")  # credited to who served it


def test_one_rating_per_ticket():
    e = small_hall()
    no = served(e)
    assert e.rate("1", no, at("09:06")).ok
    again = e.rate("1", no, at("09:07"))
    assert (again.ok, again.code) == (False, "already_rated")
    assert e.rate("1", None, at("09:07")).code == "already_rated"  # the pad pressed twice
    assert again.error.startswith("该票已经评价过 · the ticket is already rated")


def test_a_rating_counts_only_within_the_time_after_the_service_ended():
    e = small_hall()
    first, second = served(e, done="09:05"), served(e, called="09:06", done="09:10")
    assert e.rate("1", first, at("09:35")).ok                  # 30 minutes after: still in time
    late = e.rate("1", second, at("09:40:01"))
    assert (late.ok, late.code) == (False, "rating_expired")
    shorter = QueueEngine(e.layout, Rules(rating_within=Rules().rating_within / 6), e.day)
    shorter.issue_ticket("A", at("09:00"))
    shorter.call_next("1", at("09:01"))
    shorter.complete("1", at("09:02"))
    assert shorter.rate("1", None, at("09:08")).code == "rating_expired"


def test_only_a_ticket_served_at_that_window_is_rated_there():
    e = small_hall()
    assert e.rate("1", None, at("09:00")).code == "nothing_to_rate"   # nothing served there yet
    no = served(e, window="2")
    assert e.rate("1", no, at("09:06")).code == "not_served_here"
    assert e.rate("1", "A999", at("09:06")).code == "not_served_here"
    assert e.rate("1", None, at("09:06")).code == "nothing_to_rate"
    assert e.rate("9", no, at("09:06")).code == "unknown_window"
    e.issue_ticket("A", at("09:07"))
    e.call_next("1", at("09:08"))
    e.skip("1", at("09:09"))                                            # a no-show never was at the desk
    assert e.rate("1", None, at("09:10")).code == "not_served_here"
    assert e.rate("2", no, at("09:10")).ok
    e.issue_ticket("A", at("09:11"))
    e.call_next("1", at("09:12"))
    e.transfer("1", "A", at("09:13"))                                   # served here, then sent on
    assert e.rate("1", None, at("09:14")).ticket.no == "A003"


def test_a_replay_credits_what_was_credited_whatever_the_rules_say_now():
    e = small_hall()
    no = served(e)
    late = e.rate("1", no, at("11:00"), enforce=False)
    assert late.ok and e.tickets[no].rated
    assert e.rate("1", no, at("09:06")).code == "already_rated"


# ---------------------------------------------------------------- who may send one, through the hub

def send_as(d: DomainDriver, device: str, kind: str, event_type: str, data: dict, clock: str) -> dict:
    """An event from a device of any kind, even one hall.toml cannot name yet (a citizen's web channel)."""
    d._seq += 1
    moment = datetime.combine(DAY, time.fromisoformat(clock), tzinfo=TZ)
    event = Event(id=f"evt-{device}-{d._seq:06d}", device=device, kind=kind, type=event_type, seq=d._seq,
                  ts=moment, received_at=moment, data=EVENT_MODELS[event_type].model_validate(data), raw=data)
    with d.db.atomic():
        answer = d.domain.apply(d.db, event, d.emit)
        d.domain.flush(d.db, d.emit)
    return answer.model_dump(exclude_unset=True)


def a_served_ticket(d: DomainDriver) -> None:
    """A001 served at window 1 by s001, 09:01–09:10."""
    d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")
    d.send("win-01", "login", {"window": "1", "staff": "s001"}, "09:00:30")
    d.send("win-01", "call_next", {"window": "1"}, "09:01:00")
    d.send("win-01", "complete", {"window": "1"}, "09:10:00")


def test_a_window_pc_cannot_rate_its_own_clerk(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    a_served_ticket(d)
    answers = [d.send("win-01", "rating", {"window": "1", "score": 5}, f"09:10:{i:02d}") for i in range(10)]
    assert {a["code"] for a in answers} == {"rating_forbidden"}
    assert answers[0]["error"].startswith("该设备不能提交评价")
    named = d.send("win-01", "rating", {"window": "1", "ticket": "A001", "score": 5}, "09:10:30")
    assert named["code"] == "rating_forbidden"
    # refused: journaled with the refusal, never credited
    assert d.db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0
    refused = d.db.execute("SELECT count(*) FROM queue_journal WHERE op='rating' "
                           "AND result LIKE '%rating_forbidden%'").fetchone()[0]
    assert refused == 11
    # the window's rating pad still may rate the ticket
    assert d.send("caller-01", "rating", {"window": "1", "score": 5}, "09:11:00")["rating"]["ticket"] == "A001"


def test_a_rating_pad_rates_only_its_own_windows_once_per_ticket_in_time(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    a_served_ticket(d)
    assert d.send("caller-02", "rating", {"window": "1", "score": 5}, "09:10:05")["code"] == "forbidden"
    assert d.send("caller-01", "rating", {"window": "1", "score": 4}, "09:40:01")["code"] == "rating_expired"
    assert d.send("caller-01", "rating", {"window": "1", "score": 4}, "09:12:00")["ok"]
    assert d.send("caller-01", "rating", {"window": "1", "score": 5}, "09:12:01")["code"] == "already_rated"
    assert d.send("caller-01", "rating", {"window": "2", "ticket": "A001", "score": 5},
                  "09:12:02")["code"] == "not_served_here"
    rows = d.db.execute("SELECT window, ticket, staff, score, device FROM ratings").fetchall()
    assert rows == [("1", "A001", "s001", 4, "caller-01")]


def test_one_rating_per_ticket_holds_across_a_restart(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    a_served_ticket(d)
    assert d.send("caller-01", "rating", {"window": "1", "score": 4}, "09:12:00")["ok"]
    again = DomainDriver(tmp_path / "hub.db")
    assert again.domain.snapshot() == d.domain.snapshot()
    assert again.send("caller-01", "rating", {"window": "1", "score": 5}, "09:13:00")["code"] == "already_rated"
    assert again.db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 1


def test_a_citizens_own_channel_rates_a_ticket_it_names(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    a_served_ticket(d)
    unnamed = send_as(d, "web-01", "web", "rating", {"window": "1", "score": 5}, "09:11:00")
    assert unnamed["code"] == "nothing_to_rate"
    named = send_as(d, "web-01", "web", "rating", {"window": "1", "ticket": "A001", "score": 5}, "09:11:01")
    assert named["rating"] == {"window": "1", "ticket": "A001", "staff": "s001", "score": 5, "good": True}
    assert send_as(d, "kiosk-01", "kiosk", "rating", {"window": "1", "ticket": "A001", "score": 1},
                   "09:11:02")["code"] == "rating_forbidden"
