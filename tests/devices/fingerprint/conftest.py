"""Fixtures for the fingerprint tests: simulated sensors on pseudo-terminals, the real pyfingerprint on top."""

from __future__ import annotations

import pytest

from devices.fingerprint.simulator import SensorSimulator


@pytest.fixture
def sensor_sim():
    """A factory of started simulators, all stopped at the end of the test."""
    made: list[SensorSimulator] = []

    def make(profile: str = "r307", **kw) -> SensorSimulator:
        sim = SensorSimulator(profile, **kw).start()
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.stop()


@pytest.fixture
def sim(sensor_sim):
    return sensor_sim()


@pytest.fixture
def hall():
    from hall.settings import load_hall

    return load_hall()
