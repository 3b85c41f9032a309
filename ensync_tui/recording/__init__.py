"""Recordings: what a session received, did and sent, appended to an NDJSON file
as it happens (``writer``), read back a line (``reader``) or a row (``index``) at
a time; and the one NDJSON line of a message that ``tail``, the explorer's export
and recordings share (``lines``). Below the explorer and the commands, beside
the client: it imports the protocol and the leaves only."""
