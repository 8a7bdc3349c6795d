"""Malformed input gets a clear error, is kept with its reason, and changes nothing."""

from __future__ import annotations

import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hall.clock import stamp
from hall.protocol import EVENT_MODELS, envelope, evt_topic, new_event_id
from hub.journal import RAW_KEEP
from tests.helpers.rig import wait_for

DOMAIN_TABLES = ("tickets", "calls", "ratings", "punches")


def _good(data: dict | None = None) -> dict:
    return envelope(new_event_id(), 1, data if data is not None else {"queue": "A"}, stamp())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _broken_json():
    def not_json(b: bytes) -> bool:
        try:
            json.loads(b)
            return False
        except (ValueError, UnicodeDecodeError):
            return True
    return st.builds(lambda t: t.encode(), st.text(min_size=1, max_size=40)).filter(not_json)


def _non_utf8():
    def bad(b: bytes) -> bool:
        try:
            b.decode("utf-8")
            return False
        except UnicodeDecodeError:
            return True
    return st.binary(min_size=1, max_size=40).map(lambda b: b"\xff" + b).filter(bad)


def _wrong_types():
    keys = st.sampled_from(["v", "id", "seq", "ts", "data"])
    bad_values = {"v": st.sampled_from([2, "1", None, 1.5, [1]]),
                  "id": st.sampled_from([None, 5, "", "x", "has space!", "a" * 80]),
                  "seq": st.sampled_from([0, -3, "7", None, 1.5, True]),
                  "ts": st.sampled_from(["yesterday", "2026-11-30T08:59:12", 17, None]),
                  "data": st.sampled_from([None, [], "x", 3])}
    return keys.flatmap(lambda k: bad_values[k].map(lambda v: ("ticket_request", {**_good(), k: v})))


def _missing_fields():
    return st.sets(st.sampled_from(["v", "id", "seq", "ts", "data"]), min_size=1).map(
        lambda drop: ("ticket_request", {k: v for k, v in _good().items() if k not in drop}))


def _bad_data():
    cases = [
        ("ticket_request", {}),
        ("ticket_request", {"queue": 5}),
        ("ticket_request", {"queue": "A", "service": "x"}),
        ("call_next", {}),
        ("call_next", {"window": 3}),
        ("rating", {"window": "3", "score": 9}),
        ("rating", {"window": "3", "score": "5"}),
        ("punch", {"staff": "s001", "at": "2026-11-30 09:00"}),
        ("transfer", {"window": "3"}),
    ]
    return st.sampled_from(cases).flatmap(
        lambda c: json_values.map(lambda extra: (c[0], {**_good(c[1]), "data": {**c[1], "zz_unexpected": extra}}))
        | st.builds(lambda: (c[0], _good(c[1]))))


def _names_another_device():
    return st.sampled_from(["kiosk-02", "fp-01", "hub"]).map(
        lambda other: ("ticket_request", _good({"queue": "A", "device": other})))


def _unknown_types():
    names = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=20).filter(
        lambda n: n not in EVENT_MODELS)
    return names.map(lambda n: (n, _good({"x": 1})))


def _as_message(item):
    if isinstance(item, bytes):
        return "ticket_request", item
    event_type, body = item
    return event_type, json.dumps(body).encode()


malformed = st.one_of(
    _broken_json(), _non_utf8(), _wrong_types(), _missing_fields(), _bad_data(), _names_another_device(),
    _unknown_types(),
).map(_as_message)


def test_a_thousand_malformed_messages_are_rejected_with_reasons(rig):
    hub = rig.start_hub()
    kiosk, errors = rig.listen("kiosk-01", "kiosk-01/err")
    sent: list[tuple[str, bytes]] = []

    @settings(max_examples=1100, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.filter_too_much])
    @given(malformed)
    def publish(message):
        event_type, payload = message
        sent.append(message)
        kiosk.publish(evt_topic(rig.hall.id, "kiosk-01", event_type), payload, qos=1)

    publish()
    big = json.dumps(_good({"queue": "A", "pad": "x" * (1024 * 1024)})).encode()
    kiosk.publish(evt_topic(rig.hall.id, "kiosk-01", "ticket_request"), big, qos=1).wait_for_publish(10)
    sent.append(("ticket_request", big))
    assert len(sent) >= 1000

    wait_for(lambda: rig.count("SELECT count(*) FROM rejected") >= len(sent), 60, "every message rejected")
    wait_for(lambda: len(errors) >= len(sent), 30, "every message answered on err")
    assert hub.is_alive()
    assert rig.count("SELECT count(*) FROM rejected") == len(sent)
    assert rig.count("SELECT count(*) FROM rejected WHERE error = '' OR code = ''") == 0
    assert rig.count("SELECT count(*) FROM events") == 0
    with rig.db() as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in set(DOMAIN_TABLES) & tables:
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        codes = dict(db.execute("SELECT code, count(*) FROM rejected GROUP BY code").fetchall())
        big_row = db.execute("SELECT code, error, length(raw) FROM rejected WHERE size > 1000000").fetchone()
    assert set(codes) <= {"invalid_json", "invalid_envelope", "unknown_type", "invalid_data", "forbidden"}
    assert {"invalid_json", "invalid_envelope", "unknown_type", "invalid_data", "forbidden"} <= set(codes)
    assert big_row[0] == "invalid_envelope" and "exceeds" in big_row[1]
    assert big_row[2] == RAW_KEEP  # a prefix is kept, not the megabyte
    assert {e["code"] for e in errors} == set(codes)

    # the hub still works for well-formed events afterwards
    link = rig.link("kiosk-02")
    link.wait_connected(10)
    link.send("health", {"ok": True})
    assert link.wait_drained(10)


def test_errors_name_the_field(rig):
    rig.start_hub()
    kiosk, errors = rig.listen("kiosk-01", "kiosk-01/err")
    body = _good({"score": 3})
    kiosk.publish(evt_topic(rig.hall.id, "kiosk-01", "call_next"), json.dumps(body), qos=1)
    wait_for(lambda: errors, 10, "an error")
    # a kiosk may not call tickets: refused before the payload is looked at
    assert errors[0] == {"id": body["id"], "code": "forbidden", "error": "a kiosk may not send 'call_next' events"}
    body = _good({})
    kiosk.publish(evt_topic(rig.hall.id, "kiosk-01", "requeue"), json.dumps(body), qos=1)
    wait_for(lambda: len(errors) > 1, 10, "a second error")
    assert errors[1]["code"] == "invalid_data" and "data.ticket: field required" in errors[1]["error"]


def test_an_unknown_device_is_rejected(make_rig):
    rig = make_rig(secure=False)  # only an open broker lets a stranger publish at all
    rig.start_hub()
    stranger = rig.mqtt("laptop-9", password=None)
    stranger.publish(evt_topic(rig.hall.id, "laptop-9", "health"), json.dumps(_good({"x": 1})), qos=1)
    wait_for(lambda: rig.count("SELECT count(*) FROM rejected WHERE code='unknown_device'") == 1, 10,
             "unknown device rejected")
    assert rig.count("SELECT count(*) FROM events") == 0
