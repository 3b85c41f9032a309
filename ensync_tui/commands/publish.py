"""`ensync-tui publish NAME --to ... --payload JSON|@file|-`: one or many messages."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ensync_tui.cli import UsageError
from ensync_tui.client import crypto


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
    p.add_argument("--payload", metavar="JSON|@FILE|-", required=True, help="the payload")
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
        help="box the payload per recipient instead of one hybrid envelope",
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


def parse_payloads(text: str, label: str) -> list[dict[str, Any]]:
    """One JSON object, or NDJSON: one object per non-empty line."""
    if not text.strip():
        raise UsageError(f"{label}: empty payload")
    whole, error = _json_error(text)
    if not error:
        if not isinstance(whole, dict):
            raise UsageError(f"{label}: the payload must be a JSON object")
        return [whole]
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) < 2:
        raise UsageError(f"{label}: invalid JSON: {error}")
    payloads = []
    for number, line in lines:
        value, error = _json_error(line)
        if error:
            raise UsageError(f"{label}: line {number}: invalid JSON: {error}")
        if not isinstance(value, dict):
            raise UsageError(f"{label}: line {number}: must be a JSON object")
        payloads.append(value)
    return payloads


def _json_error(text: str) -> tuple[Any, str]:
    try:
        return json.loads(text), ""
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    except (ValueError, RecursionError) as exc:
        return None, str(exc)


def parse_headers(items: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--header: expected K=V, got {item!r}")
        headers[key.strip()] = value
    return headers


def resolve_recipients(targets: list[str], contacts: dict[str, str], self_key: str) -> list[str]:
    keys: list[str] = []
    for target in targets:
        if target in contacts:
            key = contacts[target]
        elif target == "self":
            key = self_key
        elif crypto.public_key_problem(target) is None:
            key = target
        else:
            known = ", ".join(["self", *sorted(contacts)])
            raise UsageError(
                f"--to: {target!r} is neither a public key nor a contact (contacts: {known})"
            )
        if key not in keys:
            keys.append(key)
    return keys


def run(args: argparse.Namespace) -> int:
    from ensync_tui.commands.common import connected_settings
    from ensync_tui.commands.common import run as run_async

    settings = connected_settings(args)
    headers = parse_headers(args.header)
    text, label = read_payload_text(args.payload)
    payloads = parse_payloads(text, label)
    for target in args.to:  # fail early on a bad recipient, before connecting
        if (
            target != "self"
            and target not in settings.contacts
            and crypto.public_key_problem(target) is not None
        ):
            resolve_recipients([target], settings.contacts, "")
    metadata = {"persist": not args.no_persist, "headers": headers}
    options = {"useHybridEncryption": not args.no_hybrid}
    return run_async(lambda: _publish(settings, args.name, args.to, payloads, metadata, options))


async def _publish(
    settings: Any,
    name: str,
    targets: list[str],
    payloads: list[dict[str, Any]],
    metadata: dict[str, Any],
    options: dict[str, Any],
) -> int:
    from ensync_tui.client import EnSyncError
    from ensync_tui.commands.common import connect, error_text, print_json, warn

    async with connect(settings) as client:
        recipients = resolve_recipients(targets, settings.contacts, client.get_client_public_key())
        for number, payload in enumerate(payloads, 1):
            try:
                results = await client.publish(name, recipients, payload, metadata, options)
            except EnSyncError as exc:
                where = f"message {number}: " if len(payloads) > 1 else ""
                warn(f"error: publish {name}: {where}{error_text(exc)}")
                return 1
            for result in results:
                print_json(
                    {
                        "messageName": name,
                        "line": number,
                        "recipient": result.get("recipient"),
                        "idem": result.get("idem"),
                        "block": result.get("block"),
                    }
                )
    return 0
