"""`ensync-tui publish NAME --to ... --payload JSON|@file|-`: one or many messages."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from ensync_tui.cli.options import connected_settings
from ensync_tui.cli.output import print_json, warn
from ensync_tui.errors import UsageError, error_text


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "publish",
        parents=[conn],
        help="publish one message, or one per NDJSON line",
        description="Encrypt and publish a JSON object to one or more recipients. The "
        "payload is JSON text, @FILE, or - for stdin; input of several lines of JSON "
        "objects (NDJSON) publishes each line. Prints one JSON line per delivery with "
        "its idem and block.",
    )
    p.add_argument("name", metavar="NAME", help="message name, e.g. orders/created")
    p.add_argument(
        "--to",
        metavar="KEY_OR_CONTACT",
        nargs="+",
        action="extend",
        required=True,
        help="recipients: public keys, contact names from the profile, or self",
    )
    p.add_argument(
        "--payload",
        metavar="JSON|@FILE|-",
        required=True,
        help="a JSON object, @FILE or - (stdin); NDJSON input publishes one message a line",
    )
    p.add_argument(
        "--header",
        metavar="K=V",
        action="append",
        default=[],
        help="a metadata header (repeatable)",
    )
    p.add_argument("--no-persist", action="store_true", help="ask the engine not to store it")
    p.add_argument(
        "--no-hybrid",
        action="store_true",
        help="box the payload per recipient instead of one hybrid envelope (the default for "
        "several recipients, as in the explorer's composer)",
    )
    p.set_defaults(handler=run)


def read_payload_text(spec: str) -> tuple[str, str]:
    """(text, label) of --payload: JSON text, @file or - (stdin)."""
    if spec == "-":
        return sys.stdin.read(), "stdin"
    if spec.startswith("@"):
        path = spec[1:]
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read(), path
        except FileNotFoundError:
            raise UsageError(f"--payload: file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--payload: cannot read {path}: {exc}") from None
    return spec, "--payload"


def parse_payloads(text: str, label: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) pairs: one JSON object, or NDJSON (one per non-empty line)."""
    if not text.strip():
        raise UsageError(f"{label}: empty payload")
    whole, error = _json_error(text)
    if not error:
        if not isinstance(whole, dict):
            raise UsageError(f"{label}: the payload must be a JSON object")
        return [(1, whole)]
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    # NDJSON only when the first line is a whole object on its own; otherwise the
    # input is one (e.g. pretty-printed) document and its own error is the one to show
    first, first_error = _json_error(lines[0][1])
    if len(lines) < 2 or first_error or not isinstance(first, dict):
        raise UsageError(f"{label}: invalid JSON: {error} (nothing sent)")
    payloads = []
    for number, line in lines:
        value, error = _json_error(line, number)
        if error:
            raise UsageError(f"{label}: invalid JSON at {error} (nothing sent)")
        if not isinstance(value, dict):
            raise UsageError(f"{label}: line {number}: must be a JSON object (nothing sent)")
        payloads.append((number, value))
    return payloads


def _json_error(text: str, line: int | None = None) -> tuple[Any, str]:
    """(value, "") or (None, what is wrong and where)."""
    try:
        return json.loads(text), ""
    except json.JSONDecodeError as exc:
        if line is not None:  # one NDJSON line: its number in the input
            return None, f"line {line}, column {exc.colno}: {exc.msg}"
        return None, f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    except (ValueError, RecursionError) as exc:
        where = f"line {line}: " if line is not None else ""
        return None, f"{where}{exc}"


_FLAGS = {"name": "NAME", "recipients": "--to", "headers": "--header"}
_SELF_LATER = "(this identity's key, known once connected)"


def draft_for(args: argparse.Namespace, settings: Any, self_key: str) -> Any:
    """The publishing Draft of the arguments: what the explorer's composer takes too
    (contacts in any case; recipients and headers may share one argument)."""
    from ensync_tui.client.publishing import Draft

    return Draft(
        name=args.name,
        recipients=" ".join(args.to),
        headers="\n".join(args.header),
        persist=not args.no_persist,
        hybrid=False if args.no_hybrid else None,
        contacts=settings.contacts,
        self_key=self_key,
    )


def checked(draft: Any) -> tuple[list[str], dict[str, Any]]:
    """(recipient keys, metadata) of the draft; UsageError naming every problem."""
    problems = draft.name_problems()
    resolved, more = draft.resolve()
    headers, even_more = draft.parse_headers()
    problems += more + even_more
    if problems:
        raise UsageError("; ".join(f"{_FLAGS[field]}: {_shown(p)}" for field, p in problems))
    return [key for _, key in resolved], {"persist": draft.persist, "headers": headers}


def _shown(problem: str) -> str:
    """A header problem quotes its --header: no line of a text box to name."""
    return re.sub(r"^line \d+: ", "", problem)


def run(args: argparse.Namespace) -> int:
    from ensync_tui.cli.running import run as run_async
    from ensync_tui.client.crypto import public_key_of

    settings = connected_settings(args)
    text, label = read_payload_text(args.payload)
    payloads = parse_payloads(text, label)
    own = public_key_of(settings.app_secret_key) if settings.app_secret_key else _SELF_LATER
    checked(draft_for(args, settings, own))  # every problem said before connecting
    return run_async(lambda: _publish(settings, args, payloads))


async def _publish(
    settings: Any, args: argparse.Namespace, payloads: list[tuple[int, dict[str, Any]]]
) -> int:
    from ensync_tui.cli.running import connect
    from ensync_tui.client import EnSyncError
    from ensync_tui.client.publishing import Message

    async with connect(settings) as client:
        draft = draft_for(args, settings, client.get_client_public_key())
        keys, metadata = checked(draft)
        name = draft.name.strip()
        for sent, (line, payload) in enumerate(payloads):
            message = Message(name, keys, payload, metadata, draft.use_hybrid(keys))
            try:
                results = await message.publish(client)
            except EnSyncError as exc:
                # deliveries the engine took before the failure were stored: show them
                results = getattr(exc, "results", None) or []
                _print_results(name, line, results)
                problem = _failure(exc, payload, len(keys))
                where = f"line {line}: " if len(payloads) > 1 else ""
                warn(f"error: publish {name}: {where}{problem}")
                if len(payloads) > 1:
                    more = " (nothing after it was sent)" if sent + 1 < len(payloads) else ""
                    warn(f"{sent} of {len(payloads)} messages sent; stopped at line {line}{more}")
                return 1
            _print_results(name, line, results)
    return 0


def _print_results(name: str, line: int, results: list[dict[str, Any]]) -> None:
    for result in results:
        if result.get("idem") is None:
            continue  # this recipient failed: reported on stderr
        print_json(
            {
                "messageName": name,
                "line": line,
                "recipient": result.get("recipient"),
                "idem": result.get("idem"),
                "block": result.get("block"),
            }
        )


def _failure(exc: Exception, payload: dict[str, Any], recipients: int) -> str:
    """What went wrong with one message, in one line."""
    from ensync_tui.client import EnSyncConnectionError, EnSyncTimeoutError

    text = error_text(exc)
    if "over the" in text and "limit" in text:
        size = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
        text += (
            "; the limit counts the encrypted, base64-encoded payload, about 1.8 times "
            f"the JSON, and this JSON is {size} bytes"
        )
    if isinstance(exc, (EnSyncConnectionError, EnSyncTimeoutError)):
        text += " (the engine may or may not have stored it)"
    results = getattr(exc, "results", None) or []
    if recipients > 1:
        delivered = sum(1 for r in results if r.get("idem") is not None)
        text += f" (delivered to {delivered} of {recipients} recipients)"
    return text
