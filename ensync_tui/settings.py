"""The resolved settings the app and headless commands run with (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_URL = "wss://node.gms.ensync.cloud"
DEFAULT_HISTORY = 100_000


@dataclass(slots=True)
class Settings:
    url: str | None = None
    access_key: str | None = field(default=None, repr=False)  # secrets: never in a repr
    app_secret_key: str | None = field(default=None, repr=False)
    profile: str | None = None
    subscribe: list[str] = field(default_factory=list)
    ca_file: str | None = None
    insecure: bool = False
    history: int = DEFAULT_HISTORY
    auto_ack: bool = False
    contacts: dict[str, str] = field(default_factory=dict)  # name -> public key
    message_names: list[str] = field(default_factory=list)  # known names for completion
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> key override

    @property
    def can_connect(self) -> bool:
        return bool(self.url and self.access_key)

    def client_options(self, max_reconnect_attempts: int = 0) -> dict[str, object]:
        """Options for ``EnSyncEngine``: TLS from the settings, steady reconnects."""
        opts: dict[str, object] = {
            "reconnect_interval": 500,
            "max_reconnect_attempts": max_reconnect_attempts,  # 0 = forever
            "request_timeout": 10,
            "ping_interval": 30,
            "insecure": self.insecure,
        }
        if self.ca_file:
            opts["ca_file"] = self.ca_file
        return opts


def redact(secret: str | None) -> str:
    """Show a secret as its first 4 characters and its length, never in full."""
    if not secret:
        return "(not set)"
    return f"{secret[:4]}…({len(secret)} chars)"
