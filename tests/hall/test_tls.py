"""The private CA: a server certificate a client trusting only that CA accepts for the names it was made for and
for no other, keys readable by their owner only, made once."""

from __future__ import annotations

import socket
import ssl
import stat
import threading

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from hall.tls import make_private_ca


def handshake(folder, server_hostname: str) -> None:
    """A TLS handshake with a server holding server.crt, from a client trusting ca.crt only."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(folder / "server.crt", folder / "server.key")
    client_ctx = ssl.create_default_context(cafile=str(folder / "ca.crt"))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve():
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

        threading.Thread(target=serve, daemon=True).start()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                client_ctx.wrap_socket(raw, server_hostname=server_hostname):
            pass


def test_a_client_trusting_the_ca_accepts_the_server_for_its_names_only(tmp_path):
    assert make_private_ca(tmp_path, "test CA", "test broker", ["127.0.0.1", "localhost", "hall.example"])
    for name in ("127.0.0.1", "localhost", "hall.example"):
        handshake(tmp_path, name)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(tmp_path, "elsewhere.example")
    for key in ("ca.key", "server.key"):
        assert stat.S_IMODE((tmp_path / key).stat().st_mode) == 0o600


def test_made_once_and_a_client_too_only_when_asked(tmp_path):
    assert make_private_ca(tmp_path / "broker", "CA", "broker", ["127.0.0.1"])
    first = (tmp_path / "broker" / "server.crt").read_bytes()
    assert not make_private_ca(tmp_path / "broker", "CA", "broker", ["127.0.0.1"])
    assert (tmp_path / "broker" / "server.crt").read_bytes() == first

    def usages(folder):
        cert = x509.load_pem_x509_certificate((folder / "server.crt").read_bytes())
        return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)

    assert usages(tmp_path / "broker") == {ExtendedKeyUsageOID.SERVER_AUTH}
    make_private_ca(tmp_path / "route", "CA", "nats", ["127.0.0.1"], client_too=True)
    assert usages(tmp_path / "route") == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
