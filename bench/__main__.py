"""`python -m bench [area ...]`: run the benchmarks and print one table per area.

Areas: stack, pipeline, extract, browser, load, realworld (default: all). Each starts what it needs (private stacks on
free ports) and stops it again; figures depend on the machine's load, so each table carries its own baseline
measured in the same run.
"""

from __future__ import annotations

import importlib
import sys
import time

from bench.common import print_table

AREAS = {
    "stack": ("bench.bench_stack", "Local cloud: stack start, Lambda invoke, S3 put"),
    "pipeline": ("bench.bench_pipeline", "Pipeline: upload complete -> record visible"),
    "extract": ("bench.bench_extract", "CSV metadata extraction vs plain pandas"),
    "browser": ("bench.bench_browser", "Metadata browser with 100,000 records"),
    "load": ("bench.bench_load", "Load: 1,000 files at once, per trigger mode"),
    "realworld": ("bench.bench_realworld", "Real-world corpus: table shapes, ours vs the usual readers"),
}


def main(argv: list[str]) -> int:
    chosen = argv or list(AREAS)
    unknown = [a for a in chosen if a not in AREAS]
    if unknown:
        print(f"unknown area(s): {', '.join(unknown)}; choose from {', '.join(AREAS)}", file=sys.stderr)
        return 2
    for area in chosen:
        module_name, title = AREAS[area]
        started = time.perf_counter()
        rows = importlib.import_module(module_name).run()
        print_table(f"{title}  ({time.perf_counter() - started:.0f} s)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
