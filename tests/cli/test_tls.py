"""--ca-file and --insecure against an engine serving wss:// with a self-signed certificate."""

from __future__ import annotations

import json

import pytest

from ensync_tui.engine import MessageSpec
from tests.cli.conftest import ThreadedEngine
from tests.tls import self_signed


@pytest.fixture
def tls_engine(tmp_path):
    cert, key = self_signed(tmp_path)
    eng = ThreadedEngine(
        ["alice", "bob"], [MessageSpec("orders/status")], tls_cert=cert, tls_key=key
    )
    eng.cert = cert  # type: ignore[attr-defined]
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
