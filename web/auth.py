"""Sessions, CSRF tokens and the login throttle.

A session is a signed cookie (itsdangerous, the key kept in console.db): the user's name, their epoch (a password
reset or removal voids older sessions), a CSRF token, signed with the time so it expires. It is HttpOnly and
SameSite=Strict, and Secure when the console is served over https. Every form carries the session's CSRF token;
the login form, before there is a session, carries the token of a short-lived signed `hall_login` cookie.

The throttle is pure: failures per address and per user name within a window; five of them lock that key out for
five minutes. It forgets on success and when the lock-out ends.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "hall_session"
LOGIN_COOKIE = "hall_login"
SESSION_MAX_AGE = 12 * 3600      # an office day; then log in again
LOGIN_MAX_AGE = 3600


@dataclass(frozen=True)
class Session:
    name: str
    epoch: int
    csrf: str


class Sessions:
    def __init__(self, secret: str):
        self._session = URLSafeTimedSerializer(secret, salt="hall-console-session")
        self._login = URLSafeTimedSerializer(secret, salt="hall-console-login")

    def issue(self, name: str, epoch: int) -> str:
        return self._session.dumps({"u": name, "e": epoch, "c": secrets.token_urlsafe(24)})

    def read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._session.loads(cookie, max_age=SESSION_MAX_AGE)
            return Session(str(data["u"]), int(data["e"]), str(data["c"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None

    def login_token(self) -> tuple[str, str]:
        """(cookie, token) for the login form: the token is good only beside its cookie."""
        token = secrets.token_urlsafe(24)
        return self._login.dumps(token), token

    def login_token_matches(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        try:
            expected = self._login.loads(cookie, max_age=LOGIN_MAX_AGE)
        except BadSignature:
            return False
        return isinstance(expected, str) and hmac.compare_digest(expected, token)


def csrf_matches(session: Session | None, token: str | None) -> bool:
    return session is not None and bool(token) and hmac.compare_digest(session.csrf, str(token))


@dataclass
class LoginThrottle:
    """Failed logins per key ("addr:1.2.3.4", "user:wang"): `limit` failures within `window_s` lock the key out
    for `lockout_s`. `clock` gives seconds (time.monotonic in the app; a plain counter in tests)."""

    clock: Callable[[], float]
    limit: int = 5
    window_s: float = 300.0
    lockout_s: float = 300.0
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    def locked(self, *keys: str) -> float:
        """Seconds until every given key may try again (0: none is locked)."""
        now = self.clock()
        wait = 0.0
        for key in keys:
            until = self._locked_until.get(key)
            if until is None:
                continue
            if until <= now:
                del self._locked_until[key]
            else:
                wait = max(wait, until - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            recent = [t for t in self._failures.get(key, []) if now - t < self.window_s] + [now]
            if len(recent) >= self.limit:
                self._locked_until[key] = now + self.lockout_s
                self._failures.pop(key, None)
            else:
                self._failures[key] = recent
        if len(self._failures) > 10_000:  # a scan of many names must not grow this without end
            self._failures = {k: v for k, v in self._failures.items() if now - v[-1] < self.window_s}

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)
