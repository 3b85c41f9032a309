"""Profiles: precedence, validation naming file and key, redaction."""

from __future__ import annotations

import json
from pathlib import Path

import platformdirs
import pytest

from ensync_tui.client.crypto import generate_keypair
from ensync_tui.config import ConfigError, Overrides, parse_config, resolve, user_config_path

PUB, SECRET = generate_keypair()
PUB2, SECRET2 = generate_keypair()


def write_user(text: str) -> Path:
    path = user_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_user_config_path_is_platformdirs(tmp_path):
    assert user_config_path() == platformdirs.user_config_path("ensync-tui") / "config.toml"
    assert str(user_config_path()).startswith(str(tmp_path))


def test_nothing_configured_gives_incomplete_settings():
    settings = resolve(env={})
    assert settings.url is None and not settings.can_connect
    assert settings.profile is None


def test_precedence_flags_env_local_extra_user(tmp_path):
    write_user('default_profile = "dev"\n[profiles.dev]\nurl = "ws://user:1"\nhistory = 5\n')
    extra = tmp_path / "extra.toml"
    extra.write_text('[profiles.dev]\nurl = "ws://extra:1"\naccess_key = "extra-key"\n')
    assert resolve(env={}).url == "ws://user:1"
    got = resolve(Overrides(config=str(extra)), env={})
    assert (got.url, got.access_key, got.history) == ("ws://extra:1", "extra-key", 5)
    (tmp_path / "ensync.toml").write_text('[profiles.dev]\nurl = "ws://local:1"\n')
    got = resolve(Overrides(config=str(extra)), env={})
    assert (got.url, got.access_key) == ("ws://local:1", "extra-key")
    env = {"ENSYNC_URL": "ws://env:1", "ENSYNC_ACCESS_KEY": "env-key"}
    got = resolve(Overrides(config=str(extra)), env=env)
    assert (got.url, got.access_key) == ("ws://env:1", "env-key")
    got = resolve(Overrides(config=str(extra), url="ws://flag:1", history=9), env=env)
    assert (got.url, got.access_key, got.history) == ("ws://flag:1", "env-key", 9)
    assert got.profile == "dev"


def test_profile_selection_flag_env_default():
    write_user(
        'default_profile = "a"\n[profiles.a]\nurl = "ws://a"\n[profiles.b]\nurl = "ws://b"\n'
    )
    assert resolve(env={}).url == "ws://a"
    assert resolve(env={"ENSYNC_PROFILE": "b"}).url == "ws://b"
    assert resolve(Overrides(profile="a"), env={"ENSYNC_PROFILE": "b"}).url == "ws://a"


def test_single_profile_is_used_without_a_default():
    write_user('[profiles.only]\nurl = "ws://only"\n')
    assert resolve(env={}).profile == "only"


def test_unknown_profile_lists_known_ones():
    write_user('[profiles.dev]\nurl = "ws://a"\n[profiles.prod]\nurl = "wss://b"\n')
    with pytest.raises(ConfigError, match=r"unknown profile 'nope' \(known profiles: dev, prod\)"):
        resolve(Overrides(profile="nope"), env={})


def test_contacts_keys_and_lists_merge(tmp_path):
    write_user(
        f'[profiles.dev]\nurl = "ws://a"\nsubscribe = ["orders/created"]\n'
        f'message_names = ["x/y"]\n[profiles.dev.contacts]\nbob = "{PUB}"\n'
        '[keys]\nquit = "ctrl+q"\n'
    )
    (tmp_path / "ensync.toml").write_text(
        f'[profiles.dev.contacts]\ncarol = "{PUB2}"\n[keys]\nhelp = "f1"\n'
    )
    got = resolve(env={})
    assert got.contacts == {"bob": PUB, "carol": PUB2}
    assert got.keys == {"quit": "ctrl+q", "help": "f1"}
    assert got.subscribe == ["orders/created"]
    assert got.message_names == ["x/y", "orders/created"]
    got = resolve(Overrides(subscribe=["a/b"]), env={})
    assert got.subscribe == ["a/b"]


def test_ca_file_relative_to_the_file(tmp_path):
    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "ensync.toml").write_text('[profiles.p]\nurl = "wss://x"\nca_file = "ca.pem"\n')
    assert resolve(env={}).ca_file == str(tmp_path / "ca.pem")
    (tmp_path / "ensync.toml").write_text('[profiles.p]\nurl = "wss://x"\nca_file = "no.pem"\n')
    with pytest.raises(ConfigError, match="ca_file: file not found"):
        resolve(env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[profiles.dev]\nhistory = 0\n",
            "x.toml: profiles.dev.history: must be a positive integer",
        ),
        ('[profiles.dev]\nhistory = "5"\n', "profiles.dev.history: must be a positive integer"),
        ("[profiles.dev]\nhistory = true\n", "profiles.dev.history: must be a positive integer"),
        ('[profiles.dev]\nurl = "ftp://x"\n', "x.toml: profiles.dev.url: must start with ws://"),
        ("[profiles.dev]\ninsecure = 1\n", "profiles.dev.insecure: must be true or false"),
        ('[profiles.dev]\nsubscribe = "a"\n', "profiles.dev.subscribe: must be a list"),
        ('[profiles.dev]\napp_secret_key = "abc"\n', "profiles.dev.app_secret_key: must be"),
        ('[profiles.dev]\ncolour = "red"\n', "x.toml: profiles.dev.colour: unknown key"),
        ('[profiles.dev.contacts]\nbob = "zz"\n', "x.toml: profiles.dev.contacts.bob: must be"),
        ("default_profile = 3\n", "x.toml: default_profile: must be a non-empty string"),
        ("profiles = 3\n", "x.toml: profiles: must be a table"),
        ("other = 3\n", "x.toml: other: unknown key"),
        ("[profiles.dev\n", "x.toml: invalid TOML"),
    ],
)
def test_validation_names_file_and_key(text, message):
    with pytest.raises(ConfigError) as info:
        parse_config(text, "x.toml", Path("x.toml"))
    assert message in str(info.value)


def test_env_values_are_validated():
    with pytest.raises(ConfigError, match="ENSYNC_URL: must start with"):
        resolve(env={"ENSYNC_URL": "localhost:8082"})
    with pytest.raises(ConfigError, match="ENSYNC_APP_SECRET_KEY: must be"):
        resolve(env={"ENSYNC_APP_SECRET_KEY": "short"})


def test_default_profile_must_exist():
    write_user('default_profile = "gone"\n[profiles.dev]\nurl = "ws://a"\n')
    with pytest.raises(ConfigError, match="default_profile: unknown profile 'gone'"):
        resolve(env={})


# ------------------------------------------------------------------ via the command


def test_error_exit_2_names_file_and_key(cli, tmp_path):
    (tmp_path / "ensync.toml").write_text("[profiles.dev]\nhistory = -1\n")
    proc = cli("config", "show")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "ensync-tui: ensync.toml: profiles.dev.history: must be a positive integer"
    )
    assert "Traceback" not in proc.stderr


def test_config_path_prints_the_user_file(cli, tmp_path):
    proc = cli("config", "path")
    assert proc.returncode == 0
    assert proc.stdout.strip() == str(user_config_path())


def test_config_show_redacts_secrets(cli, tmp_path):
    access = "ak-" + "x" * 40
    write_user(
        f'[profiles.dev]\nurl = "ws://127.0.0.1:1"\naccess_key = "{access}"\n'
        f'app_secret_key = "{SECRET}"\n[profiles.dev.contacts]\nbob = "{PUB}"\n'
    )
    for extra in ([], ["--json"]):
        proc = cli("config", "show", *extra)
        assert proc.returncode == 0, proc.stderr
        assert SECRET not in proc.stdout and SECRET[:12] not in proc.stdout
        assert access not in proc.stdout
        assert "ws://127.0.0.1:1" in proc.stdout and PUB in proc.stdout
    shown = json.loads(proc.stdout)
    assert shown["profile"] == "dev" and shown["access_key"].startswith("ak-x")
    # a secret given by flag or env is redacted too
    proc = cli("config", "show", "--app-secret-key", SECRET2, env={"ENSYNC_ACCESS_KEY": access})
    assert proc.returncode == 0
    assert SECRET2 not in proc.stdout and access not in proc.stdout


def test_config_show_flags_override_env(cli):
    proc = cli("--url", "ws://flag:1", "config", "show", "--json", env={"ENSYNC_URL": "ws://env:1"})
    assert json.loads(proc.stdout)["url"] == "ws://flag:1"
    proc = cli("config", "show", "--json", env={"ENSYNC_URL": "ws://env:1"})
    assert json.loads(proc.stdout)["url"] == "ws://env:1"


def test_unknown_profile_exit_2(cli):
    write_user('[profiles.dev]\nurl = "ws://a"\n')
    proc = cli("config", "show", "--profile", "prod")
    assert proc.returncode == 2
    assert "unknown profile 'prod' (known profiles: dev)" in proc.stderr
    proc = cli("config", "show", env={"ENSYNC_PROFILE": "prod"})
    assert proc.returncode == 2 and "ENSYNC_PROFILE: unknown profile" in proc.stderr


def test_extra_config_file(cli, tmp_path):
    extra = tmp_path / "engine-profile.toml"
    extra.write_text(
        f'[profiles.local]\nurl = "ws://127.0.0.1:8082"\naccess_key = "k"\n'
        f'app_secret_key = "{SECRET}"\n[profiles.local.contacts]\nbob = "{PUB}"\n'
    )
    proc = cli("config", "show", "--json", "--config", str(extra))
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["profile"] == "local" and shown["contacts.bob"] == PUB
    proc = cli("config", "show", "--config", str(tmp_path / "missing.toml"))
    assert proc.returncode == 2 and "missing.toml: file not found" in proc.stderr


def test_reads_the_profiles_engine_init_writes(cli, tmp_path):
    proc = cli("engine", "init", "local", "--clients", "alice,bob,carol")
    assert proc.returncode == 0, proc.stderr
    profiles = tmp_path / "local" / "ensync.toml"
    proc = cli("config", "show", "--json", "--config", str(profiles), "--profile", "bob")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["profile"] == "bob" and shown["url"].startswith("ws://127.0.0.1:")
    assert {"contacts.alice", "contacts.carol"} <= set(shown)
    assert shown["files"] == [str(profiles)]
    # the same file as --config and as ./ensync.toml is read once
    proc = cli("config", "show", "--json", "--config", "ensync.toml", env={}, cwd=profiles.parent)
    assert json.loads(proc.stdout)["files"] == ["ensync.toml"]


# ------------------------------------------------------------------ the schema


def test_every_setting_has_a_check_and_secrets_no_repr():
    from typing import get_args

    from ensync_tui.config import CHECKS, PROFILE_KEYS
    from ensync_tui.settings import Kind, schema

    assert set(CHECKS) == set(get_args(Kind))
    for f, spec in schema():
        assert spec.kind in CHECKS and spec.help, f.name
        assert f.repr is not spec.secret, f"{f.name}: a secret must not be in a repr"
        assert bool(spec.flag) == spec.flag.startswith("--"), f.name
    assert PROFILE_KEYS == (
        "url", "access_key", "account_key", "api_url", "app_secret_key", "subscribe", "ca_file",
        "insecure",
        "history", "auto_ack", "message_names", "contacts",
    )  # fmt: skip


def test_every_flag_of_the_schema_reaches_the_settings(tmp_path):
    """Each setting with a flag is parsed from it and wins over the environment."""
    from ensync_tui.cli.main import build_parser
    from ensync_tui.cli.options import settings_from
    from ensync_tui.settings import schema

    (tmp_path / "ca.pem").write_text("x")
    write_user('[profiles.p]\nurl = "ws://p:1"\n[profiles.q]\nurl = "ws://q:1"\n')
    given = {
        "profile": "q", "url": "wss://flag:1", "access_key": "flag-key",
        "account_key": "flag-account", "api_url": "https://api:1/api/v1/ensync",
        "app_secret_key": SECRET, "subscribe": ["a/b", "c/d"], "ca_file": "ca.pem",
        "insecure": True, "history": 7, "auto_ack": True,
    }  # fmt: skip
    flagged = {f.name: spec.flag for f, spec in schema() if spec.flag}
    assert set(flagged) == set(given)
    argv: list[str] = []
    for name, value in given.items():
        if value is True:
            argv.append(flagged[name])
        else:
            argv += [flagged[name], *(value if isinstance(value, list) else [str(value)])]
    settings = settings_from(build_parser().parse_args(argv))
    assert {name: getattr(settings, name) for name in given} == given


def test_overrides_know_only_settings_with_a_flag():
    with pytest.raises(TypeError, match="not a setting with a flag: contacts"):
        Overrides(contacts={})
    assert Overrides(url=None, history=3).given == {"history": 3}


def test_config_show_lists_every_setting(cli, tmp_path):
    from ensync_tui.settings import schema

    write_user(
        f'[profiles.dev]\nurl = "ws://a:1"\n[profiles.dev.contacts]\nbob = "{PUB}"\n'
        '[keys]\nquit = "ctrl+q"\n'
    )
    text = cli("config", "show").stdout
    shown = json.loads(cli("config", "show", "--json").stdout)
    for f, _ in schema():
        if f.name in ("contacts", "keys"):  # tables: one row a key
            assert f"\n{f.name}." in text and any(k.startswith(f"{f.name}.") for k in shown)
        else:
            assert f"\n{f.name} " in text and f.name in shown, f.name
    assert shown["contacts.bob"] == PUB and shown["keys.quit"] == "ctrl+q"
