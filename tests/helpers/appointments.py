"""Helpers shared by the appointment tests: valid ID numbers (GB 11643) for as many citizens as a test needs."""

from __future__ import annotations

from hub.cases.rules import ID_CHECK, ID_WEIGHTS


def id_number(n: int) -> str:
    """The n-th citizen's ID number: born 1990-01-01 in 东城区, sequence n, with its check character."""
    body = f"11010119900101{n % 1000:03d}"
    total = sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True))
    return body + ID_CHECK[total % 11]


def booking_hall(dest):
    """The shipped hall issuing tickets all day (tests/helpers/queueing.py), whose queue H (车驾管) takes walk-ins
    only with an ID number."""
    import re

    from tests.helpers.queueing import all_day_hall

    path = all_day_hall(dest)
    text, n = re.subn(r"(?m)^id_required = .*$", 'id_required = ["H"]', path.read_text(encoding="utf-8"))
    assert n == 1
    path.write_text(text, encoding="utf-8")
    return path
