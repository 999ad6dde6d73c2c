"""A small certificate authority per voxpop instance, so tablets get the camera over HTTPS.

Browsers only allow ``getUserMedia`` in a secure context. ``http://localhost`` is one, but a
tablet on the venue Wi-Fi opening ``http://192.168.x.y`` is not; it needs HTTPS with a
certificate it trusts. voxpop makes its own CA once (the organiser installs it on each tablet
from the setup page) and issues a server certificate naming this laptop's host names and LAN
addresses, re-issued whenever those change.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from voxpop.db import now_utc

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"
# Apple refuses TLS server certificates valid for more than 825 days (398 for public CAs);
# stay under the stricter figure so every iPad accepts it.
SERVER_DAYS = 397
CA_DAYS = 3650
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TLSFiles:
    """Paths of the CA certificate and the server's certificate and key."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def ensure_ca(folder: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """Return this instance's CA, creating it the first time."""
    cert_path, key_path = folder / CA_CERT, folder / CA_KEY
    if cert_path.is_file() and key_path.is_file():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return cert, key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "voxpop"),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"voxpop local CA ({socket.gethostname()[:30]})"
            ),
        ]
    )
    now = now_utc()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _covers(cert: x509.Certificate, names: list[str], addresses: list[str]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_names = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(names) <= have_names and set(addresses) <= have_ips


def ensure_server_certificate(folder: Path, names: list[str], addresses: list[str]) -> TLSFiles:
    """Return the server certificate for these host names and IP addresses.

    Reuses the existing one while it is signed by this CA, names everything asked for, and
    is more than 30 days from expiry; otherwise issues a new one.
    """
    ca_cert, ca_key = ensure_ca(folder)
    cert_path, key_path = folder / SERVER_CERT, folder / SERVER_KEY
    files = TLSFiles(folder / CA_CERT, cert_path, key_path)
    if cert_path.is_file() and key_path.is_file():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if (
            cert.issuer == ca_cert.subject
            and cert.not_valid_after_utc - RENEW_BEFORE > now_utc()
            and _covers(cert, names, addresses)
        ):
            return files
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = now_utc()
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return files


def ca_certificate_der(folder: Path) -> bytes:
    """Return the CA certificate in DER form, as tablets download it."""
    cert, _key = ensure_ca(folder)
    return cert.public_bytes(serialization.Encoding.DER)


def host_names() -> list[str]:
    """Names this laptop answers to: its host name, ``<host>.local`` (mDNS) and localhost."""
    host = socket.gethostname().split(".")[0] or "voxpop"
    names = [host]
    if re.fullmatch(r"[A-Za-z0-9-]+", host):
        names.append(f"{host}.local")
    names.append("localhost")
    return list(dict.fromkeys(names))


def lan_addresses() -> list[str]:
    """IPv4 addresses of this machine other than loopback, best guess first.

    Reads ``ip -4 -o addr`` where available (Linux) and falls back to resolving the host name.
    """
    found: list[str] = []
    ip_tool = shutil.which("ip")
    if ip_tool:
        try:
            output = subprocess.run(
                [ip_tool, "-4", "-o", "addr", "show", "scope", "global"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            output = ""
        found += re.findall(r"\binet (\d+\.\d+\.\d+\.\d+)/", output)
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(str(info[4][0]))
    except OSError:
        pass
    usable = [a for a in found if not ipaddress.ip_address(a).is_loopback]
    return list(dict.fromkeys(usable))
