"""ensync-tui: a terminal explorer, client and local engine for EnSync messaging."""

__version__ = "0.1.0"
