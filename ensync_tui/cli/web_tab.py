"""One browser tab's explorer under `ensync-tui web` (``python -m ensync_tui.cli.web_tab FILE``):
its settings from a private file that it removes at once."""

from __future__ import annotations

import json
import sys


def child_main(path: str) -> int:
    """One tab's explorer: its settings from ``path``, which it removes at once."""
    import os

    from ensync_tui.cli.output import keep_secret as keep
    from ensync_tui.settings import Settings

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    demo = None
    if "demo" in data:
        from ensync_tui.demo import Demo

        settings = Settings()
        demo = Demo(seed=int(data["demo"].get("seed", 0)))
    else:
        settings = Settings(**data["settings"])
        keep(settings.access_key, settings.app_secret_key, settings.account_key)
    from ensync_tui.app import run_app

    return int(run_app(settings, demo=demo) or 0)


def child(path: str) -> int:
    from ensync_tui.cli.main import crashed

    try:
        return child_main(path)
    except Exception as exc:  # one line and a redacted crash report, never a traceback
        return crashed(exc, "web")


if __name__ == "__main__":
    sys.exit(child(sys.argv[1]))
