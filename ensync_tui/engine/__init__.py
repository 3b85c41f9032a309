"""The local EnSync-compatible engine (websockets + SQLite)."""
