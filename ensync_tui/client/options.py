"""Client options: the official SDK's camelCase names and their snake_case forms.

Times follow the SDK: ``reconnect_interval``/``reconnectInterval`` and
``pingInterval`` are milliseconds; ``ping_interval`` and ``request_timeout``
are seconds (``ping_interval`` 0 or None turns keepalive pings off).
``key_reuse`` (seconds, 0 = a fresh key pair per message) is explained in
:mod:`ensync_tui.client.sealing`.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ensync_tui.client.errors import EnSyncValidationError
from ensync_tui.settings import DEFAULT_URL

__all__ = ["DEFAULT_URL", "Options", "message_url", "parse_options", "ssl_context"]

# accepted names -> (field, scale to seconds or None)
_NAMES: dict[str, tuple[str, float | None]] = {
    "enableLogging": ("enable_logging", None),
    "enable_logging": ("enable_logging", None),
    "reconnectInterval": ("reconnect_interval", 0.001),
    "reconnect_interval": ("reconnect_interval", 0.001),
    "maxReconnectAttempts": ("max_reconnect_attempts", None),
    "max_reconnect_attempts": ("max_reconnect_attempts", None),
    "pingInterval": ("ping_interval", 0.001),
    "ping_interval": ("ping_interval", 1.0),
    "requestTimeout": ("request_timeout", 0.001),
    "request_timeout": ("request_timeout", 1.0),
    "openTimeout": ("open_timeout", 0.001),
    "open_timeout": ("open_timeout", 1.0),
    "maxReconnectDelay": ("max_reconnect_delay", 0.001),
    "max_reconnect_delay": ("max_reconnect_delay", 1.0),
    "caFile": ("ca_file", None),
    "ca_file": ("ca_file", None),
    "insecure": ("insecure", None),
    "keyReuse": ("key_reuse", 0.001),
    "key_reuse": ("key_reuse", 1.0),
}


@dataclass(frozen=True, slots=True)
class Options:
    """Resolved options; every time is in seconds."""

    enable_logging: bool = False
    reconnect_interval: float = 5.0
    max_reconnect_attempts: int = 5  # 0 = forever
    max_reconnect_delay: float = 30.0
    ping_interval: float | None = 30.0
    request_timeout: float = 30.0
    open_timeout: float = 10.0
    ca_file: str | None = None
    insecure: bool = False
    key_reuse: float = 0.0  # seconds a direct-envelope key pair may serve one recipient (opt-in)


def _number(name: str, value: Any, scale: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise EnSyncValidationError(f"option {name} must be a number >= 0, got {value!r}")
    return float(value) * scale


def parse_options(options: Mapping[str, Any] | None) -> Options:
    """Options from a mapping of SDK-style names; unknown names are refused."""
    if options is None:
        return Options()
    if not isinstance(options, Mapping):
        raise EnSyncValidationError("options must be a dict")
    values: dict[str, Any] = {}
    for name, value in options.items():
        target = _NAMES.get(name)
        if target is None:
            known = ", ".join(sorted(n for n in _NAMES if "_" in n))
            raise EnSyncValidationError(f"unknown option {name!r} (known: {known})")
        field, scale = target
        if field in ("enable_logging", "insecure"):
            values[field] = bool(value)
        elif field == "ca_file":
            if value is not None and not isinstance(value, str):
                raise EnSyncValidationError(f"option {name} must be a path")
            values[field] = value or None
        elif field == "max_reconnect_attempts":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EnSyncValidationError(f"option {name} must be a whole number >= 0")
            values[field] = value
        elif field == "ping_interval" and not value:
            values[field] = None
        else:
            assert scale is not None
            values[field] = _number(name, value, scale)
    if values.get("request_timeout") == 0:
        raise EnSyncValidationError("request_timeout must be more than 0")
    return Options(**values)


def message_url(url: str) -> str:
    """The socket URL: ``http`` becomes ``ws``, plus the path ``/message`` once."""
    if not isinstance(url, str) or not url.strip():
        raise EnSyncValidationError("url must be a non-empty string")
    text = url.strip()
    if text.startswith("http"):
        text = "ws" + text[4:]
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise EnSyncValidationError(
            f"url must start with ws://, wss://, http:// or https://: {url}"
        )
    text = text.rstrip("/")
    if not text.endswith("/message"):
        text += "/message"
    return text


def ssl_context(url: str, options: Options) -> ssl.SSLContext | None:
    """The TLS context for a ``wss`` URL: verifying unless ``insecure``."""
    if not url.startswith("wss:"):
        return None
    try:
        context = ssl.create_default_context(cafile=options.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise EnSyncValidationError(f"cannot load ca_file {options.ca_file}: {exc}") from None
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
