"""Staff at the windows: calls are refused at a window nobody is logged in at, so tests log someone in first."""

from __future__ import annotations


def staff_of(hall, window: str) -> str:
    """The first staff member staff.csv assigns to the window."""
    return next(s.id for s in hall.staff if s.window == window)


def log_in(link, hall, window: str) -> dict:
    """Log the window's first staff member in through a device link; the hub's answer."""
    answer = link.request("login", {"window": window, "staff": staff_of(hall, window)}, timeout=20)
    assert answer is not None and answer["ok"], answer
    return answer
