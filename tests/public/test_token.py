"""The hub's token for a ticket's page: in the ticket's answer, ≥ 128 bits, unguessable without the hub's key,
kept with the ticket, the same when the day is replayed after a crash."""

from __future__ import annotations

import base64
import os
import re

from tests.helpers.queueing import DomainDriver


def test_every_ticket_gets_its_own_token_kept_with_it_and_replayed_the_same(tmp_path):
    d = DomainDriver(tmp_path / "hub.db")
    first = d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")["ticket"]
    second = d.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:01")["ticket"]
    for t in (first, second):
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", t["follow"])
        assert len(base64.urlsafe_b64decode(t["follow"] + "==")) * 8 >= 128
    assert first["follow"] != second["follow"]
    d.send("kiosk-01", "ticket_request", {"queue": "B"}, "09:00:02")  # writes the rows of the tickets before
    rows = dict(d.db.execute("SELECT no, follow FROM tickets").fetchall())
    assert rows["A001"] == first["follow"] and rows["A002"] == second["follow"]
    # the key is the hub's own, beside its journal and readable by the hub alone
    key = tmp_path / "ticket-follow.key"
    assert key.exists() and os.stat(key).st_mode & 0o777 == 0o600
    # a hub that starts again replays the day and answers a resent request with the same token
    again = DomainDriver(tmp_path / "hub.db")
    assert again.domain.follow_token(again.domain.engine.day, "A001") == first["follow"]
    assert dict(again.db.execute("SELECT no, follow FROM tickets").fetchall())["A002"] == second["follow"]


def test_another_hub_key_gives_other_tokens(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, two = DomainDriver(tmp_path / "one" / "hub.db"), DomainDriver(tmp_path / "two" / "hub.db")
    a = one.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")["ticket"]
    b = two.send("kiosk-01", "ticket_request", {"queue": "A"}, "09:00:00")["ticket"]
    assert a["no"] == b["no"] == "A001" and a["follow"] != b["follow"]
