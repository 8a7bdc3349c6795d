"""An event the hub refuses for good leaves the outbox as a dead letter with the hub's reason, and is logged; it is
neither sent again forever nor lost without a word. Real broker, real hub, real outbox."""

from __future__ import annotations

import json
import logging

from hall.protocol import device_topic, new_event_id
from tests.helpers.rig import wait_for


def test_an_event_the_hub_rejects_becomes_a_dead_letter_and_later_events_flow(rig, caplog):
    caplog.set_level(logging.WARNING, logger="hall.link")
    rig.start_hub()
    link = rig.link("kiosk-01")
    assert link.wait_connected(10)

    refused = link.send("ticket_request", {"queue": ""})  # no queue has an empty id: invalid data
    wait_for(lambda: link.dead_letters(), 10, "a dead letter")
    assert link.wait_drained(10), f"{link.pending()} events left in the outbox"

    [letter] = link.dead_letters()
    assert letter.id == refused and letter.seq == 1 and letter.type == "ticket_request"
    assert letter.code == "invalid_data" and "queue" in letter.error
    assert json.loads(letter.payload)["data"] == {"queue": ""}
    assert letter.created_at and letter.rejected_at
    assert rig.count("SELECT count(*) FROM rejected WHERE event_id=?", refused) == 1
    [said] = [r for r in caplog.records if refused in r.getMessage()]
    assert said.levelno == logging.WARNING
    assert all(part in said.getMessage() for part in ("kiosk-01", "invalid_data", letter.error))

    # the link goes on: a valid event after it is stored and acknowledged
    fine = link.send("health", {"printer": "ok"})
    assert link.wait_drained(10)
    assert rig.count("SELECT count(*) FROM events WHERE id=?", fine) == 1
    assert [d.id for d in link.dead_letters()] == [refused]


def test_an_err_for_an_event_the_outbox_does_not_hold_changes_nothing(rig):
    link = rig.link("kiosk-01")  # no hub: the event waits in the outbox
    assert link.wait_connected(10, hub=False)
    waiting = link.send("health", {"printer": "ok"})
    hub = rig.mqtt("hub", name="hub-test")
    err = device_topic(rig.hall.id, "kiosk-01", "err")

    for stray in ({"id": new_event_id(), "code": "invalid_data", "error": "not ours"},
                  {"id": None, "code": "invalid_json", "error": "unreadable"}):
        hub.publish(err, json.dumps(stray), qos=1).wait_for_publish(5)
    # the broker delivers in order: once this last one is a dead letter, the two before it were handled
    hub.publish(err, json.dumps({"id": waiting, "code": "forbidden", "error": "probe"}), qos=1).wait_for_publish(5)
    wait_for(lambda: link.dead_letters(), 10, "the dead letter of the waiting event")

    assert [(d.id, d.code, d.error) for d in link.dead_letters()] == [(waiting, "forbidden", "probe")]
    assert link.pending() == 0
    assert link.outbox.next_seq() == 2
