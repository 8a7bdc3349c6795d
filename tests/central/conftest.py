from __future__ import annotations

import pytest

from central.consumer import create_stream
from central.services import NatsCluster, Postgres, missing
from tests.helpers.central import fresh_database


@pytest.fixture(scope="session")
def pg(tmp_path_factory):
    """One PostgreSQL for the folder; each test has its own database on it."""
    if missing():
        pytest.skip(f"the central engines are missing: {missing()}")
    server = Postgres(tmp_path_factory.mktemp("pg")).start()
    yield server
    server.stop("immediate")
    server.remove()


@pytest.fixture
def database(pg) -> str:
    return fresh_database(pg)


@pytest.fixture
def cluster(tmp_path):
    """A 3-node JetStream cluster with two halls' logins."""
    if missing():
        pytest.skip(f"the central engines are missing: {missing()}")
    nats = NatsCluster(tmp_path / "nats", halls=["hall-a", "hall-b"]).start()
    create_stream(nats.login("central"))
    yield nats
    nats.stop()
