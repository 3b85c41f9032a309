"""``make fuzz``: run every fuzzing module in this folder, in turn; exit 1 if any failed.

``python -m tests.fuzz [NAME ...] [-- ARGS]`` runs only the named modules
(``engine`` for ``fuzz_engine.py``) and passes ARGS to each.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import tests.fuzz as package


def main(argv: list[str]) -> int:
    names, args = argv, []
    if "--" in argv:
        cut = argv.index("--")
        names, args = argv[:cut], argv[cut + 1 :]
    found = sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if info.name.startswith("fuzz_")
    )
    chosen = [n for n in found if not names or n.removeprefix("fuzz_") in names]
    if not chosen:
        print(f"no fuzzing module matches {names}; there are {found}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        module = importlib.import_module(f"tests.fuzz.{name}")
        print(f"== {name}", flush=True)
        start = time.monotonic()
        code = module.main(args)
        print(f"== {name}: {'ok' if code == 0 else 'FAILED'} in {time.monotonic() - start:.0f} s")
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
