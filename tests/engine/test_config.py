"""The delivery settings: engine.toml keys, what `engine init` writes, serve's flags
and its start line."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from ensync_tui.cli.main import build_parser, main
from ensync_tui.cli.serve import _serve_config
from ensync_tui.engine.config import EngineConfig, load_config, parse_config
from ensync_tui.errors import ConfigError
from tests.cli.test_serve import Serve


def test_the_defaults_are_ensync_s_model() -> None:
    cfg = EngineConfig()
    assert (cfg.max_in_flight, cfg.ack_wait, cfg.sub_grace) == (1, 30.0, 0.1)


def test_engine_toml_reads_the_delivery_keys(tmp_path: Path) -> None:
    text = "[engine]\nmax_in_flight = 50\nack_wait = 2.5\nsub_grace = 0\n"
    cfg = parse_config(text, "engine.toml", tmp_path)
    assert (cfg.max_in_flight, cfg.ack_wait, cfg.sub_grace) == (50, 2.5, 0.0)
    for bad, says in (
        ("max_in_flight = 0", "engine.max_in_flight: must be an integer 1 to 1000000"),
        ("max_in_flight = 1.5", "engine.max_in_flight: must be an integer"),
        ("max_in_flight = true", "engine.max_in_flight: must be an integer"),
        ("ack_wait = 0", "engine.ack_wait: must be seconds, 0 < s <= 86400"),
        ("ack_wait = 100000", "engine.ack_wait: must be seconds"),
        ("sub_grace = -1", r"engine.sub_grace: must be seconds, 0 <= s <= 10"),
        ("sub_grace = 11", r"engine.sub_grace: must be seconds"),
        ('sub_grace = "1"', r"engine.sub_grace: must be seconds"),
    ):
        with pytest.raises(ConfigError, match=says):
            parse_config(f"[engine]\n{bad}\n", "engine.toml", tmp_path)
    with pytest.raises(ConfigError, match=r"engine\.max_in_flight: must be 1 to 1000000"):
        EngineConfig(max_in_flight=0).check()


def test_engine_init_writes_them_with_the_defaults(tmp_path: Path) -> None:
    assert main(["engine", "init", str(tmp_path)]) == 0
    text = (tmp_path / "engine.toml").read_text()
    for line in ("max_in_flight = 1 ", "ack_wait = 30 ", "sub_grace = 0.1 "):
        assert line in text
    cfg = load_config(tmp_path / "engine.toml")
    assert (cfg.max_in_flight, cfg.ack_wait, cfg.sub_grace) == (1, 30.0, 0.1)


def test_serve_flags_override_them(tmp_path: Path) -> None:
    assert main(["engine", "init", str(tmp_path)]) == 0
    config = str(tmp_path / "engine.toml")
    flags = ["--max-in-flight", "500", "--ack-wait", "5", "--sub-grace", "0"]
    args = build_parser().parse_args(["serve", "--config", config, *flags])
    cfg = _serve_config(args)
    assert (cfg.max_in_flight, cfg.ack_wait, cfg.sub_grace) == (500, 5.0, 0.0)
    for flag, value in (
        ("--max-in-flight", "0"),
        ("--max-in-flight", "x"),
        ("--ack-wait", "0"),
        ("--sub-grace", "11"),
        ("--sub-grace", "-0.5"),
    ):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(["serve", "--config", config, flag, value])
        assert exit_.value.code == 2


def test_the_start_line_says_when_the_window_is_wider(tmp_path: Path) -> None:
    assert main(["engine", "init", str(tmp_path / "dev"), "--port", "0"]) == 0
    config = tmp_path / "dev" / "engine.toml"
    for args, says in (((), False), (("--max-in-flight", "250"), True)):
        engine = Serve(config, *args)
        try:
            assert engine.proc.stderr is not None
            line = ""
            while not line.startswith("EnSync engine"):
                line = engine.proc.stderr.readline()
                assert line, engine.log
            wider = re.search(
                r"; up to 250 records in flight per subscription, a load-test setting "
                r"\(EnSync pushes one at a time\)\); management API on "
                r"http://127\.0\.0\.1:\d+/api/v1/ensync\. Ctrl\+C stops it\.$",
                line,
            )
            assert bool(wider) is says, line
            assert says or "in flight" not in line
        finally:
            assert engine.stop(signal.SIGTERM) == 0
            engine.kill()
