"""The citizens' site's one connection to the hall: its own device login (kind `web`) over the core's device link.

It follows the hub's retained queue and window state and its `call` announcements, and turns each into the pages
of the tickets someone is following: a call reaches the called ticket's page from the announcement itself (no
database read on the way), a queue's change re-reads that queue's waiting tickets from the journal once and
updates every page that follows one of them. The same read finds the tickets that have just come near their turn
and hands those with a phone number to the notifier. Ratings from phones go to the hub through the link's outbox,
as the `rating` event any rating pad sends.

Each followed ticket has its own set of streams; a stream is a bounded asyncio queue that keeps only the newest
pages when a phone reads too slowly (each page is the whole state, so nothing is lost by skipping one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from hall.clock import now as clock_now
from hall.link import DeviceLink
from hall.protocol import parse_topic
from public.follow import (
    TicketRow,
    is_near,
    needs_notice,
    notice_text,
    people_ahead,
    ticket_view,
    windows_of,
)
from public.journal import TicketBook

log = logging.getLogger("public.feed")

Key = tuple[str, str]  # (day, ticket number)


class Streams:
    """Pages of followed tickets, from the network thread to the open streams on the event loop."""

    QUEUE_SIZE = 8

    def __init__(self):
        self.loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._by_ticket: dict[Key, set[asyncio.Queue]] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def open(self, key: Key) -> asyncio.Queue:
        stream: asyncio.Queue = asyncio.Queue(self.QUEUE_SIZE)
        with self._lock:
            self._by_ticket.setdefault(key, set()).add(stream)
        return stream

    def close(self, key: Key, stream: asyncio.Queue) -> None:
        with self._lock:
            streams = self._by_ticket.get(key)
            if streams is not None:
                streams.discard(stream)
                if not streams:
                    del self._by_ticket[key]

    def followed(self) -> set[Key]:
        with self._lock:
            return set(self._by_ticket)

    @property
    def count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._by_ticket.values())

    def publish(self, pages: list[tuple[Key, dict]]) -> None:
        """From any thread."""
        if pages and self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._deliver, pages)

    def _deliver(self, pages: list[tuple[Key, dict]]) -> None:
        for key, page in pages:
            with self._lock:
                streams = list(self._by_ticket.get(key, ()))
            for stream in streams:
                if stream.full():  # a slow phone: the newest page replaces what it has not read
                    while not stream.empty():
                        stream.get_nowait()
                stream.put_nowait(page)


class PublicFeed:
    def __init__(self, hall, data_dir: Path | str, *, device_id: str | None = None, host: str | None = None,
                 port: int | None = None, password: str | None = None,
                 clock: Callable[[], datetime] | None = None, notifier=None):
        sites = [d.id for d in hall.devices_of("web")]
        self.device_id = device_id or (sites[0] if sites else None)
        if self.device_id is None:
            raise ValueError(f"no device of kind web in {hall.path}: the citizens' site needs its own login")
        self.hall = hall
        self.clock = clock or (lambda: clock_now(hall.tz))
        self.book = TicketBook(data_dir)
        self.streams = Streams()
        self.notifier = notifier
        self.queue_states: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._rows: dict[Key, TicketRow] = {}   # the followed tickets as last read
        self._pages: dict[Key, dict] = {}       # ... and the page last pushed for each
        # MQTT 3.1.1: a busy site reads an answer and an acknowledgement per booking, and decoding v5 properties
        # it never reads was a large part of its network thread's work
        self.link = DeviceLink(hall, self.device_id, data_dir, host=host, port=port, password=password,
                               protocol_version=4)
        self.link.subscribe("hub/state/queue/+", self._on_message)
        self.link.subscribe("hub/state/window/+", self._on_message)
        self.link.subscribe("hub/call", self._on_message)
        self.link.subscribe("hub/calls", self._on_message)
        self.link.on_hub_status(self._on_hub)
        self._last_call: str | None = None  # the newest call of the `calls` list last seen

    def start(self) -> PublicFeed:
        self.link.start()
        return self

    def stop(self) -> None:
        self.link.stop()

    @property
    def connected(self) -> bool:
        return self.link.connected

    @property
    def hall_online(self) -> bool:
        """The site hears the broker and the hub says it is online: the figures are live."""
        return self.link.connected and self.link.hub_online

    def today(self) -> str:
        return self.clock().date().isoformat()

    # ------------------------------------------------------------ pages

    def page(self, ticket: TicketRow) -> dict:
        """The ticket's page now, from the journal and the hub's last queue state."""
        ahead = None
        if ticket.status == "waiting":
            ahead = people_ahead(ticket, self.book.waiting(ticket.day, ticket.queue))
        rated = self.book.rating_of(ticket.day, ticket.no) if ticket.status == "done" else None
        return ticket_view(self.hall, ticket, ahead=ahead, queue_state=self.queue_states.get(ticket.queue),
                           rated=rated, now=self.clock(), hall_online=self.hall_online)

    def follow(self, ticket: TicketRow) -> tuple[asyncio.Queue, dict]:
        """Open a stream for a ticket's page; returns it with the page to send first."""
        key = (ticket.day, ticket.no)
        stream = self.streams.open(key)
        page = self.page(ticket)
        with self._lock:
            self._rows[key] = ticket
            self._pages[key] = page
        return stream, page

    def unfollow(self, ticket: TicketRow, stream: asyncio.Queue) -> None:
        key = (ticket.day, ticket.no)
        self.streams.close(key, stream)
        if key not in self.streams.followed():
            with self._lock:
                self._rows.pop(key, None)
                self._pages.pop(key, None)

    def rate(self, ticket: TicketRow, score: int, timeout: float = 5.0) -> dict | None:
        """The citizen's 好差评 of their ticket, sent as a `rating` event and answered by the hub."""
        return self.link.request("rating", {"window": ticket.window, "ticket": ticket.no, "score": score},
                                 timeout=timeout)

    def refresh(self, ticket: TicketRow) -> None:
        """Push a followed ticket's page again (after a rating: its page closes the rating)."""
        key = (ticket.day, ticket.no)
        fresh = self.book.ticket(*key)
        if fresh is not None:
            self._push([(key, fresh)], force=True)

    # ------------------------------------------------------------ network thread

    def _on_hub(self, online: bool) -> None:
        """The hub went away or came back: every open page says so (their figures are otherwise as they were)."""
        with self._lock:
            changed = [(key, {**page, "hall_online": online}) for key, page in self._pages.items()
                       if page.get("hall_online") != online]
            self._pages.update(changed)
        self.streams.publish(changed)

    def _on_message(self, topic: str, payload: dict) -> None:
        t = parse_topic(topic)
        if t is None or not payload:
            return
        try:
            if t.channel == "call":
                self._called(payload)
            elif t.channel == "state" and t.rest[:1] == ("queue",) and len(t.rest) == 2:
                self._queue_changed(t.rest[1], payload)
            elif t.channel == "state" and t.rest[:1] == ("window",) and len(t.rest) == 2:
                self._refresh_called({t.rest[1]})
            elif t.channel == "calls":
                self._calls_changed(payload.get("calls") or [])
        except Exception:  # a page that could not be made must not stop the others
            log.exception("citizens' site: %s", topic)

    def _called(self, call: dict) -> None:
        """The announcement is the fastest word of a call: the page changes from it, before the journal does."""
        key = (self.today(), str(call.get("ticket")))
        with self._lock:
            row = self._rows.get(key)
        if row is None:
            return
        row = dataclasses.replace(row, status="called", window=str(call.get("window")),
                                  called_at=row.called_at or call.get("at"), queue=str(call.get("queue") or row.queue))
        self._push([(key, row)], force=bool(call.get("recall")))

    def _queue_changed(self, queue: str, state: dict) -> None:
        self.queue_states[queue] = {"waiting": state.get("waiting"), "est_wait_s": state.get("est_wait_s")}
        self._refresh_queue(queue)

    def _calls_changed(self, calls: list[dict]) -> None:
        """The hub publishes only the state that changed since it last published: a ticket issued and another
        called between two publications leave a queue's state as it was, a call and its end leave the window's.
        The list of calls changes with every call, so it is the sure sign to read the lines and the called again."""
        fresh = []
        for call in calls:  # newest first
            mark = f"{call.get('at')}/{call.get('ticket')}/{call.get('recall')}"
            if mark == self._last_call:
                break
            fresh.append(call)
        if calls:
            first = calls[0]
            self._last_call = f"{first.get('at')}/{first.get('ticket')}/{first.get('recall')}"
        for queue in sorted({str(c.get("queue")) for c in fresh if c.get("queue")}):
            self._refresh_queue(queue)
        self._refresh_called({str(c.get("window")) for c in fresh})

    def _refresh_queue(self, queue: str) -> None:
        """Read a queue's line once: the pages of the tickets followed in it, and who is near enough for a notice."""
        day = self.today()
        waiting = self.book.waiting(day, queue)
        followed = {key for key in self.streams.followed() if key[0] == day}
        changed: list[tuple[Key, TicketRow]] = []
        by_no = {t.no: t for t in waiting}
        with self._lock:
            rows = {key: row for key, row in self._rows.items() if key in followed}
        for key, row in rows.items():
            if key[1] in by_no:
                changed.append((key, by_no[key[1]]))
            elif row.queue == queue and row.status == "waiting":  # called, transferred away: read it again
                fresh = self.book.ticket(*key)
                if fresh is not None:
                    changed.append((key, fresh))
        self._push(changed, waiting={queue: waiting})
        self._notify_near(day, waiting)

    def _refresh_called(self, windows: set[str]) -> None:
        """These windows moved on: the ticket each served is done, missed or transferred; its page says which."""
        day = self.today()
        with self._lock:
            rows = [(key, row) for key, row in self._rows.items()
                    if key[0] == day and row.status == "called" and row.window in windows]
        changed = []
        for key, _ in rows:
            fresh = self.book.ticket(*key)
            if fresh is not None and fresh.status != "called":
                changed.append((key, fresh))
        self._push(changed)

    def _push(self, rows: list[tuple[Key, TicketRow]], *, waiting: dict[str, list[TicketRow]] | None = None,
              force: bool = False) -> None:
        """Make the pages of these tickets and send those that changed (`waiting`: lines read already, by queue)."""
        pages = []
        now = self.clock()
        for key, row in rows:
            if row.status == "waiting":
                line = waiting.get(row.queue) if waiting is not None else None
                if line is None:
                    line = self.book.waiting(row.day, row.queue)
                ahead = people_ahead(row, line)
                page = ticket_view(self.hall, row, ahead=ahead, queue_state=self.queue_states.get(row.queue),
                                   rated=None, now=now, hall_online=self.hall_online)
            elif row.status == "done":
                page = ticket_view(self.hall, row, ahead=None, queue_state=None,
                                   rated=self.book.rating_of(row.day, row.no), now=now, hall_online=self.hall_online)
            else:
                page = ticket_view(self.hall, row, ahead=None, queue_state=None, rated=None, now=now,
                                   hall_online=self.hall_online)
            with self._lock:
                if key not in self._rows:
                    continue  # nobody follows it any more
                self._rows[key] = row
                if self._pages.get(key) == page and not force:
                    continue
                self._pages[key] = page
            pages.append((key, page))
        self.streams.publish(pages)

    def _notify_near(self, day: str, waiting: list[TicketRow]) -> None:
        if self.notifier is None or not self.notifier.enabled:
            return
        near_turn = self.hall.public.near_turn
        for t in waiting:
            if not t.phone:
                continue
            ahead = people_ahead(t, waiting)
            if not is_near(t, ahead, near_turn):
                continue
            if needs_notice(t, ahead, near_turn, self.notifier.noticed(day, t.no)):
                windows = windows_of(self.hall.catalogue, t)
                self.notifier.submit(day, t.no, t.phone, notice_text(self.hall.info.name, t, ahead, windows))
