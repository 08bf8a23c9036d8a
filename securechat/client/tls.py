"""Trusting a wss:// relay: the system's CAs, or a CA/certificate file the user names
(a relay with the development certificate of `securechat-devcert`, a private CA)."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL
from twisted.internet import ssl
from twisted.python.failure import Failure

from securechat.client.errors import BadCaFile


def load_ca_file(path: str) -> list[ssl.Certificate]:
    """Every PEM certificate in `path` (a single certificate or a bundle)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BadCaFile(f"cannot read the CA file {path}: {e.strerror or e}") from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise BadCaFile(f"{path} holds no PEM certificate") from None
    return [ssl.Certificate.loadPEM(c.public_bytes(Encoding.PEM)) for c in certificates]


def client_options(host: str, ca_file: str | None) -> Any:
    """TLS options that check the relay's certificate names `host` and is signed by a
    certificate in `ca_file` (None: by one of the system's CAs)."""
    if ca_file is None:
        return ssl.optionsForClientTLS(host)
    return ssl.optionsForClientTLS(
        host, trustRoot=ssl.trustRootFromCertificates(load_ca_file(ca_file)))


def untrusted_certificate(reason: Failure | None) -> str | None:
    """Why the relay's certificate was refused, if that is why the connection ended
    (a few words fit for the user), else None."""
    if reason is None:
        return None
    if reason.check(SSL.Error) and "certificate verify failed" in str(reason.value):
        return "not signed by a trusted CA"
    if type(reason.value).__name__ == "VerificationError":  # service_identity: wrong name
        return f"made out to another host name ({reason.value})"
    return None
