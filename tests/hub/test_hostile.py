"""Nothing a device sends can stop the hub: every message is stored or rejected with a reason, once, and the hall
goes on. The messages here passed validation once and then failed while being written, which made the broker send
them again for ever."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hall.clock import stamp
from hall.protocol import envelope, evt_topic, new_event_id
from tests.helpers.queueing import all_day_hall
from tests.helpers.rig import wait_for


def _env(data: dict | None = None, **fields) -> dict:
    return {**envelope(new_event_id(), 1, {} if data is None else data, stamp()), **fields}


def _text(body: dict) -> bytes:
    return json.dumps(body).encode()


def _raw_envelope(data_json: str, seq: str = "1") -> bytes:
    """An envelope whose data is given as JSON text, for what json.dumps will not write."""
    return (f'{{"v":1,"id":"{new_event_id()}","seq":{seq},"ts":"{stamp()}","data":{data_json}}}').encode()


POISON = {
    "nested 300 levels": ("health", _raw_envelope('{"x":' + "[" * 300 + "1" + "]" * 300 + "}")),
    "nested 9 levels": ("health", _text(_env({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}))),
    "a lone surrogate": ("health", _raw_envelope('{"x":"\\ud800"}')),
    "a lone surrogate in a key": ("health", _raw_envelope('{"\\udfff":1}')),
    "seq 2^63": ("health", _raw_envelope("{}", seq=str(2**63))),
    "seq 2^53": ("health", _raw_envelope("{}", seq=str(2**53))),
    "an integer of 30 digits": ("health", _raw_envelope('{"x":' + "9" * 30 + "}")),
    "an integer of 5000 digits": ("health", _raw_envelope('{"x":' + "9" * 5000 + "}")),
    "NaN": ("health", _raw_envelope('{"x":NaN}')),
    "-Infinity": ("health", _raw_envelope('{"x":-Infinity}')),
    "1e999": ("health", _raw_envelope('{"x":1e999}')),
    "a key twice": ("health", _raw_envelope('{"x":1,"x":2}')),
    "a NUL in a string": ("health", _raw_envelope('{"x":"a\\u0000b"}')),
    "a string of 100,000 characters": ("health", _text(_env({"x": "字" * 100_000}))),
    "20,000 values": ("health", _text(_env({"x": list(range(20_000))}))),
    "a key of 1,000 characters": ("health", _text(_env({"k" * 1000: 1}))),
    "the year 1": ("health", _text(_env(ts="0001-01-01T00:00:00+08:00"))),
    "the year 9999": ("health", _text(_env(ts="9999-12-31T23:59:59+08:00"))),
    "two years ago": ("health", _text(_env(ts="2000-01-01T09:00:00+08:00"))),
    "levels after the type": ("health/and/more", _text(_env())),
    "an envelope key with a surrogate": ("health", _raw_envelope("{}")[:-1] + b',"\\ud800":1}'),
    "a 200-level status-like data": ("ticket_request", _raw_envelope('{"queue":' + "[" * 200 + "]" * 200 + "}")),
}


class Heard:
    """What one raw device connection heard on its own topics (err, res, ack)."""

    def __init__(self, messages: list):
        self.messages = messages  # (topic, payload bytes), filled by the connection's thread

    def on(self, channel: str) -> list:
        return [json.loads(p) for t, p in list(self.messages) if t.rsplit("/", 1)[-1] == channel]


def _device(rig, device: str):
    """A device's one connection: it publishes and hears its answers (a second login would kick the first off)."""
    client, messages = rig.listen(device, f"{device}/+", decode=False)
    return client, Heard(messages)


@pytest.fixture
def hall_with_a_kiosk(make_rig, tmp_path):
    # a hall that issues tickets at any hour: the valid requests must be answered whatever the time of the run
    rig = make_rig(config=all_day_hall(tmp_path / "config"))
    hub = rig.start_hub()
    kiosk, heard = _device(rig, "kiosk-01")
    phone = rig.link("kiosk-02")  # a well-behaved device beside the hostile one
    assert phone.wait_connected(10)
    return rig, hub, kiosk, heard, phone


@pytest.mark.parametrize("name", list(POISON))
def test_a_poison_message_is_rejected_and_the_hall_goes_on(hall_with_a_kiosk, name):
    rig, hub, kiosk, heard, phone = hall_with_a_kiosk
    event_type, payload = POISON[name]
    kiosk.publish(f"hall/v1/{rig.hall.id}/kiosk-01/evt/{event_type}", payload, qos=1)
    errors = wait_for(lambda: heard.on("err"), 10, "the error answer")
    assert errors[0]["code"] in ("invalid_json", "invalid_envelope", "invalid_data", "unknown_type")
    assert errors[0]["error"]
    assert rig.count("SELECT count(*) FROM rejected WHERE device='kiosk-01' AND error != ''") == 1
    assert rig.count("SELECT count(*) FROM events") == 0
    # and the hub answers the next request at once
    res = phone.request("ticket_request", {"queue": "A"}, timeout=10)
    assert res["ok"], res
    assert hub.is_alive() and hub.degraded is None


def test_a_rejected_event_does_not_hold_back_the_acknowledgements(hall_with_a_kiosk):
    rig, hub, kiosk, heard, _ = hall_with_a_kiosk
    topic = evt_topic(rig.hall.id, "kiosk-01", "health")
    kiosk.publish(topic, _text(_env(seq=1)), qos=1)
    kiosk.publish(topic, _text(_env(seq=2, ts="1999-12-31T09:00:00+08:00")), qos=1)  # a bad envelope
    kiosk.publish(topic, _text(_env({"x": "\u0007"}, seq=3)), qos=1)  # bad data
    kiosk.publish(topic, _text(_env(seq=4)), qos=1)
    wait_for(lambda: heard.on("ack") and heard.on("ack")[-1]["through_seq"] == 4, 10, "ack through 4")
    assert rig.count("SELECT count(*) FROM rejected WHERE seq IN (2, 3)") == 2
    assert [e["code"] for e in heard.on("err")] == ["invalid_envelope", "invalid_data"]


def test_an_event_id_used_again_for_other_content_is_rejected(hall_with_a_kiosk):
    rig, hub, kiosk, heard, _ = hall_with_a_kiosk
    first = _env({"queue": "A"})
    topic = evt_topic(rig.hall.id, "kiosk-01", "ticket_request")
    kiosk.publish(topic, _text(first), qos=1)
    wait_for(lambda: heard.on("res"), 10, "the ticket")
    kiosk.publish(topic, _text(first), qos=1)  # a true resend: the same answer again, nothing stored
    answers = wait_for(lambda: len(heard.on("res")) == 2 and heard.on("res"), 10, "the same answer again")
    assert answers[0] == answers[1]
    kiosk.publish(topic, _text({**first, "data": {"queue": "B"}}), qos=1)  # same id, other content
    kiosk.publish(evt_topic(rig.hall.id, "kiosk-01", "health"), _text({**first, "data": {}}), qos=1)  # other type
    errors = wait_for(lambda: len(heard.on("err")) == 2 and heard.on("err"), 10, "two errors")
    assert {e["code"] for e in errors} == {"invalid_envelope"}
    assert all("already taken by this device's event" in e["error"] for e in errors)
    # another device reusing the id learns nothing of the first device's answer
    other, other_heard = _device(rig, "kiosk-03")
    other.publish(evt_topic(rig.hall.id, "kiosk-03", "ticket_request"), _text(first), qos=1)
    other_errors = wait_for(lambda: other_heard.on("err"), 10, "the other device's error")
    assert "another device's event" in other_errors[0]["error"]
    assert other_heard.on("res") == []
    assert rig.count("SELECT count(*) FROM events") == 1
    assert rig.count("SELECT count(*) FROM tickets") == 1
    assert rig.count("SELECT count(*) FROM rejected") == 3


def test_rejected_messages_are_kept_up_to_a_quota_and_counted_past_it(rig, monkeypatch):
    import hub.journal

    monkeypatch.setattr(hub.journal, "REJECT_QUOTA_ROWS", 20)
    the_hub = rig.start_hub()
    kiosk, heard = _device(rig, "kiosk-01")
    topic = evt_topic(rig.hall.id, "kiosk-01", "ticket_request")
    for n in range(30):
        kiosk.publish(topic, _text(_env({"queue": n}, seq=n + 1)), qos=1)
    wait_for(lambda: len(heard.on("err")) == 30, 10, "30 errors")
    assert rig.count("SELECT count(*) FROM rejected") == 20
    assert rig.count("SELECT sum(kept), sum(dropped) FROM rejected_quota") == 20
    assert rig.count("SELECT sum(dropped) FROM rejected_quota WHERE device='kiosk-01'") == 10
    assert the_hub.counts["rejected_dropped"] == 10
    # a rejected message of a megabyte costs the journal a few kilobytes
    kiosk.publish(topic, _text(_env({"queue": "A", "pad": "x" * 200_000})), qos=1).wait_for_publish(5)
    wait_for(lambda: len(heard.on("err")) == 31, 10, "the big one answered")


# ---------------------------------------------------------------- generated hostile messages

_json_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                 | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
_json_values = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=4)
                            | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=30)
_escapes = st.sampled_from(["\\ud800", "\\udfff", "\\u0000", "\\u001b", "\\u007f", "\\ud83d\\ude00", "a", "中"])


def _deep(depth: int, bracket: str) -> str:
    close = {"[": "]", "{": "}"}[bracket]
    inner = '{"k":' if bracket == "{" else "["
    return inner * depth + "1" + close * depth


_data_json = st.one_of(
    _json_values.map(lambda v: json.dumps({"v": v})),
    st.lists(_escapes, min_size=1, max_size=6).map(lambda parts: '{"s":"' + "".join(parts) + '"}'),
    st.lists(_escapes, min_size=1, max_size=3).map(lambda parts: '{"' + "".join(parts) + '":1}'),
    st.integers(min_value=1, max_value=600).map(lambda d: '{"x":' + _deep(d, "[") + "}"),
    st.integers(min_value=1, max_value=400).map(lambda d: '{"x":' + _deep(d, "{") + "}"),
    st.integers(min_value=15, max_value=5000).map(lambda n: '{"x":' + "9" * n + "}"),
    st.sampled_from(['{"x":NaN}', '{"x":Infinity}', '{"x":1e400}', '{"a":1,"a":1}', "[]", "null", '"x"', "{}"]),
)
_seq = st.one_of(st.integers(min_value=1, max_value=10**6), st.integers(min_value=-(2**80), max_value=2**80),
                 st.sampled_from([2**53 - 1, 2**53, 2**63 - 1, 2**63, 2**64])).map(str)
_ts = st.one_of(st.just(None), st.integers(min_value=1, max_value=9999).map(lambda y: f"{y:04d}-06-01T09:00:00+08:00"),
                st.text(max_size=30))
_types = st.sampled_from(["health", "ticket_request", "requeue", "call_next", "punch", "rating", "nope"])
_extra_levels = st.lists(st.text(alphabet="abcxyz-_09", min_size=0, max_size=6), max_size=3)


@st.composite
def hostile(draw) -> tuple[str, bytes]:
    """One message from the kiosk's own login: (topic suffix after evt/, payload bytes)."""
    event_type = draw(_types)
    suffix = "/".join([event_type, *draw(_extra_levels)])
    form = draw(st.integers(0, 3))
    if form == 0:  # hostile data in a sound envelope
        payload = _raw_envelope(draw(_data_json))
    elif form == 1:  # hostile envelope fields
        ts = draw(_ts)
        body = {"v": draw(st.sampled_from([1, 1, 2, "1"])), "id": draw(st.sampled_from([new_event_id(), "x", ""])),
                "ts": stamp() if ts is None else ts, "data": {}}
        payload = (json.dumps(body)[:-1] + f',"seq":{draw(_seq)}}}').encode()
    elif form == 2:  # raw bytes
        payload = draw(st.binary(max_size=64))
    else:  # a sound envelope whose data is any JSON value
        payload = _text(_env(draw(_json_values.filter(lambda v: isinstance(v, dict)))))
    return suffix, payload


def test_generated_hostile_messages_are_each_accounted_for_once_and_lose_nothing(hall_with_a_kiosk):
    rig, hub, kiosk, heard, phone = hall_with_a_kiosk
    sent: list[tuple[str, bytes]] = []
    valid_sent = 0

    @settings(max_examples=120, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(st.lists(hostile(), min_size=1, max_size=4))
    def throw(messages):
        nonlocal valid_sent
        for suffix, payload in messages:
            sent.append((suffix, payload))
            kiosk.publish(f"hall/v1/{rig.hall.id}/kiosk-01/evt/{suffix}", payload, qos=1)
        # the hall goes on: a valid request is answered, a valid event is stored
        assert phone.request("ticket_request", {"queue": "A"}, timeout=10)["ok"]
        phone.send("health", {"n": valid_sent})
        valid_sent += 2

    throw()

    def accounted() -> int:
        return rig.count("SELECT (SELECT count(*) FROM events WHERE device='kiosk-01') + "
                         "(SELECT count(*) FROM rejected WHERE device='kiosk-01')")

    wait_for(lambda: accounted() >= len(sent), 30, "every hostile message stored or rejected")
    assert phone.wait_drained(30)
    assert accounted() == len(sent)  # once each: nothing twice, nothing missing
    assert rig.count("SELECT count(*) FROM events WHERE device='kiosk-02'") == valid_sent
    assert rig.count("SELECT count(*) FROM rejected WHERE code='internal'") == 0
    assert hub.is_alive() and hub.degraded is None
    assert phone.request("ticket_request", {"queue": "B"}, timeout=10)["ok"]


def test_a_rejected_event_sent_again_is_answered_again_and_kept_once(hall_with_a_kiosk):
    rig, hub, kiosk, heard, _ = hall_with_a_kiosk
    bad = _text(_env({"queue": ""}, seq=1))  # the device missed the first answer and sends it again
    topic = evt_topic(rig.hall.id, "kiosk-01", "ticket_request")
    kiosk.publish(topic, bad, qos=1)
    wait_for(lambda: heard.on("err"), 10, "the first error")
    kiosk.publish(topic, bad, qos=1)
    errors = wait_for(lambda: len(heard.on("err")) == 2 and heard.on("err"), 10, "the error again")
    assert errors[0] == errors[1] and errors[0]["code"] == "invalid_data"
    assert rig.count("SELECT count(*) FROM rejected") == 1
