"""The root invocation resolves Settings and hands them to the app."""

from __future__ import annotations

import pytest

from ensync_tui.cli.main import main
from ensync_tui.client.crypto import generate_keypair
from ensync_tui.config import user_config_path
from ensync_tui.demo import Demo


@pytest.fixture
def launched(monkeypatch):
    import ensync_tui.app

    calls = []

    def fake_run_app(settings, demo=None, recorder=None, recording=None):
        calls.append((settings, demo))
        return 0

    monkeypatch.setattr(ensync_tui.app, "run_app", fake_run_app)
    return calls


def test_no_engine_passes_incomplete_settings(launched):
    assert main([]) == 0
    [(settings, demo)] = launched
    assert demo is None and not settings.can_connect


def test_flags_become_settings(launched, tmp_path):
    _, secret = generate_keypair()
    (tmp_path / "ca.pem").write_text("x")
    code = main(
        [
            "--url", "wss://engine.example:443", "--access-key", "ak", "--app-secret-key", secret,
            "--subscribe", "orders/created", "orders/status", "--history", "50", "--auto-ack",
            "--ca-file", "ca.pem", "--insecure",
        ]
    )  # fmt: skip
    assert code == 0
    [(s, demo)] = launched
    assert demo is None
    assert (s.url, s.access_key, s.app_secret_key) == ("wss://engine.example:443", "ak", secret)
    assert s.subscribe == ["orders/created", "orders/status"]
    assert (s.history, s.auto_ack, s.insecure, s.ca_file) == (50, True, True, "ca.pem")


def test_profile_from_user_config(launched):
    path = user_config_path()
    path.parent.mkdir(parents=True)
    path.write_text('[profiles.dev]\nurl = "ws://127.0.0.1:8082"\naccess_key = "k"\n')
    assert main(["--profile", "dev"]) == 0
    assert launched[0][0].profile == "dev" and launched[0][0].can_connect


def test_demo_flag(launched):
    assert main(["--demo", "--seed", "7", "--demo-rate", "5"]) == 0
    [(_settings, demo)] = launched
    assert isinstance(demo, Demo) and demo.seed == 7 and demo.rate == 5.0
    assert not demo.running  # the app starts it


def test_bad_config_is_exit_2_before_the_app(launched, tmp_path, capsys):
    (tmp_path / "ensync.toml").write_text("[profiles.x]\nurl = 3\n")
    assert main([]) == 2
    assert not launched
    assert "ensync.toml: profiles.x.url: must be a non-empty string" in capsys.readouterr().err
