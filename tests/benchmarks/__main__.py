"""`make bench`: run every tests/benchmarks/bench_*.py in turn and print its figures.

`python -m tests.benchmarks NAME...` runs only the named ones (e.g. `crypto engine`).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = {f"bench_{a}" for a in argv}
    failed = 0
    for name in names:
        if wanted and name not in wanted:
            continue
        print(f"\n== {name[6:]} ==", flush=True)
        start = time.perf_counter()
        try:
            importlib.import_module(f"tests.benchmarks.{name}").main()
        except Exception as exc:  # one broken bench must not hide the others
            failed += 1
            print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
        print(f"   ({time.perf_counter() - start:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
