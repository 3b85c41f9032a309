"""Whether a text shows a secret: in full, or any run of 12 or more of its characters."""

from __future__ import annotations

from collections.abc import Iterable

RUN = 12


def leaked_runs(text: str, secret: str, run: int = RUN) -> list[str]:
    """The runs of ``run`` characters of ``secret`` that appear in ``text``."""
    return [
        secret[i : i + run] for i in range(len(secret) - run + 1) if secret[i : i + run] in text
    ]


def assert_no_secret(text: str, secrets: Iterable[str], where: str) -> None:
    for secret in secrets:
        found = leaked_runs(text, secret)
        assert not found, f"{where} shows part of a secret: {found[0]!r}"
