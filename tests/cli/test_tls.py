"""--ca-file and --insecure against an engine serving wss:// with a self-signed certificate."""

from __future__ import annotations

import datetime
import ipaddress
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ensync_tui.engine import MessageSpec
from tests.cli.conftest import ThreadedEngine


def self_signed(folder):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_engine(tmp_path):
    cert, key = self_signed(tmp_path)
    eng = ThreadedEngine(
        ["alice", "bob"], [MessageSpec("orders/status")], tls_cert=cert, tls_key=key
    )
    eng.cert = cert
    try:
        yield eng
    finally:
        eng.close()


def test_wss_with_ca_file_and_insecure(cli, tls_engine):
    assert tls_engine.url.startswith("wss://127.0.0.1:")
    bob = tls_engine.ids["bob"].public_key
    args = ["publish", "orders/status", "--to", bob, "--payload", '{"tls": true}']
    proc = cli(*args, env=tls_engine.env("alice"))
    assert proc.returncode == 1 and "cannot connect" in proc.stderr  # not trusted
    proc = cli(*args, "--ca-file", tls_engine.cert, env=tls_engine.env("alice"))
    assert proc.returncode == 0, proc.stderr
    proc = cli("tail", "orders/status", "--count", "1", "--insecure", env=tls_engine.env("bob"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["payload"] == {"tls": True}
