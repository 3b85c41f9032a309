"""Decrypt throughput for 700-byte payloads beside raw PyNaCl box-open, in one run."""

from __future__ import annotations

import base64
import json
import time

from nacl import bindings
from nacl.public import Box, PrivateKey, PublicKey

from ensync_tui.client.crypto import decrypt_payload, encrypt_payload, generate_keypair

N = 3000


def _payload(size: int = 700) -> dict[str, str]:
    base = {"order_id": "o-1", "status": "shipped", "note": ""}
    base["note"] = "x" * (size - len(json.dumps(base, separators=(",", ":"))))
    return base


def _rate(fn, n: int = N) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    public, secret = generate_keypair()
    other, _ = generate_keypair()
    payload = _payload()
    direct = encrypt_payload(payload, [public])
    hybrid = encrypt_payload(payload, [other, public])

    # raw PyNaCl: the same box, already decoded, opened with a converted key
    env = json.loads(base64.b64decode(direct))
    nonce, ct, eph = (
        base64.b64decode(env[k]) for k in ("nonce", "ciphertext", "ephemeralPublicKey")
    )
    curve_sk = bindings.crypto_sign_ed25519_sk_to_curve25519(base64.b64decode(secret))

    rates = {}
    for _round in range(2):  # interleave to share the machine's noise
        rates.setdefault("raw", []).append(
            _rate(lambda: bindings.crypto_box_open(ct, nonce, eph, curve_sk))
        )
        rates.setdefault("box", []).append(
            _rate(lambda: Box(PrivateKey(curve_sk), PublicKey(eph)).decrypt(ct, nonce))
        )
        rates.setdefault("direct", []).append(_rate(lambda: decrypt_payload(direct, secret)))
        rates.setdefault("hybrid", []).append(_rate(lambda: decrypt_payload(hybrid, secret)))
    best = {k: max(v) for k, v in rates.items()}
    print(f"   payload {len(json.dumps(payload, separators=(',', ':')))} B, {N} opens per round")
    print(f"   raw PyNaCl crypto_box_open : {best['raw']:10,.0f} msg/s  (the floor)")
    print(f"   PyNaCl Box(...).decrypt    : {best['box']:10,.0f} msg/s")
    for kind in ("direct", "hybrid"):
        print(
            f"   decrypt_payload {kind:6}     : {best[kind]:10,.0f} msg/s"
            f"   ratio to raw {best[kind] / best['raw']:.2f}, to Box {best[kind] / best['box']:.2f}"
        )


if __name__ == "__main__":
    main()
