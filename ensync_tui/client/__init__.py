"""ensync_tui.client: an EnSync WebSocket client (no Textual here).

from ensync_tui.client import EnSyncEngine
client = await EnSyncEngine("ws://localhost:8082").create_client(key, {"appSecretKey": sk})
"""

from __future__ import annotations

from ensync_tui.client.api import EnSyncClient, EnSyncEngine, Subscription, to_message
from ensync_tui.client.connection import ConnectionState, ConnectionStatus
from ensync_tui.client.errors import (
    EnSyncAckError,
    EnSyncAuthError,
    EnSyncConnectionError,
    EnSyncContinueError,
    EnSyncDeferError,
    EnSyncDiscardError,
    EnSyncError,
    EnSyncPauseError,
    EnSyncPublishError,
    EnSyncReplayError,
    EnSyncRollbackError,
    EnSyncSubscriptionError,
    EnSyncTimeoutError,
    EnSyncValidationError,
)
from ensync_tui.client.options import DEFAULT_URL, Options

__all__ = [
    "DEFAULT_URL",
    "ConnectionState",
    "ConnectionStatus",
    "EnSyncAckError",
    "EnSyncAuthError",
    "EnSyncClient",
    "EnSyncConnectionError",
    "EnSyncContinueError",
    "EnSyncDeferError",
    "EnSyncDiscardError",
    "EnSyncEngine",
    "EnSyncError",
    "EnSyncPauseError",
    "EnSyncPublishError",
    "EnSyncReplayError",
    "EnSyncRollbackError",
    "EnSyncSubscriptionError",
    "EnSyncTimeoutError",
    "EnSyncValidationError",
    "Options",
    "Subscription",
    "to_message",
]
