"""`inbox-monitor demo` as a new user runs it, and the traffic it plays.

The end-to-end tests start the real command in a subprocess with a fresh data directory
(XDG_DATA_HOME, so the embedded PostgreSQL is new) and read its /metrics until what the demo
promises shows: at the default speed, questions, answers and breaches within two minutes, then a
report of its data with `inbox-monitor report`; with Prometheus (at four times the speed), an
alert in Slack and the Facebook token rejected then recovered.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import tomllib
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor import demo_runs
from monitor.config import DatabaseConfig, load, parse
from monitor.demo import (
    DEPLOY,
    STORY_TARGETS,
    DemoView,
    _Output,
    alertmanager_config,
    demo_config,
    demo_config_data,
)
from monitor.domain.questions import is_automatic, needs_reply
from monitor.simulator.graph_api import FakeGraphApi
from monitor.simulator.traffic import PLACES, PRIVATE, Exchange, TrafficPlayer, plan
from monitor.simulator.x_api import FakeXApi
from monitor.store.embedded import hold
from tests.conftest import postmasters, tool
from tests.waiting import cli, cli_env, free_port, serving, start_cli, wait_for

STARTUP = 30.0
"""Seconds for a cold start: a new embedded PostgreSQL (initdb) and the migrations."""


# ------------------------------------------------------------------------------------------------
# The traffic
# ------------------------------------------------------------------------------------------------


def hour_of_traffic(seed: int = 1) -> list[Exchange]:
    return [e for place in PLACES for e in plan(seed, place, 0, 3600.0, salt="t")]


def test_traffic_speaks_french_and_english_and_the_classifier_agrees() -> None:
    exchanges = hour_of_traffic()
    assert {e.lang for e in exchanges} == {"fr", "en"}
    assert {e.place for e in exchanges} == set(PLACES)
    for e in exchanges:
        replied = False
        for step in e.steps:
            if step.kind == "reply":
                assert not is_automatic(step.text), step.text
                replied = True
            elif step.kind == "question":
                assert needs_reply(step.text, private=e.private, after_brand_reply=replied), step.text
            else:  # praise (public) and a thank-you after a reply open no wait
                assert not needs_reply(step.text, private=e.private, after_brand_reply=replied), step.text


def test_some_questions_are_never_answered_and_replies_come_after_realistic_delays() -> None:
    exchanges = [e for e in hour_of_traffic() if e.questions]
    never = [e for e in exchanges if e.unanswered]
    assert 0.1 < len(never) / len(exchanges) < 0.45
    delays = [e.steps[1].offset for e in exchanges if len(e.steps) > 1 and e.steps[1].kind == "reply"]
    assert delays and min(delays) >= 120 and max(delays) <= 4 * 3600  # 2 minutes to 4 hours
    assert any(e.steps[-1].kind == "question" and len(e.steps) > 2 for e in exchanges)  # `next` waits
    assert any(e.place in PRIVATE for e in never)


def test_the_same_seed_plays_the_same_story_with_new_customers_each_run() -> None:
    a = plan(7, "x_mention", 0, 1800.0, salt="run-a")
    b = plan(7, "x_mention", 0, 1800.0, salt="run-b")
    assert [(e.at, e.steps) for e in a] == [(e.at, e.steps) for e in b]
    assert {e.customer_id for e in a}.isdisjoint({e.customer_id for e in b})
    assert [(e.at, e.steps) for e in plan(8, "x_mention", 0, 1800.0)] != [(e.at, e.steps) for e in a]


DEMO_ENV = {
    f"DEMO_{n}": "x" * 8
    for n in (
        "X_BEARER_TOKEN",
        "X_CONSUMER_KEY",
        "X_CONSUMER_SECRET",
        "X_ACCESS_TOKEN",
        "X_ACCESS_TOKEN_SECRET",
        "FACEBOOK_PAGE_TOKEN",
        "FACEBOOK_APP_SECRET",
    )
}
"""The secrets the demo puts in its environment."""


def test_the_demo_configuration_divides_the_targets_by_the_speed() -> None:
    env = DEMO_ENV
    config = demo_config(
        speed=60,
        listen="127.0.0.1:1",
        x_url="http://127.0.0.1:2",
        graph_url="http://127.0.0.1:3",
        database=DatabaseConfig(),
        environ=env,
    )
    policy = config.policy("demo")
    assert policy.targets_for("x", "public").first == STORY_TARGETS[("public", "first")] / 60 == 30.0
    assert policy.targets_for("facebook", "private").next == STORY_TARGETS[("private", "next")] / 60
    assert [a.api_base_url for _, a in config.accounts()] == ["http://127.0.0.1:2", *["http://127.0.0.1:3"] * 2]
    assert [a.channel for _, a in config.accounts()] == ["x", "facebook", "instagram"]


def test_the_demo_alertmanager_configuration_is_the_projects_with_the_fake_slack(tmp_path: Path) -> None:
    text = alertmanager_config(
        (DEPLOY / "alertmanager.yml").read_text(encoding="utf-8"),
        slack_url_file=tmp_path / "url",
        templates=DEPLOY / "templates",
        group_wait="5s",
    )
    assert str(tmp_path / "url") in text and "group_wait: 5s" in text
    (tmp_path / "url").write_text("http://127.0.0.1:1/services/T0000/B0000/test\n")
    (tmp_path / "alertmanager.yml").write_text(text)
    result = subprocess.run(
        [tool("amtool"), "check-config", str(tmp_path / "alertmanager.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------------
# The demo's data: a directory of its own for each run
# ------------------------------------------------------------------------------------------------


def test_the_saved_configuration_is_the_demos_and_reads_without_credentials(tmp_path: Path) -> None:
    data = demo_config_data(
        speed=60,
        listen="127.0.0.1:1",
        x_url="http://127.0.0.1:2",
        graph_url="http://127.0.0.1:3",
        database=DatabaseConfig(data_dir=tmp_path / "pgdata"),
    )
    assert tomllib.loads(demo_runs.to_toml(data)) == data  # the TOML writer loses nothing
    run = demo_runs.DemoRun(tmp_path)
    demo_runs.save_config(run, demo_runs.saved_config(data), "Written by a test\n\nline three")
    assert run.config_path.read_text().startswith("# Written by a test\n#\n# line three\n")
    saved = load(run.config_path, environ={})  # none of the demo's secrets: its fake APIs are gone
    demo = parse(data, environ=DEMO_ENV)
    assert saved.policies == demo.policies and saved.database == demo.database
    assert [(b, a.name, a.channel, a.handle, a.policy) for b, a in saved.accounts()] == [
        (b, a.name, a.channel, a.handle, a.policy) for b, a in demo.accounts()
    ]
    assert [a.external_id for _, a in saved.accounts()] == [a.external_id for _, a in demo.accounts()]


def test_a_new_run_keeps_the_last_one_and_removes_older_ones_no_process_uses(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(short_tmp))
    first, previous = demo_runs.choose(keep=True, now=datetime(2026, 12, 5, 9, tzinfo=UTC))
    assert previous is None and first.path.is_dir()  # the very first run: a new directory, even with --keep
    old, busy, last = (demo_runs.new_run(datetime(2026, 12, 5, h, tzinfo=UTC)) for h in (10, 11, 12))
    demo_runs.make_latest(last)
    assert demo_runs.latest() == last and demo_runs.latest_config() is None  # no configuration written yet
    (demo_runs.runs_dir() / "notes").mkdir()  # not a run: never deleted
    kept, previous = demo_runs.choose(keep=True, now=datetime(2026, 12, 5, 13, tzinfo=UTC))
    assert kept == previous == last  # --keep goes on with the last run's directory
    new, previous = demo_runs.choose(keep=False, now=datetime(2026, 12, 5, 13, tzinfo=UTC))
    assert previous == last and new.path.name.startswith("20261205T130000Z-") and new.path.is_dir()

    lock = hold(busy.pgdata)  # a demo still running there
    try:
        assert demo_runs.remove_old([new, previous]) == [first.path, old.path]
    finally:
        os.close(lock)
    assert demo_runs.remove_old([new, previous]) == [busy.path]
    names = sorted(p.name for p in demo_runs.runs_dir().iterdir())
    assert names == sorted([new.path.name, last.path.name, "latest", "notes"])


def test_removing_an_old_run_stops_the_server_a_killed_demo_left_in_it(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(short_tmp))
    killed = demo_runs.new_run(datetime(2026, 12, 5, 10, tzinfo=UTC))
    left = f"import pgserver; pgserver.get_server({str(killed.pgdata)!r}, cleanup_mode=None)"  # no stop at exit
    subprocess.run([sys.executable, "-c", left], check=True, timeout=120, capture_output=True)
    assert len(postmasters(killed.pgdata)) == 1
    assert demo_runs.remove_old([]) == [killed.path]
    assert postmasters(killed.pgdata) == [] and not killed.path.exists()


# ------------------------------------------------------------------------------------------------
# The demo, end to end
# ------------------------------------------------------------------------------------------------


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        return str(r.read().decode())


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def total(text: str, name: str) -> float:
    return sum(v for _, v in samples(text, name))


def token_rejected_then_recovered(port: int) -> None:
    """The Facebook Page token expires at simulated minute 45 and is rotated at minute 75: its
    streams are rejected, then polled again."""

    def rejected() -> bool:
        return any(
            labels["result"] == "credentials_rejected" and labels["account"] == "demo-shop-facebook" and v > 0
            for labels, v in samples(scrape(port), "social_inbox_poll_total")
        )

    wait_for(rejected, timeout=90, interval=0.5, what="the expired Facebook token to be rejected")

    def recovered() -> bool:
        valid = samples(scrape(port), "social_inbox_credentials_valid")
        return bool(valid) and all(v == 1 for _, v in valid)

    wait_for(recovered, timeout=60, interval=0.5, what="the Facebook streams to recover after the rotation")


def stop(process: subprocess.Popen[bytes], log: Path) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    return log.read_text()


def test_the_plain_output_prints_every_token_breach_and_alert_even_after_a_burst_of_questions() -> None:
    # `view.events` keeps the last few for the live view; a busy second (the first poll reads 30
    # simulated minutes) used to push the token event out before the plain output printed it.
    player = TrafficPlayer(
        seed=1,
        speed=60,
        origin=datetime.now(UTC),
        x=FakeXApi(),
        graph=FakeGraphApi(),
        x_user_id="1",
        x_handle="shop",
        page_id="2",
    )
    view = DemoView(speed=60, started=0.0, player=player, listen="127.0.0.1:1", data_dir="-", targets={})
    out = io.StringIO()
    with _Output(view, out, plain=True) as output:
        view.add("token", "the Page access token expired")
        for i in range(3 * (view.events.maxlen or 0)):
            view.add("question", f"question {i}")
            view.add("breach", f"SLA BREACHED {i}")
        output.refresh()
        view.add("alert", "Slack <- Alertmanager")
        output.refresh()
    lines = out.getvalue().splitlines()
    printed = [line.split("] ", 1)[1] for line in lines if "open now" not in line]  # not the figures line
    assert printed == [
        "the Page access token expired",
        *(f"SLA BREACHED {i}" for i in range(42)),
        "Slack <- Alertmanager",
    ]
    assert not view.listeners


@pytest.mark.slow
def test_a_new_user_sees_questions_answers_and_breaches_within_two_minutes_then_a_report(
    short_tmp: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = cli_env(XDG_DATA_HOME=str(short_tmp))
    log = tmp_path / "demo.log"
    process = start_cli("demo", "--duration", "240", "--listen", f"127.0.0.1:{port}", env=env, log=log)
    try:
        wait_for(serving(process, port, ready=False), timeout=STARTUP, what="the demo's own /healthz")
        wait_for(lambda: scrape(port), timeout=STARTUP, what="/metrics of the demo")
        started = datetime.now(UTC)

        def figures() -> dict[str, float] | None:
            text = scrape(port)
            names = [f"social_inbox_waits_{k}_total" for k in ("opened", "answered", "breached")]
            found = {name: total(text, name) for name in [*names, "social_inbox_open_waits"]}
            instagram = [  # Instagram's questions, answers and breaches too
                sum(v for labels, v in samples(text, name) if labels.get("channel") == "instagram") for name in names
            ]
            return found if all(found.values()) and all(instagram) else None

        # The first poll reads the last 30 simulated minutes: some of it is past its SLA already.
        first = wait_for(figures, timeout=120, interval=1, what="questions, answers and a breach in /metrics")
        assert first is not None

        def more_breaches() -> dict[str, float] | None:
            now = figures()
            return (
                now
                if now and now["social_inbox_waits_breached_total"] > first["social_inbox_waits_breached_total"]
                else None
            )

        # Then breaches keep coming as deadlines pass while the demo runs.
        later = wait_for(more_breaches, timeout=120, interval=1, what="a breach while the demo runs")
        assert later is not None
        took = (datetime.now(UTC) - started).total_seconds()
        assert took < 120
        text = scrape(port)
        assert {labels["channel"] for labels, v in samples(text, "social_inbox_waits_opened_total") if v} == {
            "x",
            "facebook",
            "instagram",
        }
        assert total(text, "social_inbox_response_seconds_count") == total(text, "social_inbox_waits_answered_total")

        # Its two peers are read within their budgets (docs/peers.md), never in the inbox's series:
        # their first polls are spread like the inbox's, so they may come after its first figures.
        def peer_reads() -> str | None:
            text = scrape(port)
            reads = {labels["peer"]: v for labels, v in samples(text, "social_inbox_peer_reads_today")}
            assert set(reads) == {"globex", "initech"}, reads
            return text if all(reads.values()) else None

        read = wait_for(peer_reads, timeout=60, interval=1, what="both peers read (peer_reads_today)")
        assert read is not None and "peer:" not in read
        output = stop(process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "SLA BREACHED" in output
    assert re.search(r"demo-shop-x\s+x\s+\d+", output), output[-2000:]
    assert re.search(r"demo-shop-instagram\s+instagram\s+\d+", output), output[-2000:]

    # The report works on the demo's data (the same embedded data directory).
    pdf = tmp_path / "report.pdf"
    result = cli("report", "--out", str(pdf), env=env)
    assert result.returncode == 0, result.stderr
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 2000
    result = cli("report", "--format", "json", "--out", "-", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    current = report["total"]["current"]
    assert current["waits_opened"] >= later["social_inbox_waits_opened_total"]
    assert current["breaches"] > 0 and current["answered"] > 0
    peers = {p["name"]: p["current"] for p in report["peers"]}
    assert list(peers) == ["demo-shop", "globex", "initech"]
    assert all(p["waits_opened"] > 0 for p in peers.values()), peers
    assert peers["globex"]["median_first_response_seconds"] == pytest.approx(20 * 60 / 60, abs=1)  # at speed 60
    assert 0 < peers["initech"]["response_rate"] < peers["globex"]["response_rate"]


@pytest.mark.slow
@pytest.mark.tools("prometheus", "prometheus-alertmanager")
def test_with_prometheus_the_projects_rules_send_alerts_to_slack_and_the_token_story_plays(
    short_tmp: Path, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    process = start_cli(
        "demo",
        "--with-prometheus",
        "--speed",
        "240",
        "--duration",
        "180",
        "--listen",
        f"127.0.0.1:{port}",
        env=cli_env(XDG_DATA_HOME=str(short_tmp)),
        log=log,
    )
    try:
        wait_for(serving(process, port, ready=False), timeout=STARTUP, what="the demo's own /healthz")
        alert = r"Slack ← Alertmanager: \d+ questions? to (@demoshop on X|Demo Shop on Facebook) unanswered past .*"
        line = wait_for(
            lambda: re.search(alert, log.read_text()),
            timeout=STARTUP + 90,
            interval=0.5,
            what="a SocialInboxQuestionUnanswered Slack message",
        )
        assert line is not None and re.search(r"past (its|their) .*target", line.group(0))
        token_rejected_then_recovered(port)  # at minutes 45 and 75: 11 s and 19 s at this speed
        output = stop(process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Prometheus http://127.0.0.1:" in output
    assert "the Page access token expired" in output and "a new Page token was written" in output
