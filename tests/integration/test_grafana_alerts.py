"""The Grafana-managed rules fire where the Prometheus rules fire: same series, same instants.

For each test of deploy/prometheus/tests/*.yml (the promtool tests that hold every alert on both
sides of its `for:`), its input series are written into a real Prometheus (remote write, staleness
markers included), and every Grafana rule of grafana/alerting/inbox-monitor.yml that has a twin in
the test's rule files is evaluated there as Grafana evaluates it (tests/integration/grafana_rules.py),
at every evaluation instant of the test. The alerts found firing at each instant become a promtool
test of the Prometheus rules - the same series, an `alert_rule_test` at every instant for every
alert - which promtool runs: it passes only if the Prometheus rules fire exactly those alerts, with
exactly those labels, at exactly those instants. (The rules' annotations are left out of that copy:
the two outputs word their texts differently on purpose, Grafana having no `query` template function.)
"""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration import grafana_rules
from tests.integration.series import Series, remote_write, series
from tests.waiting import ROOT, free_port, wait_for

pytestmark = pytest.mark.tools("prometheus", "promtool")

Json = dict[str, Any]
DEPLOY = ROOT / "deploy" / "prometheus"
GRAFANA_RULES = [
    rule
    for group in yaml.safe_load((ROOT / "grafana" / "alerting" / "inbox-monitor.yml").read_text())["groups"]
    for rule in group["rules"]
]
PROMTOOL_TESTS = [
    (path, i, test)
    for path in sorted((DEPLOY / "tests").glob("*.yml"))
    for i, test in enumerate(yaml.safe_load(path.read_text())["tests"])
]


def alert_name(rule: Json) -> str:
    """The Prometheus alert a Grafana rule is the twin of (burn-rate titles carry their window)."""
    return str(rule["title"]).split(" ")[0]


def rules_without_annotations(rule_files: list[str], base: Path, tmp: Path) -> tuple[list[str], set[str]]:
    """Copies of the test's rule files without annotations, and the alert names they hold."""
    paths, names = [], set()
    for i, name in enumerate(rule_files):
        doc = yaml.safe_load((base / name).read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
                if "alert" in rule:
                    names.add(rule["alert"])
        path = tmp / f"rules-{i}.yml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        paths.append(str(path))
    return paths, names


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    """A real Prometheus, empty, that accepts remote writes."""
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  evaluation_interval: 1m\n")
    with (tmp_path / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-remote-write-receiver",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: str(config) in urllib.request.urlopen(f"{url}/api/v1/status/flags", timeout=2).read().decode(),
            timeout=30,
            what="Prometheus ready",
        )
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize(("path", "index", "test"), PROMTOOL_TESTS, ids=[f"{p.stem}-{i}" for p, i, _ in PROMTOOL_TESTS])
def test_grafana_rules_fire_where_the_prometheus_rules_fire(
    prometheus: str, tmp_path: Path, path: Path, index: int, test: Json
) -> None:
    spec = yaml.safe_load(path.read_text())
    step = grafana_rules.seconds(spec.get("evaluation_interval", "1m"))
    interval_ms = 1000 * grafana_rules.seconds(test.get("interval", spec.get("evaluation_interval", "1m")))
    end = max(grafana_rules.seconds(t["eval_time"]) for t in test.get("alert_rule_test", []))
    rule_files, names = rules_without_annotations(spec["rule_files"], path.parent, tmp_path)
    twins = [rule for rule in GRAFANA_RULES if alert_name(rule) in names]
    assert twins, f"{path.name}: no Grafana rule for {sorted(names)}"

    written: list[Series] = [series(s["series"], s["values"], interval_ms) for s in test["input_series"]]
    remote_write(prometheus, written)

    firing: dict[tuple[int, str], list[dict[str, str]]] = {}
    for rule in twins:
        for t, alerts in grafana_rules.evaluate(prometheus, rule, end=end, step=step).items():
            firing.setdefault((t, alert_name(rule)), []).extend(alerts)
    checked = sorted({alert_name(rule) for rule in twins})
    expected = [
        {
            "eval_time": f"{t}s",
            "alertname": name,
            "exp_alerts": [{"exp_labels": labels} for labels in firing.get((t, name), [])],
        }
        for t in range(0, end + 1, step)
        for name in checked
    ]
    promtool_test = {
        "rule_files": rule_files,
        "evaluation_interval": spec.get("evaluation_interval", "1m"),
        "tests": [
            {
                "interval": test.get("interval", spec.get("evaluation_interval", "1m")),
                "input_series": test["input_series"],
                "alert_rule_test": expected,
            }
        ],
    }
    (tmp_path / "grafana-twin.yml").write_text(yaml.safe_dump(promtool_test, sort_keys=False))
    result = subprocess.run(
        ["promtool", "test", "rules", str(tmp_path / "grafana-twin.yml")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]

    # The comparison must be able to fail: the test's series make some alert fire (as the promtool
    # test itself expects), and not every alert at every instant.
    fired = [key for key, alerts in firing.items() if alerts]
    expects_firing = any(case["exp_alerts"] for case in test.get("alert_rule_test", []))
    assert bool(fired) == expects_firing, (path.name, index, sorted(fired))
    assert len(fired) < len(expected), "every alert fires at every instant: the series test no threshold"
