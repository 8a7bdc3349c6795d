"""A private certificate authority for a central NATS cluster that has none: `ca.crt`, and one certificate for
the servers (`server.crt`, usable by a server and, on the cluster's routes, as a client of another server).

A real deployment uses the province's own CA (docs/operations.md); this one serves `hall central up` and the tests.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from hall.tls import make_private_ca


def make_ca(folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"), days: int = 3650) -> Path:
    """ca.crt, server.crt and their keys in `folder`, once; returns the folder."""
    # a route is a server dialling another server: the same certificate is client and server there
    make_private_ca(folder, "hallkit central CA", "hallkit central nats", hosts, days=days, client_too=True)
    return Path(folder)


def client_context(ca_file: Path | str) -> ssl.SSLContext:
    """What a hall or a consumer trusts: this CA only, the server's name checked."""
    return ssl.create_default_context(cafile=str(ca_file))
