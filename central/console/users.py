"""The central console's people: a small JSON file of names and argon2id hashes, and the key that signs sessions.

    users = Users(folder / "central-users.json")
    users.add("zhang", "a long password"); users.check("zhang", "a long password") → True

The file is the operator's to keep (0600): the centre's console is read-only, so a login is all a person has;
there are no roles here (every hall's own console keeps its people and roles, web/users.py).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
MIN_PASSWORD = 8

_hasher = PasswordHasher()
# checked when a name is unknown, so a wrong name costs as long as a wrong password
_DUMMY = _hasher.hash(secrets.token_hex(16))


class UserError(ValueError):
    """A refused change, in Chinese with English beside."""


class Users:
    def __init__(self, path: Path):
        self.path = Path(path)

    def _read(self) -> dict:
        if not self.path.exists():
            return {"secret": None, "users": {}}
        return json.loads(self.path.read_text(encoding="utf-8"))

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
        os.replace(tmp, self.path)

    def secret(self) -> str:
        """The key that signs sessions, made on first use and kept in the file."""
        data = self._read()
        if not data.get("secret"):
            data["secret"] = secrets.token_urlsafe(32)
            self._write(data)
        return data["secret"]

    def add(self, name: str, password: str) -> None:
        if not NAME_RE.match(name):
            raise UserError(f"用户名不合规 invalid user name: {name!r}")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"密码至少 {MIN_PASSWORD} 位 the password needs at least {MIN_PASSWORD} characters")
        data = self._read()
        data.setdefault("secret", None)
        data["users"][name] = _hasher.hash(password)
        self._write(data)

    def names(self) -> list[str]:
        return sorted(self._read()["users"])

    def check(self, name: str, password: str) -> bool:
        stored = self._read()["users"].get(name)
        try:
            return _hasher.verify(stored or _DUMMY, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


def first_user(path: Path, name: str = "admin") -> str | None:
    """A first login with a new password when the file has none (its password, to print once); else None."""
    users = Users(path)
    if users.names():
        return None
    password = secrets.token_urlsafe(12)
    users.add(name, password)
    return password
