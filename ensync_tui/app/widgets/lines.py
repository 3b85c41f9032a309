"""A read-only text pane that draws only the lines on screen, however long the text.

A Static lays out all of its text at every update (seconds for a large
payload); this pane's cost follows its height. Lines are not wrapped: a long
one scrolls sideways. A line given as text is styled (highlighted) only when
it is drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.cells import cell_len
from textual.content import Content
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual

__all__ = ["LinesView"]


class LinesView(ScrollView, can_focus=True):
    """Shows a list of Content lines, one screen row each."""

    DEFAULT_CSS = """
    LinesView { height: 1fr; overflow-x: auto; overflow-y: auto; text-wrap: nowrap; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._lines: list[Content | str] = []
        self._style_line: Callable[[str], Content] = Content
        self._strips: dict[int, Strip] = {}
        self._key: object = None

    @property
    def lines(self) -> list[Content | str]:
        return self._lines

    @property
    def text(self) -> str:
        """The plain text shown (for tests and copying)."""
        return "\n".join(line if isinstance(line, str) else line.plain for line in self._lines)

    def show(
        self,
        lines: Sequence[Content | str],
        key: object = None,
        style_line: Callable[[str], Content] | None = None,
    ) -> None:
        """Show ``lines``; back to the top unless ``key`` is the one shown before.

        Lines given as text are made Content by ``style_line`` as they are drawn.
        """
        self._lines = list(lines)
        self._style_line = style_line or Content
        self._strips.clear()
        width = max((_width(line) for line in self._lines), default=0) + 1
        self.virtual_size = Size(width, len(self._lines))
        if key is None or key != self._key:
            self.scroll_to(0, 0, animate=False, immediate=True)
        self._key = key
        self.refresh()

    def notify_style_update(self) -> None:
        self._strips.clear()
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if not 0 <= row < len(self._lines):
            return Strip.blank(width, style)
        strip = self._strips.get(row)
        if strip is None:
            text = self._lines[row]
            line = self._style_line(text) if isinstance(text, str) else text
            strips = Visual.to_strips(
                self, line, max(1, line.cell_length), 1, self.visual_style, apply_selection=False
            )
            strip = strips[0] if strips else Strip.blank(0, style)
            if len(self._strips) > 500:
                self._strips.clear()
            self._strips[row] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, style)


def _width(line: Content | str) -> int:
    return cell_len(line) if isinstance(line, str) else line.cell_length
