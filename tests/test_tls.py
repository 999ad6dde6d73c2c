"""The instance CA, the server certificate, and a real HTTPS request to the real server."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from voxpop import tls
from voxpop.server import PortInUse, serve_forever

pytestmark = pytest.mark.python_only


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_server_certificate_is_signed_by_the_ca_and_names_the_laptop(tmp_path) -> None:
    files = tls.ensure_server_certificate(
        tmp_path, ["venue-laptop", "localhost"], ["192.168.1.20", "127.0.0.1"]
    )
    ca, server = load(files.ca_cert), load(files.server_cert)
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"venue-laptop", "localhost"}
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {
        "192.168.1.20",
        "127.0.0.1",
    }
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    days = (server.not_valid_after_utc - server.not_valid_before_utc).days
    assert days <= 398, "iOS refuses longer-lived server certificates"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (files.server_key.stat().st_mode & 0o777) == 0o600
    assert ((tmp_path / tls.CA_KEY).stat().st_mode & 0o777) == 0o600


def test_ca_is_made_once_and_server_cert_reissued_when_the_address_changes(tmp_path) -> None:
    first = tls.ensure_server_certificate(tmp_path, ["laptop"], ["192.168.1.20"])
    ca_bytes, cert_bytes = first.ca_cert.read_bytes(), first.server_cert.read_bytes()
    same = tls.ensure_server_certificate(tmp_path, ["laptop"], ["192.168.1.20"])
    assert same.server_cert.read_bytes() == cert_bytes
    moved = tls.ensure_server_certificate(tmp_path, ["laptop"], ["10.0.0.7"])
    assert moved.ca_cert.read_bytes() == ca_bytes
    assert moved.server_cert.read_bytes() != cert_bytes
    load(moved.server_cert).verify_directly_issued_by(load(moved.ca_cert))


def test_downloaded_ca_certificate_verifies_the_server(app, client) -> None:
    folder = Path(app.config["INSTANCE"]) / "tls"
    files = tls.ensure_server_certificate(folder, ["laptop"], ["127.0.0.1"])
    response = client.get("/setup/voxpop-ca.crt")
    assert response.status_code == 200
    assert response.mimetype == "application/x-x509-ca-cert"
    assert 'filename="voxpop-ca.crt"' in response.headers["Content-Disposition"]
    ca = x509.load_der_x509_certificate(response.data)
    load(files.server_cert).verify_directly_issued_by(ca)


def test_setup_page_has_ios_and_android_steps(client) -> None:
    page = client.get("/setup").text
    assert "Certificate Trust Settings" in page and "full trust" in page
    assert "VPN &amp; Device Management" in page  # HTML-escaped, marked lang="en"
    assert "CA certificate" in page
    assert "/setup/voxpop-ca.crt" in page


def test_real_server_answers_https_and_http(app) -> None:
    folder = Path(app.config["INSTANCE"]) / "tls"
    files = tls.ensure_server_certificate(folder, ["localhost"], ["127.0.0.1"])
    port, tls_port = free_port(), free_port()
    ready, stop = threading.Event(), threading.Event()
    worker = threading.Thread(
        target=serve_forever,
        args=(app, "127.0.0.1", port, tls_port, files),
        kwargs={"on_ready": ready.set, "stop_event": stop, "threads": 2},
        daemon=True,
    )
    worker.start()
    try:
        assert ready.wait(30)
        context = ssl.create_default_context(cafile=str(files.ca_cert))
        secure = http.client.HTTPSConnection("localhost", tls_port, context=context, timeout=30)
        secure.request("GET", "/healthz")
        answer = secure.getresponse()
        assert answer.status == 200 and b'"database":"ok"' in answer.read()
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        plain.request("GET", "/healthz")
        assert plain.getresponse().status == 200
        # A second server on the same ports is refused with a clear error.
        try:
            serve_forever(app, "127.0.0.1", port, tls_port, files, stop_event=threading.Event())
        except PortInUse as error:
            assert str(port) in str(error)
        else:
            raise AssertionError("binding a used port should fail")
    finally:
        stop.set()
        worker.join(30)
