"""`ensync-tui web`: the explorer in a browser, one explorer per tab (textual-serve).

Each tab's explorer is a process of its own (cli/web_tab.py) with the settings `web` resolved.
They reach it in a private file (mode 0600, in a folder only we can enter),
one per tab, that the explorer reads and removes as it starts: no secret is
in a process's arguments or environment. The explorer ends when its tab closes
or `web` stops: asked to quit, then its input is closed, then SIGTERM, then
SIGKILL of its process group, within ``STOP_WAIT`` seconds in all.

It listens on the loopback unless told otherwise. A page must come from the
host it names (no other site's page may drive it: the browser's Origin and
Host are checked), and off the loopback every request must carry the token.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ensync_tui.cli.options import non_negative_int, port_number, settings_from
from ensync_tui.cli.output import keep_secret, warn
from ensync_tui.errors import UsageError

DEFAULT_PORT = 8000


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "web",
        parents=[conn],
        help="serve the explorer to a browser (one explorer per tab)",
        description="Serve the explorer over HTTP: each browser tab gets its own explorer "
        "with these settings. Listens on 127.0.0.1 unless --host says otherwise; off the "
        "loopback, anyone who can reach the port gets an explorer with the profile's keys, "
        "so every URL must carry the token (--token, or one made and printed).",
    )
    p.add_argument("--demo", action="store_true", help="live demo traffic (a local engine per tab)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="demo random seed")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=port_number, default=DEFAULT_PORT, help="port (default 8000)")
    p.add_argument("--token", metavar="TOKEN", help="a secret every URL must carry (?token=…)")
    p.set_defaults(handler=run)


def session_data(args: argparse.Namespace) -> dict[str, Any]:
    """What each tab's explorer starts from: the settings, or the demo's seed."""
    if args.demo:
        return {"demo": {"seed": args.seed}}
    settings = settings_from(args)
    return {"settings": dataclasses.asdict(settings)}


def run(args: argparse.Namespace) -> int:
    import secrets as random_secrets

    data = session_data(args)
    token = args.token
    if token is not None and (len(token) < 16 or not token.isascii() or not token.isprintable()):
        raise UsageError("--token: must be at least 16 printable ASCII characters")
    from ensync_tui.cli.web_server import is_loopback

    loopback = is_loopback(args.host)
    if not loopback:
        token = token or random_secrets.token_urlsafe(24)
        keep_secret(token)
    from ensync_tui.cli.running import run as run_async
    from ensync_tui.cli.web_server import serve

    def started(url: str) -> None:
        shown = f"{url}/?token={token}" if token else f"{url}/"
        if loopback:
            print(f"ensync-tui web: the explorer on {shown} (loopback only)", flush=True)
        else:
            warn(
                f"listening on {args.host}: anyone who can reach port {url.rsplit(':', 1)[-1]} "
                "gets an explorer with this profile's keys (it reads, acks and publishes as "
                "you); every URL must carry the token"
            )
            print(f"ensync-tui web: the explorer on {shown}", flush=True)
        print("ensync-tui web: each tab gets its own explorer; Ctrl+C stops", flush=True)

    return run_async(lambda: serve(data, args.host, args.port, token, started))
