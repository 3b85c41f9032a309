"""Crash reports are private and hold no secret, not even most of one."""

from __future__ import annotations

import stat

from ensync_tui.client import crypto
from ensync_tui.crashlog import REDACTED, redact, write_crash_log


def _boom(secret: str) -> None:
    raise RuntimeError(f"failed with key {secret[:80]}")


def test_a_report_is_written_mode_0600_without_the_secret(tmp_path):
    _, secret = crypto.generate_keypair()
    access = "acc_" + "Zx9" * 10
    try:
        _boom(secret)
    except RuntimeError as exc:
        path = write_crash_log(exc, [secret, access], folder=tmp_path / "crashes")
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "RuntimeError" in text and "_boom" in text
    assert secret[:20] not in text and secret[20:40] not in text
    assert REDACTED in text


def test_redact_hides_whole_secrets_runs_of_them_and_64_byte_keys():
    _, secret = crypto.generate_keypair()
    _, other = crypto.generate_keypair()  # not known to the process, but key-shaped
    public, _ = crypto.generate_keypair()
    text = f"a={secret} b={secret[5:70]} c={other} d={public} e=ordinary_word"
    out = redact(text, [secret])
    assert secret[5:17] not in out
    assert other not in out
    assert public in out  # public keys are not secrets
    assert "ordinary_word" in out


def test_redact_without_secrets_keeps_text():
    assert redact("nothing here", []) == "nothing here"
    assert redact("short key abc", ["abc"]) == "short key abc"  # too short to be a secret
