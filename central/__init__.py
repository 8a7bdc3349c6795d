"""The central side: each hall's journal sent up to a NATS JetStream cluster, stored in PostgreSQL for one view of
many halls. It imports only the shared core (`hall/`); the halls' own code never imports it."""

STREAM = "HALLS"
SUBJECTS = "hall.>"
DURABLE = "central"


def subject(hall: str, kind: str) -> str:
    """`hall.<hall>.<type>` for an event, `hall.<hall>.decision.<op>` for a hub decision."""
    return f"hall.{hall}.{kind}"
