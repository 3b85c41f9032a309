"""ensync_tui.client: an EnSync WebSocket client (no Textual here)."""
