"""`ensync-tui` without a command: the explorer (Textual is imported only here, late)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ensync_tui.cli import record
from ensync_tui.cli.options import add_setting_flags, non_negative_int, settings_from
from ensync_tui.demo.local import MAX_RATE as MAX_DEMO_RATE
from ensync_tui.errors import CommandError, UsageError

if TYPE_CHECKING:
    from ensync_tui.settings import Settings

DEMO_RATE = 6.0  # demo messages a second unless --demo-rate says


def add_options(parser: argparse.ArgumentParser) -> None:
    ui = parser.add_argument_group("explorer")
    add_setting_flags(ui, "explorer")
    ui.add_argument("--demo", action="store_true", help="explore live demo traffic (local engine)")
    ui.add_argument("--seed", type=non_negative_int, default=None, help="demo random seed")
    ui.add_argument(
        "--demo-rate",
        metavar="R",
        type=float,
        default=None,
        help=f"demo messages per second, 0 to {MAX_DEMO_RATE:,} (default {DEMO_RATE:g})",
    )
    record.add_option(ui)
    parser.set_defaults(handler=run)


def demo_settings(args: argparse.Namespace) -> Settings:
    """The explorer's own settings under --demo: its flags (history, auto-ack,
    subscribe) and the config files' [keys]; a connection flag is refused, as the
    demo brings its engine and identities."""
    from ensync_tui.config import config_files
    from ensync_tui.settings import Settings, schema

    for f, spec in schema():
        if spec.flag and spec.group == "connection" and getattr(args, f.name, None):
            raise UsageError(
                f"{spec.flag}: not used with --demo (the demo runs its own engine and identities)"
            )
    if args.demo_rate is not None and not 0 <= args.demo_rate <= MAX_DEMO_RATE:
        raise UsageError(f"--demo-rate: must be 0 to {MAX_DEMO_RATE:,} messages a second")
    keys: dict[str, str] = {}
    theme = None
    for file in config_files(getattr(args, "config", None)):
        keys.update(file.keys)
        theme = file.theme or theme
    return Settings(
        history=getattr(args, "history", None) or Settings().history,
        auto_ack=bool(getattr(args, "auto_ack", False)),
        subscribe=list(getattr(args, "subscribe", None) or []),
        keys=keys,
        theme=theme,
    )


def check_keys_and_theme(args: argparse.Namespace) -> None:
    """The config files' [keys] and theme, refused with the file and key named."""
    from ensync_tui.app.keymap import check_config
    from ensync_tui.config import config_files

    files = config_files(getattr(args, "config", None))
    if any(f.keys or f.theme for f in files):
        check_config([(f.label, f.keys, f.theme) for f in files])


def run(args: argparse.Namespace) -> int:
    demo = None
    if args.demo:
        from ensync_tui.demo import Demo

        settings = demo_settings(args)
        rate = DEMO_RATE if args.demo_rate is None else args.demo_rate
        demo = Demo(seed=args.seed or 0, rate=rate)
    else:
        if args.demo_rate is not None or args.seed is not None:
            raise UsageError("--demo-rate and --seed: only with --demo")
        settings = settings_from(args)
    try:
        from ensync_tui.app import run_app
    except ImportError as exc:
        raise CommandError(f"the terminal UI cannot start: {exc}") from None
    check_keys_and_theme(args)
    recorder = record.open_recorder(args, settings)
    try:
        return int(run_app(settings, demo=demo, recorder=recorder) or 0)
    finally:
        if recorder is not None:
            recorder.close()
