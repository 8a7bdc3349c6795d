

def test_event_stored_once_and_acknowledged(rig):
    hub = rig.start_hub()
    link = rig.link("kiosk-01")
    assert link.wait_connected(10)
    link.send("health", {"printer": "ok"})
    assert link.wait_drained(10)
    assert rig.count("SELECT count(*) FROM events WHERE device='kiosk-01' AND type='health'") == 1
    assert hub.counts["stored"] == 1
