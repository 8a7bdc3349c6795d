"""A local certificate authority and server certificate for halls that have none (`hall devices provision --tls`)."""

from __future__ import annotations

import socket
from pathlib import Path

from hall.tls import make_private_ca


def make_tls(tls_dir: Path, hall_id: str, hosts: list[str] | None = None, days: int = 3650) -> bool:
    """Create ca.crt/ca.key and server.crt/server.key once; returns False when they already exist. The broker's
    certificate names 127.0.0.1, localhost, this machine and `hosts`."""
    names = ["127.0.0.1", *sorted({"localhost", socket.gethostname(), *(hosts or [])} - {"127.0.0.1"})]
    return make_private_ca(tls_dir, f"hallkit {hall_id} CA", f"hallkit {hall_id} broker", names, days=days)
