"""The first hour of a new user (issue 21, point 1): from a fresh HOME on a machine without
XDG_RUNTIME_DIR (a container, cron), the README's first command twice, then `report`. The second
demo starts from zero, the report is the demo's (its brand, its targets), no command warns."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import load
from tests.waiting import ROOT, cli, cli_env, free_port, serving, wait_for

STARTUP = 30.0
"""Seconds for the demo to serve: a new embedded PostgreSQL (initdb) and the migrations."""
FIRST_POLLS = 60.0
"""Seconds for the first poll of each of the demo's streams, which reads the last 30 simulated
minutes (questions and answers in the first seconds): a poll interval and the spread of the first
polls over it, with a margin for a loaded machine."""
ACCOUNTS = {"demo-shop-x", "demo-shop-facebook", "demo-shop-instagram"}
SUMMARY_ROW = re.compile(
    r"^(demo-shop-\S+|total)\s+(?:x|facebook|instagram)?\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\d+)\s",
    re.MULTILINE,
)
"""A line of the demo's closing summary: account (or total), channel, questions, waits, answered,
response rate, within SLA, breaches, ..."""
AS_OF = re.compile(r"inbox-monitor report --as-of (\S+)")
"""The demo's last line of figures names the instant they were computed at."""


def readme_first_command() -> list[str]:
    """The arguments of `inbox-monitor` in the README's first command."""
    found = re.search(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    assert found is not None, "the README has no ```sh block"
    command = found.group(1).split("&&")[-1].split()
    assert command[0].endswith("bin/inbox-monitor"), found.group(1)
    return command[1:]


@dataclass(frozen=True)
class Ran:
    stdout: str
    stderr: str

    def summary(self) -> dict[str, tuple[int, int, str]]:
        """Per account and "total": (questions, waits, within SLA as printed) of the closing summary."""
        rows = {m[1]: (int(m[2]), int(m[3]), m[6]) for m in SUMMARY_ROW.finditer(self.stdout)}
        assert {"demo-shop-x", "demo-shop-facebook", "demo-shop-instagram", "total"} <= set(rows), self.stdout[-3000:]
        return rows

    def as_of(self) -> str:
        found = AS_OF.search(self.stdout)
        assert found is not None, self.stdout[-2000:]
        return found.group(1)

    def data_dir(self) -> str:
        found = re.search(r"data in (\S+)$", self.stdout, re.MULTILINE)
        assert found is not None, self.stdout[:2000]
        return found.group(1)


def first_polls_in(port: int) -> bool:
    """The demo on PORT has polled each of its streams once, and opened waits on each account."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        samples = [s for f in text_string_to_metric_families(r.read().decode()) for s in f.samples if s.value]

    def series(name: str) -> set[tuple[str, str]]:
        return {(s.labels["account"], s.labels.get("stream", "")) for s in samples if s.name == name}

    streams = series("social_inbox_poll_interval_seconds")
    polled = series("social_inbox_last_successful_poll_timestamp_seconds")
    opened = {account for account, _ in series("social_inbox_waits_opened_total")}
    return bool(streams) and streams <= polled and opened >= ACCOUNTS


def demo(env: dict[str, str], out: Path) -> Ran:
    """The README's first command on a free port (its own process answers there), stopped as a user
    does (SIGTERM, Ctrl-C's twin) once it has polled each stream: the questions of its first 30
    simulated minutes are in."""
    port = free_port()
    args = [*readme_first_command(), "--listen", f"127.0.0.1:{port}"]
    stdout, stderr = out.with_suffix(".out"), out.with_suffix(".err")
    with stdout.open("wb") as o, stderr.open("wb") as e:
        process = subprocess.Popen([sys.executable, "-m", "monitor", *args], stdout=o, stderr=e, env=env, cwd=ROOT)
    try:
        wait_for(serving(process, port, ready=False), timeout=STARTUP, what="the demo's own /healthz")
        wait_for(lambda: first_polls_in(port), timeout=FIRST_POLLS, interval=0.2, what="the demo's first polls")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, stderr.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return Ran(stdout.read_text(), stderr.read_text())


@pytest.mark.slow
def test_two_demos_then_a_report_from_a_fresh_home_without_xdg_runtime_dir(short_tmp: Path) -> None:
    home = short_tmp / "home"
    home.mkdir()
    env = {k: v for k, v in cli_env(HOME=str(home)).items() if not k.startswith("XDG_")}
    first = demo(env, short_tmp / "first")
    second = demo(env, short_tmp / "second")
    report = cli("report", "--format", "json", "--out", "-", "--as-of", second.as_of(), env=env)
    assert report.returncode == 0, report.stderr
    pdf = cli("report", "--format", "pdf", "--out", str(short_tmp / "demo.pdf"), env=env)  # as the README says
    assert pdf.returncode == 0, pdf.stderr

    for name, stderr in [("demo", first.stderr), ("demo", second.stderr), ("report", report.stderr + pdf.stderr)]:
        assert "warning" not in stderr.lower(), f"{name} warned:\n{stderr}"

    # The second demo starts from zero: data of its own. Both play the same seed until their first
    # polls (the last 30 simulated minutes), so a second run on the first's database would count
    # about twice the first's questions.
    assert first.data_dir() != second.data_dir()
    before, now = first.summary()["total"], second.summary()["total"]
    assert 0 < now[0] < 1.5 * before[0], (before, now)
    # The report made at the summary's instant gives the summary's figures: same waits, same
    # within-SLA share (one definition, docs/definitions.md).
    data = json.loads(report.stdout)
    total = data["total"]["current"]
    assert (total["questions"], total["waits_opened"]) == now[:2], (total, now)
    share = total["within_sla_share"]
    assert now[2] == ("–" if share is None else f"{100 * share:.1f}%"), (total, now)

    # The report is the last demo's: its brand, accounts and policy; the targets the methodology
    # states are those of the longest waits.
    assert "reading the last demo's" in report.stderr
    assert [row["brand"] for row in data["brands"]] == ["demo-shop"]
    assert {row["account"] for row in data["accounts"]} == {"demo-shop-x", "demo-shop-facebook", "demo-shop-instagram"}
    [note] = data["policies"]
    config = load(Path(second.data_dir()).parent / "config.toml", environ={})
    policy = config.policy(note["name"])
    stated = {
        note["public_first_seconds"]: policy.public.first,
        note["public_next_seconds"]: policy.public.next,
        note["private_first_seconds"]: policy.private.first,
        note["private_next_seconds"]: policy.private.next,
    }
    assert all(k == v for k, v in stated.items()), note
    assert data["longest_waits"]
    for wait in data["longest_waits"]:
        target = policy.targets_for(wait["channel"], wait["thread_kind"]).for_kind(wait["kind"])
        assert wait["target_seconds"] == target and target in stated, wait
