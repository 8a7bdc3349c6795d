"""告警 Alerts: what the hub raised (`hub/alerts`), live, and acknowledgement with a note.

The hub decides alerts; the console shows them and acknowledges: an `alert_ack` event sent through the console's
own device link (outbox, answered on `res`), whose answer the page shows. Every acknowledgement is in the audit log.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request

from web.app import console, forbidden, person, render
from web.auth import SESSION_COOKIE, csrf_matches
from web.manager_events import send_and_audit
from web.roles import only_visible
from web.schemas import AUTH_RESPONSES, AlertsOut

router = APIRouter()

# when the hub does not answer in time, the page says that it is the acknowledgement that waits in the outbox
ACK_QUEUED = ("中心未在 5 秒内答复；确认已排队，中心恢复后送达 no answer from the hub in 5 s: the acknowledgement is "
              "queued and goes through when the hub is back")

ANSWER_TEXT = {
    "unavailable": "中心尚不处理告警确认 the hub does not handle acknowledgements yet",
    "unknown_alert": "没有此告警（可能已解除） no such alert (perhaps it cleared)",
}


def alerts_for(request: Request) -> dict:
    feed = console(request).feed
    alerts = feed.alerts() if feed is not None else None
    return {"alerts": only_visible(person(request), alerts or []), "alerts_published": alerts is not None}


@router.get("/alerts", include_in_schema=False)
def alerts_page(request: Request):
    return render(request, "alerts.html", {"title": "告警 Alerts", **alerts_for(request), "answer": None})


@router.get("/api/alerts", response_model=AlertsOut, responses=AUTH_RESPONSES, tags=["alerts"],
            summary="告警 the alerts not yet cleared, newest first")
def api_alerts(request: Request):
    return alerts_for(request)


@router.post("/alerts/ack", include_in_schema=False)
def acknowledge(request: Request, alert: str = Form(""), note: str = Form(""), csrf: str = Form("")):
    c, p = console(request), person(request)
    if not csrf_matches(c.sessions.read(request.cookies.get(SESSION_COOKIE)), csrf):
        return forbidden(request, "表单已过期，请刷新页面 the form expired: reload the page and try again")
    if not p.may("ack_alert"):
        return forbidden(request, "只有管理员和督查可确认告警 only administrators and supervisors acknowledge alerts")
    note = note.strip()[:500]
    shown = alerts_for(request)["alerts"]
    refused = None if any(a["id"] == alert for a in shown) else {
        "ok": False, "code": "unknown_alert", "error": ANSWER_TEXT["unknown_alert"]}
    answer = send_and_audit(request, "alert_ack", {"alert": alert, "by": p.name, "note": note}, subject=alert,
                            audited={"note": note}, refused=refused, queued=ACK_QUEUED)
    if not answer.get("ok") and answer.get("code") in ANSWER_TEXT:
        answer = {**answer, "error": ANSWER_TEXT[answer["code"]] + f" ({answer.get('error')})"}
    return render(request, "alerts.html", {"title": "告警 Alerts", **alerts_for(request), "answer": answer,
                                           "answered": alert})
