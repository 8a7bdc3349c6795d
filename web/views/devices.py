"""设备 Devices: every configured device with its kind, online state, last seen, clock skew, seq restarts and
version (the journal's `devices` table, which the hub keeps from each device's retained status), and its outbox
backlog and printer paper from its latest `health` event.

A department head sees the devices that speak for their department's windows.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from web.app import console, person, render
from web.schemas import AUTH_RESPONSES, DevicesOut

router = APIRouter()

KIND_LABELS = {
    "kiosk": "取号机 kiosk", "display": "叫号屏 display", "terminal": "考勤机 terminal", "caller": "呼叫器 caller",
    "rater": "评价器 rater", "window": "窗口电脑 window PC", "led": "LED 屏 LED", "console": "控制台 console",
    "web": "市民网站 citizens' site",
}
# what a health report may call its outbox backlog
BACKLOG_KEYS = ("outbox", "outbox_backlog", "backlog", "pending")


def _backlog(metrics: dict) -> int | None:
    for key in BACKLOG_KEYS:
        value = metrics.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def devices_for(request: Request) -> dict:
    c, p = console(request), person(request)
    hall = c.hall
    window_department = {w.id: w.department for w in hall.catalogue.windows}
    known = c.journal.devices()
    configured = [d for d in hall.devices
                  if p.role != "department" or any(p.sees(window_department.get(w)) for w in d.windows)]
    health = c.journal.latest_health([d.id for d in configured])
    out = []
    for d in configured:
        row = known.get(d.id, {})
        h = health.get(d.id, {})
        metrics = h.get("metrics") or {}
        printer = metrics.get("printer")
        status = row.get("status")
        out.append({
            "id": d.id, "kind": d.kind, "kind_label": KIND_LABELS.get(d.kind, d.kind), "name": d.name,
            "windows": list(d.windows), "status": status,
            "online": None if status is None else status == "online",
            "last_seen": row.get("last_seen"), "clock_skew_s": row.get("clock_skew_s"),
            "skew_flagged": bool(row.get("skew_flagged")), "seq_restarts": row.get("seq_restarts") or 0,
            "version": row.get("version") if row.get("version") not in (None, "None") else None,
            "outbox_backlog": _backlog(metrics), "printer": printer if isinstance(printer, str) else None,
            "health_at": h.get("at"),
        })
    return {"devices": out}


@router.get("/devices", include_in_schema=False)
def devices_page(request: Request):
    data = devices_for(request)
    online = sum(1 for d in data["devices"] if d["online"])
    return render(request, "devices.html", {"title": "设备 Devices", **data, "online": online})


@router.get("/api/devices", response_model=DevicesOut, responses=AUTH_RESPONSES, tags=["devices"],
            summary="设备 every device with its state, clock, version, backlog and printer paper")
def api_devices(request: Request):
    return devices_for(request)
