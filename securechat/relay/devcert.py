r"""`securechat-devcert`: a self-signed certificate for running the relay over TLS locally.

    securechat-devcert --out dev-tls
    twistd -n securechat-relay \
        --listen ssl:8443:interface=127.0.0.1:privateKey=dev-tls/key.pem:certKey=dev-tls/cert.pem

Clients trust `dev-tls/cert.pem` explicitly. Never use it for a public relay.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certificate(hostnames: list[str], days: int = 30) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) for these names (DNS names or IP addresses)."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for name in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
    )


def write_certificate(out_dir: str, hostnames: list[str], days: int = 30) -> tuple[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    cert_pem, key_pem = make_certificate(hostnames, days)
    cert_path, key_path = os.path.join(out_dir, "cert.pem"), os.path.join(out_dir, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert_pem)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    return cert_path, key_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="dev-tls", help="directory for cert.pem and key.pem")
    parser.add_argument("--host", action="append", default=None,
                        help="DNS name or IP the certificate is for (repeatable; "
                             "default: localhost, 127.0.0.1, ::1)")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args(argv)
    cert, key = write_certificate(args.out, args.host or ["localhost", "127.0.0.1", "::1"],
                                  args.days)
    sys.stdout.write(f"wrote {cert} and {key}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
