"""The local EnSync-compatible engine (websockets + SQLite)."""

from __future__ import annotations

import logging

from ensync_tui.engine.config import (
    ClientSpec,
    ConfigError,
    EngineConfig,
    MessageSpec,
    load_config,
)
from ensync_tui.engine.server import EngineServer

# the engine logs only where the application configures logging
logging.getLogger("ensync_tui.engine").addHandler(logging.NullHandler())

__all__ = [
    "ClientSpec",
    "ConfigError",
    "EngineConfig",
    "EngineServer",
    "MessageSpec",
    "load_config",
]
