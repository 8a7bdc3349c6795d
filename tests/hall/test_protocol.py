"""The wire contract: topics, envelope and payload validation (PROTOCOL.md v1)."""

from __future__ import annotations

import json

import pytest

from hall.protocol import (
    EVENT_MODELS,
    KIND_EVENTS,
    ProtocolError,
    decode_event,
    device_topic,
    envelope,
    evt_topic,
    hub_topic,
    new_event_id,
    parse_topic,
)

TS = "2026-11-30T08:59:12.345+08:00"


def msg(data, **over) -> bytes:
    body = {"v": 1, "id": "01JDX8R6Z3K6W5T3M4N2P1Q0RS", "seq": 42, "ts": TS, "data": data, **over}
    return json.dumps(body).encode()


def test_topics_build_and_parse():
    assert evt_topic("miluo", "kiosk-01", "ticket_request") == "hall/v1/miluo/kiosk-01/evt/ticket_request"
    assert device_topic("miluo", "kiosk-01", "ack") == "hall/v1/miluo/kiosk-01/ack"
    assert hub_topic("miluo", "state", "window", "3") == "hall/v1/miluo/hub/state/window/3"
    t = parse_topic("hall/v1/miluo/fp-01/evt/punch")
    assert (t.hall, t.device, t.channel, t.event_type) == ("miluo", "fp-01", "evt", "punch")
    assert parse_topic("other/thing") is None


def test_event_ids_are_unique_ulids():
    ids = {new_event_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 26 for i in ids)


@pytest.mark.parametrize("event_type,data", [
    ("ticket_request", {"queue": "A"}),
    ("ticket_request", {"service": "scjg-001", "priority": True, "channel": "kiosk"}),
    ("call_next", {"window": "3"}),
    ("transfer", {"window": "3", "queue": "B"}),
    ("requeue", {"ticket": "A012"}),
    ("login", {"window": "3", "staff": "s023"}),
    ("rating", {"window": "3", "ticket": "A012", "score": 5}),
    ("punch", {"staff": "s023", "at": "2026-11-30T08:59:12+08:00", "score": 87}),
    ("health", {"printer": "paper_low", "cpu_temp": 51.2}),
])
def test_every_v1_event_type_validates(event_type, data):
    kind = next(k for k, types in KIND_EVENTS.items() if event_type in types)
    env, model = decode_event(parse_topic(f"hall/v1/miluo/dev-1/evt/{event_type}"), msg(data), kind)
    assert env.seq == 42 and isinstance(model, EVENT_MODELS[event_type])


@pytest.mark.parametrize("payload,code,words", [
    (b"\xff\xfe", "invalid_json", "not UTF-8"),
    (b"{nope", "invalid_json", "not JSON"),
    (b"[1, 2]", "invalid_envelope", "JSON object"),
    (msg({"queue": "A"}, v=2), "invalid_envelope", "v:"),
    (msg({"queue": "A"}, seq=0), "invalid_envelope", "seq:"),
    (msg({"queue": "A"}, ts="2026-11-30 08:59:12"), "invalid_envelope", "ts:"),
    (msg({"queue": "A"}, ts=1700000000), "invalid_envelope", "ts:"),
    (msg({}), "invalid_data", "exactly one of queue or service"),
    (msg({"queue": "A", "colour": "red"}), "invalid_data", "data.colour: unknown field"),
    (msg({"queue": "A", "device": "kiosk-02"}), "forbidden", "names device 'kiosk-02'"),
])
def test_bad_messages_get_a_code_and_a_reason(payload, code, words):
    with pytest.raises(ProtocolError) as err:
        decode_event(parse_topic("hall/v1/miluo/kiosk-01/evt/ticket_request"), payload, "kiosk")
    assert err.value.code == code and words in str(err.value)


def test_a_kind_may_send_only_its_types():
    with pytest.raises(ProtocolError) as err:
        decode_event(parse_topic("hall/v1/miluo/kiosk-01/evt/punch"), msg({"staff": "s1", "at": TS}), "kiosk")
    assert err.value.code == "forbidden"
    with pytest.raises(ProtocolError) as err:
        decode_event(parse_topic("hall/v1/miluo/kiosk-01/evt/teleport"), msg({}), "kiosk")
    assert err.value.code == "unknown_type"


def test_envelope_shape():
    e = envelope("01JDX8R6Z3K6W5T3M4N2P1Q0RS", 7, {"queue": "A"}, TS)
    assert e == {"v": 1, "id": "01JDX8R6Z3K6W5T3M4N2P1Q0RS", "seq": 7, "ts": TS, "data": {"queue": "A"}}


# ---------------------------------------------------------------- what the hub sends


def test_a_built_message_holds_the_fields_given_and_reads_the_others_as_defaults():
    from hall.protocol import Answer, TicketInfo, WindowState, dumps, read_from_hub

    answer = Answer.build(ok=True, ticket=TicketInfo.build(no="A012", queue="A"), waiting=3)
    assert (answer.code, answer.ticket.priority, answer.ticket.windows) == (None, False, None)
    assert dumps(answer) == b'{"ok":true,"ticket":{"no":"A012","queue":"A"},"waiting":3}'
    answer = answer.addressed_to("01JDX8R6Z3K6W5T3M4N2P1Q0RS")
    assert dumps(answer).startswith(b'{"re":"01JDX8R6Z3K6W5T3M4N2P1Q0RS","ok":true,')
    again = read_from_hub(Answer, dumps(answer))
    assert again.model_dump(exclude_unset=True) == answer.model_dump(exclude_unset=True)
    assert dumps(again) == dumps(answer)  # a message read and written again is the same text
    state = WindowState.build(window="3", status="idle", ticket=None, staff=None, queues=["A"])
    assert state == WindowState.build(window="3", status="idle", ticket=None, staff=None, queues=["A"])
    assert json.loads(dumps(state)) == {"window": "3", "status": "idle", "ticket": None, "staff": None,
                                        "queues": ["A"]}
    with pytest.raises(TypeError, match="no field windw"):
        WindowState.build(windw="3")


def test_a_reader_ignores_a_message_that_does_not_fit_and_says_why(caplog):
    import logging

    from hall.protocol import Call, hub_message_model, read_or_ignore

    log = logging.getLogger("tests.reader")
    topic = "hall/v1/miluo/hub/call"
    assert hub_message_model(parse_topic(topic)) is Call
    assert read_or_ignore(Call, topic, {"ticket": "A012", "window": "3"}, log).recall == 0
    assert read_or_ignore(Call, topic, b'{"ticket": "a12"}', log) is None
    assert read_or_ignore(Call, topic, [1, 2], log) is None
    assert read_or_ignore(Call, topic, b"\xff", log) is None
    reasons = [r.getMessage() for r in caplog.records]
    assert len(reasons) == 3 and all(r.startswith(f"ignored {topic}: ") for r in reasons)
    assert "Call.ticket: String should match pattern" in reasons[0] and "Call.window: field required" in reasons[0]
