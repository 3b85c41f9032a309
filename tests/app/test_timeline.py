"""A message keeps every state it went through, with times, and shows the current one
everywhere at once: the stream row, the inspector's header and its History."""

from __future__ import annotations

from textual.widgets import Static, TabbedContent

from ensync_tui.app.history import History, MessageState
from ensync_tui.app.messages import RecordsReceived
from ensync_tui.app.widgets import Inspector, StreamView
from ensync_tui.app.widgets.lines import LinesView
from tests.app.conftest import SIZE, SNAP_SECRET, build_records, got, wait_for
from tests.app.test_navigation import held, quiet_app


def test_every_state_is_kept_in_order_with_its_time() -> None:
    history = History(secret_key=SNAP_SECRET)
    record = build_records(1)[0]
    (entry,) = history.add([record])
    history.set_state(entry.idem, MessageState.DEFERRED)
    history.add([record])  # the deferred message comes back
    assert entry.state == MessageState.NEW
    history.set_state(entry.idem, MessageState.DISCARDED)
    history.add_replayed(record)
    events = [event for event, _ in entry.states()]
    assert events == ["new", "deferred", "redelivered", "discarded", "replayed"]
    assert entry.state == MessageState.REPLAYED
    times = [when for _, when in entry.states()]
    assert times[0] == record.logged_at / 1000 and times[1:] == sorted(times[1:])
    untouched = history.add([build_records(2)[1]])[0]
    assert untouched.timeline is None and [e for e, _ in untouched.states()] == ["new"]


async def test_the_inspector_follows_a_state_change_without_reselecting() -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot, 6)
        stream, inspector = app.query_one(StreamView), app.query_one(Inspector)
        entry = stream.selected
        assert entry is not None and inspector.entry is entry
        app.main.mark(entry.idem, MessageState.DEFERRED)

        def header() -> str:
            return str(inspector.query_one("#inspector-status", Static).render())

        assert "[deferred]" in header()
        record = next(r for r in build_records(6) if r.idem == entry.idem)
        app.main.post_message(RecordsReceived([record]))  # delivered again
        await wait_for(pilot, lambda: "[new]" in header(), what="the header")
        assert inspector.entry is entry and stream.selected is entry and got(app, 6)
        app.query_one("#inspector-tabs", TabbedContent).active = "tab-meta"

        def meta() -> str:
            return app.query_one("#payload-meta", LinesView).text

        await wait_for(pilot, lambda: "redelivered" in meta(), what="the history")
        lines = meta().splitlines()
        start = next(i for i, line in enumerate(lines) if line.strip() == "History")
        events = [line.split()[-1] for line in lines[start + 1 : start + 4]]
        assert events == ["new", "deferred", "redelivered"]
