"""Options in the SDK's names and snake_case, URLs, TLS contexts."""

from __future__ import annotations

import ssl

import pytest

from ensync_tui.client import EnSyncEngine, EnSyncValidationError
from ensync_tui.client.options import Options, message_url, parse_options, ssl_context


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("ws://localhost:8082", "ws://localhost:8082/message"),
        ("http://localhost:8082/", "ws://localhost:8082/message"),
        ("https://node.example", "wss://node.example/message"),
        ("wss://node.example/message", "wss://node.example/message"),
        ("wss://node.example/message/", "wss://node.example/message"),
    ],
)
def test_message_url(given, url):
    assert message_url(given) == url


@pytest.mark.parametrize("bad", ["", "ftp://x", "localhost:8082", "ws://", None])
def test_bad_urls_are_refused(bad):
    with pytest.raises(EnSyncValidationError):
        message_url(bad)


def test_camel_and_snake_names_mean_the_same():
    camel = parse_options(
        {
            "enableLogging": False,
            "reconnectInterval": 500,
            "maxReconnectAttempts": 0,
            "pingInterval": 20000,
        }
    )
    snake = parse_options(
        {
            "enable_logging": False,
            "reconnect_interval": 500,
            "max_reconnect_attempts": 0,
            "ping_interval": 20,
        }
    )
    assert camel == snake
    assert snake.reconnect_interval == 0.5 and snake.ping_interval == 20
    assert parse_options(None) == Options()
    assert parse_options({"ping_interval": 0}).ping_interval is None
    assert parse_options({"request_timeout": 2.5}).request_timeout == 2.5


@pytest.mark.parametrize(
    "bad",
    [
        {"nope": 1},
        {"reconnect_interval": -1},
        {"max_reconnect_attempts": 1.5},
        {"request_timeout": "x"},
        {"request_timeout": 0},
        {"ca_file": 3},
    ],
)
def test_bad_options_are_refused(bad):
    with pytest.raises(EnSyncValidationError):
        parse_options(bad)


def test_tls_verifies_by_default_and_only_skips_when_asked():
    assert ssl_context("ws://x/message", Options()) is None
    strict = ssl_context("wss://x/message", Options())
    assert strict is not None and strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    loose = ssl_context("wss://x/message", Options(insecure=True))
    assert loose is not None and loose.verify_mode == ssl.CERT_NONE


def test_missing_ca_file_is_a_clear_error(tmp_path):
    with pytest.raises(EnSyncValidationError, match="ca_file"):
        EnSyncEngine("wss://x", {"ca_file": str(tmp_path / "missing.pem")})


def test_engine_defaults_to_the_public_endpoint():
    assert EnSyncEngine().url == "wss://node.gms.ensync.cloud/message"
