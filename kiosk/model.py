"""The kiosk's flows as plain objects, tested without a window: browsing guides, search (查询), taking a ticket (取号).

The Kivy layer (kiosk/app.py) draws what these hold and forwards taps to them. Work that blocks (the ticket request,
the printer) runs in worker threads; results come back through `call`, which the Kivy layer sets to schedule on
its clock and tests leave as a direct call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from devices.printer import OFFLINE, OK, PAPER_LOW, PAPER_OUT, PrinterError, TicketContent
from hall.catalogue import Catalogue, Department, Queue, ServiceItem
from hall.protocol import Answer, QueueState, TicketInfo, read_or_ignore
from hall.search import TIER_KEYWORD, TIER_NAME, Hit, SearchIndex
from kiosk.caselookup import CaseLookupFlow, case_slip
from kiosk.i18n import tr

log = logging.getLogger("kiosk")

Call = Callable[..., None]


def _direct(fn, *args) -> None:
    fn(*args)


# ---------------------------------------------------------------- guides

@dataclass
class Guide:
    """A service guide laid out for reading: title lines and sections of (heading, text). `chinese_only`: the
    guide is shown in English but the catalogue holds its body in Chinese only (the screen says so)."""
    service: ServiceItem
    title: str
    subtitle: str
    sections: list[tuple[str, str]]
    chinese_only: bool = False


# a hall may add English guide bodies to its catalogue beside the Chinese ones (service items take extra fields)
ENGLISH_FIELDS = ("conditions_en", "materials_en", "process_en", "fee_en", "basis_en")


def days_text(days: int | None, lang: str) -> str:
    if days is None:
        return tr("no_limit", lang)
    if days == 0:
        return tr("on_the_spot", lang)
    return tr("days", lang, n=days)


def _english(service: ServiceItem, key: str, chinese):
    """The English version of a guide field if the catalogue holds one, else None."""
    value = getattr(service, f"{key}_en", None)
    if not value:
        return None
    if isinstance(chinese, list) and isinstance(value, str):
        return [value]
    return value


def make_guide(catalogue: Catalogue, service: ServiceItem, lang: str = "zh") -> Guide:
    dept = catalogue.department(service.department)
    queue = catalogue.queue(service.queue)
    body = {k: getattr(service, k) for k in ("conditions", "materials", "process", "fee", "basis")}
    chinese_only = False
    if lang == "en":
        title, subtitle = service.name_en or service.name, service.name
        dept_name = f"{dept.name_en} · {dept.name}" if dept else service.department
        queue_name = f"{queue.prefix} · {queue.name_en or queue.name}" if queue else service.queue
        for key, chinese in list(body.items()):
            english = _english(service, key, chinese)
            if english is not None:
                body[key] = english
            elif chinese:
                chinese_only = True
    else:
        title, subtitle = service.name, service.name_en
        dept_name = f"{dept.name} · {dept.name_en}" if dept else service.department
        queue_name = f"{queue.prefix} · {queue.name}" if queue else service.queue
    windows = "、".join(service.windows) if lang != "en" else ", ".join(service.windows)
    limits = "    ".join([tr("legal_limit", lang, d=days_text(service.time_limit_days, lang)),
                          tr("promised", lang, d=days_text(service.promised_days, lang))])
    colon = ": " if lang == "en" else "："
    places = window_places(catalogue, service.windows, lang)
    sections = [
        (tr("department", lang), f"{dept_name}\n{tr('queue', lang)}{colon}{queue_name}"),
        (tr("conditions", lang), body["conditions"]),
        (tr("materials", lang), "\n".join(f"{i}．{m}" for i, m in enumerate(body["materials"], 1))),
        (tr("process", lang), "\n".join(f"{i}．{p}" for i, p in enumerate(body["process"], 1))),
        (tr("time_limit", lang), limits),
        (tr("fee", lang), body["fee"]),
        (tr("windows", lang), _windows_text(catalogue, service.windows, windows, places, lang)),
        (tr("basis", lang), body["basis"]),
    ]
    return Guide(service, title, subtitle, [(h, t) for h, t in sections if t], chinese_only)


def _windows_text(catalogue: Catalogue, ids: list[str], windows: str, places: list[str], lang: str) -> str:
    """21 号窗口（二楼东区） when the windows are in one place; else the windows, then a line per place."""
    if not ids:
        return ""
    listed = tr("window_list", lang, w=windows)
    if len(places) == 1 and all(catalogue.window(w) is not None for w in ids):
        w = catalogue.window(ids[0])
        place = (w.location_en or w.location) if lang == "en" else w.location
        return f"{listed} ({place})" if lang == "en" else f"{listed}（{place}）"
    return "\n".join([listed, *places])


def window_places(catalogue: Catalogue, windows: list[str], lang: str) -> list[str]:
    """Where the windows are (their `location` in the catalogue), one line per place: "1、2、3 号窗口：一楼东区"."""
    by_place: dict[str, list[str]] = {}
    for wid in windows:
        w = catalogue.window(wid)
        place = (w.location_en or w.location) if (w is not None and lang == "en") else (w.location if w else "")
        if place:
            by_place.setdefault(place, []).append(wid)
    sep = ", " if lang == "en" else "、"
    return [tr("window_at", lang, w=sep.join(ws), p=place) for place, ws in by_place.items()]


# ---------------------------------------------------------------- search (查询)

class SearchFlow:
    """The search screen: a query typed on the kiosk keyboard and the results as you type."""

    KEYS = "qwertyuiopasdfghjklzxcvbnm1234567890"
    POPULAR = ["身份证", "社保卡", "营业执照", "公积金提取", "结婚登记", "护照", "驾驶证", "医保报销", "不动产", "户口"]

    def __init__(self, index: SearchIndex, limit: int = 50, on_change: Callable[[], None] | None = None):
        self.index = index
        self.limit = limit
        self.query = ""
        self.results: list[Hit] = []
        self.on_change = on_change

    def _changed(self) -> None:
        self.results = self.index.search(self.query, self.limit) if self.query.strip() else []
        if self.on_change:
            self.on_change()

    def type(self, key: str) -> None:
        if len(self.query) < 40:
            self.query += key
        self._changed()

    def space(self) -> None:
        if self.query and not self.query.endswith(" "):
            self.query += " "
            self._changed()

    def backspace(self) -> None:
        self.query = self.query[:-1]
        self._changed()

    def clear(self) -> None:
        self.query = ""
        self._changed()

    def set_query(self, text: str) -> None:
        self.query = text
        self._changed()

    def breakdown(self) -> tuple[int, int]:
        """How many results matched by name or keyword, and how many only in the guide text. A word and its pinyin
        initials (营业执照, yyzz) find the same items by name and keyword; Chinese also finds guides that mention
        it, which pinyin cannot, so the screen shows the two counts and why each result matched."""
        named = sum(1 for h in self.results if h.tier >= TIER_KEYWORD)
        return named, len(self.results) - named


WHY = {TIER_NAME: "search_matched_name", TIER_KEYWORD: "search_matched_keyword"}


@dataclass
class SearchResult:
    """A result row: the name, the other language's name, the department, the windows and why it matched."""
    id: str
    name: str
    second: str
    department: str
    windows: str
    why: str


# ---------------------------------------------------------------- taking a ticket (取号)

IDLE, REQUESTING, WAITING, ISSUED, REFUSED = "idle", "requesting", "waiting", "issued", "refused"
PRINTING, PRINTED, NO_PRINTER = "printing", "printed", "none"


@dataclass
class TicketState:
    state: str = IDLE
    ticket: TicketInfo | None = None
    code: str = ""
    error: str = ""
    printer: str = ""          # printing, printed, paper_low, paper_out, offline, none
    late: bool = False         # the answer came after the request had timed out
    history: list[str] = field(default_factory=list)


class TicketFlow:
    """取号: request a ticket from the hub through the device link, show it, print it.

    A request that times out is not lost: the event stays in the link's outbox and the flow waits (请稍候); the
    hub's answer, whenever it comes, is shown and printed. A printer that is out of paper or off never costs the
    citizen the ticket: the number is on the screen and the kiosk reports the printer in a `health` event.
    """

    def __init__(self, link, *, content_for: Callable[[TicketInfo], TicketContent], printer=None, timeout: float = 5.0,
                 call: Call = _direct, on_change: Callable[[TicketState], None] | None = None, store=None):
        self.link = link
        self.printer = printer
        self.content_for = content_for
        self.timeout = timeout
        self.call = call
        self.on_change = on_change
        self.store = store
        self.s = TicketState()
        self._lock = threading.Lock()
        self._running = 0          # link.request() calls in progress
        self._late = 0             # requests that timed out and whose answer has not come yet
        self._settled: set[str] = set()
        self._deferred: list[tuple[str, Answer]] = []
        self._reported: str | None = None
        if link is not None and hasattr(link, "on_answer"):
            link.on_answer(self._on_answer)

    # ------------------------------------------------------------ what the screens ask

    @property
    def hub_online(self) -> bool:
        return bool(self.link is not None and getattr(self.link, "hub_online", False))

    def unavailable(self) -> str | None:
        """Why a ticket cannot be taken now (an i18n key), or None."""
        if not self.hub_online:
            return "ticket_unavailable"
        if self.s.state in (REQUESTING, WAITING):
            return "ticket_busy"
        return None

    def take(self, service: str | None = None, queue: str | None = None, *, id_number: str | None = None,
             phone: str | None = None) -> bool:
        """Ask the hub for a ticket for a service item or a queue, with the ID number (a queue that limits walk-ins
        needs it) and a mobile number for a text before the turn if given. False (nothing sent) when unavailable."""
        if self.unavailable():
            return False
        data = {"service": service} if service else {"queue": queue}
        data["channel"] = "kiosk"
        if id_number:
            data["id_number"] = id_number
        if phone:
            data["phone"] = phone
        return self._ask("ticket_request", data)

    def check_in(self, code: str | None = None, id_number: str | None = None) -> bool:
        """预约签到: today's booking by its code or the ID number; the hub answers with a ticket like a request."""
        if self.unavailable():
            return False
        return self._ask("checkin", {"code": code} if code else {"id_number": id_number})

    def _ask(self, event_type: str, data: dict) -> bool:
        self._set(TicketState(REQUESTING, history=[REQUESTING]))
        threading.Thread(target=self._request, args=(data, event_type), name="ticket-request", daemon=True).start()
        return True

    def reset(self) -> None:
        """The citizen is done (or walked away). A ticket still on its way keeps coming: see _late."""
        if self.s.state != WAITING:
            self._set(TicketState())

    # ------------------------------------------------------------ worker threads

    def _request(self, data: dict, event_type: str = "ticket_request") -> None:
        with self._lock:
            self._running += 1
        try:
            answer = _read_answer(self.link.request(event_type, data, self.timeout))
        except Exception:
            log.exception("kiosk: ticket request failed")
            answer = None
        with self._lock:
            self._running -= 1
            if answer is not None:
                self._settled.add(answer.re)
            else:
                self._late += 1
            deferred = []
            if self._running == 0:
                deferred, self._deferred = self._deferred, []
        self.call(self._answered, answer, False)
        for event_id, late_answer in deferred:
            self._consider_late(event_id, late_answer)

    def _on_answer(self, event_id: str, payload: dict) -> None:
        """Every answer on our `res` topic (network thread). Those request() returned are settled; another one is
        the late answer to a request that timed out."""
        answer = _read_answer(payload)
        if answer is None or (answer.ticket is None and answer.code is None):
            return
        with self._lock:
            if self._running:
                self._deferred.append((event_id, answer))  # request() may be about to return it
                return
        self._consider_late(event_id, answer)

    def _consider_late(self, event_id: str, answer: Answer) -> None:
        with self._lock:
            if event_id in self._settled or self._late == 0:
                return
            self._settled.add(event_id)
            self._late -= 1
        self.call(self._answered, answer, True)

    # ------------------------------------------------------------ results (in the UI thread)

    def _answered(self, answer: Answer | None, late: bool) -> None:
        if answer is None:
            self._set(self._next(WAITING))
            return
        if not answer.ok or answer.ticket is None:
            if late and self.s.state != WAITING:
                return  # a refusal nobody is waiting for
            self._set(self._next(REFUSED, code=answer.code or "", error=answer.error or "", late=late))
            return
        ticket = answer.ticket
        shown = not late or self.s.state == WAITING
        printer = PRINTING if self.printer is not None else NO_PRINTER
        if shown:
            self._set(self._next(ISSUED, ticket=ticket, printer=printer, late=late))
        if self.printer is not None:
            threading.Thread(target=self._print, args=(ticket, shown), name="ticket-print", daemon=True).start()
        elif self.store is not None:
            self.store.record_ticket(ticket, NO_PRINTER)

    def _print(self, ticket: TicketInfo, shown: bool) -> None:
        try:
            status = self.printer.print_ticket(self.content_for(ticket))
            result = PRINTED if status == OK else status
        except PrinterError as err:
            status = result = err.status
        except Exception:
            log.exception("kiosk: printing failed")
            status = result = OFFLINE
        if self.store is not None:
            self.store.record_ticket(ticket, result)
        self.report_printer(status)
        if shown:
            self.call(self._printed, ticket.no, result)

    def _printed(self, no: str, result: str) -> None:
        if self.s.ticket and self.s.ticket.no == no:
            self._set(self._next(self.s.state, printer=result))

    def report_printer(self, status: str) -> None:
        """Tell the hub about the printer when its state changes (a `health` event, durable in the outbox)."""
        with self._lock:
            if status == self._reported:
                return
            self._reported = status
        if self.link is not None:
            try:
                self.link.send("health", {"printer": status})
            except Exception:
                log.exception("kiosk: could not queue a health event")

    def check_printer(self) -> str:
        """Query the printer and report it (call from a worker thread)."""
        status = self.printer.status() if self.printer is not None else NO_PRINTER
        self.report_printer(status)
        return status

    # ------------------------------------------------------------ state

    def _next(self, state: str, **kw) -> TicketState:
        s = self.s
        values = {"ticket": s.ticket, "code": s.code, "error": s.error, "printer": s.printer, "late": s.late, **kw}
        return TicketState(state, history=[*s.history, state], **values)

    def _set(self, s: TicketState) -> None:
        self.s = s
        if self.on_change:
            self.on_change(s)


PRINTER_PROBLEMS = (PAPER_OUT, OFFLINE)
PRINTER_OK = (PRINTED, PAPER_LOW)


def _read_answer(payload: dict | None) -> Answer | None:
    return None if payload is None else read_or_ignore(Answer, "res", payload, log)


def ticket_id(hall, ticket: TicketInfo) -> str:
    """What the QR code on a ticket says: its page on the citizens' site, which a phone opens (docs/public.md);
    from a hub that gives no page, the hall, the day and the number."""
    if ticket.follow:
        return hall.public.ticket_url(ticket.follow)
    day = (ticket.issued_at or "")[:10].replace("-", "")
    return f"{hall.id}:{day}:{ticket.no}"


def ticket_content(hall, catalogue: Catalogue, ticket: TicketInfo) -> TicketContent:
    """The printed ticket for an answer from the hub: the chosen service's materials are its one-time notice."""
    service = catalogue.service(ticket.service) if ticket.service else None
    queue = catalogue.queue(ticket.queue)
    if service is not None:
        name, name_en, materials = service.name, service.name_en, list(service.materials)
    elif queue is not None:
        name, name_en, materials = queue.name, queue.name_en, []
    else:
        name, name_en, materials = ticket.queue, "", []
    issued = ticket.issued_at or ""
    try:
        issued = datetime.fromisoformat(issued.replace("Z", "+00:00")).astimezone(hall.tz).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        pass
    windows = list(ticket.windows or [])
    return TicketContent(hall_name=hall.info.name, hall_name_en=hall.info.name_en, no=ticket.no,
                         service=name, service_en=name_en, windows=windows,
                         ahead=ticket.ahead, est_wait_s=ticket.est_wait_s, issued_at=issued,
                         materials=materials, qr=ticket_id(hall, ticket),
                         places=window_places(catalogue, windows, "zh"),
                         places_en=window_places(catalogue, windows, "en"))


# ---------------------------------------------------------------- the kiosk as a whole

class KioskModel:
    """What every screen reads: the catalogue and its index, the language, the hub's state, the flows."""

    def __init__(self, hall, catalogue: Catalogue, index: SearchIndex, *, link=None, printer=None,
                 request_timeout: float = 5.0, call: Call = _direct, store=None):
        self.hall = hall
        self.catalogue = catalogue
        self.index = index
        self.link = link
        self.lang = "zh"
        self.store = store
        self.search = SearchFlow(index)
        self.queue_states: dict[str, QueueState] = {}
        self.ticket = TicketFlow(link, printer=printer, timeout=request_timeout, call=call, store=store,
                                 content_for=lambda t: ticket_content(self.hall, self.catalogue, t))
        self.cases = CaseLookupFlow(link, timeout=request_timeout, call=call, printer=printer,  # 办件查询
                                    slip_for=lambda c: case_slip(self.hall, self.catalogue, c))

    def set_catalogue(self, catalogue: Catalogue, index: SearchIndex) -> None:
        self.catalogue = catalogue
        self.index = index
        self.search.index = index
        self.search.set_query(self.search.query)

    def departments(self) -> list[Department]:
        return self.catalogue.departments_with_services()

    def services(self, dept_id: str) -> list[ServiceItem]:
        return self.catalogue.services_of(dept_id)

    def queues(self) -> list[Queue]:
        """Queues a citizen can take a ticket for directly: those some window serves."""
        served = {q for w in self.catalogue.windows for q in w.queues}
        return [q for q in self.catalogue.queues if q.id in served]

    def guide(self, service_id: str) -> Guide | None:
        service = self.catalogue.service(service_id)
        return make_guide(self.catalogue, service, self.lang) if service else None

    def toggle_language(self) -> str:
        self.lang = "en" if self.lang == "zh" else "zh"
        return self.lang

    # ------------------------------------------------------------ what waits (the hub's retained queue state)

    def queue_state(self, topic: str, payload: dict) -> str | None:
        """Take a `hub/state/queue/{queue}` message; returns the queue it was about (None if ignored)."""
        queue = topic.rsplit("/", 1)[-1]
        if not payload:  # a retained state cleared
            self.queue_states.pop(queue, None)
            return queue
        state = read_or_ignore(QueueState, topic, payload, log)
        if state is None:
            return None
        self.queue_states[state.queue] = state
        return state.queue

    def queue_wait_text(self, queue_id: str, lang: str) -> str:
        """等候 N 人 · 约 M 分钟 for a queue's button, from the hub's last word on it."""
        state = self.queue_states.get(queue_id)
        if state is None:
            return tr("queue_unknown", lang)
        if state.waiting == 0:
            return tr("queue_no_wait", lang)
        minutes = max(1, round((state.est_wait_s or 0) / 60))
        return tr("queue_wait", lang, n=state.waiting, m=minutes)

    # ------------------------------------------------------------ search results

    def windows_text(self, service: ServiceItem | None, queue_id: str, lang: str) -> str:
        windows = list(service.windows) if service is not None and service.windows else \
            self.catalogue.windows_serving(queue_id)
        if not windows:
            return ""
        return tr("window_list", lang, w=(", " if lang == "en" else "、").join(windows))

    def result(self, hit: Hit, lang: str) -> SearchResult:
        s = self.catalogue.service(hit.id)
        dept = self.catalogue.department(hit.department)
        dept_name = ((dept.name_en or dept.name) if lang == "en" else dept.name) if dept else hit.department
        if lang == "en" and s is not None:
            name, second = s.name_en or s.name, s.name
        else:
            name, second = hit.name, ""
        why = tr(WHY.get(hit.tier, "search_matched_guide"), lang)
        return SearchResult(hit.id, name, second, dept_name,
                            self.windows_text(s, s.queue if s else "", lang), why)
