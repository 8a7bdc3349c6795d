"""TLS between the halls and the cluster: a hall's uplink over TLS with the cluster's CA, and a plain connection
refused; the servers' routes are TLS too."""

from __future__ import annotations

import asyncio
import json
import socket

import nats
import pytest

from central.consumer import Consumer, create_stream
from central.services import NatsCluster, missing
from central.uplink import Uplink
from hallctl.commands.central import SimulatedHall
from tests.helpers.central import fresh_database, journal_rows, needs_central, stored

pytestmark = needs_central


@pytest.fixture
def tls_cluster(tmp_path):
    if missing():
        pytest.skip(f"the central engines are missing: {missing()}")
    cluster = NatsCluster(tmp_path / "nats", halls=["hall-a"], tls=True).start()
    create_stream(cluster.login("central"))
    yield cluster
    cluster.stop()


def test_a_hall_sends_over_tls_and_a_plain_connection_is_refused(tmp_path, tls_cluster, pg):
    cluster = tls_cluster
    database = fresh_database(pg)
    hall = SimulatedHall("hall-a", tmp_path / "hall-a")
    hall.backlog(200)
    hall.close()
    journal = tmp_path / "hall-a" / "hub.db"
    assert all(url.startswith("tls://") for url in cluster.urls)

    async def scenario():
        sent = await Uplink("hall-a", journal, cluster.login("hall-a")).drain()
        got = await Consumer(database, cluster.login("central")).run(idle_exit_s=1.5)
        plain = {**cluster.login("hall-a"), "servers": [n.url for n in cluster.nodes]}
        del plain["tls"]
        refused = None
        try:
            nc = await nats.connect(**plain, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
            await nc.close()
        except Exception as err:
            refused = err
        return sent, got, refused

    sent, got, refused = asyncio.run(scenario())
    assert sent.events + sent.decisions + sent.alerts == journal_rows(journal) == got.stored == stored(database)
    assert refused is not None, "a plain connection was let in"
    # what a plain client sees: the server asks for TLS first, and answers a plain CONNECT with an error
    with socket.create_connection(("127.0.0.1", cluster.nodes[0].port), timeout=5) as s:
        info = json.loads(s.recv(4096).decode().split(" ", 1)[1])
        assert info["tls_required"] is True
        s.sendall(b'CONNECT {"user":"hall-a","pass":"x"}\r\nPING\r\n')
        try:
            answer = s.recv(4096)
        except (ConnectionResetError, TimeoutError):
            answer = b""
        assert b"PONG" not in answer
