"""The broker's certificate names the server as the devices reach it: a device pointed at the server's address
verifies it only if the address is in the certificate."""

from __future__ import annotations

import ipaddress

from cryptography import x509

from tests.helpers.cli import run_hall


def test_provision_puts_the_servers_lan_address_in_the_certificate(tmp_path):
    done = run_hall("devices", "provision", "--tls", "--host", "192.168.10.2", "--host", "hall-server.lan",
                    "--data", str(tmp_path))
    assert done.returncode == 0, done.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "broker" / "tls" / "server.crt").read_bytes())
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("192.168.10.2") in alt.get_values_for_type(x509.IPAddress)
    assert "hall-server.lan" in alt.get_values_for_type(x509.DNSName)
    assert "localhost" in alt.get_values_for_type(x509.DNSName)
