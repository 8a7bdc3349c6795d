"""The queue engine (排队叫号): every rule of ticket issue and calling, as plain objects over plain data.

No clock, no I/O: each operation is given the moment it happens (an aware datetime in the hall's time zone) and
returns an `Outcome`. The hub journals operations and their outcomes and can replay them through a fresh engine
to rebuild the exact same day; the scenario runner (`hall queue simulate`) drives the same engine from a script.

One engine holds one day (the hall's local date): numbering, lines, calls and averages all start again the next
day (`QueueEngine.next_day`), and only the staff logged in at each window carries over.

A ticket's life:

    waiting ──call_next──▶ called ──complete, or the window's next call──▶ done
       │  ▲                  │──skip──▶ no_show ──requeue within 30 min──▶ waiting (after the next 3)
       │  │                  │             │    └─later──▶ refused: expired
       │  └── transfer ──────┘  (keeps its number, waits at the front of the new queue, behind priority)
       └──────call_ticket────▶ called ◀──call_ticket within 30 min──┘  (out of turn: the citizen at the desk)

While a ticket is `called`, its window is `serving` it; `transferred` is the outcome of that call.

Only a window with a staff member logged in calls (`call_next`, `call_ticket`, `recall`): a call, and the rating
of its service, must belong to someone (`Rules.login_required`, on in every hall; a scenario of bare windows may
leave it off). `call_ticket` calls one ticket out of turn, for a citizen who comes back to the desk: a ticket of
today that is waiting or a no-show (within the requeue time, as a requeue), of a queue the window serves (its own
or its backup). A pause may give a reason from the hall's list (`Rules.pause_reasons`: 会议, 午休, …); the
window's state carries it, and since when the window is paused, until it resumes.

A rating (好差评, 1–5) is the citizen's word on one ticket's service at one window, credited to the staff member
who called it there. It counts once per ticket, only for a ticket that window is serving or served (its call
there ended `done` or `transferred`: a no-show was never at the desk), and only while the ticket is being served
or within `Rules.rating_within` (30 minutes) of the end of its call there. Without a ticket named, a rating is
about the window's latest call: the ticket being served, or the one just finished. Who may rate at all (the
window's rating pad, never the clerk's own PC) is the hub's check of the sending device, not the engine's.

A staff member logs in only at the window `staff.csv` assigns them to, when the engine is given the staff list
(`Layout.staff`; the hub always gives it, a scenario with its own hall may not).

The order of a queue's line (who is called first) is kept explicitly, each waiting ticket belonging to a class:
priority tickets (绿色通道) first, then tickets transferred in, then booked tickets (预约: a booking checked in on
time at a kiosk), then walk-ins. Within a class the line is kept in the order tickets joined it; booked tickets
by their slot first (an earlier slot before a later one), then in the order they checked in. A requeued no-show is
slotted in after the next few waiting tickets (taking the class of the ticket before it), but an ordinary ticket
never goes ahead of a priority, transferred or booked one.

A booked ticket is issued at check-in, which hub/appointments/rules.py allows from 30 minutes before its slot to
the slot's end: the engine is told the slot (`booked`) and takes it without asking about issuing hours or the
queue's cap, promised by the booking. A late check-in gets an ordinary ticket, asked for like any other.

Walk-in limit (黄牛): a ticket may name its person (`person`, the keyed hash of an ID number; the engine never sees
the number). A person gets one ticket per queue per day, booked or not (`id_limit`); a queue whose walk-ins must
give it (`QueueSpec.id_required`) refuses a ticket without one (`id_required`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property

from hall.protocol import Call as Announcement
from hall.protocol import QueueState, WindowState

# ticket status
WAITING = "waiting"
CALLED = "called"
DONE = "done"
NO_SHOW = "no_show"

# how a call (a ticket's visit to a window) ended
TRANSFERRED = "transferred"

# window status on the screens
SERVING = "serving"
IDLE = "idle"
PAUSED = "paused"
CLOSED = "closed"

# a waiting ticket's class in its line: lower is called first
PRIORITY_CLASS, TRANSFERRED_CLASS, BOOKED_CLASS, ORDINARY_CLASS = 0, 1, 2, 3

# refusal codes (answered with ok: false)
CLOSED_CODE = "closed"
CAP_REACHED = "cap_reached"
UNKNOWN_QUEUE = "unknown_queue"
UNKNOWN_WINDOW = "unknown_window"
UNKNOWN_TICKET = "unknown_ticket"
RECALL_LIMIT = "recall_limit"
PAUSED_CODE = "paused"
NOT_SERVING = "not_serving"
EXPIRED = "expired"
FORBIDDEN = "forbidden"
RATING_FORBIDDEN = "rating_forbidden"
NOTHING_TO_RATE = "nothing_to_rate"
NOT_SERVED_HERE = "not_served_here"
ALREADY_RATED = "already_rated"
RATING_EXPIRED = "rating_expired"
UNKNOWN_STAFF = "unknown_staff"
NOT_ASSIGNED = "not_assigned"
NOT_LOGGED_IN = "not_logged_in"
NOT_CALLABLE = "not_callable"
NOT_THIS_WINDOW = "not_this_window"
UNKNOWN_REASON = "unknown_reason"
ID_REQUIRED = "id_required"
ID_LIMIT = "id_limit"
INVALID_ID = "invalid_id_number"

# Chinese first, English second: these reach kiosks, caller keypads and window PCs as they are.
MESSAGES = {
    CLOSED_CODE: "现在不是取号时间 · tickets are issued only in issuing hours",
    CAP_REACHED: "今日该业务号已取完 · today's tickets for this queue are all taken",
    UNKNOWN_QUEUE: "没有这个业务类别 · unknown queue",
    UNKNOWN_WINDOW: "没有这个窗口 · unknown window",
    UNKNOWN_TICKET: "没有可重新排队的过号票 · no such no-show ticket today",
    RECALL_LIMIT: "已达重呼次数上限 · the recall limit is reached",
    PAUSED_CODE: "窗口暂停服务中 · the window is paused",
    NOT_SERVING: "窗口当前没有在办理的票 · the window is serving no ticket",
    EXPIRED: "过号已超过时限，请重新取号 · the no-show is too old to requeue; take a new ticket",
    FORBIDDEN: "该设备不能代表这个窗口 · this device may not act for that window",
    RATING_FORBIDDEN: "该设备不能提交评价，评价只能由群众在评价器上作出 · this device may not rate; "
                      "only citizens rate, on the window's rating pad",
    NOTHING_TO_RATE: "此窗口没有正在办理或刚办结的票可评价 · the window has no ticket being served or just served to rate",
    NOT_SERVED_HERE: "该票没有在此窗口办理 · the ticket was not served at this window",
    ALREADY_RATED: "该票已经评价过 · the ticket is already rated",
    RATING_EXPIRED: "已超过评价时限 · too late to rate this ticket",
    UNKNOWN_STAFF: "没有这个工作人员 · no such staff member",
    NOT_ASSIGNED: "该工作人员不在此窗口 · the staff member is not assigned to this window",
    NOT_LOGGED_IN: "窗口无人登录，请先登录再叫号 · nobody is logged in at this window: log in before calling",
    NOT_CALLABLE: "只能叫今天等候中或过号的票 · only a ticket of today that waits or missed its call can be called",
    NOT_THIS_WINDOW: "此窗口不办理该票的业务 · this window does not serve that ticket's queue",
    UNKNOWN_REASON: "没有这个暂停原因 · not one of the hall's pause reasons",
    ID_REQUIRED: "该业务取号须输入身份证号码 · this queue's tickets need the ID number",
    ID_LIMIT: "每人每天每项业务限取一个号 · one ticket per person per queue per day",
    INVALID_ID: "身份证号码校验不通过 · the ID number fails its check digit",
}


# ---------------------------------------------------------------- the hall as the engine sees it

@dataclass(frozen=True)
class QueueSpec:
    id: str
    prefix: str
    standard_minutes: float = 10.0
    cap: int | None = None
    id_required: bool = False  # a walk-in ticket names its person (the walk-in limit against 黄牛)


@dataclass(frozen=True)
class WindowSpec:
    id: str
    queues: tuple[str, ...]
    backup: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rules:
    recall_limit: int = 3
    requeue_window: timedelta = timedelta(minutes=30)
    requeue_after: int = 3
    average_after: int = 5
    issuing: tuple[tuple[time, time], ...] = ()  # [start, end) spans; none means all day
    rating_within: timedelta = timedelta(minutes=30)  # after a ticket's call at the window ended
    login_required: bool = False   # calls only with staff logged in (every hall: rules_from_hall)
    pause_reasons: tuple[str, ...] = ()  # a pause's reason is one of these; none listed: any

    def issuing_at(self, moment: time) -> bool:
        return not self.issuing or any(start <= moment < end for start, end in self.issuing)


@dataclass(frozen=True)
class Layout:
    queues: dict[str, QueueSpec]
    windows: dict[str, WindowSpec]
    staff: Mapping[str, str | None] | None = None  # staff id → the window assigned; None: logins are not checked

    def windows_serving(self, queue_id: str) -> list[str]:
        """Windows whose own queues include this one; backup windows are not promised on a ticket."""
        return list(self._serving.get(queue_id, ()))

    @cached_property
    def _serving(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for w in self.windows.values():
            for q in w.queues:
                out.setdefault(q, []).append(w.id)
        return {q: tuple(ws) for q, ws in out.items()}


def layout_from_hall(hall) -> Layout:
    cat = hall.catalogue
    id_required = set(hall.appointments.id_required)
    return Layout(
        queues={q.id: QueueSpec(q.id, q.prefix, float(q.standard_minutes), q.cap, q.id in id_required)
                for q in cat.queues},
        windows={w.id: WindowSpec(w.id, tuple(w.queues), tuple(w.backup)) for w in cat.windows},
        staff={s.id: s.window for s in hall.staff},
    )


def rules_from_hall(hall) -> Rules:
    r = hall.queue_rules
    # [queue] rating_within_minutes in hall.toml, 30 when it is not set
    rating_within = getattr(r, "rating_within_minutes", 30)
    return Rules(recall_limit=r.recall_limit, requeue_window=timedelta(minutes=r.requeue_window_minutes),
                 requeue_after=r.requeue_after, average_after=r.average_after,
                 issuing=tuple((s.start, s.end) for s in hall.hours.issuing),
                 rating_within=timedelta(minutes=rating_within), login_required=True,
                 pause_reasons=tuple(getattr(r, "pause_reasons", ())))


# ---------------------------------------------------------------- the day's objects

@dataclass
class Ticket:
    no: str
    queue: str
    number: int
    order: int                 # the hall-wide issue order today: "earliest issued" across queues
    issued_at: datetime
    priority: bool = False
    service: str | None = None
    channel: str | None = None
    status: str = WAITING
    klass: int = ORDINARY_CLASS
    since: int = 0             # when it took its place in its class (issue or transfer order)
    origin: str = ""           # the queue it was issued in
    window: str | None = None  # the window that called it last
    called_at: datetime | None = None  # first call: the citizen's wait ends here
    no_show_at: datetime | None = None
    done_at: datetime | None = None
    transfers: int = 0
    requeues: int = 0
    rated: bool = False        # a citizen rated its service (once per ticket)
    booked: time | None = None  # a booking checked in on time: its slot's start
    person: str | None = None  # the keyed hash of the ID number given, if any
    phone: str | None = None   # for a text before its turn; never on a screen or a retained topic

    def __post_init__(self):
        self.origin = self.origin or self.queue


@dataclass
class Call:
    n: int                     # call number today, hall-wide
    ticket: str
    queue: str
    window: str
    staff: str | None
    called_at: datetime
    announced_at: datetime     # the latest announcement: the call itself or a recall
    announce_seq: int
    recalls: int = 0
    ended_at: datetime | None = None
    outcome: str | None = None  # done, no_show, transferred
    _wire: tuple[tuple[int, int], Announcement] | None = field(default=None, repr=False, compare=False)

    @property
    def handling_s(self) -> float | None:
        if self.outcome != DONE or self.ended_at is None:
            return None
        return (self.ended_at - self.called_at).total_seconds()

    def wire(self) -> Announcement:
        """One entry of the `hub/call` stream and the retained `hub/calls` list (made once per announcement)."""
        key = (self.announce_seq, self.recalls)
        if self._wire is None or self._wire[0] != key:
            self._wire = (key, Announcement.build(
                ticket=self.ticket, window=self.window, queue=self.queue,
                at=self.announced_at.isoformat(timespec="milliseconds"), recall=self.recalls))
        return self._wire[1]


@dataclass
class QueueLine:
    spec: QueueSpec
    line: list[Ticket] = field(default_factory=list)
    issued: int = 0
    done: int = 0
    handling_total_s: float = 0.0
    last_called: str | None = None

    def count_before_class(self, klass: int) -> int:
        return sum(1 for t in self.line if t.klass < klass)

    def count_through_class(self, klass: int) -> int:
        return sum(1 for t in self.line if t.klass <= klass)


@dataclass
class WindowDesk:
    spec: WindowSpec
    staff: str | None = None
    paused: bool = False
    reason: str | None = None          # why it is paused, from the hall's list
    paused_at: datetime | None = None  # since when
    open: bool = False         # someone is at the desk: logged in, calling or back from a pause
    call: Call | None = None   # the ticket being served

    @property
    def status(self) -> str:
        if self.paused:
            return PAUSED
        if self.call is not None:
            return SERVING
        return IDLE if self.open else CLOSED


@dataclass
class Outcome:
    ok: bool
    code: str | None = None
    error: str | None = None
    ticket: Ticket | None = None
    call: Call | None = None          # the call made or touched
    announce: Call | None = None      # a call or recall the screens and voices must announce
    completed: Ticket | None = None   # finished by calling next
    ahead: int | None = None
    est_wait_s: int | None = None
    tickets: list[Ticket] = field(default_factory=list)  # every ticket this changed
    calls: list[Call] = field(default_factory=list)      # every call this changed
    windows: set[str] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)
    staff: str | None = None          # for a rating: who was at the window

    @classmethod
    def refuse(cls, code: str, detail: str = "") -> Outcome:
        message = MESSAGES[code]
        return cls(ok=False, code=code, error=f"{message}: {detail}" if detail else message)


class _Unset:
    pass


DECIDE = _Unset()  # call_next picks by the rules; a replay passes the ticket the hub picked back then


# ---------------------------------------------------------------- the engine

class QueueEngine:
    """One day of one hall's queues and windows."""

    def __init__(self, layout: Layout, rules: Rules, day: date | None = None):
        self.layout = layout
        self.rules = rules
        self.day = day
        self.queues = {q.id: QueueLine(q) for q in layout.queues.values()}
        self.windows = {w.id: WindowDesk(w) for w in layout.windows.values()}
        self.tickets: dict[str, Ticket] = {}
        self.calls: list[Call] = []
        self._order = 0      # issue and transfer order
        self._announces = 0  # announcement order
        self._announced: dict[int, Call] = {}  # by call number, in announcement order (newest last)
        self._persons: dict[tuple[str, str], str] = {}  # (queue, person) → today's ticket: the walk-in limit

    def next_day(self, day: date) -> QueueEngine:
        """The same hall the next day: empty lines, numbering from 1; staff stay logged in until they log out."""
        fresh = QueueEngine(self.layout, self.rules, day)
        for wid, desk in self.windows.items():
            fresh.windows[wid].staff = desk.staff
            fresh.windows[wid].open = desk.staff is not None
        return fresh

    # ------------------------------------------------------------ issuing (取号)

    def issue_ticket(self, queue_id: str, at: datetime, *, priority: bool = False, service: str | None = None,
                     channel: str | None = None, booked: time | None = None, person: str | None = None,
                     phone: str | None = None, enforce: bool = True) -> Outcome:
        """A new ticket at the back of its queue (priority: behind earlier priority tickets only; booked: behind
        priority and transferred tickets and booked tickets of its slot or earlier, ahead of walk-ins).

        `enforce=False` skips issuing hours, caps and the walk-in limit: a replay re-issues what was issued even if
        the config changed since. A booked ticket skips hours and caps too: its booking promised it.
        """
        q = self.queues.get(queue_id)
        if q is None:
            return Outcome.refuse(UNKNOWN_QUEUE, repr(queue_id))
        if enforce and booked is None:
            if not self.rules.issuing_at(at.time()):
                return Outcome.refuse(CLOSED_CODE, at.strftime("%H:%M"))
            if q.spec.cap is not None and q.issued >= q.spec.cap:
                return Outcome.refuse(CAP_REACHED, f"{queue_id} {q.spec.cap}")
            if person is None and q.spec.id_required:
                return Outcome.refuse(ID_REQUIRED, queue_id)
            if person is not None and (queue_id, person) in self._persons:
                return Outcome.refuse(ID_LIMIT, f"{queue_id} {self._persons[(queue_id, person)]}")
        q.issued += 1
        self._order += 1
        no = f"{q.spec.prefix}{q.issued:03d}"
        ticket = Ticket(no=no, queue=queue_id, number=q.issued, order=self._order, issued_at=at,
                        priority=priority, service=service, channel=channel, since=self._order, booked=booked,
                        person=person, phone=phone)
        self.tickets[no] = ticket
        if person is not None:
            self._persons.setdefault((queue_id, person), no)
        if priority:
            klass, index = PRIORITY_CLASS, q.count_through_class(PRIORITY_CLASS)
        elif booked is not None:
            # behind the booked tickets of its slot and earlier ones, ahead of those of later slots
            klass = BOOKED_CLASS
            index = q.count_before_class(BOOKED_CLASS) + sum(
                1 for t in q.line if t.klass == BOOKED_CLASS and t.booked is not None and t.booked <= booked)
        else:
            klass, index = ORDINARY_CLASS, q.count_through_class(ORDINARY_CLASS)
        ahead = self._place(q, ticket, klass, index)
        return Outcome(ok=True, ticket=ticket, ahead=ahead, est_wait_s=self.wait_estimate_s(queue_id, ahead),
                       tickets=[ticket], queues={queue_id})

    # ------------------------------------------------------------ calling (叫号)

    def call_next(self, window_id: str, at: datetime, *, pick: str | None | _Unset = DECIDE,
                  enforce: bool = True) -> Outcome:
        """Finish the ticket being served, if any, and call the next one for this window (or none).

        `enforce=False` (a replay) calls even with nobody logged in, as a journal written before that rule did."""
        desk = self.windows.get(window_id)
        if desk is None:
            return Outcome.refuse(UNKNOWN_WINDOW, repr(window_id))
        refusal = self._may_call(desk, enforce)
        if refusal:
            return refusal
        out = Outcome(ok=True, windows={window_id})
        if desk.call is not None:
            out.completed = self._finish(desk, at, DONE, out)
        desk.open = True
        if isinstance(pick, _Unset):
            ticket = self.next_for(window_id)
        else:
            ticket = self.tickets.get(pick) if pick is not None else None
            if ticket is not None and ticket.status != WAITING:
                ticket = None  # the journal and the rules disagree: never call a ticket twice
        if ticket is None:
            return out
        return self._call(desk, ticket, at, out)

    def call_ticket(self, window_id: str, ticket_no: str, at: datetime, *, enforce: bool = True) -> Outcome:
        """Call one ticket out of turn (a citizen who comes back to the desk): a ticket of today that waits, or a
        no-show within the requeue time, of a queue this window serves. The ticket being served is finished
        first, as by the next call. `enforce=False` (a replay) calls the ticket called back then."""
        desk = self.windows.get(window_id)
        if desk is None:
            return Outcome.refuse(UNKNOWN_WINDOW, repr(window_id))
        refusal = self._may_call(desk, enforce)
        if refusal:
            return refusal
        ticket = self.tickets.get(ticket_no)
        if ticket is None or ticket.status not in (WAITING, NO_SHOW):
            state = "今天没有这张票 not issued today" if ticket is None else f"状态 {ticket.status}"
            return Outcome.refuse(NOT_CALLABLE, f"{ticket_no} {state}")
        if enforce:
            if ticket.queue not in (*desk.spec.queues, *desk.spec.backup):
                return Outcome.refuse(NOT_THIS_WINDOW, f"{ticket_no} ({ticket.queue}) → {window_id}")
            if ticket.status == NO_SHOW and at - ticket.no_show_at > self.rules.requeue_window:
                return Outcome.refuse(EXPIRED, f"{ticket_no} {ticket.no_show_at:%H:%M:%S}")
        out = Outcome(ok=True, windows={window_id})
        if desk.call is not None:
            out.completed = self._finish(desk, at, DONE, out)
        desk.open = True
        return self._call(desk, ticket, at, out)

    def _may_call(self, desk: WindowDesk, enforce: bool) -> Outcome | None:
        if desk.paused:
            return Outcome.refuse(PAUSED_CODE, desk.spec.id)
        if enforce and self.rules.login_required and desk.staff is None:
            return Outcome.refuse(NOT_LOGGED_IN, desk.spec.id)
        return None

    def _call(self, desk: WindowDesk, ticket: Ticket, at: datetime, out: Outcome) -> Outcome:
        """The ticket called to the desk: out of its line if it waits in one, announced."""
        window_id = desk.spec.id
        q = self.queues[ticket.queue]
        if ticket.status == WAITING:
            q.line.remove(ticket)
        q.last_called = ticket.no
        ticket.status = CALLED
        ticket.window = window_id
        if ticket.called_at is None:
            ticket.called_at = at
        self._announces += 1
        call = Call(n=len(self.calls) + 1, ticket=ticket.no, queue=ticket.queue, window=window_id, staff=desk.staff,
                    called_at=at, announced_at=at, announce_seq=self._announces)
        self.calls.append(call)
        self._announced[call.n] = call
        desk.call = call
        out.ticket, out.call, out.announce = ticket, call, call
        out.tickets.append(ticket)
        out.calls.append(call)
        out.queues.add(ticket.queue)
        return out

    def next_for(self, window_id: str) -> Ticket | None:
        """Who this window would call now: its own queues first, its backup queues only when those are empty."""
        spec = self.windows[window_id].spec
        for group in (spec.queues, spec.backup):
            heads = [self.queues[q].line[0] for q in group if q in self.queues and self.queues[q].line]
            if heads:
                return min(heads, key=lambda t: (t.klass, t.since))
        return None

    def recall(self, window_id: str, at: datetime, *, enforce: bool = True) -> Outcome:
        """Announce the serving ticket again, up to the recall limit."""
        desk, refusal = self._serving_desk(window_id, calling=True)
        if refusal:
            return refusal
        if enforce and self.rules.login_required and desk.staff is None:
            return Outcome.refuse(NOT_LOGGED_IN, window_id)
        call = desk.call
        if call.recalls >= self.rules.recall_limit:
            return Outcome.refuse(RECALL_LIMIT, f"{call.ticket} ×{call.recalls}")
        call.recalls += 1
        call.announced_at = at
        self._announces += 1
        call.announce_seq = self._announces
        self._announced[call.n] = self._announced.pop(call.n)
        return Outcome(ok=True, ticket=self.tickets[call.ticket], call=call, announce=call, calls=[call],
                       windows={window_id})

    def skip(self, window_id: str, at: datetime) -> Outcome:
        """The called citizen did not come: a no-show (过号), which may be requeued for a while."""
        desk, refusal = self._serving_desk(window_id)
        if refusal:
            return refusal
        out = Outcome(ok=True, windows={window_id})
        out.ticket = self._finish(desk, at, NO_SHOW, out)
        return out

    def complete(self, window_id: str, at: datetime) -> Outcome:
        desk, refusal = self._serving_desk(window_id)
        if refusal:
            return refusal
        out = Outcome(ok=True, windows={window_id})
        out.ticket = self._finish(desk, at, DONE, out)
        return out

    def transfer(self, window_id: str, queue_id: str, at: datetime) -> Outcome:
        """Send the serving ticket to another queue: same number, front of that line behind priority tickets."""
        if window_id not in self.windows:
            return Outcome.refuse(UNKNOWN_WINDOW, repr(window_id))
        target = self.queues.get(queue_id)
        if target is None:
            return Outcome.refuse(UNKNOWN_QUEUE, repr(queue_id))
        desk, refusal = self._serving_desk(window_id)
        if refusal:
            return refusal
        out = Outcome(ok=True, windows={window_id}, queues={queue_id})
        ticket = self._finish(desk, at, TRANSFERRED, out)
        ticket.queue = queue_id
        ticket.transfers += 1
        self._order += 1
        ticket.since = self._order
        klass = PRIORITY_CLASS if ticket.priority else TRANSFERRED_CLASS
        out.ahead = self._place(target, ticket, klass, target.count_through_class(klass))
        out.ticket = ticket
        return out

    def requeue(self, ticket_no: str, at: datetime) -> Outcome:
        """A no-show back in line after the next few waiting tickets, if it comes back in time."""
        ticket = self.tickets.get(ticket_no)
        if ticket is None:
            return Outcome.refuse(UNKNOWN_TICKET, ticket_no)
        if ticket.status != NO_SHOW:
            return Outcome.refuse(UNKNOWN_TICKET, f"{ticket_no} 状态 {ticket.status}, not a no-show")
        if at - ticket.no_show_at > self.rules.requeue_window:
            return Outcome.refuse(EXPIRED, f"{ticket_no} {ticket.no_show_at:%H:%M:%S}")
        q = self.queues[ticket.queue]
        klass = PRIORITY_CLASS if ticket.priority else ORDINARY_CLASS
        # After the next N whoever they are (a green-channel ticket that missed its call waits its turn too), but
        # an ordinary ticket never goes ahead of priority or transferred ones.
        index = max(min(self.rules.requeue_after, len(q.line)), q.count_before_class(klass))
        if index:
            klass = max(klass, q.line[index - 1].klass)
        ticket.requeues += 1
        ahead = self._place(q, ticket, klass, index)
        return Outcome(ok=True, ticket=ticket, ahead=ahead, est_wait_s=self.wait_estimate_s(ticket.queue, ahead),
                       tickets=[ticket], queues={ticket.queue})

    # ------------------------------------------------------------ the desk

    def pause(self, window_id: str, at: datetime, reason: str | None = None, *, enforce: bool = True) -> Outcome:
        """The window calls nothing until it resumes; the reason, if given, is one of the hall's list. Paused
        again with another reason, it keeps the time it paused since."""
        desk = self.windows.get(window_id)
        if desk is None:
            return Outcome.refuse(UNKNOWN_WINDOW, repr(window_id))
        if enforce and reason is not None and self.rules.pause_reasons and reason not in self.rules.pause_reasons:
            return Outcome.refuse(UNKNOWN_REASON, f"{reason!r}; 可选 choices: {'、'.join(self.rules.pause_reasons)}")
        if not desk.paused:
            desk.paused_at = at
        desk.paused = True
        desk.reason = reason
        return Outcome(ok=True, windows={window_id}, queues=self._queues_of(desk))

    def resume(self, window_id: str, at: datetime) -> Outcome:
        desk = self.windows.get(window_id)
        if desk is None:
            return Outcome.refuse(UNKNOWN_WINDOW, repr(window_id))
        desk.paused = False
        desk.reason = None
        desk.paused_at = None
        desk.open = True
        return Outcome(ok=True, windows={window_id}, queues=self._queues_of(desk))

    def login(self, window_id: str, staff: str, at: datetime, *, enforce: bool = True) -> Outcome:
        """A staff member at the desk: only at the window the staff list assigns them to.

        `enforce=False` skips that check: a replay logs in whoever was logged in, even if staff.csv changed since.
        """
        desk = self.windows.get(window_id)
        if desk is None:
            return Outcome.refuse(UNKNOWN_WINDOW, repr(window_id))
        assigned = self.layout.staff
        if enforce and assigned is not None:
            if staff not in assigned:
                return Outcome.refuse(UNKNOWN_STAFF, repr(staff))
            if assigned[staff] != window_id:
                return Outcome.refuse(NOT_ASSIGNED, f"{staff} → {window_id} (staff.csv: {assigned[staff] or '-'})")
        desk.staff = staff
        desk.open = True
        return Outcome(ok=True, windows={window_id}, queues=self._queues_of(desk), staff=staff)

    def logout(self, window_id: str, staff: str, at: datetime) -> Outcome:
        desk = self.windows.get(window_id)
        if desk is None:
            return Outcome.refuse(UNKNOWN_WINDOW, repr(window_id))
        # a late logout of someone who already left must not sign out the colleague now at the desk
        if desk.staff in (staff, None):
            desk.staff = None
            desk.open = False
        return Outcome(ok=True, windows={window_id}, queues=self._queues_of(desk), staff=desk.staff)

    def rate(self, window_id: str, ticket_no: str | None, at: datetime, *, enforce: bool = True) -> Outcome:
        """A citizen's rating (好差评) of a ticket's service at this window, credited to whoever served it.

        The ticket named, else the window's latest call. Refused unless the window is serving it or served it
        within `rules.rating_within`, and if it is rated already. `enforce=False` (a replay) credits the ticket
        that was credited back then, whatever the rules say now.
        """
        if window_id not in self.windows:
            return Outcome.refuse(UNKNOWN_WINDOW, repr(window_id))
        call = self._latest_call(window_id, ticket_no)
        if call is None:
            if ticket_no is None:
                return Outcome.refuse(NOTHING_TO_RATE, window_id)
            return Outcome.refuse(NOT_SERVED_HERE, f"{ticket_no} → {window_id}")
        ticket = self.tickets[call.ticket]
        if enforce:
            if ticket.rated:
                return Outcome.refuse(ALREADY_RATED, ticket.no)
            if call.outcome == NO_SHOW:
                return Outcome.refuse(NOT_SERVED_HERE, f"{ticket.no} 过号 no-show → {window_id}")
            if call.ended_at is not None and at - call.ended_at > self.rules.rating_within:
                return Outcome.refuse(RATING_EXPIRED, f"{ticket.no} {call.ended_at:%H:%M:%S}")
        ticket.rated = True
        return Outcome(ok=True, ticket=ticket, call=call, staff=call.staff)

    # ------------------------------------------------------------ views

    def ahead_of(self, ticket_no: str) -> int | None:
        """People ahead: waiting tickets of the same queue that will be called before this one."""
        ticket = self.tickets.get(ticket_no)
        if ticket is None or ticket.status != WAITING:
            return None
        return self.queues[ticket.queue].line.index(ticket)

    def average_handling_s(self, queue_id: str) -> float:
        q = self.queues[queue_id]
        if q.done >= self.rules.average_after:
            return q.handling_total_s / q.done
        return q.spec.standard_minutes * 60.0

    def open_windows(self, queue_id: str) -> int:
        """Windows serving the queue now; before anyone opens, those the hall staffs for it (so never 0)."""
        serving = [self.windows[w] for w in self.layout._serving.get(queue_id, ())]
        open_now = sum(1 for d in serving if d.open and not d.paused)
        if open_now:
            return open_now
        return max(1, sum(1 for d in serving if not d.paused))

    def wait_estimate_s(self, queue_id: str, ahead: int) -> int:
        return round(ahead * self.average_handling_s(queue_id) / self.open_windows(queue_id))

    def waiting(self, queue_id: str) -> int:
        return len(self.queues[queue_id].line)

    def waiting_for(self, window_id: str) -> int:
        """Tickets waiting in a window's own queues (what its caller keypad shows)."""
        return sum(len(self.queues[q].line) for q in self.windows[window_id].spec.queues if q in self.queues)

    def window_state(self, window_id: str) -> WindowState:
        desk = self.windows[window_id]
        if desk.paused:  # why and since when: only while paused, so other states read as they always did
            return WindowState.build(window=window_id, status=desk.status,
                                     ticket=desk.call.ticket if desk.call else None, staff=desk.staff,
                                     queues=list(desk.spec.queues), reason=desk.reason,
                                     paused_since=desk.paused_at.isoformat(timespec="milliseconds"))
        return WindowState.build(window=window_id, status=desk.status,
                                 ticket=desk.call.ticket if desk.call else None, staff=desk.staff,
                                 queues=list(desk.spec.queues))

    def queue_state(self, queue_id: str) -> QueueState:
        waiting = self.waiting(queue_id)
        return QueueState.build(queue=queue_id, waiting=waiting,
                                est_wait_s=self.wait_estimate_s(queue_id, waiting),
                                last_called=self.queues[queue_id].last_called)

    def recent_calls(self, limit: int = 20) -> list[Announcement]:
        """The latest announcements, newest first; a recall moves its call back to the top."""
        return [c.wire() for c in itertools.islice(reversed(self._announced.values()), limit)]

    def snapshot(self) -> dict:
        """Everything that decides what happens next, as plain data (tests compare rebuilt engines with it)."""
        return {
            "day": self.day.isoformat() if self.day else None,
            "lines": {qid: [t.no for t in q.line] for qid, q in self.queues.items()},
            "queues": {qid: (q.issued, q.done, round(q.handling_total_s, 3), q.last_called)
                       for qid, q in self.queues.items()},
            "windows": {wid: self.window_state(wid).model_dump() | {"open": d.open,
                                                                    "recalls": d.call.recalls if d.call else None}
                        for wid, d in self.windows.items()},
            "tickets": {no: (t.status, t.queue, t.klass, t.since, t.requeues, t.transfers, t.rated,
                             t.booked.isoformat() if t.booked else None)
                        for no, t in self.tickets.items()},
            "calls": [c.model_dump() for c in self.recent_calls(1000)],
        }

    # ------------------------------------------------------------ internals

    def _serving_desk(self, window_id: str, *, calling: bool = False) -> tuple[WindowDesk | None, Outcome | None]:
        desk = self.windows.get(window_id)
        if desk is None:
            return None, Outcome.refuse(UNKNOWN_WINDOW, repr(window_id))
        if calling and desk.paused:
            return None, Outcome.refuse(PAUSED_CODE, window_id)
        if desk.call is None:
            return None, Outcome.refuse(NOT_SERVING, window_id)
        return desk, None

    def _latest_call(self, window_id: str, ticket_no: str | None) -> Call | None:
        """This window's latest call (of that ticket, if named): newest first, so a few steps back at most."""
        for call in reversed(self.calls):
            if call.window == window_id and (ticket_no is None or call.ticket == ticket_no):
                return call
        return None

    def _finish(self, desk: WindowDesk, at: datetime, outcome: str, out: Outcome) -> Ticket:
        call = desk.call
        call.ended_at = at
        call.outcome = outcome
        ticket = self.tickets[call.ticket]
        if outcome == DONE:
            ticket.status = DONE
            ticket.done_at = at
            q = self.queues[call.queue]
            q.done += 1
            q.handling_total_s += call.handling_s
            out.queues.add(call.queue)  # its average, and so its estimate, moved
        elif outcome == NO_SHOW:
            ticket.status = NO_SHOW
            ticket.no_show_at = at
        desk.call = None
        out.tickets.append(ticket)
        out.calls.append(call)
        return ticket

    def _place(self, q: QueueLine, ticket: Ticket, klass: int, index: int) -> int:
        ticket.status = WAITING
        ticket.klass = klass
        q.line.insert(index, ticket)
        return index

    @staticmethod
    def _queues_of(desk: WindowDesk) -> set[str]:
        # pausing or opening a window changes the wait estimate of every queue it serves
        return set(desk.spec.queues)


def parse_issuing(spans: Iterable) -> tuple[tuple[time, time], ...]:
    out = []
    for span in spans:
        start, end = (time.fromisoformat(s) if isinstance(s, str) else s for s in span)
        if end <= start:
            raise ValueError(f"issuing span {list(span)!r}: the end must come after the start")
        out.append((start, end))
    return tuple(out)
