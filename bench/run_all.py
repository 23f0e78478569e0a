"""Run the benchmarks and write bench/RESULTS.md (command, machine, figures, date).

Usage: python bench/run_all.py [--only NAME,...]   (names: the keys of BENCHMARKS below; default all)
Each benchmark's main() returns (figure, value) pairs; where a baseline is measured in the same
run (ingest against COPY), the benchmark reports the ratio too, since absolute times vary.
Sections of benchmarks not run this time are kept from the previous RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
BENCHMARKS: dict[str, tuple[str, list[str], str]] = {
    "calendar": ("bench_calendar", [], "SLA calendars (issue 5): business_seconds over a year < 1 ms"),
    "metrics": (
        "bench_metrics",
        [],
        (
            "scrape and snapshot with 2,000 accounts and 200,000 open waits (issue 6): "
            "scrape p99 ≤ 50 ms, refresh ≤ 500 ms"
        ),
    ),
    "ingest": (
        "bench_ingest",
        [],
        "ingest against a raw COPY of the same rows (issue 12): ≥ 30 % of COPY and ≥ 10,000 messages/s, waits checked",
    ),
    "ingest-concurrent": (
        "bench_ingest",
        ["--streams", "2"],
        (
            "the same with two accounts ingesting at once, as the "
            "poller does, against two COPYs at once (issue 12): ≥ 30 % of COPY and ≥ 10,000 messages/s"
        ),
    ),
    "ingest-pages": (
        "bench_ingest",
        ["--batch", "100"],
        (
            "the same in batches of 100 messages, the X API's page "
            "size (for information: live polls bring a few messages, backfills pages of 100)"
        ),
    ),
    "freshness": (
        "bench_freshness",
        ["--poll", "5", "--accounts", "20", "--questions", "150", "--target", "10"],
        (
            "question on the fake X API → visible in /metrics (issue 12): p99 ≤ poll interval + 2 s for "
            "waits_opened_total and for open_waits; deadline → waits_breached_total: ≤ 2 s"
        ),
    ),
    "freshness-webhooks": (
        "bench_freshness",
        ["--poll", "60", "--webhooks", "--accounts", "20", "--questions", "150", "--target", "10"],
        (
            "the same with a 60 s poll interval and X's webhook delivery for each question: p99 ≤ 2 s "
            "(question → counted and shown), breach ≤ 2 s"
        ),
    ),
    "freshness-stream": (
        "bench_freshness",
        ["--poll", "600", "--stream", "--accounts", "20", "--questions", "150", "--target", "10"],
        (
            "the same with a 10-minute poll interval and every account on the X Activity API's persistent "
            "stream (issue 19): p99 ≤ 1 s (question → counted and shown), breach ≤ 2 s"
        ),
    ),
    "unsaved": (
        "bench_unsaved",
        [],
        "X Activity stream events kept while PostgreSQL is away (issue 19): a full queue < 100 MB",
    ),
    "report": ("bench_report", [], "SLA report over a year of 10 brands (issue 9): ≤ 20 s"),
    "footprint": (
        "bench_footprint",
        ["--accounts", "1000", "--poll", "60", "--minutes", "4"],
        (
            "one process polling 1,000 accounts every 60 s on the fake X API (issue 12): < 200 MB "
            "resident, < 10 % of one core"
        ),
    ),
    "soak": (
        "bench_footprint",
        ["--accounts", "200", "--poll", "5", "--minutes", "10", "--faults"],
        (
            "10-minute soak, 200 accounts, API faults injected (issue 11): memory growth < 10 % after warm-up, "
            "no leaked tasks, no unclosed session"
        ),
    ),
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
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def previous_sections() -> dict[str, str]:
    if not RESULTS.exists():
        return {}
    parts = re.split(r"^## ", RESULTS.read_text(), flags=re.MULTILINE)[1:]
    return {p.split("\n", 1)[0].strip(): "## " + p.rstrip() + "\n" for p in parts}


def run(key: str) -> str:
    module_name, args, target = BENCHMARKS[key]
    sys.argv = [f"bench/{module_name}.py", *args]
    command = " ".join(["python", *sys.argv])
    print(f"== {key}: {command}", flush=True)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    figures = importlib.import_module(module_name).main() or []
    lines = [
        f"## {key}",
        "",
        f"Target: {target}.",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}, load average {load:.1f} at start.  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {time.perf_counter() - started:.0f} s.",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value} |" for name, value in figures]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    sections = previous_sections()
    for key in args.only.split(","):
        if (HERE / f"{BENCHMARKS[key][0]}.py").exists():
            sections[key] = run(key)
            write(sections)


def write(sections: dict[str, str]) -> None:
    head = [
        "# Benchmark results",
        "",
        "Written by `python bench/run_all.py` (`--only NAME,...` to run some; each benchmark also runs",
        "alone with the command shown). Figures vary with the machine and its load: each section says both.",
        "",
    ]
    order = [k for k in BENCHMARKS if k in sections] + [k for k in sections if k not in BENCHMARKS]
    RESULTS.write_text("\n".join(head) + "\n" + "\n".join(sections[k] for k in order))


if __name__ == "__main__":
    main()
