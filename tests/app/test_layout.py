"""The explorer in small terminals and with nothing to show: what stays readable."""

from __future__ import annotations

from typing import Any

import pytest
from textual.geometry import Region
from textual.widgets import Footer, Static

from ensync_tui.app import EnsyncApp
from ensync_tui.app.messages import (
    ConnectionChanged,
    RecordsReceived,
    SessionReady,
    SubscriptionsChanged,
)
from ensync_tui.app.pacing import INSPECT_DELAY, STATS_EVERY
from ensync_tui.app.widgets import Inspector, StatusBar, StreamView, SubscriptionList
from ensync_tui.app.widgets.lines import LinesView
from ensync_tui.app.widgets.status import Status, render_status, short_reason
from ensync_tui.app.widgets.stream import column_widths, fit_middle, format_time, header_text
from ensync_tui.settings import Settings
from tests.app.conftest import SNAP_SECRET, ManualClock, build_records, got, settled, wait_for
from tests.app.screen import shot

NAMES = ["orders/created", "orders/status", "audit/log"]
REFUSED = (
    "cannot connect to ws://127.0.0.1:18082/message: [Errno 111] Connect call failed "
    "('127.0.0.1', 18082)"
)


def offline_app(**settings: Any) -> EnsyncApp:
    values: dict[str, Any] = {
        "url": "ws://127.0.0.1:18082",
        "access_key": "k",
        "app_secret_key": SNAP_SECRET,
        "subscribe": list(NAMES),
        "message_names": list(NAMES),
    }
    values.update(settings)
    return EnsyncApp(Settings(**values), start_session=False, clock=ManualClock())


def lines_of(widget: Any) -> list[str]:
    """The text a widget shows, line by line, as drawn."""
    size = widget.size
    return [strip.text for strip in widget.render_lines(Region(0, 0, size.width, size.height))]


async def feed(pilot: Any, count: int = 12) -> None:
    app = pilot.app
    app.main.post_message(ConnectionChanged("connected"))
    app.main.post_message(SubscriptionsChanged(list(NAMES), {}))
    app.main.post_message(RecordsReceived(build_records(count)))
    await wait_for(pilot, lambda: got(app, count), what="records")
    await settled(pilot, INSPECT_DELAY)  # the inspector shows the newest


# ---- stream columns -----------------------------------------------------------------------


@pytest.mark.parametrize("width", [30, 44, 62, 64, 80, 100, 124, 200])
def test_name_idem_and_state_always_show(width: int) -> None:
    widths = column_widths(width)
    name, idem, state = widths[1], widths[2], widths[6]
    assert name >= 12 and idem >= 12 and state == 13
    shown = [w for w in widths if w]
    if width >= 44:  # the row fits: no column is cut off at the right
        assert 1 + sum(shown) + len(shown) - 1 == width
    header = header_text(width)
    assert "name" in header and "idem" in header and "state" in header


def test_wide_panes_keep_every_column_and_narrow_ones_drop_the_extras() -> None:
    assert all(column_widths(124))
    assert column_widths(124)[2] >= 36  # a whole UUID idem
    assert column_widths(64) == [12, 16, 19, 0, 0, 0, 13]  # a 100-column terminal
    assert column_widths(44) == [0, 12, 16, 0, 0, 0, 13]  # an 80-column terminal


def test_a_cut_idem_keeps_both_ends() -> None:
    assert fit_middle("1a217391e70000000077", 14) == "1a2173…0000077"
    assert fit_middle("short", 8) == "short   "
    assert len(fit_middle("0190e1f2-0000-7a3b-9c1d-5e6f7a8b9c0d", 20)) == 20


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_rows_show_idem_and_state_in_small_terminals(size: tuple[int, int]) -> None:
    app = offline_app()
    async with app.run_test(size=size) as pilot:
        await feed(pilot)
        stream = app.query_one(StreamView)
        # following: the newest row is in view, so the first one shown may be a later one
        first = app.controller.history.entries[int(stream.scroll_y)]
        assert stream.cursor - int(stream.scroll_y) < stream.size.height
        app.main.mark(first.idem, "acked")
        await pilot.pause()
        rows = lines_of(stream)
        header = str(app.query_one("#stream-header", Static).render())
        assert first.idem[-6:] in rows[0] and "acked" in rows[0]
        assert all("new" in row for row in rows[1:12])
        # the state column starts where its title does
        assert rows[0].index("acked") == header.index("state")


# ---- status bar, inspector and footer -----------------------------------------------------


def test_a_connect_failure_does_not_repeat_the_url() -> None:
    assert short_reason(REFUSED) == (
        "cannot connect: [Errno 111] Connect call failed ('127.0.0.1', 18082)"
    )
    assert short_reason("closed by the server") == "closed by the server"
    status = Status(url="ws://127.0.0.1:18082", state="reconnecting", attempt=3, delay=1.5)
    status.reason = REFUSED
    line = str(render_status(status)).splitlines()[0]
    assert line.count("ws://127.0.0.1:18082") == 1
    assert "(max 100k)" in str(render_status(Status(capacity=100_000)))


async def test_a_long_reason_never_pushes_the_totals_out_of_the_status_bar() -> None:
    app = offline_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.main.post_message(ConnectionChanged("reconnecting", 4, 3.0, REFUSED))
        await pilot.pause()
        first, second = lines_of(app.query_one(StatusBar))
        assert first.strip().startswith("◌ reconnecting 4 in 3.0s") and first.rstrip()[-1] == "…"
        assert second.strip().startswith("received 0  held 0/0")


async def test_inspector_title_and_decryption_lines_stay_apart_when_narrow() -> None:
    app = offline_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot)
        status = app.query_one("#inspector-status", Static)
        await wait_for(pilot, lambda: app.query_one(Inspector).entry is not None, what="shown")
        title, decrypted = lines_of(status)
        assert title.strip().startswith("audit/log  idem")
        assert decrypted.strip().startswith("✓ decrypted")


async def test_the_footer_palette_key_covers_the_last_column() -> None:
    app = offline_app()
    async with app.run_test(size=(80, 24)) as pilot:

        def palette_right() -> int:
            # the footer recomposes its keys as focus moves: look the key up each time
            keys = app.query_one(Footer).query("FooterKey.-command-palette")
            return keys.first().region.right if keys else 0

        # no key text shows through beside it
        await wait_for(pilot, lambda: palette_right() == 80, what="the palette key at the edge")


# ---- empty states -------------------------------------------------------------------------


async def test_nothing_subscribed_says_how_to_subscribe() -> None:
    app = offline_app(subscribe=[], keys={"subscribe": "S"})
    async with app.run_test(size=(160, 45)) as pilot:
        app.main.post_message(ConnectionChanged("connected"))
        app.main.post_message(SessionReady(app.controller.settings, ""))
        await pilot.pause()
        subs = app.query_one(SubscriptionList)
        prompts = [str(subs.get_option_at_index(i).prompt) for i in range(subs.option_count)]
        assert prompts[0].startswith("all")
        assert "No subscriptions yet" in prompts[1] and "press S to subscribe" in prompts[1]
        assert subs.get_option_at_index(1).disabled and subs.highlighted_name is None
        assert "No messages yet." in lines_of(app.query_one(StreamView))[0]
        # subscribing replaces the hint; dropping the last subscription brings it back
        app.main.post_message(SubscriptionsChanged(["orders/created"], {}))
        await pilot.pause()
        assert subs.option_count == 2 and subs.get_option_at_index(1).id == "orders/created"
        app.main.post_message(SubscriptionsChanged([], {}))
        await pilot.pause()
        assert "No subscriptions yet" in str(subs.get_option_at_index(1).prompt)


async def test_a_filter_that_matches_nothing_says_so() -> None:
    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 3)
        app.main.apply_filter(text="no-such-text-anywhere")
        await wait_for(pilot, lambda: not app.controller.history.scanning, what="scanned")
        await pilot.pause()
        assert "No held message matches the filter." in lines_of(app.query_one(StreamView))[0]


async def test_the_status_bar_counts_what_a_filter_shows() -> None:
    from ensync_tui.app.widgets.status import StatusBar

    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 6)
        bar = app.query_one(StatusBar)
        assert " view " not in str(bar.render())
        app.main.apply_filter(name="orders/created", text="ann")
        await wait_for(pilot, lambda: not app.controller.history.scanning, what="scanned")
        await pilot.pause()
        shown = len(app.controller.history)
        assert 0 < shown < 6
        assert f"view orders/created /ann ({shown})" in str(bar.render())
        app.main.apply_filter(name=None, text="")
        await pilot.pause()
        assert " view " not in str(bar.render())


# ---- what the panes tell apart ------------------------------------------------------------


async def test_the_name_the_stream_shows_is_marked_in_the_list() -> None:
    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 6)
        subs = app.query_one(SubscriptionList)

        def tops() -> list[str]:
            return [
                str(subs.get_option_at_index(i).prompt).splitlines()[0]
                for i in range(subs.option_count)
            ]

        assert not any(top.startswith("▸") for top in tops())
        app.main.apply_filter(name="orders/status")
        await pilot.pause()
        subs.highlighted = 0  # moving the highlight does not change what is shown
        await pilot.pause()
        assert [top for top in tops() if top.startswith("▸")] == ["▸ orders/status"]
        assert {
            entry.name for entry in app.controller.history.rows(0, len(app.controller.history))
        } == {"orders/status"}
        app.main.apply_filter(name=None)
        await pilot.pause()
        assert not any(top.startswith("▸") for top in tops())


async def test_senders_show_by_contact_name() -> None:
    from tests.app.conftest import SNAP_SENDER

    app = offline_app(contacts={"billing": SNAP_SENDER})
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot, 3)
        rows = lines_of(app.query_one(StreamView))
        assert all(" billing " in row for row in rows[:3])
        app.query_one("#inspector-tabs").active = "tab-meta"
        sender = f"sender   {SNAP_SENDER} (billing)"
        meta = app.query_one("#payload-meta", LinesView)
        await wait_for(pilot, lambda: sender in meta.text, what="the sender's contact name")


def test_subscription_counts_stay_on_one_line() -> None:
    from ensync_tui.app.widgets.subscriptions import count_text, rate_text

    assert [count_text(n) for n in (0, 9999, 12_345, 456_789, 1_234_567)] == [
        "0",
        "9999",
        "12.3k",
        "456k",
        "1.2M",
    ]
    assert rate_text(3.25) == "3.2/s" and rate_text(656.8) == "657/s"
    assert rate_text(24_691.2) == "24.7k/s"
    worst = f"  {count_text(999_999)} recv · {rate_text(9999)} · {count_text(999_999)} pend"
    assert len(worst) <= 32  # the list's width inside its border


@pytest.mark.parametrize(
    ("size", "counts"),
    [
        ((160, 45), "  123k recv · 24.7k/s · 123k pend"),
        ((100, 30), "  123k recv · 123k pend"),  # a narrow list leaves the rate out
    ],
)
async def test_a_busy_subscription_keeps_its_counts_on_one_line(
    size: tuple[int, int], counts: str
) -> None:
    app = offline_app(subscribe=["orders/created"])
    async with app.run_test(size=size) as pilot:
        app.main.post_message(SubscriptionsChanged(["orders/created"], {}))
        await pilot.pause()
        stats = app.controller.history.stat("orders/created")
        stats.add(1000.0, 123_456)
        app.controller.history.received = 123_456
        await settled(pilot, STATS_EVERY)  # the counts are redrawn each second
        subs = app.query_one(SubscriptionList)
        prompt = str(subs.get_option_at_index(1).prompt)
        assert prompt.splitlines()[1] == counts
        lines = lines_of(subs)
        assert any("pend" in line for line in lines)
        assert not any(line.strip() == "pend" for line in lines)


async def test_the_reconnect_delay_counts_down() -> None:
    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        app.main.post_message(ConnectionChanged("reconnecting", 3, 12.0, "closed by the server"))
        await pilot.pause()
        assert "reconnecting 3 in 12.0s" in lines_of(app.query_one(StatusBar))[0]
        await settled(pilot, 5)
        assert "reconnecting 3 in 7.0s" in lines_of(app.query_one(StatusBar))[0]
        await settled(pilot, 0.5)  # the bar is redrawn once a second
        assert "reconnecting 3 in 7.0s" in lines_of(app.query_one(StatusBar))[0]
        await settled(pilot, 60)
        assert "reconnecting 3 in 0.0s" in lines_of(app.query_one(StatusBar))[0]
        app.main.post_message(ConnectionChanged("connected"))
        await pilot.pause()
        assert "● connected" in lines_of(app.query_one(StatusBar))[0]


async def test_when_every_configured_name_is_refused_the_hint_shows(env) -> None:
    app = EnsyncApp(env.settings(subscribe=["no/such-name"]))
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.controller.status.state == "connected", what="connected")
        await wait_for(
            pilot,
            lambda: any("subscribe no/such-name failed" in t for _, t in app.controller.notices),
        )
        subs = app.query_one(SubscriptionList)
        await wait_for(
            pilot,
            lambda: (
                subs.option_count == 2
                and "No subscriptions yet" in str(subs.get_option_at_index(1).prompt)
            ),
            what="hint",
        )


def test_a_record_time_out_of_range_shows_dashes_not_a_crash() -> None:
    assert format_time(0) == "--:--:--.---"
    assert format_time(10**22) == "--:--:--.---"
    assert format_time(1_767_225_600_123).endswith(".123")


def test_a_view_off_follow_does_not_read_like_a_paused_subscription() -> None:
    line = str(render_status(Status(follow=False)))
    assert line.endswith("browsing") and "paused" not in line
    assert "following" in str(render_status(Status(follow=True)))


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_a_narrow_terminal_keeps_help_quit_and_a_full_idem(size: tuple[int, int]) -> None:
    app = offline_app(subscribe=["orders/created", "orders/status"])
    async with app.run_test(size=size) as pilot:
        await feed(pilot)
        footer = shot(app).lines[-1]
        assert footer.startswith("? Help q Quit")
        subs = app.query_one(SubscriptionList)
        assert subs.outer_size.width <= 24  # the names need no more; the stream gets the rest
        entry = app.query_one(Inspector).entry
        assert entry is not None
        status = str(app.query_one("#inspector-status", Static).render()).splitlines()[0]
        assert entry.idem in status  # the whole idem, not cut
        stream = app.query_one(StreamView)
        width = stream.size.width
        await pilot.press("b")  # the list folds away: the stream takes its columns
        await pilot.pause()
        assert not subs.display and stream.size.width > width
        await pilot.press("b")
        await pilot.pause()
        assert subs.display and stream.size.width == width


async def test_a_wide_terminal_keeps_the_list_at_its_width() -> None:
    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await feed(pilot)
        assert app.query_one(SubscriptionList).outer_size.width == 34
        assert shot(app).lines[-1].startswith("? Help q Quit")
