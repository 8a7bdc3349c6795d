"""The private engines `hall central up` and the tests start: a NATS cluster whose port is taken between being
found free and being bound starts again on new ports."""

from __future__ import annotations

import socket

from central.services import NatsCluster, port_open
from tests.helpers.central import needs_central

pytestmark = needs_central


def test_a_port_taken_before_the_cluster_binds_it_is_chosen_again(tmp_path):
    cluster = NatsCluster(tmp_path / "nats", halls=["hall-a"])
    taken = cluster.nodes[1].route_port
    with socket.socket() as squatter:  # any program's socket, there first
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        try:
            cluster.start()
            ports = {p for n in cluster.nodes for p in (n.port, n.route_port, n.monitor_port)}
            assert taken not in ports and len(ports) == 9
            assert all(port_open(n.port) for n in cluster.nodes)
            log = (cluster.nodes[1].folder / "nats.log").read_text()
            assert "address already in use" in log  # the first start, kept in the node's log
        finally:
            cluster.stop()
