"""Broker logins and where the broker is: what every agent needs to connect.

`secrets.toml` in the data directory (mode 0600, never in git) holds one password per device and the hub;
`broker/endpoint.json` records the port (and TLS CA) of the broker this data directory's hall runs, so a second
command (`hall stats`, `hall window`) finds it while `hall up` runs.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Secrets:
    """Broker logins of a hall: every device and the hub. Kept outside git with mode 0600."""

    path: Path
    passwords: dict[str, str] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path) -> Secrets:
        if not path.exists():
            return cls(path)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(path, dict(data.get("passwords", {})), set(data.get("revoked", [])))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["# Broker logins of this hall. Keep secret: mode 0600, never in git.",
                 "revoked = [" + ", ".join(f'"{r}"' for r in sorted(self.revoked)) + "]", "", "[passwords]"]
        lines += [f'"{k}" = "{v}"' for k, v in sorted(self.passwords.items())]
        lines += [""]
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def password(self, user: str) -> str | None:
        return None if user in self.revoked else self.passwords.get(user)


@dataclass
class Endpoint:
    host: str = "127.0.0.1"
    port: int = 1883
    protocol: int = 5  # 5 for MQTT v5; 4 (3.1.1) for the embedded fallback broker
    tls_ca: str | None = None
    tls_port: int | None = None

    @staticmethod
    def path(data_dir: Path) -> Path:
        return Path(data_dir) / "broker" / "endpoint.json"

    @classmethod
    def load(cls, data_dir: Path) -> Endpoint | None:
        try:
            return cls(**json.loads(cls.path(data_dir).read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def save(self, data_dir: Path) -> None:
        p = self.path(data_dir)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(asdict(self)))
