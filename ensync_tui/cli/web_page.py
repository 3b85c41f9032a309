"""The page `ensync-tui web` serves: textual-serve's terminal (its textual.js and
xterm.css) with nothing fetched from another site (its own page loads a web
font from Google), the font it ships, and a Restart button once the explorer ends."""

from __future__ import annotations

from html import escape

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="/static/css/xterm.css">
<script src="/static/js/textual.js"></script>
<style>
@font-face {{
  font-family: "Roboto Mono";
  src: url("/static/fonts/RobotoMono-VariableFont_wght.ttf") format("truetype");
  font-style: normal;
}}
html, body {{ margin: 0; height: 100%; background: #0c181f; color: #eee; }}
body {{ font-family: "Roboto Mono", monospace; }}
#terminal {{ position: absolute; inset: 0; }}
.notice {{ position: absolute; inset: 0; display: flex; align-items: center;
  justify-content: center; flex-direction: column; z-index: 10; background: #0c181f; }}
body.-first-byte .starting, .ended {{ display: none; }}
body.-closed .ended {{ display: flex; }}
button {{ margin: 16px; padding: 12px 28px; border: none; background: #5e0ba7;
  color: #fff; font: inherit; cursor: pointer; }}
</style>
</head>
<body>
<div class="notice starting">{title}: starting the explorer…</div>
<div class="notice ended"><div>The explorer ended.</div>
<button type="button" onclick="window.location.reload()">Restart</button></div>
<div id="terminal" class="textual-terminal" data-session-websocket-url="{websocket}"
  data-font-size="{font_size}"></div>
</body>
</html>
"""


def render(title: str, websocket: str, font_size: int) -> str:
    """The page, every value escaped for HTML."""
    return PAGE.format(
        title=escape(title), websocket=escape(websocket, quote=True), font_size=int(font_size)
    )
