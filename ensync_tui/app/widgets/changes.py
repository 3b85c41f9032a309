"""The inspector's Changes tab: a payload against the previous one of the same name."""

from __future__ import annotations

from textual.content import Content

from ensync_tui.app.diff import ADDED, REMOVED, diff, short_json
from ensync_tui.app.history import Entry
from ensync_tui.app.widgets.stream import format_time

_MARK = {ADDED: ("+", "$text-success"), REMOVED: ("-", "$text-error")}


def changes_content(entry: Entry, previous: Entry | None, secret_key: str | None) -> Content:
    """What changed in ``entry``'s payload since ``previous`` (decrypting both as needed)."""
    if previous is None:
        return Content(f"No earlier {entry.name} message is held: nothing to compare with.")
    head = Content.assemble(
        "Since the previous ",
        (entry.name, "bold"),
        f"  idem {previous.idem}  block {previous.block}  at {format_time(previous.logged_at)}",
    )
    value = entry.decrypt(secret_key)
    before = previous.decrypt(secret_key)
    if entry.error or previous.error:
        which = "this message" if entry.error else "the previous one"
        reason = entry.error or previous.error
        return Content("\n").join([head, Content(f"Cannot compare: {which}: {reason}")])
    changes, cut = diff(before, value)
    if not changes:
        return Content("\n").join([head, Content("Same payload.")])
    lines = [head, Content(f"{len(changes)}{'+' if cut else ''} changed")]
    for change in changes:
        path = change.path or "(the whole payload)"
        if change.kind in _MARK:
            mark, style = _MARK[change.kind]
            shown = change.new if change.kind == ADDED else change.old
            lines.append(Content.assemble((f"{mark} {path}", style), "  ", short_json(shown)))
        else:
            lines.append(
                Content.assemble(
                    ("~ " + path, "$text-warning"),
                    "  ",
                    short_json(change.old, 40),
                    " → ",
                    short_json(change.new, 40),
                )
            )
    if cut:
        lines.append(Content("… more changes not shown"))
    return Content("\n").join(lines)
