"""A private certificate authority and one server certificate, for a hall's broker (`hall devices provision
--tls`, hub/tls.py) and a central NATS cluster (central/tls.py) that have no CA of their own. Made with the
`cryptography` package; the keys are written readable by their owner only."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hall.files import PRIVATE_FILE


def make_private_ca(folder: Path, ca_name: str, server_name: str, hosts: Iterable[str], *, days: int = 3650,
                    client_too: bool = False) -> bool:
    """ca.crt/ca.key and server.crt/server.key in `folder`, once: False when they are there already.

    The server certificate is for `hosts` (IP addresses and DNS names alike); with `client_too` it may also dial
    another server with it (a NATS route)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "ca.crt").exists() and (folder / "server.crt").exists():
        return False
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)  # a clock a little behind still trusts
    ca_key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca = (x509.CertificateBuilder().subject_name(issuer).issuer_name(issuer).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client_too else [])
    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)]))
              .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(start).not_valid_after(end)
              .add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False)
              .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
              .sign(ca_key, hashes.SHA256()))
    _write_key(folder / "ca.key", ca_key)
    _write_key(folder / "server.key", key)
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.crt").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    return True


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write_key(path: Path, key) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
