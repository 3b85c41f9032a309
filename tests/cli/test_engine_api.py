"""`ensync-tui engine names|add-name|keys|add-key` against a local engine's
management API: what they print, how they fail, and secrets shown only once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ensync_tui.engine import MessageSpec
from ensync_tui.engine.config import AccountSpec
from ensync_tui.protocol.crypto import public_key_of
from tests.cli.conftest import ThreadedEngine

ACCOUNT = "account-key-of-the-command-tests"


@pytest.fixture
def api_engine():
    messages = [MessageSpec("orders/created", {"orderId": "string", "total": "double"})]
    eng = ThreadedEngine(["alice", "bob"], messages, accounts=[AccountSpec("admin", ACCOUNT)])
    try:
        yield eng
    finally:
        eng.close()


def _env(engine: ThreadedEngine, key: str = ACCOUNT) -> dict[str, str]:
    return {"ENSYNC_URL": engine.url, "ENSYNC_ACCOUNT_KEY": key}


def test_names_lists_names_and_schemas(cli, api_engine) -> None:
    proc = cli("engine", "names", env=_env(api_engine))
    assert proc.returncode == 0, proc.stderr
    assert "orders/created  orderId: string, total: double" in proc.stdout
    assert f"1 message name at {api_engine.server.api_url}" in proc.stdout
    proc = cli("engine", "names", "--json", "--filter", "orders", env=_env(api_engine))
    [row] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert row["name"] == "orders/created" and row["payload"]["total"] == "double"


def test_add_name_registers_it_with_its_schema(cli, api_engine) -> None:
    env = _env(api_engine)
    proc = cli("engine", "add-name", "billing/paid", "id=string", "amount=double", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "registered billing/paid" in proc.stdout and "amount: double" in proc.stdout
    assert "billing/paid" in api_engine.server.broker.messages  # publishable at once
    proc = cli("engine", "add-name", "plain/name", env=env)
    assert "(no schema)" in proc.stdout
    listed = cli("engine", "names", env=env).stdout
    assert "billing/paid  id: string, amount: double" in listed and "plain/name" in listed


def test_add_name_failures_say_why(cli, api_engine) -> None:
    env = _env(api_engine)
    proc = cli("engine", "add-name", "x/y", "id:string", env=env)
    assert proc.returncode == 2 and "FIELD=TYPE" in proc.stderr
    proc = cli("engine", "add-name", "x/y", "id=strng", env=env)
    assert proc.returncode == 1
    assert "400" in proc.stderr and "unknown type 'strng'" in proc.stderr
    proc = cli("engine", "add-name", "orders/created", env=env)
    assert proc.returncode == 1 and "409" in proc.stderr and "already registered" in proc.stderr
    proc = cli("engine", "add-name", "bad name", env=env)
    assert proc.returncode == 1 and "no spaces" in proc.stderr


def test_keys_lists_keys_shortened(cli, api_engine) -> None:
    proc = cli("engine", "keys", env=_env(api_engine))
    assert proc.returncode == 0, proc.stderr
    alice = api_engine.ids["alice"]
    assert alice.access_key not in proc.stdout and ACCOUNT not in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if x.startswith("alice"))
    assert f"SERVICE  {alice.access_key[:4]}…" in line and "send * " in line
    assert "admin  ACCOUNT  acco…" in proc.stdout
    assert "3 access keys" in proc.stdout
    rows = [
        json.loads(x)
        for x in cli("engine", "keys", "--json", env=_env(api_engine)).stdout.split("\n")
        if x
    ]
    assert {r["name"] for r in rows} == {"alice", "bob", "admin"}
    assert all(len(r["key"]) <= 5 for r in rows)


def test_add_key_prints_its_secrets_once(cli, api_engine) -> None:
    env = _env(api_engine)
    proc = cli(
        "engine", "add-key", "shipping", "--send", "orders/*", "--receive", "orders/created",
        env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    fields = dict(
        line.split(" = ", 1)
        for line in proc.stdout.splitlines()
        if " = " in line and "  " not in line
    )
    assert public_key_of(fields["app_secret_key"]) == fields["public_key"]
    spec = api_engine.server.broker.by_access_key[fields["access_key"]]
    assert spec.name == "shipping" and spec.send == ["orders/*"]
    assert "shown once" in proc.stdout
    listed = cli("engine", "keys", env=env).stdout
    assert "shipping" in listed and fields["access_key"] not in listed
    made = cli("engine", "add-key", "ops", "--account", "--json", env=env)
    row = json.loads(made.stdout)
    assert row["type"] == "ACCOUNT" and "app_secret_key" not in row
    assert cli("engine", "names", env=_env(api_engine, row["access_key"])).returncode == 0


def test_add_key_refusals(cli, api_engine) -> None:
    env = _env(api_engine)
    proc = cli("engine", "add-key", "alice", env=env)
    assert proc.returncode == 1 and "exists already" in proc.stderr
    proc = cli("engine", "add-key", "x", "--account", "--send", "a", env=env)
    assert proc.returncode == 2 and "ACCOUNT key has no --send" in proc.stderr


def test_without_a_good_account_key_it_says_so(cli, api_engine) -> None:
    proc = cli("engine", "names", env={"ENSYNC_URL": api_engine.url})
    assert proc.returncode == 2 and "no account key" in proc.stderr
    proc = cli("engine", "names", env=_env(api_engine, "wrong-key-0000"))
    assert proc.returncode == 1 and "401 invalid access key" in proc.stderr
    alice = api_engine.ids["alice"].access_key
    proc = cli("engine", "keys", env=_env(api_engine, alice))
    assert proc.returncode == 1 and "403" in proc.stderr and alice not in proc.stderr
    proc = cli("engine", "names", env={"ENSYNC_ACCOUNT_KEY": ACCOUNT})
    assert proc.returncode == 2 and "no engine" in proc.stderr
    proc = cli("engine", "names", "--url", "ws://127.0.0.1:1", env={"ENSYNC_ACCOUNT_KEY": ACCOUNT})
    assert proc.returncode == 1 and "cannot reach" in proc.stderr and ACCOUNT not in proc.stderr


def test_engine_init_profiles_manage_their_engine(cli, tmp_path: Path) -> None:
    """engine init writes the account key into the profiles: the commands find it there."""
    from ensync_tui.engine import EngineServer, load_config

    assert cli("engine", "init", str(tmp_path / "dev"), "--port", "0").returncode == 0
    cfg = load_config(tmp_path / "dev" / "engine.toml")
    cfg.db = ":memory:"
    engine = ThreadedEngine([], [])
    engine.call(engine.server.stop())
    engine.server = EngineServer(cfg)
    engine.call(engine.server.start())
    try:
        profiles = str(tmp_path / "dev" / "ensync.toml")
        url = engine.server.url
        proc = cli("engine", "names", "--config", profiles, "--url", url, env={})
        assert proc.returncode == 0, proc.stderr
        assert "orders/created" in proc.stdout and "orders/status" in proc.stdout
    finally:
        engine.close()
