"""SocialInboxStreamStale end to end: fake X API -> `inbox-monitor run` -> a real Prometheus.

A stream that stops polling makes no failed poll, so nothing but its silence can alert. Here the
fake X API answers one 429 whose reset is RESET_AFTER seconds away: the poller honours it (status
rate_limited, then nothing), and the alert fires naming the reason, then resolves once the stream
polls again. The rules are the repository's, except stream-stale.yml, which the same generator
writes from stale.toml with a 5-second floor and a 2-second `for:` (the production file says
15 minutes and 2 minutes); Prometheus scrapes and evaluates every second.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
import re
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from monitor.simulator.x_api import DM_EVENTS, MENTIONS, TWEETS, FakeXApi
from tests.conftest import with_database
from tests.integration.test_alerting import (
    ACME,
    BRAND,
    DEPLOY,
    MONITOR_CONFIG,
    _admin,
    _spawn,
    _stop,
    eventually,
    prometheus_config,
    serves,
)
from tests.unit.test_rules import generator
from tests.waiting import cli_env, free_port, in_thread, serving, start_cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.tools("prometheus"),
]

FLOOR_SECONDS = 5
FLOOR = f"{FLOOR_SECONDS}s"
"""Over 3 poll intervals (3 s), so the alert shows the floor at work; under the reset's wait."""
FOR = "2s"
RESET_AFTER = 15
"""Seconds to the 429's reset: well inside X's 15-minute window, so any bound on resets keeps it;
past the floor, its `for:` and a few evaluations, so the alert fires before the stream polls again."""


def rules_with_test_thresholds(tmp_path: Path) -> Path:
    """The repository's rules, but SocialInboxStreamStale from the generator with test thresholds."""
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in (DEPLOY / "rules").glob("*.yml"):
        if path.name != "stream-stale.yml":
            shutil.copy(path, rules / path.name)
    generate = generator()
    stale = dataclasses.replace(generate.load_stale(), floor=FLOOR, for_=FOR)
    (rules / "stream-stale.yml").write_text(generate.render_stale(stale, source="test thresholds"))
    return rules


def log_tail(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in sorted(tmp_path.glob("*.log"))
    )


async def stale_alerts(http: aiohttp.ClientSession, prometheus: str) -> list[dict[str, Any]]:
    """SocialInboxStreamStale alerts that Prometheus has firing."""
    async with http.get(f"{prometheus}/api/v1/alerts") as r:
        r.raise_for_status()
        alerts = (await r.json())["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == "SocialInboxStreamStale" and a["state"] == "firing"]


async def last_success(http: aiohttp.ClientSession, prometheus: str, stream: str) -> float | None:
    query = f'social_inbox_last_successful_poll_timestamp_seconds{{account="acme-x",stream="{stream}"}}'
    async with http.get(f"{prometheus}/api/v1/query", params={"query": query}) as r:
        r.raise_for_status()
        result = (await r.json())["data"]["result"]
    return float(result[0]["value"][1]) if result else None


async def test_a_stream_parked_by_a_rate_limit_reset_is_stale_then_resolves(pg_server_url: str, tmp_path: Path) -> None:
    x = FakeXApi(limits={MENTIONS: 100_000, TWEETS: 100_000, DM_EVENTS: 100_000})
    api = await x.start()
    x.add_user(ACME["user_id"], ACME["handle"])
    x.add_bearer_token(ACME["token"])

    rules = rules_with_test_thresholds(tmp_path)
    ports = {name: free_port() for name in ("monitor", "prometheus", "alertmanager")}
    monitor, prometheus = f"127.0.0.1:{ports['monitor']}", f"http://127.0.0.1:{ports['prometheus']}"
    brands = BRAND.format(env="ACME_X_BEARER", api=api, **ACME)
    (tmp_path / "monitor.toml").write_text(MONITOR_CONFIG.format(port=ports["monitor"], sla=3600, brands=brands))
    (tmp_path / "prometheus.yml").write_text(
        prometheus_config(
            monitor=monitor, alertmanager=f"127.0.0.1:{ports['alertmanager']}", rules=rules, evaluation="1s"
        )
    )
    database = f"t_stale_{uuid.uuid4().hex[:8]}"
    await _admin(pg_server_url, f"CREATE DATABASE {database}")
    procs = []
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
    try:
        env = cli_env(
            INBOX_MONITOR_DATABASE_URL=with_database(pg_server_url, database),
            INBOX_MONITOR_CONFIG=str(tmp_path / "monitor.toml"),
            ACME_X_BEARER=ACME["token"],
        )
        monitor_proc = start_cli("run", env=env, log=tmp_path / "monitor.log")
        procs.append(monitor_proc)
        procs.append(
            _spawn(
                [
                    "prometheus",
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                ],
                tmp_path / "prometheus.log",
            )
        )
        await eventually(in_thread(serving(monitor_proc, ports["monitor"])), 30, "inbox-monitor ready")
        await eventually(
            functools.partial(serves, http, f"{prometheus}/api/v1/status/flags", str(tmp_path / "prometheus.yml")),
            30,
            "prometheus ready",
        )
        await eventually(lambda: last_success(http, prometheus, "x.mentions"), 30, "a successful poll in Prometheus")
        assert await stale_alerts(http, prometheus) == []

        # One 429 with a reset RESET_AFTER seconds away: the mentions stream waits for it, silently.
        parked = time.time()
        x.inject("rate_limited", endpoint=MENTIONS, user_id=ACME["user_id"], retry_after=RESET_AFTER)
        firing = await eventually(
            lambda: stale_alerts(http, prometheus), RESET_AFTER - 5, "SocialInboxStreamStale firing"
        )
        fired = time.time() - parked
        assert len(firing) == 1, firing  # the replies stream is polled all along
        alert = firing[0]
        assert {k: alert["labels"][k] for k in ("account", "brand", "channel", "stream", "severity")} == {
            "account": "acme-x",
            "brand": "acme",
            "channel": "x",
            "stream": "x.mentions",
            "severity": "critical",
        }
        description = alert["annotations"]["description"]
        said = re.fullmatch(
            r"No poll of x\.mentions for acme-x \(x, brand acme\) has succeeded for ([0-9.]+)s: "
            rf"over 3 poll intervals \(1s\) and over {FLOOR}\. inbox-monitor says: "
            r"rate-limit wait until (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \+0000 UTC\. "
            r"New questions to this account are not seen, so they cannot alert\.",
            description,
        )
        assert said, description
        until = datetime.strptime(said[2], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
        # The reset the fake announced with its 429 (the next poll after `parked`, under load
        # maybe seconds later): shown to the second.
        [hit] = [r for r in x.requests_to(MENTIONS) if r.fault == "rate_limited"]
        assert parked <= hit.at and abs(until - math.ceil(hit.at + RESET_AFTER)) <= 1, (until, hit.at)
        assert float(said[1]) > FLOOR_SECONDS and fired >= FLOOR_SECONDS  # past the floor (3 intervals: 3 s)
        assert alert["annotations"]["runbook_url"].endswith("/deploy/prometheus/runbook.md#socialinboxstreamstale")

        # The reset passes, the stream polls again and succeeds: the alert resolves.
        async def resolved() -> bool:
            return await stale_alerts(http, prometheus) == []

        await eventually(resolved, RESET_AFTER + 20, "SocialInboxStreamStale resolved")
        assert time.time() >= parked + RESET_AFTER - 2  # not before the reset: the stream waited for it
        polled_again = [r for r in x.requests_to(MENTIONS) if r.at >= parked + RESET_AFTER - 1 and r.status == 200]
        assert polled_again
        print(f"stale: fired {fired:.1f}s after the 429, resolved {time.time() - parked:.1f}s after it")
    except BaseException:
        print(log_tail(tmp_path))
        raise
    finally:
        for proc in reversed(procs):
            await asyncio.to_thread(_stop, proc)
        await http.close()
        await x.stop()
        await _admin(pg_server_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
