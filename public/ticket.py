"""Follow your ticket: `/t/<token>` (the ticket's QR code opens it), its JSON twin `/api/t/<token>`, its push
`/api/t/<token>/events` (Server-Sent Events, one `ticket` event per change, the whole page each time) and the
citizen's rating of the service (好差评 1–5, once per ticket, from the page once the ticket is done).

A token is the ticket's only key: 22 characters (128 bits) from the hub, valid for the ticket's day. An unknown
token is 404, a token of an earlier day is 410; both cost the address a lookup, so tokens cannot be tried in bulk.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from public.app import limited, render, site
from public.follow import TicketRow

router = APIRouter()

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
KEEP_ALIVE_S = 20.0
Token = Annotated[str, Path(description="the ticket's token, from its QR code", min_length=1, max_length=64)]

NOT_FOUND = "没有这张票：请核对二维码 No such ticket: check the QR code"
EXPIRED = "这张票已过期（只在取号当天有效）This ticket has expired (valid on its day only)"


class Refusal(BaseModel):
    detail: str = Field(description="why, Chinese first")
    code: str | None = Field(default=None, description="not_served, rated, rating_expired, … where there is one")


class WindowPlace(BaseModel):
    id: str
    location: str
    location_en: str


class RatingState(BaseModel):
    open: bool = Field(description="the page offers the rating now")
    score: int | None = Field(description="the score given, once given")


class TicketPage(BaseModel):
    """A ticket's page as data (public.follow.ticket_view)."""
    ticket: str
    day: str
    queue: str
    queue_name: str
    queue_name_en: str
    service: str | None
    service_en: str | None
    priority: bool
    issued_at: str
    status: Literal["waiting", "called", "done", "no_show"]
    status_text: str
    status_text_en: str
    windows: list[WindowPlace]
    ahead: int | None = Field(description="people ahead while waiting")
    est_wait_s: int | None = Field(description="the estimated wait while waiting, in seconds")
    near: bool = Field(description="near_turn or fewer people ahead")
    near_turn: int
    window: str | None = Field(description="the window that called it")
    window_location: str
    window_location_en: str
    called_at: str | None
    requeue_until: str | None = Field(description="a missed ticket may go back in line until then")
    rating: RatingState
    phone: str | None = Field(description="the phone left at the kiosk, masked: ****1234")
    hall_online: bool = Field(description="false while the site does not hear the hub: the figures may be old")


class Rated(BaseModel):
    ok: bool
    ticket: str
    score: int


REFUSALS = {code: {"model": Refusal, "description": why} for code, why in (
    (404, "no such ticket"), (410, "a ticket of an earlier day"), (429, "too many requests from this address"))}


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=5, strict=True, description="好差评: 1 非常不满意 … 5 非常满意")


def _find(request: Request, token: str) -> tuple[TicketRow | None, int, str]:
    """The ticket of a token, or why not (404, 410)."""
    s = site(request)
    ticket = s.book.by_token(token) if TOKEN_RE.match(token) else None
    if ticket is None:
        return None, 404, NOT_FOUND
    if ticket.day != s.today():
        return None, 410, EXPIRED
    return ticket, 200, ""


def _page(request: Request, ticket: TicketRow) -> dict:
    s = site(request)
    if s.feed is not None:
        return s.feed.page(ticket)
    from public.follow import people_ahead, ticket_view  # a site without its hub link: the journal alone

    ahead = people_ahead(ticket, s.book.waiting(ticket.day, ticket.queue)) if ticket.status == "waiting" else None
    rated = s.book.rating_of(ticket.day, ticket.no) if ticket.status == "done" else None
    return ticket_view(s.hall, ticket, ahead=ahead, queue_state=None, rated=rated, now=s.clock(), hall_online=False)


@router.get("/t/{token}", response_class=HTMLResponse, include_in_schema=False)
async def ticket_page(request: Request, token: Token):
    refused = limited(request, "lookup")
    if refused is not None:
        return refused
    ticket, status, why = _find(request, token)
    if ticket is None:
        return render(request, "error.html", {"title": "找不到这张票 Ticket not found", "message": why},
                      status_code=status)
    page = _page(request, ticket)
    return render(request, "ticket.html", {"title": f"{ticket.no} 排队进度 Your place", "t": page, "token": token,
                                           "rated_now": request.query_params.get("rated")})


@router.get("/api/t/{token}", tags=["ticket"], summary="排队进度 a ticket's place in line",
            responses={200: {"model": TicketPage}, **REFUSALS})
async def api_ticket(request: Request, token: Token) -> JSONResponse:
    refused = limited(request, "lookup")
    if refused is not None:
        return refused
    ticket, status, why = _find(request, token)
    if ticket is None:
        return JSONResponse({"detail": why}, status_code=status)
    return JSONResponse(_page(request, ticket))


@router.get("/api/t/{token}/events", tags=["ticket"], summary="推送 the ticket's page at each change (SSE)",
            responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
                       **REFUSALS})
async def api_ticket_events(request: Request, token: Token):
    refused = limited(request, "lookup")
    if refused is not None:
        return refused
    ticket, status, why = _find(request, token)
    if ticket is None:
        return JSONResponse({"detail": why}, status_code=status)
    s = site(request)

    async def stream():
        yield "retry: 3000\n\n"
        if s.feed is None:
            yield _sse(_page(request, ticket))
            return
        changes, first = s.feed.follow(ticket)
        try:
            yield _sse(first)
            while True:
                try:
                    async with asyncio.timeout(KEEP_ALIVE_S):
                        page = await changes.get()
                except TimeoutError:
                    yield ": keep-alive\n\n"  # proxies and phones keep a quiet stream open
                    continue
                while not changes.empty():  # only the newest page matters
                    page = changes.get_nowait()
                yield _sse(page)
        finally:
            s.feed.unfollow(ticket, changes)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _sse(page: dict) -> str:
    return f"event: ticket\ndata: {json.dumps(page, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def _rate(request: Request, token: str, score: int) -> tuple[int, dict]:
    """(HTTP status, answer) of a citizen's rating."""
    refused = limited(request, "rating")
    if refused is not None:
        return 429, json.loads(refused.body)
    ticket, status, why = _find(request, token)
    if ticket is None:
        return status, {"detail": why}
    s = site(request)
    if ticket.status != "done" or not ticket.window:
        return 409, {"detail": "办理完成后才能评价 Rate once you have been served", "code": "not_served"}
    if s.book.rating_of(ticket.day, ticket.no) is not None:
        return 409, {"detail": "这张票已评价过 This ticket is rated already", "code": "rated"}
    if s.feed is None:
        return 503, {"detail": "暂时无法评价，请在窗口评价器上评价 Not available now: rate on the window's pad"}
    answer = await asyncio.to_thread(s.feed.rate, ticket, score)
    if answer is None:
        return 503, {"detail": "服务暂时不可用，请稍后再试 The hall is not answering, try again later"}
    if not answer.get("ok"):
        code = answer.get("code")
        detail = {"rating_expired": "评价时间已过 The time to rate this ticket has passed",
                  "already_rated": "这张票已评价过 This ticket is rated already"}.get(code, answer.get("error") or "")
        return 409, {"detail": detail, "code": code}
    s.feed.refresh(ticket)
    return 200, {"ok": True, "ticket": ticket.no, "score": score}


@router.post("/api/t/{token}/rating", tags=["ticket"], summary="好差评 rate the service, once per ticket",
             responses={200: {"model": Rated}, **REFUSALS,
                        409: {"model": Refusal, "description": "not served yet, rated already or too late"},
                        503: {"model": Refusal, "description": "the hall is not answering"}})
async def api_rate(request: Request, token: Token, rating: RatingIn) -> JSONResponse:
    status, body = await _rate(request, token, rating.score)
    return JSONResponse(body, status_code=status)


@router.post("/t/{token}/rating", include_in_schema=False)
async def form_rate(request: Request, token: Token, score: Annotated[int, Form(ge=1, le=5)]):
    """The page's rating without JavaScript: a form post, answered by the page again."""
    status, body = await _rate(request, token, score)
    if status == 200:
        return RedirectResponse(f"/t/{token}?rated={score}", status_code=303)
    return render(request, "error.html", {"title": "未能评价 Not rated", "message": body.get("detail", ""),
                                          "back": f"/t/{token}"}, status_code=status)
