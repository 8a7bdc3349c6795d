"""Alerts inside the hub: the hall's facts gathered about once a second, the rules' decisions journaled, the alerts
not cleared kept on the retained `hub/alerts`, and acknowledgements from the console answered.

`tick()` reads the facts (hub/alerts/facts.py) and lets the book (hub/alerts/rules.py) decide; each change it
makes (raised, cleared) goes into `alerts_journal`, and `hub/alerts` is published again when anything changed.
`apply()` takes the two event types that are the alerts' own: `health` (kept in `device_health` for the device
rules) and `alert_ack` from a console (answered on its `res`: the alert as it now is, or `unknown_alert` /
`already_acknowledged`), journaled with who and the note.

After a restart `setup()` replays the journal: the alerts not cleared come back as they were, with their ids, and
the poor ratings already raised are not raised again.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from pathlib import Path

import sqlite_utils

from hall.protocol import Alerts
from hub.alerts import store
from hub.alerts.facts import HallFacts
from hub.alerts.rules import AlertBook, Change, Facts, limits_from_hall
from hub.broker import BrokerFiles
from hub.domain import Emit, Event

log = logging.getLogger("hub.alerts")


class AlertsDomain:
    types = frozenset({"health", "alert_ack"})

    def __init__(self, hall):
        self.hall = hall
        self.tz = hall.tz
        self.limits = limits_from_hall(hall)
        self.facts = HallFacts(hall)
        self.book = AlertBook(self.limits)
        self._journal_id = 0
        self._published: dict | None = None

    # ------------------------------------------------------------ Domain

    def setup(self, db: sqlite_utils.Database, emit: Emit) -> None:
        store.create_tables(db)
        journal = next((Path(f) for _, name, f in db.execute("PRAGMA database_list") if name == "main" and f), None)
        if journal is not None:  # the broker keeps its files beside the journal, in the data folder
            self.facts.follow_broker_log(BrokerFiles(journal.parent).log)
        self._rebuild(db)
        self._publish(emit)

    def apply(self, db: sqlite_utils.Database, event: Event, emit: Emit) -> dict | None:
        self._follow_journal(db, emit)
        if event.type == "health":
            store.note_health(db, event.device, event.received_at, event.raw)
            return None
        ack = event.data
        try:
            out = self.book.acknowledge(ack.alert, ack.by, ack.note, self._moment(event.received_at))
            if not out.ok:
                return {"ok": False, "code": out.code, "error": out.error}
            self._journal(db, out.changes, event=event.id)
            log.info("alert %s acknowledged by %s: %s", ack.alert, ack.by, ack.note)
        except BaseException:
            self._journal_id = -1  # the book moved and its rows roll back: replay the journal next time
            raise
        self._publish(emit)
        return {"ok": True, "alert": out.alert.wire()}

    def flush(self, db: sqlite_utils.Database, emit: Emit) -> None:
        """Acknowledgements publish at once; the rest is the clock's work."""

    def tick(self, db: sqlite_utils.Database, now: datetime, emit: Emit) -> None:
        self._follow_journal(db, emit)
        now = self._moment(now)
        try:
            changes = self.book.evaluate(self.gather(db, now))
            if changes:
                self._journal(db, changes)
        except BaseException:
            self._journal_id = -1
            raise
        if changes:
            self._publish(emit)

    # ------------------------------------------------------------ facts

    def gather(self, db: sqlite_utils.Database, now: datetime) -> Facts:
        self.facts.follow_queue_journal(db)
        day = now.date()
        return Facts(now=now, queues=self.facts.queue_facts(db, day), windows=self.facts.window_facts(),
                     devices=self.facts.device_facts(db), ratings=self.facts.rating_facts(db, day,
                                                                                         self.limits.poor_rating_max),
                     terminals=self.facts.terminal_facts(db), cases=self.facts.case_facts(db),
                     logins=self.facts.login_facts(now))

    # ------------------------------------------------------------ journal

    def _journal(self, db, changes: list[Change], event: str | None = None) -> None:
        for change in changes:
            self._journal_id = store.journal(db, change, event=event)
            if change.change != "acknowledged":
                log.info("alert %s %s: %s", change.alert.id, change.change, change.alert.title_en)

    def _rebuild(self, db) -> None:
        self.book = AlertBook(self.limits)
        # the facts bring the day's ratings at most: the alerts raised since the day before the journal's last
        # change say which of them were raised already
        last = store.last_change_at(db)
        since = datetime.combine(last.date() - timedelta(days=1), time(0), self.tz) if last else None
        for change, key, alert, at in store.journal_to_replay(db, since):
            self.book.replay(change, key, alert, at)
        self.facts.reset()
        self._journal_id = store.last_journal_id(db)

    def _follow_journal(self, db, emit: Emit) -> None:
        """A batch or tick that moved the book was rolled back: its changes never happened; forget them too."""
        if store.last_journal_id(db) != self._journal_id:
            log.warning("alerts journal moved under the book (a rolled-back batch): replaying it")
            self._rebuild(db)
            self._publish(emit)

    def _moment(self, moment: datetime) -> datetime:
        moment = moment.astimezone(self.tz)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    # ------------------------------------------------------------ retained state

    def _publish(self, emit: Emit) -> None:
        payload = Alerts(alerts=[a.wire() for a in self.book.alerts()]).model_dump(mode="json")
        if payload != self._published:
            self._published = payload
            emit.hub("alerts", payload)
