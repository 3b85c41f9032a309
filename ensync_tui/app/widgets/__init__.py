"""The explorer's panes."""

from ensync_tui.app.widgets.inspector import Inspector
from ensync_tui.app.widgets.status import Status, StatusBar
from ensync_tui.app.widgets.stream import StreamHeader, StreamView
from ensync_tui.app.widgets.subscriptions import SubscriptionList

__all__ = ["Inspector", "Status", "StatusBar", "StreamHeader", "StreamView", "SubscriptionList"]
