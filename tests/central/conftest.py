from __future__ import annotations

import pytest

from central.consumer import create_stream
from central.services import NatsCluster, Postgres, missing
from tests.helpers.central import CONFIG_HALL, TEST_HALLS, fresh_database, fresh_stream


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


@pytest.fixture(scope="session")
def shared_cluster(tmp_path_factory):
    """One 3-node JetStream cluster for every test that kills none of its servers: starting one takes seconds."""
    if missing():
        pytest.skip(f"the central engines are missing: {missing()}")
    nats = NatsCluster(tmp_path_factory.mktemp("nats"), halls=[*TEST_HALLS, CONFIG_HALL]).start()
    yield nats
    nats.stop()


@pytest.fixture
def cluster(shared_cluster):
    """The shared cluster with a new, empty stream (and so no consumer and no duplicate window of a test before):
    each test sees only its own messages."""
    fresh_stream(shared_cluster.login("central"))
    return shared_cluster


@pytest.fixture
def fresh_cluster(tmp_path):
    """A 3-node JetStream cluster of its own, for a test that kills its servers."""
    if missing():
        pytest.skip(f"the central engines are missing: {missing()}")
    nats = NatsCluster(tmp_path / "nats", halls=list(TEST_HALLS)).start()
    create_stream(nats.login("central"))
    yield nats
    nats.stop()
