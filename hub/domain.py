"""What a part of the hub (queue, attendance) provides so ingest can feed it stored events.

Ingest owns the MQTT link and the SQLite journal, both driven from the hub's one thread. For every *new* event
(never a duplicate) it calls the domain that handles its type inside the batch's transaction, so the domain's own
rows commit with the journal or not at all. Domains never read the clock: the event carries the hub's receive time,
and `tick` is given `now`. Messages a domain wants published are collected with `emit` and sent only after the
commit: announcements (`retain=False`) at once, retained state when the burst they belong to is over, only the
latest of each topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlite_utils
from pydantic import BaseModel


class Emit:
    """Messages to publish once the transaction that produced them has committed."""

    def __init__(self) -> None:
        self.messages: list[tuple[tuple[str, ...], dict, bool]] = []

    def hub(self, suffix: str, payload: dict, retain: bool = True) -> None:
        """emit.hub("state/window/3", {...}) publishes on hall/v1/{hall}/hub/state/window/3."""
        self.messages.append((("hub", *suffix.split("/")), payload, retain))

    def device(self, device: str, channel: str, payload: dict, retain: bool = False) -> None:
        """emit.device("kiosk-01", "res", {...}) publishes on hall/v1/{hall}/kiosk-01/res."""
        self.messages.append(((device, channel), payload, retain))

    def drain(self) -> list[tuple[tuple[str, ...], dict, bool]]:
        out, self.messages = self.messages, []
        return out


@dataclass(frozen=True)
class Event:
    id: str
    device: str
    kind: str          # the device's kind from the hall config
    type: str
    seq: int
    ts: datetime       # the device's clock
    received_at: datetime  # the hub's clock, in the hall's time zone: the time domain rules use
    data: BaseModel    # the validated payload model of hall.protocol.EVENT_MODELS[type]
    raw: dict[str, Any]


class Domain(Protocol):
    types: frozenset[str]

    def setup(self, db: sqlite_utils.Database, emit: Emit) -> None:
        """Create tables, rebuild in-memory state from the journal, publish retained state."""

    def apply(self, db: sqlite_utils.Database, event: Event, emit: Emit) -> dict | None:
        """Handle one new event inside ingest's transaction.

        For request types return the answer for the device's `res` topic without `re`:
        `{"ok": True, ...}` or `{"ok": False, "code": "...", "error": "..."}`. Ingest stores it with the event,
        so a resent request gets the very same answer.
        """

    def flush(self, db: sqlite_utils.Database, emit: Emit) -> None:
        """Called when a burst of events is committed and its answers and announcements are out, in a
        transaction of its own: write what derives from them (rows for reports, which setup() must be able to
        write again after a crash) and emit the retained state they changed, once (a burst of 34 calls makes
        one `calls` list, not 34). A batch that was rolled back since must leave no trace here."""

    # Optional: `redact(event_type, data) -> data` gives what the journal keeps of an event's data in place of what
    # came (personal data the hall may not store as sent, such as an ID number). The domain's apply() still gets
    # the event as it came; its replay must need only what was kept.

    def tick(self, db: sqlite_utils.Database, now: datetime, emit: Emit) -> None:
        """Called by the hub about once a second, inside a transaction (close days, expire no-shows)."""
