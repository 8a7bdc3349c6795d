"""The caller bus master: keys → window events, scores → ratings, hub state → keypad displays."""

from __future__ import annotations

import logging

import pytest

from devices.bus.codec import Key, KeypadState, KeypadView
from devices.bus.master import BusMaster, open_port
from devices.bus.simulator import BusSimulator
from devices.caller import CallerAgent, CallerLayout, KeypadSession, parse_assignments, staff_for_number
from hall.protocol import WindowState
from hall.settings import load_hall
from tests.helpers.links import FakeLink


@pytest.fixture(scope="module")
def hall():
    return load_hall()


# ---------------------------------------------------------------- keys → events, no bus

def session(window="3"):
    return KeypadSession(window, ["s001", "s009", "s023", "s123"], {"3": ["A"], "4": ["B"], "17": ["K", "L"]})


def press(s, *keys, state=None):
    out = []
    for k in keys:
        out += s.press(k, state)
    return out


def test_action_keys():
    s = session()
    assert press(s, Key.NEXT, Key.RECALL, Key.SKIP, Key.COMPLETE, Key.RESUME) == [
        ("call_next", {"window": "3"}), ("recall", {"window": "3"}), ("skip", {"window": "3"}),
        ("complete", {"window": "3"}), ("resume", {"window": "3"})]


def test_pause_toggles_with_the_hub_state():
    s = session()
    assert press(s, Key.PAUSE, state=WindowState(window="3", status="serving")) == [("pause", {"window": "3"})]
    assert press(s, Key.PAUSE, state=WindowState(window="3", status="paused")) == [("resume", {"window": "3"})]


def test_login_by_staff_number():
    s = session()
    assert press(s, Key.LOGIN, Key.D2, Key.D3, Key.ENTER) == [("login", {"window": "3", "staff": "s023"})]
    assert press(s, Key.LOGIN, Key.D0, Key.D0, Key.D9, Key.ENTER) == [("login", {"window": "3", "staff": "s009"})]
    assert press(s, Key.LOGIN, Key.D7, Key.ENTER) == []  # nobody has number 7
    assert press(s, Key.LOGIN, Key.D2, Key.CLEAR, Key.D1, Key.ENTER) == []  # clear ended the login


def test_logout_names_the_staff_the_hub_has():
    s = session()
    logged_in = WindowState(window="3", status="idle", staff="s023")
    assert press(s, Key.LOGOUT, state=logged_in) == [("logout", {"window": "3", "staff": "s023"})]
    assert press(s, Key.LOGOUT, state=WindowState(window="3", status="closed", staff=None)) == []


def test_transfer_to_a_window_goes_to_its_first_queue():
    s = session()
    assert press(s, Key.TRANSFER, Key.D1, Key.D7, Key.ENTER) == [("transfer", {"window": "3", "queue": "K"})]
    assert press(s, Key.TRANSFER, Key.D9, Key.D9, Key.ENTER) == []


def test_stray_digits_and_unknown_codes_do_nothing():
    s = session()
    assert press(s, Key.D5, Key.ENTER, 0x7F) == []
    # an action key abandons a half-typed number
    assert press(s, Key.LOGIN, Key.D2, Key.NEXT, Key.D3, Key.ENTER) == [("call_next", {"window": "3"})]


def test_staff_numbers():
    ids = ["s001", "s023", "x23", "s200"]
    assert staff_for_number("1", ids) == "s001"
    assert staff_for_number("23", ids) is None  # two people answer to 23: refuse rather than guess
    assert staff_for_number("200", ids) == "s200"


def test_layout_defaults_and_overrides():
    layout = CallerLayout.for_windows(["1", "2"], keypads={"2": 12}, rating_pads={"1": 201})
    assert layout.keypads == {"1": 1, "2": 12}
    assert layout.rating_pads == {"1": 201, "2": 112}
    assert CallerLayout.for_windows(["1"], raters=False).rating_pads == {}
    with pytest.raises(ValueError, match="already the keypad of window 1"):
        CallerLayout.for_windows(["1", "2"], keypads={"2": 1})
    with pytest.raises(ValueError, match="outside 1–247"):
        CallerLayout.for_windows(["1"], rating_pads={"1": 300})
    with pytest.raises(ValueError, match="not served by this caller"):
        CallerLayout.for_windows(["1"], keypads={"9": 9})
    assert parse_assignments(["3=13"], "--keypad") == {"3": 13}
    with pytest.raises(ValueError, match="WINDOW=ADDRESS"):
        parse_assignments(["3:13"], "--keypad")


# ---------------------------------------------------------------- the agent on a simulated bus

@pytest.fixture
def bus(hall):
    layout = CallerLayout.for_windows(["1", "2", "3"])
    sim = BusSimulator.for_callers(layout.keypads.values(), layout.rating_pads.values()).start()
    master = BusMaster(open_port(sim.port))
    link = FakeLink()
    agent = CallerAgent(hall, "caller-01", master, link, layout, key_poll_s=0.05, rating_poll_s=0.05,
                        recheck_s=0.5)
    yield sim, link, agent
    agent.stop()
    master.close()
    sim.stop()


def test_keys_become_events(bus):
    sim, link, agent = bus
    agent.start()
    sim.press(3, "login", "9", "enter", "next")
    sim.press(1, "pause")
    got = link.wait_events(3)
    assert ("login", {"window": "3", "staff": "s009"}) in got
    assert ("call_next", {"window": "3"}) in got
    assert ("pause", {"window": "1"}) in got
    assert got.index(("login", {"window": "3", "staff": "s009"})) < got.index(("call_next", {"window": "3"}))


def test_scores_become_ratings_of_the_ticket_last_served(bus):
    sim, link, agent = bus
    agent.start()
    link.deliver("hub/state/window/2", {"window": "2", "status": "serving", "ticket": "A007", "staff": "s005",
                                        "queues": ["A"]})
    link.deliver("hub/state/window/2", {"window": "2", "status": "idle", "ticket": None, "staff": "s005",
                                        "queues": ["A"]})
    sim.rate(102, 5)
    sim.rate(103, 3)
    got = link.wait_events(2, "rating")
    assert ("rating", {"window": "2", "score": 5, "ticket": "A007"}) in got
    assert ("rating", {"window": "3", "score": 3}) in got  # nothing served there yet: no ticket to name


def test_hub_state_shows_on_the_keypad(bus):
    sim, link, agent = bus
    agent.start()
    link.deliver("hub/state/queue/A", {"queue": "A", "waiting": 4, "est_wait_s": 600, "last_called": "A012"})
    link.deliver("hub/state/queue/U", {"queue": "U", "waiting": 2, "est_wait_s": 60, "last_called": None})
    link.deliver("hub/state/window/3", {"window": "3", "status": "serving", "ticket": "A012", "staff": "s009",
                                        "queues": ["A", "U"]})
    sim.wait(lambda: sim.keypad(3).view == KeypadView("A012", 6, KeypadState.SERVING))
    link.deliver("hub/state/window/1", {"window": "1", "status": "paused", "ticket": None, "staff": "s001",
                                        "queues": ["A"]})
    sim.wait(lambda: sim.keypad(1).view == KeypadView(None, 4, KeypadState.PAUSED))
    link.set_hub_online(False)
    sim.wait(lambda: sim.keypad(3).view == KeypadView("A012", 6, KeypadState.OFFLINE))


def test_a_malformed_message_from_the_hub_is_logged_and_ignored(bus, caplog):
    sim, link, agent = bus
    agent.start()
    link.deliver("hub/state/queue/A", {"queue": "A", "waiting": 4, "est_wait_s": 600, "last_called": "A012"})
    link.deliver("hub/state/window/3", {"window": "3", "status": "serving", "ticket": "A012", "staff": "s009",
                                        "queues": ["A"]})
    sim.wait(lambda: sim.keypad(3).view == KeypadView("A012", 4, KeypadState.SERVING))
    with caplog.at_level(logging.WARNING, logger="hall.caller"):
        link.deliver("hub/state/queue/A", {"queue": "A", "waiting": "many"})
        link.deliver("hub/state/window/3", {"window": "3", "status": "lunch", "ticket": None})
    said = [r.getMessage() for r in caplog.records]
    assert any("hall/v1/miluo/hub/state/queue/A" in m and "waiting" in m for m in said), said
    assert any("hall/v1/miluo/hub/state/window/3" in m and "status" in m for m in said), said
    assert agent.waiting["A"] == 4 and agent.windows["3"].status == "serving"
    link.deliver("hub/state/window/3", {"window": "3", "status": "idle", "ticket": None, "staff": "s009",
                                        "queues": ["A"]})  # and the next good message is shown as usual
    sim.wait(lambda: sim.keypad(3).view == KeypadView(None, 4, KeypadState.IDLE))


def test_a_silent_keypad_is_reported_and_its_return_too(bus):
    sim, link, agent = bus
    sim.silence(2)
    agent.start()
    assert link.wait_events(1, "health") == [("health", {"caller": {"keypad 2": "no_answer"}})]
    sim.press(1, "next")  # the others keep working meanwhile
    link.wait_events(1, "call_next")
    sim.silence(2, False)
    sim.press(2, "next")
    got = link.wait_events(2, "health")
    assert got[1] == ("health", {"caller": {"keypad 2": "ok"}})
    assert ("call_next", {"window": "2"}) in link.wait_events(2, "call_next")


def test_no_key_is_lost_or_doubled_when_replies_are_garbled(bus):
    sim, link, agent = bus
    sim.fault(3, garble_out=3)
    sim.press(3, "next", "recall", "complete")
    agent.start()
    got = link.wait_events(3)
    sim.wait(lambda: not sim.faults[3].garble_out)
    assert [t for t, d in link.events() if d.get("window") == "3"] == ["call_next", "recall", "complete"]
    assert agent.health.get("keypad 3", "ok") == "ok"
    assert len(got) == 3
    agent.send_summary()  # what the bus thread does every five minutes
    (_, health), = link.events("health")
    assert health["caller"]["bus"]["retries"] >= 3
    agent.send_summary()
    assert len(link.events("health")) == 1  # nothing new, nothing sent
