"""`ensync-tui` without a command: the explorer (Textual is imported only here, late)."""

from __future__ import annotations

import argparse

from ensync_tui.cli import record
from ensync_tui.cli.options import add_setting_flags, non_negative_int, settings_from
from ensync_tui.errors import CommandError, UsageError


def add_options(parser: argparse.ArgumentParser) -> None:
    ui = parser.add_argument_group("explorer")
    add_setting_flags(ui, "explorer")
    ui.add_argument("--demo", action="store_true", help="explore live demo traffic (local engine)")
    ui.add_argument("--seed", type=non_negative_int, default=0, help="demo random seed")
    ui.add_argument(
        "--demo-rate",
        metavar="R",
        type=float,
        default=6.0,
        help="demo messages per second (default 6)",
    )
    record.add_option(ui)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ensync_tui.settings import Settings

    demo = None
    if args.demo:
        from ensync_tui.demo import Demo

        if args.demo_rate < 0:
            raise UsageError("--demo-rate: must be 0 or more")
        settings = Settings(history=getattr(args, "history", None) or Settings().history)
        demo = Demo(seed=args.seed, rate=args.demo_rate)
    else:
        settings = settings_from(args)
    try:
        from ensync_tui.app import run_app
    except ImportError as exc:
        raise CommandError(f"the terminal UI cannot start: {exc}") from None
    recorder = record.open_recorder(args, settings)
    try:
        return int(run_app(settings, demo=demo, recorder=recorder) or 0)
    finally:
        if recorder is not None:
            recorder.close()
