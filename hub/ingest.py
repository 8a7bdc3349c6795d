"""Hub ingest: validate, de-duplicate and store every event once, then acknowledge.

One thread does all of it: it drives the hub's MQTT connection itself (hub/connection.py), stores what it read in
one transaction (events by id and rejections with their reasons, hub/journal.py; the devices' watermarks,
hub/devices.py; the domains' own rows), and only after the commit sends what the world may now hear.

A burst (34 windows calling in the same moment) is read whole before it is stored, then decided and committed in
parts of a few milliseconds of work. After each commit, what someone is waiting for goes out at once: calls,
answers, errors. What can wait, waits until nothing has come for QUIET (or HOLD_MAX at most): the domains'
derived rows and retained state (window and queue state, the calls list; Domain.flush), the devices' cumulative
`ack` and the MQTT PUBACKs of the stored events, which wait for the journal to be on disk (Journal.sync). Of a
retained topic only its latest value matters, so a burst of 34 calls sends the `calls` list once, and the last
call of a burst is not queued behind the state of the first.

Each message is stored or rejected in a savepoint of its own, so one that fails rolls back alone; when the
storage itself fails (a full disk), nothing is acknowledged, the hub says it is degraded and tries the same
messages again after a pause.
"""

from __future__ import annotations

import gc
import json
import logging
import re
import threading
import time
from pathlib import Path

from hall import __version__
from hall.clock import now as clock_now
from hall.clock import stamp
from hall.mqtt import login, resolve_endpoint
from hall.protocol import (
    BAD_CHARS,
    INTERNAL,
    INVALID_ENVELOPE,
    INVALID_JSON,
    MAX_INT,
    REQUEST_TYPES,
    UNKNOWN_DEVICE,
    Ack,
    Answer,
    HubStatus,
    ProtocolError,
    Rejection,
    decode_event,
    dumps,
    hub_topic,
    json_text,
    parse_topic,
)
from hall.settings import HUB_ID, Hall
from hub.connection import CONNECTED, HubConnection, Payload
from hub.devices import DeviceCursor, Devices
from hub.domain import Emit, Event
from hub.journal import Journal, storage_cause

log = logging.getLogger("hub")

BATCH_MAX = 500       # messages read before they are stored
# work on one transaction before committing it, sending what it decided and going on with a new one: a commit is
# cheap (the disk flush waits for _release), and the broker and the screens take the first calls of a burst on the
# other core while the hub decides the rest
BATCH_BUDGET = 0.003
# messages closer than this belong to one burst (a queued burst reads far faster); every burst waits this long
# after its last message before it is decided
GATHER_GAP = 0.0002
GATHER_MAX = 0.005    # ... read for this long at most before storing what came
QUIET = 0.01          # a burst is over when nothing came for this long: then what was held goes out
HOLD_MAX = 0.025      # and at the latest this long after it was first held, however busy the hub is
TICK = 1.0            # the domains' clock work, about once a second
IDLE_WAIT = 0.2       # select timeout when there is nothing to do: how soon a stop or a tick is noticed
# When the journal cannot be written (a full disk, an I/O error), the hub says so in its status and tries the same
# messages again after a pause that doubles up to BACKOFF_MAX: nothing is acknowledged, so nothing is lost, and a
# disk that stays full costs a retry every half minute, not sixty a second.
BACKOFF_MIN, BACKOFF_MAX = 0.5, 30.0
BACKLOG_MAX = 4 * BATCH_MAX  # messages read and held while backing off; the broker keeps the rest
EVENT_ID = re.compile(r"^[0-9A-Za-z-]{8,64}$")  # the envelope's id, as hall.protocol.Envelope accepts it


class Hub:
    """The hall's hub: `start()` connects and runs the hub's one thread; `stop()` sends what is held, says
    offline and closes the journal."""

    def __init__(self, hall: Hall, data_dir: Path | str, *, host: str | None = None, port: int | None = None,
                 password: str | None = None, tls_ca: str | None = None, domains: list | None = None,
                 subscribe_prefix: str = ""):
        self.hall = hall
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / "hub.db"
        self.endpoint = resolve_endpoint(hall, self.data_dir, host, port, tls_ca)
        self._password = login(self.data_dir, HUB_ID, password)
        if domains is None:
            from hub.domains import load_domains
            domains = load_domains(hall)
        self.domains = domains
        self._by_type = {t: d for d in domains for t in d.types}
        # what a domain keeps out of the journal (an ID number becomes a keyed hash and its last 4 characters)
        self._redactors = {t: d.redact for d in domains if hasattr(d, "redact") for t in d.types}
        self._share = subscribe_prefix  # e.g. "$share/hub/" when several hubs consume one hall
        self._hub_prefix = hub_topic(hall.id, "")
        self._held: dict[str, Payload] = {}  # retained topic → its latest payload, sent when the socket is quiet
        self._held_pubacks: list[tuple[int, int]] = []  # (mid, generation) of stored events
        self._answers: list[tuple[str, Payload]] = []  # res and err of a burst, sent after its announcements
        self._announced = False  # the burst being decided has announced something: its answers wait for its end
        self._held_since = 0.0
        self._busy_at = 0.0  # when the last batch was stored
        self._unflushed = False  # events stored whose derived rows and retained state the domains owe
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._opened = threading.Event()
        self._failure: BaseException | None = None
        self.counts = {"stored": 0, "duplicates": 0, "rejected": 0, "rejected_dropped": 0, "storage_failures": 0}
        self.degraded: str | None = None  # why the journal cannot be written now, e.g. "disk_full"
        self._backoff = BACKOFF_MIN
        self._backoff_until = 0.0
        self._thread = threading.Thread(target=self._run, name="hub", daemon=True)
        self.connection: HubConnection | None = None
        # opened on the hub's thread, which alone uses them
        self.journal: Journal | None = None
        self.db = None
        self.devices: Devices | None = None

    @property
    def client(self):
        """The paho client under the hub's connection."""
        return self.connection.client if self.connection is not None else None

    @property
    def connected(self) -> bool:
        return self.connection is not None and self.connection.connected

    # ------------------------------------------------------------ life

    def start(self) -> Hub:
        root = f"hall/v1/{self.hall.id}"
        self.connection = HubConnection(
            self.endpoint, self._password,
            subscriptions=[f"{self._share}{root}/+/evt/#", f"{self._share}{root}/+/status"],
            will=(hub_topic(self.hall.id, "status"), dumps(self._status("offline"))),
            stop=self._stop, read_max=BATCH_MAX)
        self.connection.open()
        self._thread.start()
        if not self._opened.wait(60):
            raise RuntimeError(f"the hub could not open its journal {self.db_path}")
        if self._failure:
            raise self._failure
        return self

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self._ready.wait(timeout)

    def is_alive(self) -> bool:
        """Still serving: no message, however malformed, can bring the hub's thread down."""
        return self._thread.is_alive()

    def request_stop(self) -> None:
        """Safe from any thread or a signal handler: the hub finishes its batch, says offline and leaves."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def run_forever(self) -> None:
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def _run(self) -> None:
        try:
            self._open()
        except BaseException as err:
            self._failure = err
            self._opened.set()
            return
        self._opened.set()
        try:
            self._serve()
        finally:
            try:
                self._sign_off()
            finally:
                self.journal.close()

    def _open(self) -> None:
        """This thread owns the connection: open the journal and let the domains rebuild their state."""
        self.journal = Journal(self.db_path, self.hall.tz, self.counts)
        self.db = self.journal.db
        self.devices = Devices(self.db, self.hall)
        self._pending_emit = Emit()
        with self.db.atomic():
            for domain in self.domains:
                domain.setup(self.db, self._pending_emit)
                domain.flush(self.db, self._pending_emit)

    def _serve(self) -> None:
        last_tick = 0.0
        connection = self.connection
        while not self._stop.is_set():
            timeout = IDLE_WAIT
            if self._holding():
                timeout = max(0.0, min(self._busy_at + QUIET, self._held_since + HOLD_MAX) - time.monotonic())
            backing_off = time.monotonic() < self._backoff_until
            if backing_off:
                timeout = min(timeout, self._backoff_until - time.monotonic())
            connection.pump(timeout, read=not backing_off or len(connection.incoming) < BACKLOG_MAX)
            if backing_off:
                continue
            if connection.incoming:
                self._gather()
                batch, connection.incoming = connection.incoming, []
                # the collector's passes wait until the burst is decided and sent, so none lands in the middle of
                # one; a batch is BATCH_MAX messages at most, so what piles up meanwhile is bounded
                gc.disable()
                try:
                    while batch:
                        batch = self._process(batch)
                    self._send_answers()
                    self._recovered()
                except Exception as err:
                    # nothing of this part was stored or acknowledged: keep it and try again after a pause
                    connection.incoming[:0] = batch
                    self._failed("storing events", err)
                finally:
                    gc.enable()
                self._busy_at = time.monotonic()
            now = time.monotonic()
            if now < self._backoff_until:
                continue
            try:
                if self._holding() and (now >= self._busy_at + QUIET or now >= self._held_since + HOLD_MAX):
                    self._release()
                # the clock's work (closing days, checkpointing the journal) between bursts, never in one
                if now - last_tick >= TICK and (not self._holding() or now - last_tick >= 2 * TICK):
                    last_tick = now
                    self._tick()
            except Exception as err:  # what is held stays held and is tried again after a pause; the hall goes on
                self._failed("writing derived rows", err)
                self._held_since = self._busy_at = time.monotonic()

    def _gather(self) -> None:
        """A burst arrives over a few milliseconds: read on while it keeps coming (gaps under GATHER_GAP, for
        GATHER_MAX at most) so that it is decided and committed as one batch, not as many."""
        incoming = self.connection.incoming
        end = time.monotonic() + GATHER_MAX
        while len(incoming) < BATCH_MAX and time.monotonic() < end:
            before = len(incoming)
            self.connection.pump(GATHER_GAP)
            if len(incoming) == before:
                return

    def _sign_off(self) -> None:
        """Stopping: what is held, then "offline" (retained; the last will covers a crash), then goodbye."""
        if not self.connection.connected:
            return
        self._release()
        self.connection.sign_off(hub_topic(self.hall.id, "status"), self._status("offline"))

    # ------------------------------------------------------------ degraded and back

    def _failed(self, what: str, err: Exception) -> None:
        """The journal could not be written: pause before trying again, and say why in the hub's status."""
        cause = storage_cause(err) or "internal"
        self.counts["storage_failures"] += 1
        self._backoff_until = time.monotonic() + self._backoff
        if cause != self.degraded:
            log.error("hub failed %s (%s); trying again in %.1f s", what, cause, self._backoff, exc_info=err)
            self.degraded = cause
            self._say_status(error=f"{type(err).__name__}: {err}")
        else:
            log.warning("hub still failing %s (%s: %s); again in %.1f s", what, cause, err, self._backoff)
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    def _recovered(self) -> None:
        self._backoff = BACKOFF_MIN
        if self.degraded is not None:
            log.warning("hub is storing events again (was %s)", self.degraded)
            self.degraded = None
            self._say_status()

    def _say_status(self, error: str | None = None) -> None:
        if self.connection.connected:
            self.connection.publish_retained(hub_topic(self.hall.id, "status"), self._status(error=error))

    def _status(self, state: str | None = None, error: str | None = None) -> HubStatus:
        """online, offline, or degraded with its cause (and the error, when there is one) while the journal cannot
        be written."""
        if state is None:
            state = "degraded" if self.degraded else "online"
        status = {"state": state, "kind": "hub", "version": __version__, "ts": stamp()}
        if state == "degraded":
            status["cause"] = self.degraded
        if error is not None:
            status["error"] = error
        return HubStatus.build(**status)

    # ------------------------------------------------------------ storing

    def _tick(self) -> None:
        emit = Emit()
        moment = clock_now(self.hall.tz)
        with self.db.atomic():
            for domain in self.domains:
                domain.tick(self.db, moment, emit)
        self._publish(emit)
        self.journal.checkpoint()

    def _process(self, batch: list) -> list:
        """Store a batch in one transaction, then send its announcements (its answers follow the burst's last
        announcement, its acknowledgements a quiet moment). Returns what it left for the next transaction: after
        BATCH_BUDGET of work it commits what it has, so the first calls of a burst are announced while the hub
        decides the rest.

        Each event message is stored or rejected within a savepoint of its own: whatever goes wrong with one
        message (a bug, a value the journal will not take) rolls back that message alone, which is then kept in
        `rejected` as `internal`. Only a failure of the storage itself (a full disk) fails the batch."""
        started = time.perf_counter()
        rest: list = []
        emit = self._pending_emit
        pending = len(emit.messages)  # the domains' state from setup, before the first batch
        self._pending_emit = Emit()
        acks: list[tuple[int, int]] = []       # (mid, generation) to PUBACK after the commit
        handled: list[tuple[str, int | None, str | None]] = []  # (device, seq, event id) whose seq now counts
        announce = False
        before: dict[str, DeviceCursor | None] = {}
        try:
            with self.db.atomic():
                seen_now: dict[str, tuple] = {}
                for i, (item, generation) in enumerate(batch):
                    if i and time.perf_counter() - started > BATCH_BUDGET:
                        rest = batch[i:]
                        break
                    if item is CONNECTED:
                        announce = True
                        continue
                    msg = item
                    acks.append((msg.mid, generation))
                    topic = parse_topic(msg.topic)
                    if topic is None or topic.hall != self.hall.id:
                        continue
                    if topic.channel == "status":
                        self.devices.note_status(topic.device, msg.payload, msg.retain)
                    elif topic.channel == "evt":
                        mark = len(emit.messages)
                        self.db.execute("SAVEPOINT msg")
                        try:
                            step = self._ingest_event(topic, msg.topic, msg.payload, emit, seen_now)
                        except Exception as err:
                            if storage_cause(err):
                                raise
                            self.db.execute("ROLLBACK TO msg")
                            del emit.messages[mark:]
                            log.exception("storing %s failed; kept as rejected", msg.topic)
                            step = self._reject(msg.topic, topic.device, msg.payload, INTERNAL,
                                                f"the hub could not store this message: {type(err).__name__}",
                                                *_peek_id_seq(msg.payload), emit=emit)
                        self.db.execute("RELEASE msg")
                        if step is not None:
                            handled.append(step)
                # the watermarks move with the transaction: a batch rolled back must not acknowledge anything
                self.devices.commit(handled, before)
        except BaseException:
            self.devices.restore(before)
            del emit.messages[pending:]
            self._pending_emit = emit
            raise
        touched = set(before)
        # committed: now the world may hear of it
        cursors = self.devices.cursors
        for dev in touched:
            emit.device(dev, "ack", Ack.build(through_seq=cursors[dev].watermark), retain=True)
        if announce:
            self._announce(emit)
        self._publish(emit, answers=False)  # once the burst announces, its answers follow its last announcement
        if not self._holding():
            self._held_since = time.monotonic()
        self._held_pubacks += acks
        self.devices.moved |= touched
        self._unflushed = True
        self.journal.unsynced = True
        if announce:
            self._release()
            self._ready.set()
        return rest

    def _ingest_event(self, topic, topic_str: str, payload: bytes, emit: Emit,
                      seen_now: dict[str, tuple]) -> tuple[str, int | None, str | None] | None:
        """Store one event message, or reject it. Returns the (device, seq, event id) it accounts for, if any."""
        device = self.hall.device(topic.device)
        received = clock_now(self.hall.tz)
        if device is None:
            return self._reject(topic_str, topic.device, payload, UNKNOWN_DEVICE,
                                f"device {topic.device[:64]!r} is not in the hall config")
        try:
            env, data = decode_event(topic, payload, device.kind, now=received)
        except ProtocolError as err:
            env_id, env_seq = _peek_id_seq(payload)
            if err.code not in (INVALID_JSON, INVALID_ENVELOPE) and env_id is not None:
                # a valid envelope with an id seen before: a resend of the same rejected message is a duplicate
                prior = seen_now.get(env_id) or self.journal.prior(env_id)
                if prior is not None and prior[:3] == ("rejected", device.id, topic_str) and prior[3] == env_seq:
                    return self._duplicate(device.id, None, emit, env_seq, refused=(env_id, *prior[4:6]))
            step = self._reject(topic_str, device.id, payload, err.code, str(err), env_id, env_seq, emit)
            if env_id is not None and env_seq is not None:
                seen_now[env_id] = ("rejected", device.id, topic_str, env_seq, err.code, str(err))
            return step
        event_type = topic.event_type
        redact = self._redactors.get(event_type)
        # before anything is decided: what cannot be written is refused here; a resend redacts to the same text
        data_text = json_text(redact(event_type, env.data) if redact else env.data)
        prior = seen_now.get(env.id) or self.journal.prior(env.id)
        if prior is not None:
            if prior[0] == "event" and prior[1:4] == (device.id, event_type, env.seq) and prior[4] == data_text:
                return self._duplicate(device.id, prior[5], emit, env.seq)
            if prior[0] == "rejected" and prior[1:4] == (device.id, topic_str, env.seq):
                return self._duplicate(device.id, None, emit, env.seq, refused=(env.id, *prior[4:6]))
            whose = "this device's" if prior[1] == device.id else "another device's"
            return self._reject(topic_str, device.id, payload, INVALID_ENVELOPE,
                                f"id: {env.id} is already taken by {whose} event; a new event needs a new id",
                                env.id, env.seq, emit)
        seen_now[env.id] = ("event", device.id, event_type, env.seq, data_text, None)
        self.devices.seen(device.id, received, env.ts)
        event = Event(id=env.id, device=device.id, kind=device.kind, type=event_type, seq=env.seq, ts=env.ts,
                      received_at=received, data=data, raw=env.data)
        res: Answer | None = None
        domain = self._by_type.get(event_type)
        if domain is not None:
            mark = len(emit.messages)
            try:
                res = _addressed(domain.apply(self.db, event, emit), env.id)
            except Exception as err:  # a domain bug must not stop the hall
                if storage_cause(err):
                    raise
                # its rows and announcements go; the event stays with the error as its answer
                self.db.execute("ROLLBACK TO msg")
                del emit.messages[mark:]
                log.exception("handling %s %s failed", event_type, env.id)
                res = Answer.build(re=env.id, ok=False, code="internal",
                                   error=f"{type(err).__name__}: {err}"[:300])
        if event_type in REQUEST_TYPES and res is None:
            res = Answer.build(re=env.id, ok=False, code="unavailable",
                               error=f"this hub does not handle {event_type!r}")
        if res is not None:
            emit.device(device.id, "res", res)
        res_text = json_text(res) if res is not None else None
        self.journal.store_event(env, device.id, event_type, received, data_text, res_text)
        seen_now[env.id] = ("event", device.id, event_type, env.seq, data_text, res_text)
        self.counts["stored"] += 1
        return device.id, env.seq, env.id

    def _reject(self, topic: str, device: str | None, raw: bytes, code: str, error: str, event_id=None, seq=None,
                emit: Emit | None = None) -> tuple[str, int | None, str | None] | None:
        """Keep a message that will not be stored, with its reason, and answer the device on `err`. Returns the
        device and seq it handled: a rejected event is accounted for, so the device's acknowledgements pass it."""
        self.counts["rejected"] += 1
        known = device is not None and self.hall.device(device) is not None
        error = BAD_CHARS.sub("\ufffd", error)[:500]
        self.journal.keep_rejected(topic, device, known, raw, code, error, event_id, seq)
        if emit is not None and known:
            emit.device(device, "err", Rejection.build(id=event_id, code=code, error=error))
        return (device, seq, None) if known else None

    def _duplicate(self, device: str, res: str | None, emit: Emit, seq: int | None,
                   refused: tuple[str, str, str] | None = None) -> tuple[str, int | None, None]:
        """A resend: store nothing, answer again as before (`res`, or `err` for a message refused before: the
        device may have missed it), and acknowledge again."""
        self.counts["duplicates"] += 1
        if res:
            emit.device(device, "res", _stored_answer(res))
        if refused:
            event_id, code, error = refused
            emit.device(device, "err", Rejection.build(id=event_id, code=code, error=error))
        return device, seq, None

    # ------------------------------------------------------------ sending

    def _announce(self, emit: Emit) -> None:
        """After (re)connecting: the catalogue and the domains' retained state, then "online"."""
        emit.hub("catalogue", self.hall.catalogue.wire())
        emit.hub("status", self._status())

    def _publish(self, emit: Emit, *, answers: bool = True) -> None:
        """What someone is waiting for goes out now: announcements to every screen first, then answers and errors
        to their devices. A burst committed in parts (answers=False) that has announced something keeps its answers
        until its last announcement is out, as when it was committed whole: the hall's screens and voices before
        one clerk's caller, whose answer comes a few milliseconds later. Parts before any announcement are answered
        at once. Retained topics are held."""
        announcements: list[tuple[str, Payload]] = []
        for parts, payload, retain in emit.drain():
            topic = "/".join(("hall/v1", self.hall.id, *parts))
            if retain:
                if not self._holding():
                    self._held_since = time.monotonic()
                self._held[topic] = payload
            elif topic.startswith(self._hub_prefix):
                announcements.append((topic, payload))
            else:
                self._answers.append((topic, payload))
        self.connection.send(announcements)
        self._announced = self._announced or bool(announcements)
        # a part that follows no announcement (bookings, tickets) is answered at once: its citizens need not wait
        # for the rest of the burst to be decided
        if answers or not self._announced:
            self._send_answers()

    def _send_answers(self) -> None:
        """The burst's answers so far; a burst ends here."""
        answers, self._answers = self._answers, []
        self._announced = False
        self.connection.send(answers)

    def _holding(self) -> bool:
        return bool(self._held or self._held_pubacks or self._unflushed)

    def _release(self) -> None:
        """The burst is over (or HOLD_MAX has passed): let the domains write what derives from it and say what
        state it changed, then send the held retained state (latest of each topic) and the PUBACKs."""
        self._send_answers()  # of a burst cut short by a failure: what was committed is answered
        if self._unflushed:
            self._unflushed = False
            emit = Emit()
            try:
                with self.db.atomic():
                    for domain in self.domains:
                        domain.flush(self.db, emit)
                    # a watermark on disk may lag: at start the cursors fold in every stored seq above it
                    self.devices.save()
                self.devices.moved = set()
                self.journal.unsynced = True
            except Exception:
                # the events are committed all the same: acknowledge them; the domains try again next time
                log.exception("hub could not write what derives from the last events")
                emit.drain()
            self._publish(emit)
        if self._held_pubacks or self._held:
            self.journal.sync()  # the acks are among the held topics
        held, self._held = self._held, {}
        pubacks, self._held_pubacks = self._held_pubacks, []
        self.connection.release(held, pubacks)


def _addressed(answer: Answer | dict | None, event_id: str) -> Answer | None:
    """A domain's answer to a request, addressed to it (`re`). A domain that gives the fields as a dict has them
    checked against the model: one that does not fit is the domain's fault, answered `internal` like the others."""
    if answer is None:
        return None
    if isinstance(answer, Answer):
        return answer.addressed_to(event_id)
    return Answer.model_validate({"re": event_id, **answer})


def _stored_answer(text: str) -> Answer | dict:
    """An answer from the journal, to give again. One that no longer fits the model (written by an older hub)
    goes out as it was stored: the device is owed it."""
    try:
        return Answer.model_validate_json(text)
    except ValueError:
        log.warning("a stored answer does not fit the model; sent as stored: %.200s", text)
        return json.loads(text)


def _peek_id_seq(payload: bytes) -> tuple[str | None, int | None]:
    """Best effort id and seq of a message that failed validation, so its seq still counts as handled (the device
    moves it out of its outbox when it hears why) and a resend of it is recognised."""
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None, None
    if not isinstance(raw, dict):
        return None, None
    event_id = raw.get("id") if isinstance(raw.get("id"), str) and EVENT_ID.match(raw["id"]) else None
    seq = raw.get("seq") if type(raw.get("seq")) is int else None
    if seq is not None and not (1 <= seq <= MAX_INT):
        seq = None
    return event_id, seq
