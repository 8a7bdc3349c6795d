"""The one time helper: hall-local time and RFC 3339 stamps.

Domain code never reads the clock itself; shells call `now()` and pass times in.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

HALL_TZ = ZoneInfo("Asia/Shanghai")


def now(tz: ZoneInfo = HALL_TZ) -> datetime:
    return datetime.now(tz)


def stamp(moment: datetime | None = None, tz: ZoneInfo = HALL_TZ) -> str:
    """RFC 3339 with offset and milliseconds, as the wire protocol wants it."""
    moment = (moment or now(tz)).astimezone(tz)
    return moment.isoformat(timespec="milliseconds")


def parse_stamp(text: str) -> datetime:
    """Parse an RFC 3339 stamp; a stamp without an offset is refused."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return moment

