"""What a manager enters on a console page (leave, a punch correction, a complaint, a follow-up's answer) is an
event of the console's device: sent to the hub through the console's link (its outbox), answered by the hub, and
kept in the console's audit log whatever the answer."""

from __future__ import annotations

from fastapi import Request

from hall.link import OutboxError
from web import users
from web.app import console, person

ANSWER_TIMEOUT_S = 5.0
QUEUED = ("中心未在 5 秒内答复；已排队，中心恢复后送达 no answer from the hub in 5 s: it is queued and goes through "
          "when the hub is back")


def invalid_form(detail: str) -> dict:
    """The answer for a form that fails the check the hub would make: nothing is sent."""
    return {"ok": False, "code": "invalid", "error": f"填写有误 please check the form: {detail}"}


def ask_hub(request: Request, event_type: str, payload: dict, *, queued: str = QUEUED) -> dict:
    """The hub's answer to the event, or an answer in its shape saying why there is none; `queued` is what the
    manager reads when the hub does not answer in time (a page may name what was queued)."""
    c = console(request)
    if c.feed is None:
        return {"ok": False, "code": "offline", "error": "控制台未连接中心 the console is not connected"}
    try:
        answer = c.feed.request(event_type, payload, timeout=ANSWER_TIMEOUT_S)
    except OutboxError as err:  # the outbox could not take it (disk full…): nothing was sent
        return {"ok": False, "code": "outbox", "error": str(err)}
    if answer is None:  # still in the outbox, which sends it when the hub is back
        return {"ok": False, "code": "timeout", "error": queued}
    return answer


def send_and_audit(request: Request, event_type: str, payload: dict, *, subject: str | None, audited: dict,
                   refused: dict | None = None, queued: str = QUEUED) -> dict:
    """`payload` sent as `event_type` and the hub's answer awaited (`queued` the text when it does not come in
    time) — unless the page's own check `refused` the form, whose answer then stands. Either way the manager's
    action goes to the audit log: `audited` (what the form said) about `subject`, with the answer's ok and code.
    Returns the answer."""
    answer = refused if refused is not None else ask_hub(request, event_type, payload, queued=queued)
    db = console(request).db()
    try:
        with db:
            users.audit(db, person(request).name, event_type, subject,
                        {**audited, "ok": bool(answer.get("ok")), "code": answer.get("code")})
    finally:
        db.close()
    return answer
