"""The central consumer: halls' messages from JetStream into PostgreSQL, each stored once.

    JetStream durable pull consumer `central` ──fetch a batch──▶ check ──▶ one transaction ──commit──▶ ack each

Any number of consumers share the one durable consumer: JetStream hands each batch to one of them. A batch is
written in one transaction and acknowledged only after it commits, so a consumer killed mid-batch leaves nothing
half-written and JetStream delivers the batch again (to it or another). Rows are keyed by their id (`ON CONFLICT
DO NOTHING`): a redelivery, or a resend from an uplink whose acknowledgement was lost, changes nothing, and the
derived tables are fed only from rows that were new.

A message is stored only as the hall its subject names: NATS lets a hall's user publish only on `hall.<hall>.>`,
and the consumer checks that the body agrees (its hall, kind, type and id). Anything else goes to `rejected` with
its subject, reason and first bytes; it is acknowledged (it will not become valid by waiting) and never stored
as any hall's data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime

from central import DURABLE, STREAM, SUBJECTS

log = logging.getLogger("hall.central")

RAW_KEEP = 2048
FETCH = 1000
# How long a fetch waits to fill its batch: a batch is written when full or when this has passed, so it bounds
# what the consumer adds to a row's way when the halls are quiet (a backlog fills batches at once)
FETCH_WAIT_S = 0.1

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,               -- the event id, unique across halls
    hall TEXT NOT NULL,
    n BIGINT NOT NULL,                 -- its rowid in the hall's journal
    device TEXT NOT NULL,
    type TEXT NOT NULL,
    seq BIGINT,
    ts TEXT,                           -- the device's clock
    received_at TEXT,                  -- the hub's clock, as journaled
    committed_at TIMESTAMPTZ,          -- received_at read as a moment (for the lag)
    data JSONB,
    res JSONB,                         -- the hub's answer to it
    stored_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
ALTER TABLE events ADD COLUMN IF NOT EXISTS res JSONB;
CREATE INDEX IF NOT EXISTS events_hall_n ON events(hall, n);
CREATE TABLE IF NOT EXISTS decisions (
    id TEXT PRIMARY KEY,               -- <hall>.q.<n>
    hall TEXT NOT NULL,
    n BIGINT NOT NULL,                 -- its id in the hall's queue_journal
    event TEXT,
    day DATE,
    at TEXT,
    committed_at TIMESTAMPTZ,
    op TEXT NOT NULL,
    args JSONB,
    result JSONB,
    stored_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS decisions_hall_n ON decisions(hall, n);
CREATE INDEX IF NOT EXISTS decisions_day ON decisions(day, hall);
CREATE TABLE IF NOT EXISTS halls (
    hall TEXT PRIMARY KEY,
    first_stored_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    last_committed_at TIMESTAMPTZ,     -- the newest row's time in the hall (its hub's clock)
    last_stored_at TIMESTAMPTZ,
    stored BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,               -- <hall>.a.<n>
    hall TEXT NOT NULL,
    n BIGINT NOT NULL,                 -- its id in the hall's alerts_journal
    at TEXT,
    committed_at TIMESTAMPTZ,
    alert TEXT NOT NULL,               -- the alert's id in its hall: raised, acknowledged, cleared share it
    rule TEXT, subject TEXT, department TEXT,
    change TEXT NOT NULL,
    data JSONB,
    stored_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS alerts_hall_alert ON alerts(hall, alert, n);
CREATE TABLE IF NOT EXISTS tickets (
    hall TEXT NOT NULL, day DATE NOT NULL, no TEXT NOT NULL,
    queue TEXT, service TEXT, priority BOOLEAN, issued_at TEXT, called_at TEXT, window_no TEXT,
    PRIMARY KEY (hall, day, no)
);
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY, hall TEXT NOT NULL, day DATE, op TEXT, ticket TEXT, queue TEXT, window_no TEXT,
    called_at TEXT
);
CREATE TABLE IF NOT EXISTS ratings (
    id TEXT PRIMARY KEY, hall TEXT NOT NULL, device TEXT, at TEXT, window_no TEXT, ticket TEXT, score INT, good BOOLEAN
);
CREATE TABLE IF NOT EXISTS punches (
    id TEXT PRIMARY KEY, hall TEXT NOT NULL, device TEXT, staff TEXT, at TEXT
);
CREATE TABLE IF NOT EXISTS case_events (
    id TEXT PRIMARY KEY, hall TEXT NOT NULL, type TEXT, at TEXT, data JSONB
);
ALTER TABLE case_events ADD COLUMN IF NOT EXISTS res JSONB;  -- the hub's answer: the case, its verdict
CREATE TABLE IF NOT EXISTS rejected (
    id BIGSERIAL PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    subject TEXT NOT NULL,
    msg_id TEXT,
    reason TEXT NOT NULL,
    raw BYTEA,
    size INT
);
"""


def create_schema(conn) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(7741)")  # several consumers starting together
        conn.execute(SCHEMA)


# ------------------------------------------------------------------------------------------------ the checks

class Refused(ValueError):
    pass


ALERT_CHANGES = ("raised", "acknowledged", "cleared")
RAW = "\0raw"  # the body's own JSON text, kept beside the parsed body (no field of a hall's can have this name)


def parse(subject: str, payload: bytes, msg_id: str | None) -> dict:
    """The message's body, checked against its subject; `Refused` with the reason otherwise."""
    parts = subject.split(".")
    if len(parts) < 3 or parts[0] != "hall" or not parts[1]:
        raise Refused(f"subject {subject!r} is not hall.<hall>.<type>")
    hall, rest = parts[1], ".".join(parts[2:])
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise Refused(f"payload is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise Refused("payload is not a JSON object")
    if b"\\u0000" in payload:  # PostgreSQL's jsonb cannot hold it: the whole batch would fail on it, again and again
        raise Refused("payload holds a NUL character (\\u0000)")
    if body.get("hall") != hall:
        raise Refused(f"payload names hall {str(body.get('hall'))[:40]!r}, the subject hall {hall!r}")
    if not isinstance(body.get("n"), int) or isinstance(body.get("n"), bool) or not 0 < body["n"] < 2**63:
        raise Refused("n (the row in the hall's journal) is not a positive integer")
    if not isinstance(body.get("id"), str) or not 0 < len(body["id"]) <= 128:
        raise Refused("id is missing or not a string of at most 128 characters")
    kind = body.get("kind")
    expected_id = f"{hall}.{body['id']}" if kind == "event" else body["id"]
    if msg_id is not None and msg_id != expected_id:
        raise Refused(f"Nats-Msg-Id {msg_id[:60]!r} is not {expected_id[:80]!r}")
    if kind == "event":
        if body.get("type") != rest:
            raise Refused(f"type {str(body.get('type'))[:40]!r} differs from the subject's {rest!r}")
        if not isinstance(body.get("device"), str) or not body["device"]:
            raise Refused("device is missing")
        seq = body.get("seq")
        if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or not -2**63 <= seq < 2**63):
            raise Refused("seq is not an integer")
    elif kind == "alert":
        if body.get("change") not in ALERT_CHANGES or rest != f"alert.{body['change']}":
            raise Refused(f"change {str(body.get('change'))[:40]!r} differs from the subject's {rest!r}")
        if body["id"] != f"{hall}.a.{body['n']}":
            raise Refused(f"an alert change's id is <hall>.a.<n>, not {body['id'][:60]!r}")
        if not isinstance(body.get("alert"), str) or not body["alert"]:
            raise Refused("alert (the alert's id) is missing")
    elif kind == "decision":
        if rest != f"decision.{body.get('op')}":
            raise Refused(f"op {str(body.get('op'))[:40]!r} differs from the subject's {rest!r}")
        if body["id"] != f"{hall}.q.{body['n']}":
            raise Refused(f"a decision's id is <hall>.q.<n>, not {body['id'][:60]!r}")
        if body.get("day") is not None and not _is_date(body["day"]):
            raise Refused(f"day {str(body['day'])[:40]!r} is not a date (YYYY-MM-DD)")
    else:
        raise Refused(f"kind {str(kind)[:40]!r} is neither event, decision nor alert")
    body[RAW] = payload.decode()
    return body


def _is_date(text) -> bool:
    if not isinstance(text, str) or len(text) != 10 or text[4] != "-" or text[7] != "-":
        return False
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


def moment(text) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else None


# ------------------------------------------------------------------------------------------------ the writer

@dataclass
class Stored:
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict:
        return {"batches": self.batches, "stored": self.stored, "duplicates": self.duplicates,
                "rejected": self.rejected}


def write_batch(conn, messages: list[tuple[str, bytes, str | None]], stored: Stored | None = None) -> Stored:
    """(subject, payload, msg id) of one batch, in one transaction: new rows, their derived rows, refusals."""
    stored = stored or Stored()
    events, decisions, alerts, refusals = {}, {}, {}, []
    for subj, payload, msg_id in messages:
        try:
            body = parse(subj, payload, msg_id)
        except Refused as err:
            refusals.append((subj, msg_id, str(err), payload[:RAW_KEEP], len(payload)))
            continue
        kept = {"event": events, "decision": decisions, "alert": alerts}[body["kind"]]
        first = kept.get(body["id"])
        if first is not None and first["hall"] != body["hall"]:  # the stream's order decides whose it is
            refusals.append((subj, msg_id, f"event id {body['id'][:60]!r} belongs to another hall",
                             payload[:RAW_KEEP], len(payload)))
            continue
        kept[body["id"]] = body
    with conn.transaction(), conn.cursor() as cur:
        new_events = _insert_events(cur, list(events.values()))
        new_decisions = _insert_decisions(cur, list(decisions.values()))
        new_alerts = _insert_alerts(cur, list(alerts.values()))
        # an id already stored by another hall: a forgery or a collision, never this hall's data
        taken = [b for b in events.values() if b["id"] not in new_events]
        if taken:
            cur.execute("SELECT id, hall FROM events WHERE id = ANY(%s)", ([b["id"] for b in taken],))
            owner = dict(cur.fetchall())
            for b in taken:
                if owner.get(b["id"]) not in (None, b["hall"]):
                    refusals.append((f"hall.{b['hall']}.{b['type']}", b["id"],
                                     f"event id {b['id'][:60]!r} belongs to another hall", b"", 0))
        _derive(cur, [events[i] for i in new_events], [decisions[i] for i in new_decisions])
        _note_halls(cur, [events[i] for i in new_events] + [decisions[i] for i in new_decisions]
                    + [alerts[i] for i in new_alerts])
        if refusals:
            cur.executemany("INSERT INTO rejected(subject, msg_id, reason, raw, size) VALUES (%s,%s,%s,%s,%s)",
                            refusals)
    stored.batches += 1
    stored.stored += len(new_events) + len(new_decisions) + len(new_alerts)
    stored.duplicates += (len(events) + len(decisions) + len(alerts)
                          - len(new_events) - len(new_decisions) - len(new_alerts))
    stored.rejected += len(refusals)
    return stored


# Each table takes a batch in one statement: columns as arrays (`unnest`, sent binary: `%b`, no quoting of the
# JSON text), and the body's own JSON text parsed by PostgreSQL (`::jsonb`), so that no row is adapted or dumped
# again one by one in Python. parse() has checked
# every field a cast reads here (n, seq, day), so a batch cannot fail on one message's text.

def _column_arrays(rows: list[tuple]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


def _insert_events(cur, bodies: list[dict]) -> set[str]:
    if not bodies:
        return set()
    cur.execute(
        "INSERT INTO events(id, hall, n, device, type, seq, ts, received_at, committed_at, data, res) "
        "SELECT b->>'id', b->>'hall', (b->>'n')::bigint, b->>'device', b->>'type', (b->>'seq')::bigint, "
        "       b->>'ts', b->>'received_at', t.committed, b->'data', b->'res' "
        "FROM unnest(%b::text[], %b::timestamptz[]) AS t(body, committed), LATERAL (SELECT t.body::jsonb AS b) j "
        "ON CONFLICT (id) DO NOTHING RETURNING id",
        ([b[RAW] for b in bodies], [moment(b.get("received_at")) for b in bodies]))
    return {row[0] for row in cur.fetchall()}


def _insert_decisions(cur, bodies: list[dict]) -> set[str]:
    if not bodies:
        return set()
    cur.execute(
        "INSERT INTO decisions(id, hall, n, event, day, at, committed_at, op, args, result) "
        "SELECT b->>'id', b->>'hall', (b->>'n')::bigint, b->>'event', (b->>'day')::date, b->>'at', t.committed, "
        "       b->>'op', b->'args', b->'result' "
        "FROM unnest(%b::text[], %b::timestamptz[]) AS t(body, committed), LATERAL (SELECT t.body::jsonb AS b) j "
        "ON CONFLICT (id) DO NOTHING RETURNING id",
        ([b[RAW] for b in bodies], [moment(b.get("at")) for b in bodies]))
    return {row[0] for row in cur.fetchall()}


def _insert_alerts(cur, bodies: list[dict]) -> set[str]:
    if not bodies:
        return set()
    cur.execute(
        "INSERT INTO alerts(id, hall, n, at, committed_at, alert, rule, subject, department, change, data) "
        "SELECT b->>'id', b->>'hall', (b->>'n')::bigint, b->>'at', t.committed, b->>'alert', b->>'rule', "
        "       b->>'subject', b->>'department', b->>'change', b->'data' "
        "FROM unnest(%b::text[], %b::timestamptz[]) AS t(body, committed), LATERAL (SELECT t.body::jsonb AS b) j "
        "ON CONFLICT (id) DO NOTHING RETURNING id",
        ([b[RAW] for b in bodies], [moment(b.get("at")) for b in bodies]))
    return {row[0] for row in cur.fetchall()}


def _note_halls(cur, bodies: list[dict]) -> None:
    """Each hall heard from in the batch: its newest time and its count, one row per hall (the console's list)."""
    seen: dict[str, list] = {}
    for b in bodies:
        at = moment(b.get("received_at") or b.get("at"))
        row = seen.setdefault(b["hall"], [None, 0])
        row[1] += 1
        if at is not None and (row[0] is None or at > row[0]):
            row[0] = at
    if seen:
        cur.executemany(
            "INSERT INTO halls(hall, last_committed_at, last_stored_at, stored) VALUES (%s,%s,clock_timestamp(),%s) "
            "ON CONFLICT (hall) DO UPDATE SET last_committed_at=greatest(halls.last_committed_at, "
            "excluded.last_committed_at), last_stored_at=excluded.last_stored_at, stored=halls.stored+excluded.stored",
            [(hall, at, n) for hall, (at, n) in sorted(seen.items())])  # sorted: consumers lock rows in one order


def _text(value) -> str | None:
    """A field as the text column keeps it: a hall's device may send a window as 3 or "3"."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _when(value) -> str | None:
    """A moment as its text, only when it reads as one with its offset: the console casts these columns, so one
    hall's garbled clock must not make a report fail for every hall."""
    return value if isinstance(value, str) and moment(value) is not None else None


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and -2**31 <= value < 2**31 else None


def merge_tickets(issues_and_calls: list[dict]) -> list[tuple]:
    """One row per ticket of a batch: its issue and its first call may both be in it (pure)."""
    merged: dict[tuple, dict] = {}
    for t in issues_and_calls:
        row = merged.setdefault((t["hall"], t["day"], t["no"]), {})
        for key in ("queue", "service", "priority", "issued_at"):
            if row.get(key) is None:
                row[key] = t.get(key)
        if t.get("called_at") is not None and (row.get("called_at") is None or t["called_at"] < row["called_at"]):
            row["called_at"] = t["called_at"]
        if t.get("window_no") is not None:
            row["window_no"] = t["window_no"]
    return [(hall, day, no, r.get("queue"), r.get("service"), r.get("priority"), r.get("issued_at"),
             r.get("called_at"), r.get("window_no")) for (hall, day, no), r in merged.items()]


def _derive(cur, events: list[dict], decisions: list[dict]) -> None:
    """The report tables, from rows stored for the first time."""
    ratings, punches, cases, tickets, calls = [], [], [], [], []
    for e in events:
        data = e.get("data") if isinstance(e.get("data"), dict) else {}
        if e["type"] == "rating":
            score = _int(data.get("score"))
            ratings.append((e["id"], e["hall"], e["device"], _when(e.get("ts")), _text(data.get("window")),
                            _text(data.get("ticket")), score, score is not None and score >= 3))
        elif e["type"] == "punch":
            punches.append((e["id"], e["hall"], e["device"], _text(data.get("staff")), _when(data.get("at"))))
        elif e["type"].startswith("case_"):
            cases.append((e["id"], e["hall"], e["type"], _when(e.get("received_at")) or _when(e.get("ts")), e[RAW]))
    for d in decisions:
        result = d.get("result") if isinstance(d.get("result"), dict) else {}
        ticket = result.get("ticket") if isinstance(result.get("ticket"), dict) else None
        if not result.get("ok") or not ticket or not d.get("day") or ticket.get("no") is None:
            continue
        base = {"hall": d["hall"], "day": d["day"], "no": _text(ticket.get("no"))}
        if d["op"] == "issue":
            tickets.append({**base, "queue": _text(ticket.get("queue")), "service": _text(ticket.get("service")),
                            "priority": bool(ticket.get("priority")),
                            "issued_at": _when(ticket.get("issued_at")) or _when(d.get("at"))})
        elif d["op"] in ("call_next", "call_ticket"):
            at = _when(ticket.get("called_at")) or _when(d.get("at"))
            tickets.append({**base, "queue": _text(ticket.get("queue")), "called_at": at,
                            "window_no": _text(ticket.get("window"))})
            calls.append((d["id"], d["hall"], d["day"], d["op"], base["no"], _text(ticket.get("queue")),
                          _text(ticket.get("window")), at))
    if ratings:
        cur.execute("INSERT INTO ratings SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], "
                    "%b::text[], %b::text[], %b::int[], %b::bool[]) ON CONFLICT DO NOTHING", _column_arrays(ratings))
    if punches:
        cur.execute("INSERT INTO punches SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], "
                    "%b::text[]) ON CONFLICT DO NOTHING", _column_arrays(punches))
    if cases:
        cur.execute("INSERT INTO case_events(id, hall, type, at, data, res) "
                    "SELECT id, hall, type, at, body::jsonb->'data', body::jsonb->'res' "
                    "FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[]) "
                    "AS t(id, hall, type, at, body) ON CONFLICT DO NOTHING", _column_arrays(cases))
    if tickets:
        # issue and call may arrive in either order (several consumers): each fills its own columns
        cur.execute(
            "INSERT INTO tickets(hall, day, no, queue, service, priority, issued_at, called_at, window_no) "
            "SELECT * FROM unnest(%b::text[], %b::date[], %b::text[], %b::text[], %b::text[], %b::bool[], "
            "%b::text[], %b::text[], %b::text[]) ON CONFLICT (hall, day, no) DO UPDATE SET "
            "queue=coalesce(tickets.queue, excluded.queue), service=coalesce(tickets.service, excluded.service), "
            "priority=coalesce(tickets.priority, excluded.priority), "
            "issued_at=coalesce(tickets.issued_at, excluded.issued_at), "
            "called_at=least(tickets.called_at, excluded.called_at), "
            "window_no=coalesce(excluded.window_no, tickets.window_no)", _column_arrays(merge_tickets(tickets)))
    if calls:
        cur.execute("INSERT INTO calls SELECT * FROM unnest(%b::text[], %b::text[], %b::date[], %b::text[], "
                    "%b::text[], %b::text[], %b::text[], %b::text[]) ON CONFLICT DO NOTHING", _column_arrays(calls))


# ------------------------------------------------------------------------------------------------ the loop

async def note_nats_error(err: Exception) -> None:
    """A connection's trouble (a server away, a TLS peer closing untidily): the client reconnects by itself, so
    it is noted, not shouted with a traceback as nats-py's default does."""
    log.info("central: NATS: %s: %s", type(err).__name__, err)


async def ensure_stream(js, replicas: int = 3, timeout: float = 30.0) -> None:
    """The stream every hall publishes to, replicated `replicas` times; waits for the cluster to elect leaders."""
    from nats.js.api import StreamConfig

    config = StreamConfig(name=STREAM, subjects=[SUBJECTS], num_replicas=replicas, duplicate_window=600.0,
                          max_msg_size=1024 * 1024)
    end = time.monotonic() + timeout
    while True:
        try:
            await js.add_stream(config)
            return
        except Exception as err:
            if "already in use" in str(err):  # created by another consumer: the same config is fine
                return
            if time.monotonic() > end:
                raise
            await asyncio.sleep(0.3)


def create_stream(connect: dict, replicas: int = 3) -> None:
    """The stream, made once when the central side is set up (the consumers also make it if it is missing)."""
    import nats

    async def make():
        nc = await nats.connect(error_cb=note_nats_error, **connect)
        try:
            await ensure_stream(nc.jetstream(), replicas)
        finally:
            await nc.close()

    asyncio.run(make())


class Consumer:
    def __init__(self, conninfo: str, connect: dict, *, durable: str = DURABLE, fetch: int = FETCH,
                 replicas: int = 3, ack_wait_s: float = 30.0, fetch_wait_s: float = FETCH_WAIT_S):
        self.fetch_wait_s = fetch_wait_s
        self.ack_wait_s = ack_wait_s
        self.conninfo = conninfo
        self.connect_options = connect
        self.durable = durable
        self.fetch = fetch
        self.replicas = replicas
        self.stored = Stored()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, idle_exit_s: float | None = None) -> Stored:
        """Until `stop()`, or until nothing has come for `idle_exit_s` seconds."""
        import nats
        import psycopg
        from nats.js.api import AckPolicy, ConsumerConfig

        nc = await nats.connect(max_reconnect_attempts=-1, reconnect_time_wait=0.5, error_cb=note_nats_error,
                                **self.connect_options)
        js = nc.jetstream()
        await ensure_stream(js, self.replicas)
        config = ConsumerConfig(durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait_s,
                                max_ack_pending=50_000, filter_subject=SUBJECTS)
        sub = None
        while sub is None:
            try:
                sub = await js.pull_subscribe(SUBJECTS, durable=self.durable, stream=STREAM, config=config)
            except Exception as err:  # the stream's leader being elected, say: again shortly
                log.warning("central: consumer %s not ready: %s: %s", self.durable, type(err).__name__, err)
                if self._stopping.is_set():
                    return self.stored
                await asyncio.sleep(0.3)
        self.conn = await asyncio.to_thread(psycopg.connect, self.conninfo, autocommit=True)
        await asyncio.to_thread(create_schema, self.conn)
        idle_since = time.monotonic()
        writing = None  # the batch being written while the next one is fetched
        try:
            while not self._stopping.is_set():
                try:
                    msgs = await sub.fetch(self.fetch, timeout=self.fetch_wait_s)
                except Exception as err:  # a timeout with nothing waiting, or a node away: fetch again
                    if "timeout" not in type(err).__name__.lower() and "timeout" not in str(err).lower():
                        log.warning("central: fetch failed: %s", err)
                        await asyncio.sleep(0.3)
                    if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                        break
                    continue
                if not msgs:
                    # nats-py answers a fetch the server expired first (its 408) with no messages rather than a
                    # timeout, which on a busy machine is the usual way: idle just the same
                    if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                        break
                    await asyncio.sleep(0.01)
                    continue
                idle_since = time.monotonic()
                if writing is not None:  # one transaction at a time on the connection, in the stream's order
                    await writing
                writing = asyncio.create_task(self._write_and_ack(msgs))
            if writing is not None:
                await writing
        finally:
            if writing is not None and not writing.done():
                writing.cancel()
            self.conn.close()
            await nc.close()
        return self.stored

    async def _write_and_ack(self, msgs) -> None:
        batch = [(m.subject, m.data, (m.headers or {}).get("Nats-Msg-Id")) for m in msgs]
        self.conn = await self._write(self.conn, batch)
        for m in msgs:  # only after the commit
            await m.ack()

    async def _write(self, conn, batch):
        """Write a batch, reconnecting to PostgreSQL (restarted, say) until it commits."""
        import psycopg

        while True:
            try:
                await asyncio.to_thread(write_batch, conn, batch, self.stored)
                return conn
            except psycopg.OperationalError as err:
                log.warning("central: PostgreSQL: %s; writing the batch again", err)
                conn.close()
                while True:
                    await asyncio.sleep(0.5)
                    try:
                        conn = await asyncio.to_thread(psycopg.connect, self.conninfo, autocommit=True)
                        break
                    except psycopg.OperationalError:
                        if self._stopping.is_set():
                            raise
