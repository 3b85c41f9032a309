"""The explorer's panes."""

from ensync_tui.app.widgets.inspector import INSPECTOR_KEYS, Inspector
from ensync_tui.app.widgets.status import Status, StatusBar
from ensync_tui.app.widgets.stream import LIST_KEYS, StreamHeader, StreamView
from ensync_tui.app.widgets.subscriptions import FOLD, SubscriptionList

__all__ = [
    "FOLD",
    "INSPECTOR_KEYS",
    "LIST_KEYS",
    "Inspector",
    "Status",
    "StatusBar",
    "StreamHeader",
    "StreamView",
    "SubscriptionList",
]
