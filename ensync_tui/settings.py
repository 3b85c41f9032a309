"""The resolved settings the app and headless commands run with (no I/O here).

``Settings`` is also the profile schema. Each field's ``Spec`` says how it is
given (a profile key of the same name, a flag, an ENSYNC_* variable) and shown:
config.py validates and merges by it, ``config show`` prints by it, and the
command line makes its flags from it. A new setting is one field here.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, field, fields
from typing import Any, Literal

DEFAULT_URL = "wss://node.gms.ensync.cloud"
DEFAULT_HISTORY = 100_000

# what a value must be (config.py has a check for each)
Kind = Literal["url", "text", "secret_key", "names", "path", "bool", "count", "contacts", "table"]


@dataclass(frozen=True, slots=True)
class Spec:
    """How one setting is given and shown."""

    kind: Kind
    help: str
    flag: str = ""  # e.g. "--url"; "" when there is none
    metavar: str = ""
    env: str = ""  # e.g. "ENSYNC_URL"
    group: Literal["connection", "explorer"] = "connection"  # where --help lists the flag
    secret: bool = False  # shown redacted, never in a repr
    profile_key: bool = True  # a key of [profiles.NAME]
    unset: str = "(none)"  # what `config show` says when it is not set


def about(spec: Spec) -> dict[str, Spec]:
    """A field's metadata: its Spec."""
    return {"spec": spec}


@dataclass(slots=True)
class Settings:
    profile: str | None = field(
        default=None,
        metadata=about(
            Spec(
                "text",
                "profile from the config files",
                flag="--profile",
                metavar="NAME",
                env="ENSYNC_PROFILE",
                profile_key=False,
            )
        ),
    )
    url: str | None = field(
        default=None,
        metadata=about(
            Spec(
                "url",
                f"engine URL, e.g. {DEFAULT_URL}",
                flag="--url",
                metavar="URL",
                env="ENSYNC_URL",
                unset="(not set)",
            )
        ),
    )
    access_key: str | None = field(
        default=None,
        repr=False,  # secrets: never in a repr
        metadata=about(
            Spec(
                "text",
                "access key of the identity",
                flag="--access-key",
                metavar="KEY",
                env="ENSYNC_ACCESS_KEY",
                secret=True,
            )
        ),
    )
    account_key: str | None = field(
        default=None,
        repr=False,
        metadata=about(
            Spec(
                "text",
                "account key for the management API: names, schemas, keys (engine commands; "
                "the explorer completes names and checks schemas with it)",
                flag="--account-key",
                metavar="KEY",
                env="ENSYNC_ACCOUNT_KEY",
                secret=True,
            )
        ),
    )
    api_url: str | None = field(
        default=None,
        metadata=about(
            Spec(
                "url",
                "management API base URL (default: the engine URL with /api/v1/ensync)",
                flag="--api-url",
                metavar="URL",
                env="ENSYNC_API_URL",
                unset="(from the engine URL)",
            )
        ),
    )
    app_secret_key: str | None = field(
        default=None,
        repr=False,
        metadata=about(
            Spec(
                "secret_key",
                "secret key used to decrypt (prefer ENSYNC_APP_SECRET_KEY or a profile: "
                "flags show in the process list)",
                flag="--app-secret-key",
                metavar="KEY",
                env="ENSYNC_APP_SECRET_KEY",
                secret=True,
            )
        ),
    )
    subscribe: list[str] = field(
        default_factory=list,
        metadata=about(
            Spec(
                "names",
                "message names to subscribe to at start",
                flag="--subscribe",
                metavar="NAME",
                group="explorer",
            )
        ),
    )
    ca_file: str | None = field(
        default=None,
        metadata=about(
            Spec("path", "CA bundle to verify a wss:// engine", flag="--ca-file", metavar="FILE")
        ),
    )
    insecure: bool = field(
        default=False,
        metadata=about(Spec("bool", "do not verify TLS certificates", flag="--insecure")),
    )
    history: int = field(
        default=DEFAULT_HISTORY,
        metadata=about(
            Spec(
                "count",
                "how many messages to keep in memory",
                flag="--history",
                metavar="N",
                group="explorer",
            )
        ),
    )
    auto_ack: bool = field(
        default=False,
        metadata=about(
            Spec("bool", "acknowledge messages as they arrive", flag="--auto-ack", group="explorer")
        ),
    )
    message_names: list[str] = field(
        default_factory=list,
        metadata=about(Spec("names", "known message names, offered for completion")),
    )
    contacts: dict[str, str] = field(
        default_factory=dict,
        metadata=about(Spec("contacts", "name = public key, for publishing")),
    )
    theme: str | None = field(  # a top-level key of a file, not of a profile
        default=None,
        metadata=about(
            Spec(
                "text",
                "the explorer's colour theme, e.g. nord (else the one last chosen in it)",
                profile_key=False,
            )
        ),
    )
    keys: dict[str, str] = field(  # the [keys] table of a file, not of a profile
        default_factory=dict,
        metadata=about(
            Spec("table", "binding id = key, overriding the explorer's keys", profile_key=False)
        ),
    )

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


def schema() -> list[tuple[Field[Any], Spec]]:
    """Every setting with its Spec, in the order `config show` lists them."""
    return [(f, f.metadata["spec"]) for f in fields(Settings)]


def environment_names() -> list[str]:
    """The ENSYNC_* variables settings are read from."""
    return [spec.env for _, spec in schema() if spec.env]


def spec_of(name: str) -> Spec:
    return next(spec for f, spec in schema() if f.name == name)


def redact(secret: str | None) -> str:
    """Show a secret as its first 4 characters and its length, never in full."""
    if not secret:
        return "(not set)"
    return f"{secret[:4]}…({len(secret)} chars)"
