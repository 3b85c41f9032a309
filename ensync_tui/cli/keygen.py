"""`ensync-tui keygen`: a new Ed25519 identity key pair."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any, conn: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "keygen",
        help="print a new key pair",
        description="Print a new Ed25519 key pair: the public key is the address others "
        "publish to, the secret key decrypts (keep it private).",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ensync_tui.client.crypto import generate_keypair

    public, secret = generate_keypair()
    if args.json:
        print(json.dumps({"publicKey": public, "secretKey": secret}))
    else:
        print(f"public key: {public}")
        print(f"secret key: {secret}")
    return 0
