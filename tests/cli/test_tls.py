"""wss://: --ca-file and --insecure against an engine with a self-signed certificate, and
`engine init --tls`, whose local CA the profiles it writes trust."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ensync_tui.cli.main import main
from ensync_tui.engine import MessageSpec
from tests.cli.conftest import ROOT, ThreadedEngine
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


# ------------------------------------------------------------------ engine init --tls


class Serve:
    """`ensync-tui serve` in a subprocess; its stderr read on a thread."""

    def __init__(self, config: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ensync_tui", "serve", "--config", str(config)],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put("")

    def url(self) -> str:
        seen = []
        while True:
            line = self.lines.get(timeout=30)
            assert line, "serve exited early: " + "".join(seen)
            seen.append(line)
            found = re.search(r"(wss?://127\.0\.0\.1:\d+)/message", line)
            if found:
                return found.group(1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                self.proc.wait()


def test_engine_init_tls_makes_a_ca_and_a_server_certificate(tmp_path, capsys):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from ensync_tui.engine import load_config

    assert main(["engine", "init", str(tmp_path), "--tls"]) == 0
    out = capsys.readouterr().out
    tls = tmp_path / "tls"
    assert sorted(p.name for p in tls.iterdir()) == ["ca.pem", "server-key.pem", "server.pem"]
    assert stat.S_IMODE((tls / "server-key.pem").stat().st_mode) == 0o600
    assert "its key is not kept" in out and "valid until" in out
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    cert = x509.load_pem_x509_certificate((tls / "server.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert 365 < days < 900 and ca.not_valid_after_utc > cert.not_valid_after_utc
    engine = load_config(tmp_path / "engine.toml")
    assert (engine.tls_cert, engine.tls_key) == (
        str(tls / "server.pem"),
        str(tls / "server-key.pem"),
    )
    profiles = (tmp_path / "ensync.toml").read_text()
    assert profiles.count('ca_file = "tls/ca.pem"') == 2
    assert profiles.count('url = "wss://127.0.0.1:8082"') == 2
    # without --force nothing is overwritten, the certificates neither
    before = (tls / "ca.pem").read_bytes()
    assert main(["engine", "init", str(tmp_path), "--tls"]) == 1
    assert "already exists (use --force to overwrite)" in capsys.readouterr().err
    assert (tls / "ca.pem").read_bytes() == before


def test_engine_init_tls_then_serve_speaks_wss_verified_by_the_ca(tmp_path, capsys):
    folder = tmp_path / "dev"
    assert main(["engine", "init", str(folder), "--tls", "--port", "0"]) == 0
    capsys.readouterr()
    serve = Serve(folder / "engine.toml")
    try:
        url = serve.url()
        assert url.startswith("wss://127.0.0.1:")
        alice = ["--config", str(folder / "ensync.toml"), "--profile", "alice", "--url", url]
        code = main([*alice, "publish", "orders/status", "--to", "bob", "--payload", '{"x": 1}'])
        out, err = capsys.readouterr()
        assert code == 0, err
        idem = json.loads(out)["idem"]
        localhost = url.replace("127.0.0.1", "localhost")  # a name the certificate holds
        bob = ["--config", str(folder / "ensync.toml"), "--profile", "bob", "--url", localhost]
        code = main([*bob, "tail", "orders/status", "--count", "1"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert json.loads(out)["idem"] == idem and json.loads(out)["payload"] == {"x": 1}
        # the same engine without the CA: refused, one line
        access_key = load_access_key(folder, "bob")
        code = main(["--url", url, "--access-key", access_key, "replay", "orders/status", idem])
        out, err = capsys.readouterr()
        assert code == 1 and out == ""
        assert err.startswith(f"ensync-tui: error: cannot connect to {url}")
        assert "certificate verify failed" in err and len(err.strip().splitlines()) == 1
        assert access_key not in err
    finally:
        serve.stop()
    assert serve.proc.returncode == 0


def load_access_key(folder: Path, name: str) -> str:
    import tomllib

    profiles = tomllib.loads((folder / "ensync.toml").read_text())
    return profiles["profiles"][name]["access_key"]


def test_make_serve_tls_runs_engine_init_tls():
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    proc = subprocess.run(
        ["make", "-n", "serve", "TLS=1"], capture_output=True, text=True, cwd=ROOT, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert "engine init .ensync-dev-tls --tls" in proc.stdout
    assert "serve --config .ensync-dev-tls/engine.toml" in proc.stdout
