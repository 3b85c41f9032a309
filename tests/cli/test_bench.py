"""`ensync-tui bench` locally and against a configured engine."""

from __future__ import annotations

import json
import logging
import re
import signal

import pytest


def test_bench_local_200(cli):
    proc = cli("bench", "--local", "--count", "200")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "200 messages of 128 B" in out and "local engine ws://127.0.0.1:" in out
    assert "publish" in out and "delivery" in out
    for p in ("p50", "p90", "p99"):
        assert p in out


def test_bench_local_is_the_default_and_fans_out(cli):
    proc = cli(
        "bench", "--count", "60", "--publishers", "2", "--subscribers", "3", "--size", "300",
        "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["local"] is True
    assert (res["published"], res["delivered"], res["expected"]) == (60, 180, 180)
    assert res["decryptErrors"] == 0
    lat = res["latencyMs"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert res["publishRate"] > 0 and res["deliveryRate"] > 0


def test_bench_against_a_configured_engine(cli, engine):
    proc = cli(
        "bench", "--count", "40", "--publishers", "2", "--subscribers", "2", "--json",
        env=engine.env("alice"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["local"] is False and res["url"] == engine.url
    assert (res["published"], res["delivered"]) == (40, 40)


def test_bench_unregistered_name_is_exit_1(cli, engine):
    proc = cli("bench", "--count", "5", "--name", "no/such", env=engine.env("alice"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("ensync-tui: error:") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "bench publishes to --name (default bench/load)" in proc.stderr


def test_bench_usage_errors(cli):
    proc = cli("bench", "--count", "1", "--publishers", "2")
    assert proc.returncode == 2 and "--count: must be at least --publishers" in proc.stderr


@pytest.mark.parametrize(("sig", "expected"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_bench_stopped_by_a_signal_exits_cleanly(monkeypatch, caplog, sig, expected):
    from ensync_tui.cli import bench
    from tests.cli.test_inprocess import run_until

    drawn = bench.Progress.__init__

    def always_drawn(self, enabled: bool, width: int = 30) -> None:
        drawn(self, True, width)  # the bar on stderr says when publishing is under way

    monkeypatch.setattr(bench.Progress, "__init__", always_drawn)
    caplog.set_level(logging.DEBUG, logger="ensync_tui")
    code, out, err = run_until(
        ["bench", "--local", "--count", "1000000"],
        lambda out, err: re.search(r"published [1-9]\d*/", err) is not None,
        sig=sig,
    )
    assert code == expected, err
    assert out == ""  # no figures for a run cut short
    assert "Traceback" not in err and "Error" not in err and err.endswith("\n")
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
