"""Following a ticket from the phone: what its page says, decided from plain data (no I/O, no clock of its own).

A ticket's life as the citizen sees it:

    waiting ──(its number is called)──> called ──(served)──> done ──> rated (好差评, once)
       │  ↑                               │
       │  └───────(requeued)── no_show <──┘ (not at the window when called)
       └── near: `[public] near_turn` or fewer people ahead: the page alerts, an SMS goes out where a phone was left

People ahead are read from the hub's journal, not from the engine: the waiting tickets of the same queue that the
queue's order puts first (priority tickets, tickets transferred in, booked tickets checked in on time by their slot,
then the others by the time they were issued; a requeued ticket is counted by its issue, a little early). The
estimate is the hub's own: the queue's published wait shared out per person ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

STATUS_TEXT = {
    "waiting": ("等候中", "Waiting"),
    "called": ("请到窗口办理", "Please go to the window"),
    "done": ("已办理", "Served"),
    "no_show": ("已过号", "Missed"),
}


@dataclass(frozen=True)
class TicketRow:
    """One row of the hub's `tickets` table, as the citizens' site reads it."""
    day: str
    no: str
    queue: str
    service: str | None
    priority: bool
    issued_at: str
    status: str
    window: str | None
    called_at: str | None
    done_at: str | None
    no_show_at: str | None
    transfers: int
    requeues: int
    follow: str | None
    phone: str | None = None
    booked: str | None = None  # the slot of a booking checked in on time ("10:00"): ahead of walk-ins

    def order(self) -> tuple:
        """Its place in its queue's line, as the queue's rules order the waiting (see the module's docstring)."""
        if self.priority:
            klass = 0
        elif self.transfers:
            klass = 1
        elif self.booked:
            klass = 2
        else:
            klass = 3
        return (klass, self.booked or "" if klass == 2 else "", self.issued_at, self.no)


def people_ahead(ticket: TicketRow, waiting: list[TicketRow]) -> int:
    """How many of the queue's waiting tickets come before this one."""
    mine = ticket.order()
    return sum(1 for t in waiting if t.no != ticket.no and t.order() < mine)


def estimate_wait_s(ahead: int, queue_waiting: int | None, queue_wait_s: float | None) -> int | None:
    """The hub publishes a queue's wait for its whole line (`est_wait_s` for `waiting` people): each person ahead
    adds its share. None when the hub has said nothing about the queue yet."""
    if queue_wait_s is None or not queue_waiting:
        return None if queue_wait_s is None else 0
    return round(queue_wait_s * ahead / queue_waiting)


def is_near(ticket: TicketRow, ahead: int, near_turn: int) -> bool:
    return ticket.status == "waiting" and ahead <= near_turn


def needs_notice(ticket: TicketRow, ahead: int, near_turn: int, noticed: bool) -> bool:
    """An SMS is sent once per ticket, when it first comes near, and only where the citizen left a phone."""
    return bool(ticket.phone) and not noticed and is_near(ticket, ahead, near_turn)


def mask_phone(phone: str | None) -> str | None:
    """****1234: the last four digits, enough for the citizen to recognise their own number."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "****" + digits[-4:] if len(digits) >= 4 else "****"


def mask_name(name: str | None) -> str | None:
    """张* / 欧阳** : the family name's first character, the rest starred."""
    if not name:
        return None
    return name[0] + "*" * max(1, len(name) - 1)


def requeue_until(ticket: TicketRow, requeue_minutes: int) -> str | None:
    """Until when a missed ticket may go back in line (the hub's `requeue_window_minutes`)."""
    if ticket.status != "no_show" or not ticket.no_show_at:
        return None
    try:
        missed = datetime.fromisoformat(ticket.no_show_at)
    except ValueError:
        return None
    return (missed + timedelta(minutes=requeue_minutes)).isoformat(timespec="seconds")


def notice_text(hall_name: str, ticket: TicketRow, ahead: int, windows: list[str]) -> str:
    """The near-turn SMS: short, Chinese first, nothing personal beyond the ticket number."""
    where = "、".join(windows)
    return (f"【{hall_name}】您的 {ticket.no} 号前面还有 {ahead} 人，请到 {where} 号窗口附近等候。"
            f" Ticket {ticket.no}: {ahead} ahead, please go to window {', '.join(windows)}.")


def windows_of(catalogue, ticket: TicketRow) -> list[str]:
    """The windows that serve the ticket: its service's own, unless it was transferred to another queue since."""
    item = catalogue.service(ticket.service) if ticket.service else None
    if item is not None and item.windows and item.queue == ticket.queue:
        return list(item.windows)
    return catalogue.windows_serving(ticket.queue)


def ticket_view(hall, ticket: TicketRow, *, ahead: int | None, queue_state: dict | None, rated: int | None,
                now: datetime, hall_online: bool = True) -> dict:
    """The ticket's page as data: the JSON twin `/api/t/<token>` and what the HTML page and its push render."""
    catalogue = hall.catalogue
    queue = catalogue.queue(ticket.queue)
    item = catalogue.service(ticket.service) if ticket.service else None
    window_ids = windows_of(catalogue, ticket)
    windows = []
    for wid in window_ids:
        w = catalogue.window(wid)
        windows.append({"id": wid, "location": w.location if w else "", "location_en": w.location_en if w else ""})
    status = ticket.status if ticket.status in STATUS_TEXT else "waiting"
    waiting = status == "waiting"
    near_turn = hall.public.near_turn
    state = queue_state or {}
    shown_ahead = ahead if waiting else None
    called_window = hall.catalogue.window(ticket.window) if ticket.window else None
    rating_open = False
    if status == "done" and rated is None and ticket.done_at:
        try:
            ended = datetime.fromisoformat(ticket.done_at)
            rating_open = now - ended <= timedelta(minutes=hall.queue_rules.rating_within_minutes)
        except ValueError:
            rating_open = False
    zh, en = STATUS_TEXT[status]
    return {
        "ticket": ticket.no,
        "day": ticket.day,
        "queue": ticket.queue,
        "queue_name": queue.name if queue else ticket.queue,
        "queue_name_en": queue.name_en if queue else "",
        "service": item.name if item else None,
        "service_en": item.name_en if item else None,
        "priority": ticket.priority,
        "issued_at": ticket.issued_at,
        "status": status,
        "status_text": zh,
        "status_text_en": en,
        "windows": windows,
        "ahead": shown_ahead,
        "est_wait_s": estimate_wait_s(shown_ahead, state.get("waiting"), state.get("est_wait_s"))
        if waiting and shown_ahead is not None else None,
        "near": waiting and shown_ahead is not None and shown_ahead <= near_turn,
        "near_turn": near_turn,
        "window": ticket.window if status in ("called", "done", "no_show") else None,
        "window_location": called_window.location if called_window else "",
        "window_location_en": called_window.location_en if called_window else "",
        "called_at": ticket.called_at,
        "requeue_until": requeue_until(ticket, hall.queue_rules.requeue_window_minutes),
        "rating": {"open": rating_open, "score": rated},
        "phone": mask_phone(ticket.phone),
        # the hub away: the page says its figures may be old rather than showing them as if live
        "hall_online": hall_online,
    }
