"""`ensync-tui bench` locally and against a configured engine."""

from __future__ import annotations

import json


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
