"""What the hub says of the broker's session: nothing alarming on a first start, a warning when it is lost."""

import logging

from tests.helpers.rig import wait_for

SAYS = "the broker had no session for the hub"


def records(caplog, level):
    return [r for r in caplog.records if SAYS in r.getMessage() and r.levelno == level]


def test_a_first_start_is_no_fault_and_a_lost_session_is(rig, caplog):
    caplog.set_level(logging.INFO, logger="hub")
    hub = rig.start_hub()
    assert records(caplog, logging.INFO) and not records(caplog, logging.WARNING)
    # killed before its first autosave, the broker comes back without the hub's session
    rig.restart_broker(kill=True)
    wait_for(lambda: records(caplog, logging.WARNING), 20, "the lost session named")
    assert hub.connection.generation == 2
