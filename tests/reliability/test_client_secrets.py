"""A scan of everything the CLI prints, logs and saves for the access key and the secret key.

The commands run as real processes against an engine that quotes the access
key back in every ``-FAIL`` and close reason it can, with ``-v`` logging on,
and once with a fault injected so that a crash report is written. Neither
secret may appear in full, nor any run of 12 of its characters.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from ensync_tui.client import crypto
from tests.client.scripted import ScriptedServer, record_frame

ROOT = Path(__file__).resolve().parents[2]
RUN = 12  # this many characters of a secret in a row count as showing it

CRASH = """
import sys
from ensync_tui.cli.main import main
from ensync_tui.cli import tail

async def explode(settings, *args):
    key, secret = settings.access_key, settings.app_secret_key  # locals holding both
    raise RuntimeError(f"failed with {key} and {secret}")

tail._tail = explode
sys.exit(main(sys.argv[1:]))
"""


def leaks(text: str, secrets: list[str]) -> list[str]:
    found = []
    for secret in secrets:
        for start in range(len(secret) - RUN + 1):
            if secret[start : start + RUN] in text:
                found.append(f"{secret[:4]}… run at {start}")
                break
    return found


async def run(env: dict[str, str], *args: str, code: str | None = None) -> tuple[int, str]:
    command = ["-c", code, *args] if code else ["-m", "ensync_tui", *args]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *command,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def test_no_secret_in_anything_the_cli_prints_logs_or_saves(tmp_path):
    keys = crypto.generate_keypair()
    access_key = "ak-" + crypto.generate_keypair()[0]  # long and random, like a real one
    secrets = [access_key, keys[1]]
    quoted = f"unknown access key {access_key} (secret {keys[1]})"
    home = Path.home()
    before = {p for p in home.rglob("*") if p.is_file()}
    outputs: dict[str, str] = {}
    async with ScriptedServer(keys[0]) as server:
        record = record_frame("a/b", "i-1", crypto.encrypt_payload({"k": 1}, [keys[0]]))
        server.rules["SUB"] = lambda f: ["+PASS:ok", record, record.replace("i-1", "i-2")]
        server.rules["ACK"] = lambda f: [f"-FAIL:{quoted}"]
        server.rules["PUB"] = lambda f: [f"-FAIL:{quoted}"]
        server.rules["REPLAY"] = lambda f: [f"-FAIL:{quoted}"]
        env = dict(os.environ) | {
            "PYTHONPATH": str(ROOT),
            "ENSYNC_URL": server.url,
            "ENSYNC_ACCESS_KEY": access_key,
            "ENSYNC_APP_SECRET_KEY": keys[1],
        }
        profile = tmp_path / "profile.toml"  # written by us: the one file allowed to hold them
        profile.write_text(
            f'[profiles.p]\nurl = "{server.url}"\naccess_key = "{access_key}"\n'
            f'app_secret_key = "{keys[1]}"\n'
        )
        flags = ["--access-key", access_key, "--app-secret-key", keys[1]]
        runs = {
            "tail -v": (env, ["-v", "tail", "a/b", "--count", "2"]),
            "tail with flags": (env, ["tail", "a/b", "--count", "2", *flags]),
            "publish -v": (env, ["-v", "publish", "a/b", "--to", "self", "--payload", "{}"]),
            "replay -v": (env, ["-v", "replay", "a/b", "i-1"]),
            "config show": (env, ["config", "show", "--config", str(profile), "--profile", "p"]),
            "config show --json": (env, ["config", "show", "--json", "--config", str(profile)]),
            "crash": (env, ["-v", "tail", "a/b"]),
        }
        for label, (run_env, args) in runs.items():
            code, text = await run(run_env, *args, code=CRASH if label == "crash" else None)
            outputs[label] = text
        server.rules["CONN"] = lambda f: [f"-FAIL:{quoted}"]
        code, outputs["refused login -v"] = await run(env, "-v", "tail", "a/b")
        assert code == 1
    saved = {p for p in home.rglob("*") if p.is_file()} - before
    reports = [p for p in saved if p.name.startswith("crash-")]
    assert reports, outputs["crash"]
    assert "crash report:" in outputs["crash"] and "Traceback" not in outputs["crash"]
    for path in saved:
        outputs[f"saved {path.name}"] = path.read_text(errors="replace")
    problems = {label: leaks(text, secrets) for label, text in outputs.items()}
    assert not any(problems.values()), problems
    assert "[redacted]" in outputs["refused login -v"]
    print(
        f"\nsecret scan: {len(runs) + 1} CLI runs (stdout, stderr, -v logs, config show, a"
        f" crash) and {len(saved)} saved file(s) ({len(reports)} crash report(s)):"
        f" 0 full secrets, 0 runs of {RUN}+ characters"
    )
