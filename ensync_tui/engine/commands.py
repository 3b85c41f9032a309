"""`serve` and `engine init` subcommands."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the local EnSync engine in the foreground")
    serve.set_defaults(handler=_not_ready)


def _not_ready(args: argparse.Namespace) -> int:
    raise SystemExit("not implemented yet")
