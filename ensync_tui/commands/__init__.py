"""Headless subcommands: tail, publish, replay, keygen, bench, config.

Registering them imports nothing heavy; each command imports what it needs
when it runs, and none of them imports Textual.
"""

from __future__ import annotations

import argparse
from typing import Any

from ensync_tui.commands import bench, config_cmd, keygen, publish, replay, tail


def add_commands(sub: Any, conn: argparse.ArgumentParser) -> None:
    for module in (tail, publish, replay, keygen, bench, config_cmd):
        module.add_parser(sub, conn)
