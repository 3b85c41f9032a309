"""What the commands' arguments share: the parser, number parsers, the connection
options, and the settings they resolve to."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from ensync_tui.cli.output import keep_secret
from ensync_tui.errors import EXIT_USAGE, UsageError

if TYPE_CHECKING:
    from ensync_tui.settings import Settings

HOW_TO_CONNECT = (
    "no engine configured: pass --url and --access-key, set ENSYNC_URL and "
    "ENSYNC_ACCESS_KEY, or choose a profile with --profile (see `ensync-tui config path`)"
)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_in(low: int, high: int | None = None, what: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (inclusive)."""
    if not what:
        if high is not None:
            what = f"a whole number from {low} to {high}"
        else:
            what = "a positive integer" if low == 1 else f"a whole number, {low} or more"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


positive_int = int_in(1)
non_negative_int = int_in(0)
port_number = int_in(0, 65535, "a port number (0 to 65535)")


def seconds_in(high: float, zero: bool = False) -> Callable[[str], float]:
    """An argparse type: seconds, more than 0 (or 0 too, with ``zero``) and at most ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be seconds, got {text!r}") from None
        if zero and not 0 <= value <= high:
            raise argparse.ArgumentTypeError(f"must be 0 to {high:g} seconds, got {text}")
        if not zero and not 0 < value <= high:
            raise argparse.ArgumentTypeError(
                f"must be more than 0 and at most {high:g}, got {text}"
            )
        return value

    return parse


seconds = seconds_in(86400)  # more than 0, at most a day


def add_setting_flags(group: Any, which: str) -> None:
    """The flags of the settings in ``which`` group ("connection" or "explorer"),
    made from the schema in settings.py. Defaults are suppressed, so that a value
    given before a subcommand is not overwritten after it."""
    from ensync_tui.settings import schema

    for f, spec in schema():
        if not spec.flag or spec.group != which:
            continue
        how: dict[str, Any] = {"dest": f.name, "help": spec.help, "default": argparse.SUPPRESS}
        if spec.kind == "bool":
            how["action"] = "store_true"
        else:
            how["metavar"] = spec.metavar
            if spec.kind == "names":
                how.update(nargs="+", action="extend")
            elif spec.kind == "count":
                how["type"] = positive_int
        group.add_argument(spec.flag, **how)


def connection_options() -> argparse.ArgumentParser:
    """The options every connecting command shares."""
    p = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    g = p.add_argument_group("connection")
    g.add_argument("--config", metavar="FILE", help="an extra profile file to read")
    add_setting_flags(g, "connection")
    return p


def overrides_from(args: argparse.Namespace) -> Any:
    """What the flags say, for config.resolve."""
    from ensync_tui.config import Overrides
    from ensync_tui.settings import schema

    given = {f.name: getattr(args, f.name, None) for f, spec in schema() if spec.flag}
    return Overrides(config=getattr(args, "config", None), **given)


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings resolved from flags, env and config files (raises ConfigError)."""
    from ensync_tui.config import resolve

    settings = resolve(overrides_from(args))
    keep_secret(settings.access_key, settings.app_secret_key, settings.account_key)
    return settings


def connected_settings(args: argparse.Namespace) -> Settings:
    """Settings that name an engine and an identity, else a UsageError saying how."""
    settings = settings_from(args)
    if not settings.can_connect:
        raise UsageError(HOW_TO_CONNECT)
    return settings
