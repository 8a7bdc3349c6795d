"""The console's own people: users, their roles and passwords, and the audit log of every change.

They live in `<data>/console.db` (0600 in a 0700 folder), apart from the hub's journal: the hub knows devices, the
console knows the people at its screens. Passwords are hashed with argon2id (argon2-cffi). Each user has an
`epoch`: a reset or a removal raises it, and every session signed with an older epoch stops working at once.

    db = open_db(data_dir)
    add_user(db, "wang", "department", "scjg", "a long password")
    list_users(db); reset_password(db, "wang", "another one"); remove_user(db, "wang")
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hall.clock import stamp
from hall.files import private_folder, private_sqlite_file
from web.roles import ROLES

DB_NAME = "console.db"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    department TEXT,             -- for a department head: the only department they see
    password_hash TEXT NOT NULL, -- argon2id
    epoch INTEGER NOT NULL DEFAULT 0,  -- sessions signed with an older epoch are void
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    by TEXT NOT NULL,            -- the console user, or "cli" for the hall command
    action TEXT NOT NULL,        -- user_add, user_remove, password_reset, alert_ack, login, ...
    subject TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_hasher = PasswordHasher()
# verified when a name is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class UserError(ValueError):
    """A refused change, in Chinese with English beside."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    department: str | None
    epoch: int
    created_at: str

    def public(self) -> dict:
        return {"name": self.name, "role": self.role, "department": self.department, "created_at": self.created_at}


def db_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / DB_NAME


def open_db(data_dir: Path | str) -> sqlite3.Connection:
    """The console's database in the data folder, created 0600 if missing."""
    path = db_path(data_dir)
    private_folder(path.parent)
    private_sqlite_file(path)
    db = sqlite3.connect(path, timeout=10, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=5000")
    db.executescript(SCHEMA)
    return db


def connect(data_dir: Path | str) -> sqlite3.Connection:
    """A connection to a console.db that open_db has made (one per request in the app)."""
    db = sqlite3.connect(db_path(data_dir), timeout=10, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=5000")
    return db


def _user(row) -> User | None:
    return User(*row) if row else None


def get_user(db: sqlite3.Connection, name: str) -> User | None:
    return _user(db.execute("SELECT name, role, department, epoch, created_at FROM users WHERE name=?",
                            (name,)).fetchone())


def list_users(db: sqlite3.Connection) -> list[User]:
    rows = db.execute("SELECT name, role, department, epoch, created_at FROM users ORDER BY name").fetchall()
    return [User(*r) for r in rows]


def check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少 {MIN_PASSWORD} 个字符 the password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"密码最多 {MAX_PASSWORD} 个字符 the password may have at most {MAX_PASSWORD} characters")


def add_user(db: sqlite3.Connection, name: str, role: str, department: str | None, password: str, *,
             by: str = "cli", departments: set[str] | None = None) -> User:
    """Create a user. A department head needs a department (one of `departments` when given); others have none."""
    if not NAME_RE.match(name or ""):
        raise UserError(f"用户名无效 invalid user name {name!r}: letters, digits, . _ - (at most 32)")
    if role not in ROLES:
        raise UserError(f"未知角色 unknown role {role!r}: one of {', '.join(ROLES)}")
    if role == "department":
        if not department:
            raise UserError("部门负责人需要部门 a department head needs --department")
        if departments is not None and department not in departments:
            raise UserError(f"未知部门 unknown department {department!r}")
    elif department:
        raise UserError(f"只有部门负责人有部门 only a department head has a department (role {role!r})")
    check_password(password)
    with db:
        if get_user(db, name) is not None:
            raise UserError(f"用户已存在 user {name!r} already exists")
        db.execute("INSERT INTO users(name, role, department, password_hash, created_at) VALUES (?,?,?,?,?)",
                   (name, role, department or None, _hasher.hash(password), stamp()))
        audit(db, by, "user_add", name, {"role": role, "department": department})
    return get_user(db, name)


def remove_user(db: sqlite3.Connection, name: str, *, by: str = "cli") -> None:
    with db:
        if db.execute("DELETE FROM users WHERE name=?", (name,)).rowcount == 0:
            raise UserError(f"没有此用户 no user {name!r}")
        audit(db, by, "user_remove", name)


def reset_password(db: sqlite3.Connection, name: str, password: str, *, by: str = "cli") -> None:
    """A new password; the user's open sessions end."""
    check_password(password)
    with db:
        if db.execute("UPDATE users SET password_hash=?, epoch=epoch+1 WHERE name=?",
                      (_hasher.hash(password), name)).rowcount == 0:
            raise UserError(f"没有此用户 no user {name!r}")
        audit(db, by, "password_reset", name)


def verify(db: sqlite3.Connection, name: str, password: str) -> User | None:
    """The user if the password is theirs; None otherwise (as slowly for an unknown name as for a wrong password)."""
    row = db.execute("SELECT password_hash FROM users WHERE name=?", (name,)).fetchone()
    try:
        _hasher.verify(row[0] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row[0]):
        with db:
            db.execute("UPDATE users SET password_hash=? WHERE name=?", (_hasher.hash(password), name))
    return get_user(db, name)


def audit(db: sqlite3.Connection, by: str, action: str, subject: str | None = None, detail: dict | None = None) -> None:
    """Note a change; the caller commits it with its own change (`with db:`)."""
    db.execute("INSERT INTO audit(at, by, action, subject, detail) VALUES (?,?,?,?,?)",
               (stamp(), by, action, subject, json.dumps(detail or {}, ensure_ascii=False)))


def audit_log(db: sqlite3.Connection, limit: int = 200) -> list[dict]:
    rows = db.execute("SELECT at, by, action, subject, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,))
    return [{"at": a, "by": b, "action": c, "subject": s, "detail": json.loads(d)} for a, b, c, s, d in rows]


def session_secret(db: sqlite3.Connection) -> str:
    """The key that signs this console's session cookies, made once and kept in console.db."""
    with db:
        db.execute("INSERT OR IGNORE INTO settings VALUES ('session_secret', ?)", (secrets.token_urlsafe(32),))
    return db.execute("SELECT value FROM settings WHERE key='session_secret'").fetchone()[0]


def new_password() -> str:
    """A random password to print once (e.g. for the first admin)."""
    return secrets.token_urlsafe(12)
