"""What the commands print: secrets redacted, control characters escaped, NDJSON."""

from __future__ import annotations

import sys
from typing import Any

from ensync_tui.crashlog import redact
from ensync_tui.safetext import json_visible, visible

secrets: set[str] = set()  # access and secret keys this run knows: never shown


def keep_secret(*values: str | None) -> None:
    """Note secrets of this run: nothing printed, logged or saved shows them."""
    secrets.update(v for v in values if v)


def shown(text: str) -> str:
    """``text`` as the terminal may show it: secrets redacted, control characters escaped."""
    return visible(redact(text, secrets))


def shown_json(text: str) -> str:
    """JSON text (pretty-printed or not) as the terminal may show it: secrets
    redacted, still valid JSON."""
    return "\n".join(json_visible(redact(line, secrets)) for line in text.split("\n"))


def warn(text: str) -> None:
    """One line on stderr, secrets redacted and control characters escaped."""
    print(shown(f"ensync-tui: {text}"), file=sys.stderr, flush=True)


def ndjson_record(message: dict[str, Any]) -> dict[str, Any]:
    """A delivered or replayed message as one NDJSON object."""
    from ensync_tui.recording.lines import message_row

    return message_row(
        message.get("messageName"),
        message.get("idem"),
        message.get("block"),
        message.get("timestamp"),
        message.get("sender"),
        message.get("metadata"),
        message.get("payload"),
        message.get("decryptError"),
    )


def json_line(obj: Any) -> str:
    """Compact JSON text that a terminal shows as it is: every control, bidi and
    invisible character escaped; NaN and Infinity (not JSON) refused with ValueError."""
    from ensync_tui.recording.lines import dumps

    return dumps(obj)


def message_line(message: dict[str, Any]) -> tuple[str, str]:
    """The NDJSON line of a delivered or replayed message, and why it could not be
    shown whole ("" when it could); the one line the explorer's export writes too
    (``recording.lines.message_line``). Never raises."""
    from ensync_tui.recording import lines

    raw = getattr(message.get("record"), "payload", None)
    return lines.message_line(ndjson_record(message), raw)


def print_json(obj: Any, flush: bool = True) -> None:
    """One compact JSON object and a newline on stdout."""
    sys.stdout.write(json_line(obj))
    sys.stdout.write("\n")
    if flush:
        sys.stdout.flush()


def counted(n: int, noun: str) -> str:
    """``1 client``, ``2 clients``, ``3 identities``."""
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun[:-1]}ies" if noun.endswith("y") else f"{n} {noun}s"
