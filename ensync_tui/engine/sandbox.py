"""Throw-away identities and configs for demos and tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ensync_tui.engine.config import ClientSpec, EngineConfig, MessageSpec
from ensync_tui.protocol.crypto import generate_keypair


@dataclass(frozen=True, slots=True)
class Identity:
    """An identity with its secrets: what a client needs to connect and decrypt."""

    name: str
    access_key: str
    public_key: str
    secret_key: str  # 64-byte Ed25519 secret key, base64

    def __repr__(self) -> str:  # never show secrets
        return f"Identity(name={self.name!r}, public_key={self.public_key!r})"

    def spec(self, send: list[str] | None = None, receive: list[str] | None = None) -> ClientSpec:
        return ClientSpec(
            self.name, self.access_key, self.public_key, send or ["*"], receive or ["*"]
        )


def new_access_key() -> str:
    return secrets.token_urlsafe(24)


def make_identities(names: Iterable[str]) -> dict[str, Identity]:
    """Fresh key pairs and random access keys, one per name."""
    out: dict[str, Identity] = {}
    for name in names:
        public, secret = generate_keypair()
        out[name] = Identity(name, new_access_key(), public, secret)
    return out


def sandbox_config(
    identities: Mapping[str, Identity] | Iterable[Identity],
    messages: Iterable[MessageSpec | str],
    **kwargs: Any,
) -> EngineConfig:
    """A config where every identity may send and receive every registered name."""
    people = identities.values() if isinstance(identities, Mapping) else identities
    specs = [m if isinstance(m, MessageSpec) else MessageSpec(m) for m in messages]
    return EngineConfig(clients=[i.spec() for i in people], messages=specs, **kwargs)
