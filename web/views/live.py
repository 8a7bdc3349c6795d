"""大厅实况 The live hall: every window, every queue, the last calls and the alerts, kept current by push.

`GET /` is the page, `GET /api/live` its JSON twin, `GET /api/events` the push stream (Server-Sent Events): a
`snapshot` first, then `window`, `queue`, `call`, `calls`, `alerts`, `hub` and `link` changes as the hub makes them,
each only if the signed-in person may see it.
"""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from hall.clock import now
from web.app import console, person, render, signed_in
from web.live import LiveHall
from web.roles import Person, only_visible
from web.schemas import AUTH_RESPONSES, Live

router = APIRouter()

KEEP_ALIVE_S = 15.0
# how often an open stream asks whether its session still holds (at its next change or keep-alive once this has
# passed): a person removed, their password reset or their session expired stops seeing the hall, and the page
# finds itself logged out
SIGNED_IN_EVERY_S = 10.0


def live_for(p: Person, snap: dict) -> dict:
    """The hall as `p` may see it."""
    return {**snap, "windows": only_visible(p, snap["windows"]), "queues": only_visible(p, snap["queues"]),
            "calls": only_visible(p, snap["calls"]), "alerts": only_visible(p, snap["alerts"])}


def _snapshot(request: Request) -> dict:
    feed = console(request).feed
    if feed is None:  # a console started without its link: the configured hall, nothing heard
        hall = console(request).hall
        snap = {**LiveHall.of(hall).snapshot(now(hall.tz)), "connected": False}
    else:
        snap = feed.snapshot()
    return live_for(person(request), snap)


def summary(live: dict) -> dict:
    by_status: dict[str, int] = {}
    for w in live["windows"]:
        by_status[w["status"]] = by_status.get(w["status"], 0) + 1
    return {"windows": len(live["windows"]), "serving": by_status.get("serving", 0),
            "idle": by_status.get("idle", 0), "paused": by_status.get("paused", 0),
            "closed": by_status.get("closed", 0), "waiting": sum(q["waiting"] for q in live["queues"]),
            "alerts": sum(1 for a in live["alerts"] if a.get("state") == "firing")}


@router.get("/", include_in_schema=False)
def live_page(request: Request):
    live = _snapshot(request)
    return render(request, "live.html", {"title": "大厅实况 Live hall", "live": live, "summary": summary(live)})


@router.get("/api/live", response_model=Live, responses=AUTH_RESPONSES, tags=["live"],
            summary="大厅实况 every window, queue, the last calls and the alerts")
def api_live(request: Request):
    return _snapshot(request)


def _visible_change(p: Person, kind: str, item: dict) -> dict | None:
    """The change as `p` may see it: the very item the fan-out shares when nothing is hidden from them (so its text
    is made once for every stream), else a narrower copy, or None."""
    if kind in ("window", "queue", "call"):
        return item if p.sees(item.get("department")) else None
    if kind in ("calls", "alerts"):
        shown = only_visible(p, item[kind])
        return item if len(shown) == len(item[kind]) else {kind: shown}
    return item


def _sse(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


class _Rendered:
    """The Server-Sent Event text of each shared change, made once for all the open streams that send it as it is:
    with 50 pages open, one json.dumps per change instead of 50. Only the event loop's thread uses it. Keyed by
    the item's identity, which it holds, so an id is not reused while it is kept."""

    KEPT = 256

    def __init__(self):
        self._texts: dict[tuple[str, int], tuple[dict, str]] = {}

    def __call__(self, kind: str, data: dict) -> str:
        key = (kind, id(data))
        kept = self._texts.get(key)
        if kept is not None and kept[0] is data:
            return kept[1]
        text = _sse(kind, data)
        if len(self._texts) >= self.KEPT:
            del self._texts[next(iter(self._texts))]  # the oldest: every stream has long sent it
        self._texts[key] = (data, text)
        return text


_rendered = _Rendered()


@router.get("/api/events", responses={**AUTH_RESPONSES, 200: {"content": {"text/event-stream": {}},
                                                              "description": "Server-Sent Events"}},
            tags=["live"], summary="推送 the live hall's changes as Server-Sent Events")
async def api_events(request: Request):
    p = person(request)
    feed = console(request).feed

    async def stream():
        yield "retry: 2000\n\n"
        yield _sse("snapshot", _snapshot(request))
        if feed is None:
            return
        changes = feed.fanout.open()
        checked = time.monotonic()
        try:
            while True:
                if time.monotonic() - checked >= SIGNED_IN_EVERY_S:
                    if signed_in(request) is None:
                        return
                    checked = time.monotonic()
                try:
                    async with asyncio.timeout(KEEP_ALIVE_S):
                        batch = [await changes.get()]
                except TimeoutError:
                    yield ": keep-alive\n\n"  # proxies and browsers keep a quiet stream open
                    continue
                # what is queued already goes out in the same write: one send per burst, not one per change
                while not changes.empty():
                    batch.append(changes.get_nowait())
                frames = []
                for kind, item in batch:
                    if kind == "resync":
                        frames.append(_sse("snapshot", _snapshot(request)))
                        continue
                    data = _visible_change(p, kind, item)
                    if data is not None:
                        frames.append(_rendered(kind, data) if data is item else _sse(kind, data))
                if frames:
                    yield "".join(frames)
        finally:
            feed.fanout.close(changes)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
