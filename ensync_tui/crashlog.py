"""Crash reports that never carry a secret: written to a private file, redacted.

When the explorer or a command dies of something unexpected, the user sees
one line that says where the report is; the report holds the traceback
without local variables, with every secret known to the process (access
keys, app secret keys) and anything shaped like a 64-byte key replaced by
``[redacted]``. The file is created mode 0600 in the user's state folder.

A leaf module: the standard library only (platformdirs is imported late).
"""

from __future__ import annotations

import os
import re
import sys
import time
import traceback
from collections.abc import Iterable
from pathlib import Path

__all__ = ["crash_dir", "redact", "write_crash_log"]

REDACTED = "[redacted]"
# base64 runs long enough to be part of a key; 64-byte keys are 86-88 characters
_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")
_KEY64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}={0,2}(?![A-Za-z0-9+/=])")
_MIN_PART = 12  # a run of this many characters of a secret counts as showing it


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with each secret, and any run of 12 or more of its characters,
    replaced; anything shaped like a 64-byte base64 key goes too."""
    known = [s for s in {s for s in secrets if s} if len(s) >= 8]
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    if known:

        def hide(match: re.Match[str]) -> str:
            token = match.group()
            for secret in known:
                if _shares_run(token, secret):
                    return REDACTED
            return token

        text = _TOKEN.sub(hide, text)
    return _KEY64.sub(REDACTED, text)


def _shares_run(token: str, secret: str) -> bool:
    """Whether ``token`` and ``secret`` share a run of _MIN_PART characters."""
    if len(token) < _MIN_PART:
        return False
    for start in range(0, len(token) - _MIN_PART + 1):
        if token[start : start + _MIN_PART] in secret:
            return True
    return False


def crash_dir() -> Path:
    """Where crash reports go: the user's state folder for ensync-tui."""
    import platformdirs

    return platformdirs.user_state_path("ensync-tui") / "crashes"


def write_crash_log(
    exc: BaseException,
    secrets: Iterable[str | None] = (),
    *,
    what: str = "ensync-tui",
    folder: Path | None = None,
) -> Path | None:
    """Write a redacted report of ``exc`` and return its path (None if it cannot be written)."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    report = "".join(
        [
            f"{what} crashed at {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n",
            f"python {sys.version.split()[0]} on {sys.platform}\n\n",
            *lines,
        ]
    )
    report = redact(report, secrets)
    target = folder or crash_dir()
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = target / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write(report)
    except OSError:
        return None
    return path
