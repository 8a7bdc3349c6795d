"""`duplicate_login`: two connections under one device login, from the broker's own log to an alert on
`hub/alerts`; and the case cards as rules like the others (named in [alerts] `off`)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hall.credentials import Endpoint
from hall.mqtt import new_client
from hall.protocol import Alerts, read_from_hub
from hall.settings import ALERT_RULES
from hub.alerts.facts import HallFacts
from hub.alerts.rules import RULES, AlertBook, CaseFact, Facts, Limits, LoginFact
from tests.helpers.rig import wait_for

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 30)


def at(clock: str) -> datetime:
    return datetime.combine(DAY, time.fromisoformat(clock), tzinfo=TZ)


def test_the_rules_are_the_configs_with_the_case_cards_and_duplicate_login():
    assert {"case_yellow", "case_red", "duplicate_login"} <= set(RULES)
    assert set(RULES) == set(ALERT_RULES)


def test_a_shared_login_is_raised_named_and_cleared_once_the_takeovers_stop():
    book = AlertBook(Limits())
    shared = (LoginFact("kiosk-03", 4, at("10:00:05"), "二楼自助机"),)
    [raised] = book.evaluate(Facts(now=at("10:00:06"), logins=shared))
    alert = raised.alert
    assert (raised.change, alert.rule, alert.subject, alert.severity, alert.department) == (
        "raised", "duplicate_login", "kiosk-03", "critical", None)
    assert "二楼自助机" in alert.title and "two connections share the login kiosk-03" == alert.title_en
    assert "4 次" in alert.detail and "4 times" in alert.detail and "10:00:05" in alert.detail
    assert book.evaluate(Facts(now=at("10:01"), logins=shared)) == []
    assert book.evaluate(Facts(now=at("10:01:59"))) == []
    assert [c.change for c in book.evaluate(Facts(now=at("10:02")))] == ["cleared"]


def test_off_switches_off_the_case_cards_and_duplicate_login_like_any_rule():
    facts = Facts(now=at("10:00"), logins=(LoginFact("kiosk-03", 3, at("09:59:59")),),
                  cases=(CaseFact("202611300001", "red", DAY - timedelta(days=1), "scjg"),
                         CaseFact("202611300002", "yellow", DAY, "scjg")))
    assert sorted(c.alert.rule for c in AlertBook(Limits()).evaluate(facts)) == [
        "case_red", "case_yellow", "duplicate_login"]
    off = Limits(off=frozenset({"case_red", "case_yellow", "duplicate_login"}))
    assert AlertBook(off).evaluate(facts) == []


def test_the_broker_log_is_followed_from_near_its_end(tmp_path):
    """A log already there holds old takeovers (outside the window anyway); new lines are read as they come."""
    from hall.settings import load_hall

    log = tmp_path / "mosquitto.log"
    now = int(at("10:00").timestamp())
    old = "".join(f"{now - 3600 + i}: Client fp-01 already connected, closing old connection.\n" for i in range(3))
    log.write_text("x" * 300_000 + "\n" + old)
    facts = HallFacts(load_hall())
    facts.follow_broker_log(log)
    assert facts.login_facts(at("10:00")) == ()
    with open(log, "a") as f:
        f.write("".join(f"{now + i}: Client kiosk-03 already connected, closing old connection.\n" for i in range(3)))
        f.write(f"{now + 3}: Client kiosk-03 already conn")  # a line still being written waits
    assert facts.login_facts(at("10:00:10")) == (LoginFact("kiosk-03", 3, at("10:00:02"), "二楼自助机"),)


def test_two_connections_under_one_login_raise_duplicate_login_on_hub_alerts(rig):
    """Two real clients under kiosk-03 (a mosquitto_sub and a mosquitto_pub of a script, two boxes with one SD
    card image): the broker closes each for the other, and the hub says so on `hub/alerts`."""
    rig.start_hub()
    _, alerts = rig.listen("display-01", "hub/alerts")
    password = rig.password("kiosk-03")
    clients = []
    for name in ("kiosk-03", "kiosk-03-copy"):  # the broker takes the login as the client id either way
        c = new_client(name, Endpoint(port=rig.port), None)
        c.username_pw_set("kiosk-03", password)
        c.reconnect_delay_set(min_delay=1, max_delay=1)
        c.connect_async("127.0.0.1", rig.port, keepalive=15)
        c.loop_start()
        clients.append(c)
    try:
        def shared() -> dict | None:
            latest = read_from_hub(Alerts, alerts[-1]) if alerts else None
            return next((a for a in latest.alerts if a.rule == "duplicate_login"), None) if latest else None
        alert = wait_for(shared, 30, "a duplicate_login alert on hub/alerts", interval=0.1)
    finally:
        for c in clients:
            c.loop_stop()
            c.disconnect()
    assert (alert.subject, alert.severity, alert.state, alert.department) == ("kiosk-03", "critical", "firing", None)
    assert "二楼自助机" in alert.title and "kiosk-03" in alert.title_en
    assert rig.files.log.read_text().count("Client kiosk-03 already connected, closing old connection.") >= 3
    with rig.db() as db:
        assert db.execute("SELECT change FROM alerts_journal WHERE alert=?", (alert.id,)).fetchall() == [("raised",)]
