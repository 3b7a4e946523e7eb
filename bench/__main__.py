"""Run every benchmark module `bench/bench_*.py` that has a `main()` function, in name order.

`python -m bench` runs them all; `python -m bench NAME...` runs only the named ones (with or
without the `bench_` prefix). Each `main()` prints its own results; this runner says which ran.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from collections.abc import Sequence

import bench


def discover() -> list[str]:
    """Names of the benchmark modules of this package, sorted."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(bench.__path__)
        if info.name.startswith("bench_") and not info.ispkg
    )


def run(argv: Sequence[str]) -> int:
    """Run the selected benchmarks and return the process exit code."""
    names = discover()
    if argv:
        wanted = {a if a.startswith("bench_") else f"bench_{a}" for a in argv}
        unknown = sorted(wanted - set(names))
        if unknown:
            print(f"unknown benchmark(s): {', '.join(unknown)}", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    ran: list[str] = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        main = getattr(module, "main", None)
        if not callable(main):
            print(f"skipped {name}: no main()")
            continue
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        main()
        print(f"== {name} done in {time.perf_counter() - start:.1f} s", flush=True)
        ran.append(name)
    print(f"ran {len(ran)} benchmark(s): {', '.join(ran) if ran else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
