"""The generated Grafana dashboards: up to date, well-formed, wired to the provisioned data sources.

Whether their queries return data is tests/integration/test_grafana.py's job; the Grafana-managed
rules are compared with the Prometheus rules in tests/unit/test_rules.py and fire alike in
tests/integration/test_grafana_alerts.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
Json = dict[str, Any]


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATE = _generator()
BUILT: dict[str, Json] = GENERATE.build()
COMMITTED = {p.name: p for p in (GRAFANA / "dashboards").glob("*.json")}
BOARDS = list(BUILT.values())
IDS = [b["uid"] for b in BOARDS]
# The alerts of DESIGN.md, each with a section in deploy/prometheus/runbook.md.
ALERTS = {
    "SocialInboxQuestionUnanswered",
    "SocialInboxQuestionAtRisk",
    "SocialInboxSLOBurnRate",
    "SocialInboxPollerFailing",
    "SocialInboxAPITokenInvalid",
    "SocialInboxRateLimited",
    "SocialInboxMonitorDown",
    "SocialInboxStreamStale",
}
BUILTINS = {"__interval", "__interval_ms", "__rate_interval", "__range", "__range_s", "__range_ms"}
VARIABLE = re.compile(r"\$(?:\{(\w+)(?::(\w+))?\}|(\w+))")


def test_committed_dashboards_are_what_the_generator_writes() -> None:
    assert set(COMMITTED) == set(BUILT), "run: python grafana/generate.py"
    for name, board in BUILT.items():
        assert COMMITTED[name].read_text(encoding="utf-8") == GENERATE.render(board), (
            f"grafana/dashboards/{name} is stale or was edited by hand: run python grafana/generate.py"
        )
    for path, text in GENERATE.outputs().items():  # the Grafana-managed rules too
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run python grafana/generate.py"
    assert GENERATE.main(["--check"]) == 0


def test_generated_files_say_do_not_edit() -> None:
    for path in [*COMMITTED.values(), GENERATE.ALERTING_OUT]:
        first_lines = path.read_text(encoding="utf-8").splitlines()[:3]
        assert any("DO NOT EDIT" in line and "generate.py" in line for line in first_lines), path


def provisioned_datasources() -> dict[str, str]:
    """uid -> type of every provisioned data source (a small reader: no YAML library needed)."""
    out: dict[str, str] = {}
    for path in (GRAFANA / "provisioning" / "datasources").glob("*.y*ml"):
        text = path.read_text(encoding="utf-8")
        for item in re.split(r"^\s*-\s+name:", text, flags=re.MULTILINE)[1:]:
            uid = re.search(r"^\s+uid:\s*(\S+)", item, re.MULTILINE)
            kind = re.search(r"^\s+type:\s*(\S+)", item, re.MULTILINE)
            assert uid and kind, f"{path}: every data source needs a fixed uid and a type"
            out[uid[1]] = kind[1]
    return out


def test_every_datasource_a_dashboard_uses_is_provisioned_with_that_uid_and_type() -> None:
    provisioned = provisioned_datasources()
    assert provisioned == {ds["uid"]: ds["type"] for ds in GENERATE.DATASOURCES}
    for board in BOARDS:
        refs = [p["datasource"] for p in GENERATE.panels_of(board) if p["type"] not in ("row", "alertlist")]
        refs += [t["datasource"] for p in GENERATE.panels_of(board) for t in p.get("targets", [])]
        refs += [v["datasource"] for v in board["templating"]["list"] if "datasource" in v]
        refs += [a["datasource"] for a in board["annotations"]["list"] if not a.get("builtIn")]
        for ref in refs:
            assert provisioned.get(ref["uid"]) == ref["type"], (board["uid"], ref)


def test_prometheus_manages_alerts_silenced_in_the_provisioned_alertmanager() -> None:
    """The alert list lists the Prometheus rules' alerts (a data source that manages alerts), and
    Grafana silences them in the Alertmanager they are sent to."""
    text = (GRAFANA / "provisioning" / "datasources" / "inbox-monitor.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+manageAlerts:\s*true\b", text, re.MULTILINE)
    assert re.search(r"^\s+alertmanagerUid:\s*inbox-alertmanager\b", text, re.MULTILINE)
    assert provisioned_datasources()["inbox-alertmanager"] == "alertmanager"


def test_the_live_dashboard_lists_firing_alerts_and_marks_breaches() -> None:
    live = BUILT["inbox-live.json"]
    (alert_list,) = [p for p in GENERATE.panels_of(live) if p["type"] == "alertlist"]
    options = alert_list["options"]
    assert options["alertName"] == "SocialInbox" and options["datasource"] is None  # every rule source
    assert options["stateFilter"]["firing"] and options["stateFilter"]["pending"]
    assert not options["stateFilter"]["normal"]
    variables = {v["name"] for v in live["templating"]["list"]}
    for m in VARIABLE.finditer(options["alertInstanceLabelFilter"]):  # a label matcher: regex-escaped once
        assert m[1] in variables and m[2] == "regex", options["alertInstanceLabelFilter"]
    annotations = {a["name"]: a for a in live["annotations"]["list"]}
    assert "social_inbox_waits_breached_total" in annotations["Breaches"]["expr"]
    assert "social_inbox_open_waits_at_risk" in annotations["At risk"]["expr"]
    assert annotations["Breaches"]["iconColor"] == "red" and annotations["At risk"]["iconColor"] == "orange"


def test_dashboard_provider_loads_the_folder_read_only() -> None:
    text = (GRAFANA / "provisioning" / "dashboards" / "inbox-monitor.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+type:\s*file$", text, re.MULTILINE)
    assert re.search(r"^\s+allowUiUpdates:\s*false$", text, re.MULTILINE)
    assert re.search(r"^\s+path:\s*/\S+$", text, re.MULTILINE)


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_dashboard_model(board: Json) -> None:
    assert board["schemaVersion"] == 41  # Grafana 11.6's, what grafana-foundation-sdk 11.6 writes
    assert re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"])
    assert board["title"] and board["description"] and board["time"]["to"] == "now"
    assert board["editable"] is False and board.get("id") is None
    panels = list(GENERATE.panels_of(board))
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    for p in panels:
        assert p["type"] in {"row", "stat", "timeseries", "table", "bargauge", "state-timeline", "alertlist"}, p
        grid = p["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, p["title"]
        if p["type"] == "row":
            continue
        if p["type"] == "alertlist":  # reads alert rules, not a query: checked below
            assert p["title"] and p["description"] and "targets" not in p, p
            continue
        assert p["title"] and p["description"], p
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(set(refs)) == len(refs), p["title"]
        for t in p["targets"]:
            assert ("expr" in t) != ("rawSql" in t), p["title"]
            assert t["format"] in ("time_series", "table"), p["title"]


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_panels_do_not_overlap(board: Json) -> None:
    cells: dict[tuple[int, int], str] = {}
    for p in GENERATE.panels_of(board):
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_queries_use_only_defined_variables_in_the_safe_format(board: Json) -> None:
    """PromQL: `$var` (the Prometheus data source escapes each value for a PromQL string; the
    `${var:regex}` format would leave `a\\.b`, which PromQL rejects). SQL: `${var:sqlstring}`
    (values quoted, quotes doubled). A custom "All" value would bypass both: none is set."""
    variables = {v["name"]: v for v in board["templating"]["list"]}
    for where, _, target in GENERATE.queries(board):
        is_sql = target["datasource"]["type"] != "prometheus"
        text = target.get("expr") or target.get("rawSql") or target["query"]
        for m in VARIABLE.finditer(text):
            name, fmt = (m[1], m[2]) if m[1] else (m[3], None)
            if name in BUILTINS:
                continue
            if is_sql and name.startswith("__"):
                assert name in {"__timeFilter", "__timeFrom", "__timeTo"}, (where, name)
                continue
            assert name in variables, (where, name)
            assert variables[name]["type"] != "constant", (where, name)
            if is_sql:
                assert fmt == "sqlstring", f"{where}: use ${{{name}:sqlstring}} in SQL"
            else:
                assert fmt is None and m[3], f"{where}: use ${name} in PromQL"
    for v in variables.values():
        assert "allValue" not in v or not v["allValue"], v["name"]


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_variables_come_before_the_variables_that_use_them(board: Json) -> None:
    seen: set[str] = set()
    for v in board["templating"]["list"]:
        query = v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
        for m in VARIABLE.finditer(query if v["type"] == "query" else ""):
            assert (m[1] or m[3]) in seen, (board["uid"], v["name"])
        seen.add(v["name"])


def test_sql_column_links_point_at_columns_the_query_returns() -> None:
    for board in BOARDS:
        for p in GENERATE.panels_of(board):
            sql = " ".join(t["rawSql"] for t in p.get("targets", []) if "rawSql" in t)
            for override in p.get("fieldConfig", {}).get("overrides", []):
                name = override["matcher"]["options"]
                if override["matcher"]["id"] == "byName" and sql:
                    assert f'AS "{name}"' in sql, (p["title"], name)
                for prop in override["properties"]:
                    for link in prop["value"] if prop["id"] == "links" else []:
                        for field in re.findall(r"__data\.fields\.(\w+)", link["url"]):
                            assert f'AS "{field}"' in sql, (p["title"], field)


def test_runbook_links_name_the_alerts() -> None:
    anchors = set()
    for board in BOARDS:
        assert any(link["url"] == "${runbook}" for link in board["links"] if link["type"] == "link")
        for p in GENERATE.panels_of(board):
            for link in p.get("links", []):
                anchors.add(link["url"].removeprefix("${runbook}#"))
    assert anchors <= {a.lower() for a in ALERTS}
    assert len(anchors) >= 5


def test_runbook_has_a_section_for_every_linked_alert() -> None:
    runbook = ROOT / "deploy" / "prometheus" / "runbook.md"
    headings = {
        re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-")
        for h in re.findall(r"^#+\s+(.+)$", runbook.read_text(encoding="utf-8"), re.MULTILINE)
    }
    for board in BOARDS:
        for p in GENERATE.panels_of(board):
            for link in p.get("links", []):
                anchor = link["url"].split("#", 1)[1]
                assert anchor in headings, f"{p['title']}: no '# {anchor}' heading in {runbook}"


def test_the_docs_describe_every_panel() -> None:
    docs = (ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8")
    for board in BOARDS:
        assert board["title"] in docs
        for p in GENERATE.panels_of(board):
            if p["type"] != "row":
                assert f"**{p['title']}**" in docs, f"docs/dashboards.md does not describe {p['title']!r}"


def test_json_is_plain_and_stable() -> None:
    for name, board in BUILT.items():
        text = GENERATE.render(board)
        assert json.loads(text) == board
        assert text == GENERATE.render(GENERATE.build()[name])  # deterministic


def test_sla_thresholds_follow_the_policy_targets() -> None:
    """A wait or a response time is coloured against the SLA target of the selected accounts (the
    panel's max, from a query of the targets), never against fixed minutes."""
    with_target = []
    for board in BOARDS:
        for p in GENERATE.panels_of(board):
            defaults = p.get("fieldConfig", {}).get("defaults", {})
            steps = [s["value"] for s in defaults.get("thresholds", {}).get("steps", [])]
            assert not {1800, 3600} & set(steps), f"{p['title']}: fixed 30/60-minute thresholds"
            config = [t for t in p.get("transformations", []) if t["id"] == "configFromData"]
            if not config:
                continue
            with_target.append(p["title"])
            (t,) = config
            target = next(q for q in p["targets"] if q["refId"] == t["options"]["configRefId"])
            text = target.get("expr") or target["rawSql"]
            assert "sla_target_seconds" in text or "target_seconds" in text, p["title"]
            assert t["options"]["mappings"] == [
                {"fieldName": GENERATE.SLA_TARGET, "handlerKey": "max", "reducerId": "min"}
            ]
            assert defaults["thresholds"]["mode"] == "percentage" and defaults["min"] == 0, p["title"]
            assert steps == [None, 80, 100], p["title"]
    assert sorted(with_target) == ["Median first response", "Oldest wait", "Response time: today vs last 7 days"]


def test_a_deployment_writes_its_own_runbook_url(tmp_path: Path) -> None:
    """Grafana expands no environment variable in dashboard JSON (nor, before 12.x, in rule
    annotations): a deployment writes its copies with its runbook's address."""
    url = "https://wiki.example.com/inbox/runbook.md"
    assert GENERATE.main(["--runbook-url", url, "--out", str(tmp_path)]) == 0
    for name in BUILT:
        board = json.loads((tmp_path / "dashboards" / name).read_text(encoding="utf-8"))
        (runbook,) = [v for v in board["templating"]["list"] if v["name"] == "runbook"]
        assert runbook["query"] == runbook["current"]["value"] == url
    rules = (tmp_path / "alerting" / "inbox-monitor.yml").read_text(encoding="utf-8")
    assert f"runbook_url: {url}#socialinboxquestionunanswered" in rules
    assert GENERATE.RUNBOOK_URL not in rules
    # By default: prometheus.yml's runbook_doc_url, the address the Prometheus rules link to.
    assert f"runbook_doc_url: {GENERATE.RUNBOOK_URL}\n" in (ROOT / "deploy/prometheus/prometheus.yml").read_text()
    with pytest.raises(SystemExit):
        GENERATE.main(["--check", "--runbook-url", url])
