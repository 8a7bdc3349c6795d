"""A simulated bus on a pseudo-terminal and a master on it, shared by the bus tests."""

import pytest

from devices.bus.master import BusMaster, open_port
from devices.bus.simulator import BusSimulator


@pytest.fixture
def sim():
    s = BusSimulator().add_keypad(3).add_keypad(4).add_rating_pad(103).add_window_screen(5).add_strip(101)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def master(sim):
    m = BusMaster(open_port(sim.port))
    yield m
    m.close()
