"""Messages per second: the per-second counts and the subscriptions pane's sparklines."""

from __future__ import annotations

from ensync_tui.app.messages import RecordsReceived, SubscriptionsChanged
from ensync_tui.app.pacing import STATS_EVERY
from ensync_tui.app.rates import KEPT_SECONDS, Rates, columns, spark
from ensync_tui.app.widgets import SubscriptionList
from ensync_tui.app.widgets.subscriptions import spark_text
from tests.app.conftest import build_records, got, settled
from tests.app.test_layout import NAMES, lines_of, offline_app


def test_counts_per_second_over_the_last_two_minutes_are_kept_bounded():
    rates = Rates()
    rates.add(100.2, 3)
    rates.add(100.9, 2)  # the same second
    rates.add(102.5, 7)
    assert rates.per_second(103.0, 5) == [0, 5, 0, 7, 0]
    assert rates.rate(103.0) == 12 / 5
    for second in range(1000, 1500):
        rates.add(second, 1)
    assert len(rates.buckets) <= KEPT_SECONDS + 1
    assert rates.per_second(1499.5) == [1] * KEPT_SECONDS
    assert rates.per_second(2000.0) == [0] * KEPT_SECONDS


def test_columns_fold_seconds_into_means_and_the_sparkline_scales_to_its_peak():
    counts = [0] * 114 + [6] * 6  # the last six seconds, six a second
    assert columns(counts, 20) == [0.0] * 19 + [6.0]
    assert columns([1, 2, 3, 4], 2) == [1.5, 3.5]
    assert spark([0.0, 1.0, 8.0]) == "▁▂█"
    assert spark([0.0, 0.0]) == "▁▁"
    rates = Rates()
    rates.add(119.0, 60)
    assert spark_text(rates, 119.0, 32) == "  " + "▁" * 19 + "█ 10.0/s"
    assert spark_text(rates, 119.0, 9) == ""  # no room


async def test_the_sparklines_follow_the_records_that_arrived_each_second():
    app = offline_app()
    async with app.run_test(size=(160, 45)) as pilot:
        clock = app.controller.clock
        app.main.post_message(SubscriptionsChanged(list(NAMES), {}))
        records = build_records(24)  # names cycle orders/created, orders/status, audit/log
        app.main.post_message(RecordsReceived(records[:6]))  # two of each name
        await pilot.pause()
        await settled(pilot, 60)
        app.main.post_message(RecordsReceived(records[6:24]))  # six of each, a minute later
        await pilot.pause()
        assert got(app, 24)
        await settled(pilot, STATS_EVERY)  # the pane is redrawn each second
        now = clock()
        history = app.controller.history
        per_second = history.times.per_second(now)
        assert sum(per_second) == 24
        assert per_second[-62] == 6 and per_second[-2] == 18
        assert history.stats["orders/created"].times.per_second(now)[-2] == 6
        subs = app.query_one(SubscriptionList)
        all_line = str(subs.get_option_at_index(0).prompt).splitlines()[2]
        assert all_line == "  " + spark(columns(per_second, 20)) + " 3.0/s"
        assert all_line.count("▁") == 18 and all_line.count("█") == 1  # 18 in a column of 6 s
        created = str(subs.get_option_at_index(1).prompt).splitlines()[2]
        assert created == "  " + spark(columns([0] * 58 + [2] + [0] * 59 + [6, 0], 20)) + " 1.0/s"
        assert any(all_line in line for line in lines_of(subs))  # drawn, not only held
        await settled(pilot, KEPT_SECONDS)  # two minutes without a record: all flat
        assert str(subs.get_option_at_index(1).prompt).splitlines()[2] == (
            "  " + "▁" * 20 + " 0.0/s"
        )


async def drawn(names: list[str]) -> list[str]:
    """At 80x24 with these names: the lines the list draws."""
    app = offline_app(subscribe=names, message_names=names)
    async with app.run_test(size=(80, 24)) as pilot:
        app.main.post_message(SubscriptionsChanged(names, {}))
        await pilot.pause()
        await settled(pilot, STATS_EVERY)
        return lines_of(app.query_one(SubscriptionList))


async def test_a_short_list_folds_the_sparklines_away_but_keeps_every_name():
    names = [f"fleet/{i}" for i in range(7)]
    lines = await drawn(names)
    assert [line for line in lines if "▁" in line] == ["   ▁▁▁▁▁▁▁▁ 0.0/s"]  # "all" only
    assert all(any(name in line for line in lines) for name in names)
    assert not any("▁" in line for line in await drawn([f"fleet/{i}" for i in range(10)]))
    lines = await drawn(list(NAMES))  # three names: room for every sparkline
    assert sum("▁" * 8 in line for line in lines) == 4  # a narrow list: 15 s a bar
