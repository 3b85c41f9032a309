"""`ensync-tui config path|show`: where profiles live, and what resolves."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    from ensync_tui.settings import environment_names

    *others, last = environment_names()
    p = sub.add_parser(
        "config",
        help="show the config file path or the resolved settings",
        description="Profiles are read from the user config file (see `config path`), "
        f"--config FILE, and ./ensync.toml; {', '.join(others)} and {last} override them, "
        "and flags override all.",
    )
    actions = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    path = actions.add_parser(
        "path",
        help="print the user config file path",
        description="Print where the user config file is (it need not exist yet).",
    )
    path.set_defaults(handler=run_path)
    show = actions.add_parser(
        "show",
        parents=[conn],
        help="print the resolved settings (secrets redacted)",
        description="Print the settings the explorer and the commands would use, after "
        "flags, environment and files, with secrets redacted.",
    )
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=run_show)


def run_path(args: argparse.Namespace) -> int:
    from ensync_tui.config import user_config_path
    from ensync_tui.safetext import visible

    print(visible(str(user_config_path())))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ensync_tui.cli.options import overrides_from, settings_from
    from ensync_tui.cli.output import shown, shown_json
    from ensync_tui.config import config_files, describe, describe_json
    from ensync_tui.settings import environment_names

    overrides = overrides_from(args)
    settings = settings_from(args)  # notes the secrets, so that nothing below shows them
    rows = describe(settings)
    files = [f.label for f in config_files(overrides.config)]
    if args.json:  # text from the files may hold anything: escaped, secrets redacted
        print(shown_json(json.dumps({"files": files, **describe_json(settings)}, indent=2)))
        return 0
    lines = [f"# files read: {', '.join(files) if files else '(none)'}"]
    env = [var for var in environment_names() if os.environ.get(var, "").strip()]
    if env:
        lines.append(f"# from the environment: {', '.join(env)}")
    width = max(len(k) for k, _ in rows)
    lines += [f"{key:<{width}} = {value}" for key, value in rows]
    print("\n".join(shown(line) for line in lines))
    return 0
