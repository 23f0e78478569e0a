"""Run every benchmark and write bench/RESULTS.md (command, machine, figures, date).

Usage: python bench/run_all.py [--only calendar,metrics,ingest,report]
Each benchmark's main() returns (figure, value) pairs; where a baseline is measured in the same
run (ingest against COPY), the benchmark reports the ratio too, since absolute times vary.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "calendar": ("bench_calendar", "python bench/bench_calendar.py", "SLA calendars (issue 5): target < 1 ms"),
    "metrics": ("bench_metrics", "python bench/bench_metrics.py",
                "Scrape and snapshot, 2,000 accounts, 200,000 open waits (issue 6): scrape p99 ≤ 50 ms, "
                "refresh ≤ 500 ms"),
    "ingest": ("bench_ingest", "python bench/bench_ingest.py",
               "Ingest against raw COPY (issue 12): ≥ 30 % of COPY and ≥ 10,000 messages/s"),
    "report": ("bench_report", "python bench/bench_report.py",
               "SLA report over a year, 10 brands (issue 9): ≤ 20 s"),
}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), Python "
            f"{platform.python_version()}, load average {load:.1f} at start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    args, rest = parser.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    sys.path.insert(0, str(HERE))
    out = [
        "# Benchmark results",
        "",
        "Written by `python bench/run_all.py` (each benchmark can also run alone, command below).",
        f"Machine: {machine()}. Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    for key in args.only.split(","):
        module_name, command, target = BENCHMARKS[key]
        if not (HERE / f"{module_name}.py").exists():
            continue
        print(f"== {key}", flush=True)
        started = time.perf_counter()
        figures = importlib.import_module(module_name).main() or []
        out += [f"## {key}", "", f"Target: {target}.", "", f"Command: `{command}`", "",
                "| figure | value |", "|---|---|"]
        out += [f"| {name} | {value} |" for name, value in figures]
        out += ["", f"({time.perf_counter() - started:.0f} s)", ""]
    (HERE / "RESULTS.md").write_text("\n".join(out))
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
