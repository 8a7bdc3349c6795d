"""Simulated people for `hall up`, demos and load runs: citizens and clerks (queue), clerks at caller keypads
(keypads), staff at fingerprint terminals (punches). Each drives the real devices or links, never the hub itself."""
