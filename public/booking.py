"""网上预约 on the citizens' site: the slots of a queue with the places left, a booking, a cancellation, as JSON for
the pages' twins (`/api/slots`, `/api/bookings`) and as pages for phones that work without scripts (`/book`,
`/book/cancel`).

The site decides nothing: the hub does (hub/appointments/). The places left come from the hub's retained state
`hub/state/appointments/{queue}`, followed over the site's own link (kind `web`); a booking is a `booking_request`
event sent through that link and answered by the hub, which checks the ID number (GB 11643), keeps only its keyed
hash and last 4, and confirms no more bookings than a slot has places. What the site shows back is the code, the
slot and the name masked (张*). Every booking and cancellation is counted against the address (`booking`).

Answers: 201 with the code; 409 when the slot is full, the person already booked that queue that day, or booking
is blocked after no-shows; 422 with a Chinese message naming the field for what is not valid; 503 when the hub is
not answering.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hall.link import OutboxError
from hall.protocol import hub_message_model, parse_topic, read_or_ignore
from public.app import limited, render, site

router = APIRouter()

# what a citizen's form calls each field: a 422 names it in both languages
FIELDS = {"queue": ("业务类别", "queue"), "date": ("预约日期", "date"), "time": ("预约时段", "time"),
          "name": ("姓名", "name"), "id_number": ("身份证号码", "ID number"), "phone": ("手机号码", "phone"),
          "code": ("预约码", "booking code"), "id_last4": ("身份证后四位", "ID number, last 4")}
STATUS = {"slot_full": 409, "already_booked": 409, "blocked": 409, "invalid": 422, "not_found": 404,
          "booking_closed": 409}
SLOTS_WAIT_S = 2.0   # the retained places left arrive a moment after the site subscribes
HUB_TIMEOUT_S = 5.0


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str = Field(min_length=1, max_length=16, description="业务类别, e.g. A")
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="预约日期 YYYY-MM-DD")
    time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="预约时段的开始 HH:MM")
    name: str = Field(min_length=1, max_length=32, description="姓名 (shown back masked: 张*)")
    id_number: str = Field(pattern=r"^\d{17}[\dXx]$", description="身份证号码 (GB 11643)")
    phone: str = Field(pattern=r"^1[3-9]\d{9}$", description="手机号码, 11 digits")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_last4: str = Field(pattern=r"^\d{3}[\dXx]$", description="身份证后四位")


class SlotOut(BaseModel):
    time: str
    end: str | None = None
    capacity: int
    left: int


class DayOut(BaseModel):
    date: str
    slots: list[SlotOut]


class SlotsOut(BaseModel):
    queue: str
    dates: list[DayOut]


class BookingOut(BaseModel):
    code: str = Field(description="8 digits: check in at a kiosk with it, or cancel with it and the ID's last 4")
    queue: str
    date: str
    time: str
    end: str | None = None
    name: str | None = Field(default=None, description="masked: 张*")
    status: str | None = None


class Problem(BaseModel):
    detail: str = Field(description="why, Chinese first")
    code: str | None = None
    field: str | None = None


PROBLEMS = {code: {"model": Problem, "description": why} for code, why in (
    (409, "the slot is full, already booked that day, or blocked after no-shows"),
    (422, "a field is not valid: the message names it"), (429, "too many requests from this address"),
    (503, "the hall is not answering"))}


# ---------------------------------------------------------------- the places left, from the hub

class SlotBoard:
    """The hub's retained `hub/state/appointments/{queue}`, followed over the site's link (network thread)."""

    def __init__(self, feed):
        self.states: dict[str, dict] = {}
        self._lock = threading.Lock()
        feed.link.subscribe("hub/state/appointments/+", self._on_message)

    def _on_message(self, topic: str, payload: dict) -> None:
        t = parse_topic(topic)
        if t is None:
            return
        queue = t.rest[-1] if t.rest else ""
        if not payload:
            with self._lock:
                self.states.pop(queue, None)
            return
        state = read_or_ignore(hub_message_model(t), topic, payload, _log())
        if state is not None:
            with self._lock:
                self.states[state.queue] = json.loads(json.dumps(payload))

    def get(self, queue: str) -> dict | None:
        with self._lock:
            return self.states.get(queue)

    def queues(self) -> list[str]:
        with self._lock:
            return sorted(self.states)


def _log():
    import logging

    return logging.getLogger("public.booking")


def board(request: Request) -> SlotBoard | None:
    s = site(request)
    return None if s.feed is None else s.part("slot board", lambda: SlotBoard(s.feed))


async def slots_of(request: Request, queue: str) -> dict | None:
    b = board(request)
    if b is None:
        return None
    waited = 0.0
    while (state := b.get(queue)) is None and waited < SLOTS_WAIT_S and queue in _bookable(request):
        await asyncio.sleep(0.05)
        waited += 0.05
    return state


def _bookable(request: Request) -> list[str]:
    """The queues hall.toml lets citizens book (`[appointments.queues]`)."""
    return list(site(request).hall.appointments.queues)


def queue_names(request: Request) -> dict[str, tuple[str, str]]:
    cat = site(request).hall.catalogue
    return {q.id: (q.name, q.name_en) for q in cat.queues}


# ---------------------------------------------------------------- validation with the field named

def field_problem(err: ValidationError) -> JSONResponse:
    first = err.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    zh, en = FIELDS.get(name, (name, name))
    what = "必填 required" if first["type"] == "missing" else \
        "不认识的字段 unknown field" if first["type"] == "extra_forbidden" else "格式不对 not valid"
    return JSONResponse({"detail": f"{zh}有误 {en} is not valid: {what}", "code": "invalid", "field": name or None},
                        status_code=422)


def _hub_field(error: str | None) -> str | None:
    for name, (zh, _) in FIELDS.items():
        if error and zh in error:
            return name
    return None


class Asker:
    """Requests to the hub over the site's link without a thread each: the events are written to the link's outbox
    by one writer thread, and each answer (`res`, heard by the link's network thread) completes a future on the
    server's loop. Two hundred citizens booking at once are two hundred events in flight, which the hub decides in
    one burst.

    The writes are gathered on the loop (group commit): while one write is on disk, the requests arriving meanwhile
    wait together for the next, which makes them all durable with one sync. One writer, not a pool: threads
    handing the interpreter to each other cost more than the writes themselves."""

    EARLY_KEPT = 1000

    def __init__(self, link):
        self.link = link
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-writer")
        self._gathered: list[tuple[str, dict, asyncio.Future]] = []  # on the loop only
        self._writing = False                                         # on the loop only
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future]] = {}
        self._early: dict[str, dict] = {}  # an answer heard before its asker was waiting for it
        self._heard: list[tuple[asyncio.Future, dict]] = []  # answers for the loop to hand out
        self._waking = False  # the loop has been told to hand them out
        link.on_answer(self._on_answer)

    def _on_answer(self, event_id: str, answer: dict) -> None:
        """Network thread. Answers heard together wake the loop once: it hands them all out in one go."""
        with self._lock:
            waiting = self._waiting.pop(event_id, None)
            if waiting is None:
                if len(self._early) >= self.EARLY_KEPT:
                    self._early.pop(next(iter(self._early)))
                self._early[event_id] = answer
                return
            loop, future = waiting
            self._heard.append((future, answer))
            if self._waking:
                return
            self._waking = True
        loop.call_soon_threadsafe(self._hand_out)

    def _hand_out(self) -> None:
        with self._lock:
            heard, self._heard = self._heard, []
            self._waking = False
        for future, answer in heard:
            if not future.done():
                future.set_result(answer)

    def _write_gathered(self) -> None:
        """On the loop: hand what has gathered to the writer, unless a write is on disk already."""
        if self._writing or not self._gathered:
            return
        batch, self._gathered = self._gathered, []
        self._writing = True
        loop = asyncio.get_running_loop()
        written = loop.run_in_executor(self._writer, self.link.send_many, [(t, d) for t, d, _ in batch])

        def done(written: asyncio.Future) -> None:
            self._writing = False
            error = asyncio.CancelledError() if written.cancelled() else written.exception()
            for i, (_, _, future) in enumerate(batch):
                if not future.done():
                    if error is not None:
                        future.set_exception(error)
                    else:
                        future.set_result(written.result()[i])
            self._write_gathered()

        written.add_done_callback(done)

    async def ask(self, event_type: str, data: dict, timeout: float) -> dict | None:
        loop = asyncio.get_running_loop()
        queued: asyncio.Future = loop.create_future()
        self._gathered.append((event_type, data, queued))
        self._write_gathered()
        # the outbox makes the event durable (a synced SQLite write) before the hub is asked
        try:
            event_id = await queued
        except OutboxError as err:  # a full or failing disk: the citizen is told to try again later, nothing is sent
            _log().warning("公众服务无法写入发件箱 the site could not queue %s: %s", event_type, err)
            return None
        future = loop.create_future()
        with self._lock:
            early = self._early.pop(event_id, None)
            if early is None:
                self._waiting[event_id] = (loop, future)
        if early is not None:
            return early
        timer = loop.call_later(timeout, lambda: future.done() or future.set_result(None))
        answer = await future
        timer.cancel()
        if answer is None:
            with self._lock:
                self._waiting.pop(event_id, None)
        return answer  # None: the event stays queued, the hub decides it when it can and answers a resend alike


async def ask_hub(request: Request, event_type: str, data: dict) -> dict | None:
    s = site(request)
    if s.feed is None:
        return None
    asker = s.part("asker", lambda: Asker(s.feed.link))
    return await asker.ask(event_type, data, HUB_TIMEOUT_S)


async def book(request: Request, data: dict) -> tuple[int, dict]:
    """(HTTP status, answer) of a booking."""
    refused = limited(request, "booking")
    if refused is not None:
        return 429, json.loads(refused.body)
    try:
        body = BookingIn.model_validate(data)
    except ValidationError as err:
        return 422, json.loads(field_problem(err).body)
    if body.queue not in _bookable(request):
        return 422, {"detail": "业务类别有误 queue: 该业务不接受预约 takes no bookings", "code": "invalid",
                     "field": "queue"}
    answer = await ask_hub(request, "booking_request", {**body.model_dump(), "id_number": body.id_number.upper()})
    if answer is None:
        return 503, {"detail": "服务暂时不可用，请稍后再试 The hall is not answering, try again later"}
    if not answer.get("ok"):
        code = answer.get("code")
        return STATUS.get(code, 409), {"detail": answer.get("error") or code, "code": code,
                                       "field": _hub_field(answer.get("error")) if code == "invalid" else None}
    b = answer["booking"]
    return 201, {k: b.get(k) for k in ("code", "queue", "date", "time", "end", "name", "status")}


async def cancel(request: Request, code: str, data: dict) -> tuple[int, dict]:
    refused = limited(request, "booking")
    if refused is not None:
        return 429, json.loads(refused.body)
    if not re.fullmatch(r"\d{8}", code):
        return 422, {"detail": "预约码有误 booking code: 8 位数字 8 digits", "code": "invalid", "field": "code"}
    try:
        body = CancelIn.model_validate(data)
    except ValidationError as err:
        return 422, json.loads(field_problem(err).body)
    answer = await ask_hub(request, "booking_cancel", {"code": code, "id_last4": body.id_last4.upper()})
    if answer is None:
        return 503, {"detail": "服务暂时不可用，请稍后再试 The hall is not answering, try again later"}
    if not answer.get("ok"):
        return STATUS.get(answer.get("code"), 409), {"detail": answer.get("error"), "code": answer.get("code")}
    b = answer["booking"]
    return 200, {k: b.get(k) for k in ("code", "queue", "date", "time", "end", "name", "status")}


# ---------------------------------------------------------------- JSON

@router.get("/api/slots", tags=["booking"], summary="可预约时段 a queue's slots and places left",
            responses={200: {"model": SlotsOut}, 404: {"model": Problem}, 503: {"model": Problem}})
async def api_slots(request: Request, queue: Annotated[str, Query(min_length=1, max_length=16)]) -> JSONResponse:
    if queue not in _bookable(request):
        return JSONResponse({"detail": "该业务不接受预约 This service takes no bookings", "code": "invalid",
                             "field": "queue"}, status_code=404)
    state = await slots_of(request, queue)
    if state is None:
        return JSONResponse({"detail": "服务暂时不可用，请稍后再试 The hall is not answering, try again later"},
                            status_code=503)
    return JSONResponse({"queue": queue, "dates": state.get("dates", [])})


@router.post("/api/bookings", tags=["booking"], summary="预约 book a slot", status_code=201,
             responses={201: {"model": BookingOut}, **PROBLEMS},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": BookingIn.model_json_schema()}}}})
async def api_book(request: Request) -> JSONResponse:
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return JSONResponse({"detail": "请求须为 JSON 对象 the body must be a JSON object", "code": "invalid"},
                            status_code=422)
    status, answer = await book(request, data)
    return JSONResponse(answer, status_code=status)


# answered ahead of FastAPI's routing (public.app.FrontDoor): all at once when the morning's slots open
DIRECT = {("POST", "/api/bookings"): api_book}


@router.post("/api/bookings/{code}/cancel", tags=["booking"], summary="取消预约 cancel with the ID's last 4",
             responses={200: {"model": BookingOut}, 404: {"model": Problem}, **PROBLEMS},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": CancelIn.model_json_schema()}}}})
async def api_cancel(request: Request, code: str) -> JSONResponse:
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return JSONResponse({"detail": "请求须为 JSON 对象 the body must be a JSON object", "code": "invalid"},
                            status_code=422)
    status, answer = await cancel(request, code, data)
    return JSONResponse(answer, status_code=status)


# ---------------------------------------------------------------- pages

def _day_shown(state: dict | None, wanted: str | None) -> str | None:
    """The day whose slots the page lists: the one asked for if it is bookable, else the first."""
    days = [d["date"] for d in (state or {}).get("dates", [])]
    return wanted if wanted in days else (days[0] if days else None)


@router.get("/book", response_class=HTMLResponse, include_in_schema=False)
async def book_page(request: Request, queue: str | None = None, date: str | None = None):
    names = queue_names(request)
    queues = [(q, *names.get(q, (q, q))) for q in _bookable(request)]
    state = await slots_of(request, queue) if queue in _bookable(request) else None
    return render(request, "book.html", {"title": "网上预约 Book a visit", "queues": queues, "queue": queue,
                                         "queue_name": names.get(queue or "", ("", "")), "state": state,
                                         "day": _day_shown(state, date), "form": {}, "problem": None})


@router.post("/book", response_class=HTMLResponse, include_in_schema=False)
async def book_submit(request: Request, queue: Annotated[str, Form()] = "", slot: Annotated[str, Form()] = "",
                      name: Annotated[str, Form()] = "", id_number: Annotated[str, Form()] = "",
                      phone: Annotated[str, Form()] = ""):
    day, _, clock = slot.partition(" ")
    data = {"queue": queue, "date": day, "time": clock, "name": name.strip(), "id_number": id_number.strip(),
            "phone": phone.strip()}
    status, answer = await book(request, data)
    if status == 201:
        return render(request, "booked.html", {"title": "预约成功 Booked", "b": answer,
                                               "queue_name": queue_names(request).get(queue, ("", ""))},
                      status_code=201)
    names = queue_names(request)
    state = await slots_of(request, queue) if queue in _bookable(request) else None
    # what was typed comes back, except the ID number
    return render(request, "book.html", {"title": "网上预约 Book a visit",
                                         "queues": [(q, *names.get(q, (q, q))) for q in _bookable(request)],
                                         "queue": queue, "queue_name": names.get(queue, ("", "")), "state": state,
                                         "day": _day_shown(state, day), "form": {"name": name, "phone": phone,
                                                                                 "slot": slot},
                                         "problem": answer.get("detail")}, status_code=status)


@router.get("/book/cancel", response_class=HTMLResponse, include_in_schema=False)
async def cancel_page(request: Request):
    return render(request, "cancel.html", {"title": "取消预约 Cancel a booking", "problem": None, "done": None})


@router.post("/book/cancel", response_class=HTMLResponse, include_in_schema=False)
async def cancel_submit(request: Request, code: Annotated[str, Form()] = "", id_last4: Annotated[str, Form()] = ""):
    status, answer = await cancel(request, code.strip(), {"id_last4": id_last4.strip()})
    if status == 200:
        return render(request, "cancel.html", {"title": "已取消 Cancelled", "problem": None, "done": answer})
    return render(request, "cancel.html", {"title": "取消预约 Cancel a booking", "problem": answer.get("detail"),
                                           "done": None}, status_code=status)
