"""`ensync-tui engine names|add-name|keys|add-key`: the management API (the local
engine's or EnSync's) for people without EnSync's CLI.

The API and the account key come from the connection settings: ``--api-url`` (else
the engine ``--url`` with ``/api/v1/ensync``), ``--account-key`` or
``ENSYNC_ACCOUNT_KEY`` or a profile's ``account_key`` (``engine init`` writes one into
each profile). TLS is verified as for the WebSocket (``--ca-file``, ``--insecure``).
"""

from __future__ import annotations

import argparse
from typing import Any

from ensync_tui.cli.output import json_line, keep_secret, print_json, shown
from ensync_tui.errors import CommandError, UsageError
from ensync_tui.safetext import visible

SCHEMA_HELP = (
    "FIELD=TYPE, TYPE one of: string integer long double float number boolean object array null"
)


def add_parsers(engine_sub: Any, conn: argparse.ArgumentParser) -> None:
    names = engine_sub.add_parser(
        "names",
        parents=[conn],
        help="list the registered message names and their schemas",
        description="List the message names the engine knows, with their schemas.",
    )
    names.add_argument("--filter", metavar="TEXT", help="only names that contain TEXT")
    names.add_argument("--json", action="store_true", help="one JSON object a line")
    names.set_defaults(handler=run_names)

    add_name = engine_sub.add_parser(
        "add-name",
        parents=[conn],
        help="register a message name, with an optional schema",
        description="Register a message name. Each FIELD=TYPE adds a field to its schema "
        "(a payload is then checked against it); without any, the name has no schema.",
    )
    add_name.add_argument("name", metavar="NAME")
    add_name.add_argument("fields", metavar="FIELD=TYPE", nargs="*", help=SCHEMA_HELP)
    add_name.set_defaults(handler=run_add_name)

    keys = engine_sub.add_parser(
        "keys",
        parents=[conn],
        help="list the access keys (shortened) and their permissions",
        description="List the access keys the engine knows; access keys are shortened.",
    )
    keys.add_argument("--filter", metavar="TEXT", help="only keys whose name contains TEXT")
    keys.add_argument("--json", action="store_true", help="one JSON object a line")
    keys.set_defaults(handler=run_keys)

    add_key = engine_sub.add_parser(
        "add-key",
        parents=[conn],
        help="make an access key (its secrets are printed once)",
        description="Make a SERVICE key (an identity that connects: an access key and a key "
        "pair) or, with --account, an ACCOUNT key for the management API. Its access key and "
        "secret key are printed once, here only: the engine keeps no secret key.",
    )
    add_key.add_argument("name", metavar="NAME")
    add_key.add_argument("--account", action="store_true", help="an ACCOUNT key")
    add_key.add_argument(
        "--send",
        metavar="NAME",
        nargs="+",
        action="extend",
        default=[],
        help="names or patterns (orders/*, *) it may publish",
    )
    add_key.add_argument(
        "--receive",
        metavar="NAME",
        nargs="+",
        action="extend",
        default=[],
        help="names or patterns it may subscribe to",
    )
    add_key.add_argument("--json", action="store_true", help="the key and its secrets as JSON")
    add_key.set_defaults(handler=run_add_key)


def management_client(args: argparse.Namespace) -> Any:
    """A ManagementClient from the settings, else a UsageError saying what is missing."""
    from ensync_tui.cli.options import settings_from
    from ensync_tui.client.management import ManagementClient, api_url_for
    from ensync_tui.errors import ConfigError

    try:
        settings = settings_from(args)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    keep_secret(settings.account_key)
    if not settings.account_key:
        raise UsageError(
            "no account key: pass --account-key, set ENSYNC_ACCOUNT_KEY, or use a profile with "
            "account_key (engine init writes one)"
        )
    url = settings.api_url or settings.url
    if not url:
        raise UsageError("no engine: pass --url or --api-url, or choose a profile")
    try:
        return ManagementClient(
            api_url_for(url), settings.account_key, settings.ca_file, settings.insecure
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _calling(what: Any) -> Any:
    from ensync_tui.client.errors import EnSyncError

    try:
        return what()
    except EnSyncError as exc:
        raise CommandError(getattr(exc, "message", str(exc))) from None


def _schema_text(schema: dict[str, str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in schema.items()) if schema else "(no schema)"


def run_names(args: argparse.Namespace) -> int:
    api = management_client(args)
    events = _calling(lambda: api.events(args.filter))
    for e in events:
        if args.json:
            print_json({"id": e.id, "name": e.name, "payload": e.schema, "createdAt": e.created_at})
        else:
            print(shown(f"{e.name}  {_schema_text(e.schema)}"))
    if not args.json:
        print(f"{len(events)} message name{'' if len(events) == 1 else 's'} at {api.base_url}")
    return 0


def parse_fields(fields: list[str]) -> dict[str, str]:
    schema: dict[str, str] = {}
    for item in fields:
        name, sep, kind = item.partition("=")
        if not sep or not name or not kind:
            raise UsageError(f"{item!r}: a schema field is FIELD=TYPE ({SCHEMA_HELP})")
        if name in schema:
            raise UsageError(f"field {name!r} is given twice")
        schema[name] = kind
    return schema


def run_add_name(args: argparse.Namespace) -> int:
    schema = parse_fields(args.fields)
    api = management_client(args)
    event = _calling(lambda: api.create_event(args.name, schema or None))
    print(shown(f"registered {event.name} (id {event.id}): {_schema_text(event.schema)}"))
    return 0


def _short(key: str) -> str:
    return key[:4] + "…" if len(key) > 8 else "…"


def run_keys(args: argparse.Namespace) -> int:
    api = management_client(args)
    keys = _calling(lambda: api.keys(args.filter))
    for k in keys:
        keep_secret(k.access_key)
        row = {
            "id": k.id,
            "name": k.name,
            "type": k.type,
            "key": _short(k.access_key),
            "send": list(k.send),
            "receive": list(k.receive),
            "publicKey": k.public_key,
        }
        if args.json:
            print_json(row)
            continue
        perms = ""
        if k.type == "SERVICE":
            perms = f"  send {','.join(k.send) or '-'}  receive {','.join(k.receive) or '-'}"
        print(shown(f"{k.name}  {k.type}  {_short(k.access_key)}  id {k.id}{perms}"))
    if not args.json:
        print(f"{len(keys)} access key{'' if len(keys) == 1 else 's'} at {api.base_url}")
    return 0


def run_add_key(args: argparse.Namespace) -> int:
    api = management_client(args)
    kind = "ACCOUNT" if args.account else "SERVICE"
    if args.account and (args.send or args.receive):
        raise UsageError(
            "an ACCOUNT key has no --send or --receive (it manages, it does not connect)"
        )
    made = _calling(lambda: api.create_key(args.name, kind, args.send, args.receive))
    key = made.key
    # printed once, here, on purpose: never through a logger, never kept
    secrets = {"access_key": key.access_key}
    if made.secret_key:
        secrets.update(app_secret_key=made.secret_key, public_key=key.public_key or "")
    if args.json:
        print(json_line({"id": key.id, "name": key.name, "type": key.type, **secrets}))
    else:
        print(shown(f"made {key.type} key {key.name!r} (id {key.id})"))
        for name, value in secrets.items():
            print(f"{name} = {visible(value)}")
        if key.type == "SERVICE":
            print(shown(f"send = {list(key.send)}  receive = {list(key.receive)}"))
        print("keep these now: they are shown once (the engine keeps no secret key)")
    keep_secret(key.access_key, made.secret_key)
    return 0
