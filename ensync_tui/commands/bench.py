"""`ensync-tui bench`: publish and delivery rates and end-to-end latency."""

from __future__ import annotations

import argparse
from typing import Any

from ensync_tui.cli import CommandError, positive_int


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    p = sub.add_parser("bench", parents=[conn], help="measure throughput and latency")
    p.add_argument("--publishers", type=positive_int, default=1, metavar="N")
    p.add_argument("--subscribers", type=positive_int, default=1, metavar="N")
    p.add_argument("--count", type=positive_int, default=1000, metavar="N")
    p.add_argument("--size", type=positive_int, default=128, metavar="B")
    p.add_argument("--local", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise CommandError("bench is not available yet")
