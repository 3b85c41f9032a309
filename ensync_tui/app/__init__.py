"""The Textual explorer."""

from ensync_tui.app.app import EnsyncApp, run_app

__all__ = ["EnsyncApp", "run_app"]
