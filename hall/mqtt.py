"""The one way to make a paho client for this hall: protocol, login, TLS, last will, reconnect policy."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hall.credentials import Endpoint, Secrets


def resolve_endpoint(hall, data_dir: Path | None, host: str | None = None, port: int | None = None,
                     tls_ca: str | None = None) -> Endpoint:
    """Explicit arguments first, then what the running hall recorded in its data directory, then the config."""
    ep = (Endpoint.load(data_dir) if data_dir else None) or Endpoint(host=hall.broker.host, port=hall.broker.port)
    if host:
        ep.host = host
    if port:
        ep.port = port
    if tls_ca:
        ep.tls_ca = tls_ca
    if ep.host in ("0.0.0.0", ""):
        ep.host = "127.0.0.1"
    return ep


Password = Callable[[], str | None]


def login(data_dir: Path | None, user: str, password: str | None) -> Password:
    """The login's password as it is when a connection is made: the one given, else the hall's secrets read again
    each time, so a login rotated on the server (`hall devices rotate`, which drops the old connection) logs in with
    its new password at the next attempt, without a restart."""
    if password is not None or data_dir is None:
        return lambda: password
    secrets = Path(data_dir) / "secrets.toml"
    return lambda: Secrets.load(secrets).password(user)


def new_client(client_id: str, ep: Endpoint, password: str | Password | None, *,
               will: tuple[str, bytes] | None = None, manual_ack: bool = False,
               protocol_version: int | None = None) -> mqtt.Client:
    """A paho client for `ep`, speaking MQTT `protocol_version` (5, or 4 for 3.1.1; by default what `ep` says the
    broker speaks). A 3.1.1 client with manual acknowledgement keeps its session (clean_session=False). A password
    that is a `login` is read before every connection."""
    protocol = mqtt.MQTTv5 if (protocol_version or ep.protocol) == 5 else mqtt.MQTTv311
    kw = {} if protocol == mqtt.MQTTv5 else {"clean_session": False if manual_ack else True}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                         manual_ack=manual_ack, **kw)
    read = password if callable(password) else (lambda: password)

    def log_in(c, userdata) -> None:
        secret = read()
        if secret is not None:  # none (the secrets file away for a moment): the last one known
            c.username_pw_set(client_id, secret)

    log_in(client, None)
    client.on_pre_connect = log_in  # paho calls it before each connection, reconnections included
    if ep.tls_ca:
        client.tls_set(ca_certs=ep.tls_ca)
    if will:
        client.will_set(will[0], will[1], qos=1, retain=True)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    # small messages must not wait for Nagle and delayed ACKs (~40 ms): a call reaches screens in milliseconds
    client.on_socket_open = _no_delay
    return client


def _no_delay(client, userdata, sock) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # TLS-wrapped or unix sockets
        pass


def connect(client: mqtt.Client, ep: Endpoint, *, clean_start: bool, session_expiry: int = 0,
            keepalive: int = 15, background: bool = True) -> None:
    """Start connecting in the background (loop_start keeps reconnecting if the broker is away). With
    `background=False` only the address is set: the caller drives the connection from its own thread."""
    port = ep.tls_port if (ep.tls_ca and ep.tls_port) else ep.port
    if client.protocol == mqtt.MQTTv5:
        props = Properties(PacketTypes.CONNECT)
        if session_expiry:
            props.SessionExpiryInterval = session_expiry
        client.connect_async(ep.host, port, keepalive=keepalive, clean_start=clean_start, properties=props)
    else:
        client.connect_async(ep.host, port, keepalive=keepalive)
    if background:
        client.loop_start()
