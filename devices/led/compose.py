"""What an LED screen says, as text: a window screen's call and resting text, a strip's directory and guides.

Pure functions of the config and the catalogue, kept apart from the controller that decides *when* each text goes
up, so the wording can be read and tested on its own. Every text is cut to what the screen's card holds in its
encoding, because a card refuses a text that is too long rather than cutting it.
"""

from __future__ import annotations

from devices.bus.codec import Encoding
from devices.led.config import ScreenConfig, TextConfig

DOTS_PER_CHAR = 16   # a full-width character on a 16-dot line
ELLIPSIS = "…"


def call_text(text: TextConfig, ticket: str, window: str) -> str:
    """`A012 请到3号窗口`, from the config's template."""
    return text.call.format(ticket=ticket, window=window)


CLOSED = "未开放"      # a closed window, when the config gives it the paused window's words


def resting_text(text: TextConfig, status: str | None, window: str | None = None, department: str = "",
                 reason: str | None = None) -> str:
    """What a window screen shows under its messages, always naming the window: open and waiting, `3号窗口
    市场监管局 欢迎光临`; paused, `3号窗口 暂停服务` (with its reason when the hub gives one); closed, `3号窗口 未开放`.
    Paused and closed never read the same, even when the config gives them the same words."""
    closed = text.closed if text.closed != text.paused else CLOSED
    words = {"paused": text.paused + (f"：{reason}" if reason else ""), "closed": closed}.get(status)
    if window is None:
        return words or text.idle
    if words is None:
        return " ".join(p for p in (f"{window}号窗口", department, text.idle) if p)
    return f"{window}号窗口 {words}"


def fits(text: str, screen: ScreenConfig) -> bool:
    """The text stands still on the screen: no wider than its dots."""
    return dots_wide(text) <= screen.width * DOTS_PER_CHAR


def fit_bytes(text: str, encoding: Encoding, limit: int) -> str:
    """Cut a text so that it fits `limit` bytes in the encoding, ending with … when cut."""
    if len(text.encode(encoding.codec)) <= limit:
        return text
    while text and len((text + ELLIPSIS).encode(encoding.codec)) > limit:
        text = text[:-max(1, (len((text + ELLIPSIS).encode(encoding.codec)) - limit) // 4)]
    return text + ELLIPSIS


def guide_text(service) -> str:
    """One service's one-time notice (一次性告知) as a line for a strip."""
    parts = [f"【{service.name}】"]
    if service.windows:
        parts.append(f"办理窗口：{'、'.join(service.windows)}号窗口")
    if service.promised_days == 0:
        parts.append("承诺时限：即办")
    elif service.promised_days:
        parts.append(f"承诺时限：{service.promised_days}个工作日")
    elif service.time_limit_days:
        parts.append(f"法定时限：{service.time_limit_days}个工作日")
    if service.fee:
        parts.append(f"收费：{service.fee}")
    if service.materials:
        parts.append("所需材料：" + " ".join(f"{i}.{m}" for i, m in enumerate(service.materials, 1)))
    if service.conditions:
        parts.append(f"申请条件：{service.conditions}")
    return parts[0] + " · ".join(parts[1:])


def directory_text(hall_name: str, catalogue, windows: list[str]) -> str:
    """The hall's welcome and which department sits at which window."""
    depts = {d.id: d.name for d in catalogue.departments}
    shown = [w for w in catalogue.windows if not windows or w.id in windows]
    items = [f"{w.id}号窗口 {depts.get(w.department, w.name)}" for w in shown]
    return f"欢迎光临{hall_name} · " + " · ".join(items)


def strip_texts(hall_name: str, catalogue, screen: ScreenConfig) -> list[str]:
    """What a strip scrolls, in turn: the window directory, then each guide of the services at its windows."""
    windows = set(screen.windows)
    texts = [directory_text(hall_name, catalogue, screen.windows)]
    for service in catalogue.services:
        at = set(service.windows) or set(catalogue.windows_serving(service.queue))
        if not windows or at & windows:
            texts.append(guide_text(service))
    return [fit_bytes(t, screen.wire_encoding, screen.max_text_bytes) for t in texts]


def dots_wide(text: str) -> int:
    """Width of a text in dots without a font: 16 for a full-width character, 8 for a half-width one."""
    return sum(DOTS_PER_CHAR // 2 if ord(c) < 0x2E80 else DOTS_PER_CHAR for c in text)


def scroll_pass_s(text: str, screen: ScreenConfig, speed: int) -> float:
    """How long one full pass of a scrolling text takes: it enters at the right edge and leaves at the left, at
    `speed` × 8 dots a second."""
    return (dots_wide(text) + screen.width * DOTS_PER_CHAR) / (8.0 * speed)
