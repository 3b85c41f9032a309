"""Commands that need no engine: help, keygen, usage errors and their exit codes."""

from __future__ import annotations

import base64
import json

import pytest

from ensync_tui.client.crypto import decrypt_payload, encrypt_payload, public_key_of


def test_help_lists_every_command(cli):
    proc = cli("--help")
    assert proc.returncode == 0
    for name in ("tail", "publish", "replay", "keygen", "bench", "config", "serve"):
        assert name in proc.stdout


def test_version(cli):
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("ensync-tui ")


def test_keygen_text_and_json(cli):
    proc = cli("keygen")
    assert proc.returncode == 0
    lines = dict(line.split(": ", 1) for line in proc.stdout.strip().splitlines())
    public, secret = lines["public key"], lines["secret key"]
    assert len(base64.b64decode(public)) == 32 and len(base64.b64decode(secret)) == 64
    assert public_key_of(secret) == public
    proc = cli("keygen", "--json")
    keys = json.loads(proc.stdout)
    assert public_key_of(keys["secretKey"]) == keys["publicKey"]
    assert decrypt_payload(encrypt_payload({"a": 1}, [keys["publicKey"]]), keys["secretKey"]) == {
        "a": 1
    }


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nosuch"], "invalid choice"),
        (["tail"], "required: NAME"),
        (["tail", "x", "--count", "0"], "--count: must be a positive integer"),
        (["--history", "abc"], "--history: must be a positive integer"),
        (["replay", "orders/created"], "required: IDEM"),
        (["publish", "x", "--payload", "{}"], "--to"),
        (["bench", "--size", "-1"], "--size"),
        (["config"], "required: ACTION"),
        (["--url", "localhost:1", "config", "show"], "--url: must start with ws://"),
    ],
)
def test_usage_errors_exit_2_one_line(cli, args, needle):
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["tail x", "replay x id1", "publish x --to self --payload {}"])
def test_connecting_commands_without_an_engine_say_how(cli, command):
    proc = cli(*command.split())
    assert proc.returncode == 2
    assert "no engine configured" in proc.stderr and "--url" in proc.stderr


def test_publish_bad_payload_is_a_usage_error(cli):
    args = ["publish", "x", "--url", "ws://127.0.0.1:9", "--access-key", "k", "--to", "self"]
    proc = cli(*args, "--payload", "{nope")
    assert proc.returncode == 2 and "--payload: invalid JSON" in proc.stderr
    proc = cli(*args, "--payload", "[1, 2]")
    assert proc.returncode == 2 and "must be a JSON object" in proc.stderr
    proc = cli(*args, "--payload", "@missing.json")
    assert proc.returncode == 2 and "file not found: missing.json" in proc.stderr
    proc = cli(*args, "--payload", "-", input='{"a": 1}\n[2]\n')
    assert proc.returncode == 2 and "stdin: line 2: must be a JSON object" in proc.stderr
    proc = cli(*args, "--payload", "{}", "--header", "novalue")
    assert (proc.returncode, proc.stderr) == (
        2,
        "ensync-tui: --header: expected key=value, got 'novalue'\n",
    )


def test_publish_unknown_contact_lists_contacts(cli):
    proc = cli(
        "publish", "x", "--url", "ws://127.0.0.1:9", "--access-key", "k",
        "--to", "bob", "--payload", "{}",
    )  # fmt: skip
    assert (proc.returncode, proc.stderr) == (
        2,
        "ensync-tui: --to: 'bob' is neither a public key nor a contact (known: self)\n",
    )


def test_connection_refused_is_exit_1_one_line(cli):
    proc = cli("replay", "x", "id1", "--url", "ws://127.0.0.1:9", "--access-key", "k")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("ensync-tui: error: cannot connect to ws://127.0.0.1:9")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
