"""Grafana-managed alerting for teams that alert from Grafana instead of Prometheus: the SocialInbox
rules, a Slack contact point, the rules' routing. Built with grafana-foundation-sdk from
deploy/prometheus/alerts.py, the source of the Prometheus rules, so the two never disagree.

A Prometheus alerting rule `query op threshold` becomes the Grafana rule Grafana's own editor makes:
the query (instant, on the provisioned Prometheus), a reduce (last) and a threshold; several
conditions (the burn rates' two windows) are joined by a math expression (&&), a per-series threshold
(SocialInboxStreamStale's) is a math comparison of two reduced queries. A rule whose PromQL selects the
firing series itself (absent(), alternatives) becomes what Grafana's Prometheus import makes of it:
the query, `is_number($A) || is_nan($A) || is_inf($A)` (1 for every series returned), above 0.
Recording rules are inlined: a Grafana rule runs the query the recording rule holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from grafana_foundation_sdk.builders import alerting, expr, prometheus
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import alerting as alerting_model
from grafana_foundation_sdk.models import expr as expr_model
from grafana_foundation_sdk.models import prometheus as prometheus_model
from grafana_foundation_sdk.models.dashboard import DataSourceRef

Json = dict[str, Any]
T_co = TypeVar("T_co", covariant=True)
Queries = list[cogbuilder.Builder[alerting_model.Query]]

FOLDER = "Social inbox"  # the dashboards' folder (provisioning/dashboards/inbox-monitor.yml)
PROMETHEUS_UID = "inbox-prometheus"
EXPRESSIONS = DataSourceRef(type_val="__expr__", uid="__expr__")
QUERY_RANGE_SECONDS = 600
"""Each query's relative time range. Instant queries are evaluated at its end (now); 10 minutes is
what Grafana's rule editor proposes, and it only bounds `$__range` (which the queries do not use)."""
# A PromQL comparison and the Grafana threshold type that keeps the same series.
OPS = {">": "gt", "<": "lt", ">=": "gte", "<=": "lte", "==": "eq", "!=": "ne"}
CONTACT_POINT = "inbox-monitor-slack"
# Where Grafana reads the Slack incoming-webhook URL when it provisions the contact point: a file,
# as for Alertmanager (the Compose secret slack-webhook-url), never the URL itself in this file.
SLACK_URL = "$__file{/run/secrets/slack-webhook-url}"
# Notification timing per severity, as deploy/prometheus/alertmanager.yml routes them.
GROUP_BY = ["grafana_folder", "alertname", "brand", "account"]
TIMING = {
    "critical": {"group_wait": "30s", "group_interval": "1m", "repeat_interval": "1h"},
    "warning": {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"},
    "info": {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "24h"},
}
# The Slack message: Alertmanager's templates (deploy/prometheus/templates/slack.tmpl), provisioned
# as a Grafana notification template, whose data model (.Alerts, .Status, .Labels, .Annotations,
# .StartsAt, .EndsAt, .CommonLabels) and functions (reReplaceAll, match, stringSlice) they keep to;
# the question rules carry the annotations they read (alerts.toml: grafana_annotations), so both
# paths print the same messages. Grafana expands $NAME in contact point settings at provisioning
# (not in templates): no `$` in the settings.
SLACK_TEMPLATES = Path(__file__).resolve().parents[1] / "deploy" / "prometheus" / "templates" / "slack.tmpl"
TEMPLATE_GROUP = "social-inbox-slack"
SLACK_TITLE = '{{ template "social_inbox.slack.title" . }}'
SLACK_TEXT = '{{ template "social_inbox.slack.text" . }}'


class Condition(Protocol):
    query: str
    op: str
    threshold: float | str


class Alert(Protocol):
    """What this module reads of deploy/prometheus/alerts.py's Alert."""

    group: str
    name: str
    for_: str
    severity: str
    summary: str
    selects: str | None
    grafana_description: str | None
    grafana_facts: tuple[tuple[str, str], ...]
    grafana_annotations: tuple[tuple[str, str], ...]

    @property
    def conditions(self) -> tuple[Condition, ...]: ...

    def all_labels(self) -> dict[str, str]: ...


def _letters() -> Iterator[str]:
    for i in range(26):
        yield chr(ord("A") + i)


def _query(ref: str, promql: str) -> alerting.Query:
    model = (
        prometheus.Dataquery()
        .expr(promql)
        .instant()
        .ref_id(ref)
        .datasource(DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID))
        .editor_mode(prometheus_model.QueryEditorMode.CODE)
    )
    return (
        alerting.Query(ref)
        .datasource_uid(PROMETHEUS_UID)
        .model(model)
        .relative_time_range(alerting_model.RelativeTimeRange(from_val=QUERY_RANGE_SECONDS, to=0))
    )


def _expression(ref: str, model: Any) -> alerting.Query:
    return alerting.Query(ref).datasource_uid("__expr__").model(model.ref_id(ref).datasource(EXPRESSIONS))


def _reduce(ref: str, of: str) -> alerting.Query:
    return _expression(ref, expr.TypeReduce().expression(of).reducer("last"))


def _math(ref: str, expression: str) -> alerting.Query:
    return _expression(ref, expr.TypeMath().expression(expression))


def _threshold(ref: str, of: str, op: str, value: float) -> alerting.Query:
    evaluator = expr_model.ExprTypeThresholdConditionsEvaluator(params=[value], type_val=OPS[op])  # type: ignore[arg-type]
    condition = expr_model.ExprTypeThresholdConditions(evaluator=evaluator)
    return _expression(ref, expr.TypeThreshold().expression(of).conditions([_Built(condition)]))


class _Built(cogbuilder.Builder[T_co]):
    """A model the SDK has no builder for, handed over where it takes a builder."""

    def __init__(self, value: T_co) -> None:
        self.value = value

    def build(self) -> T_co:
        return self.value


def nodes(alert: Alert) -> tuple[Queries, str]:
    """The rule's queries and expressions, and the refId of its condition."""
    letters = _letters()
    if alert.selects is not None:
        a, b, c = next(letters), next(letters), next(letters)
        return [
            _query(a, alert.selects),
            _math(b, f"is_number(${a}) || is_nan(${a}) || is_inf(${a})"),
            _threshold(c, b, ">", 0),
        ], c
    conditions = alert.conditions
    queries = [(next(letters), c.query) for c in conditions]
    limits: list[tuple[str, str] | None] = [
        (next(letters), c.threshold) if isinstance(c.threshold, str) else None for c in conditions
    ]
    out: Queries = [_query(ref, promql) for ref, promql in queries]
    out += [_query(limit[0], limit[1]) for limit in limits if limit is not None]
    reduced = [next(letters) for _ in conditions]
    out += [_reduce(ref, q[0]) for ref, q in zip(reduced, queries, strict=True)]
    reduced_limits = {}
    for i, limit in enumerate(limits):
        if limit is not None:
            reduced_limits[i] = next(letters)
            out.append(_reduce(reduced_limits[i], limit[0]))
    tests = []
    for i, cond in enumerate(conditions):
        ref = next(letters)
        if isinstance(cond.threshold, str):
            out.append(_math(ref, f"${reduced[i]} {cond.op} ${reduced_limits[i]}"))
        else:
            out.append(_threshold(ref, reduced[i], cond.op, cond.threshold))
        tests.append(ref)
    if len(tests) == 1:
        return out + facts(alert), tests[0]
    final = next(letters)
    out.append(_math(final, " && ".join(f"${t}" for t in tests)))
    return out + facts(alert), final


def facts(alert: Alert) -> Queries:
    """The queries the rule's annotations read and not its condition: each reduced (`last`) under
    the fact's name, so that its templates read it as $values.name (Grafana gives the templates the
    reduced values whose labels match the alert's, or are a subset of them)."""
    out: Queries = []
    for name, promql in alert.grafana_facts:
        out += [_query(f"{name}_query", promql), _reduce(name, f"{name}_query")]
    return out


def title(alert: Alert, alerts: list[Alert]) -> str:
    """The rule's title, its alertname. Grafana before 12 wants titles unique in a folder: the
    burn-rate rules, one per window, add theirs (the `window` label)."""
    if sum(a.name == alert.name for a in alerts) == 1:
        return alert.name
    return f"{alert.name} {alert.all_labels()['window']}"


def rule(alert: Alert, alerts: list[Alert], *, runbook: str, panel: tuple[str, int] | None) -> Json:
    """One rule in the file-provisioning format."""
    queries, condition = nodes(alert)
    name = title(alert, alerts)
    timing = TIMING[alert.severity]
    settings = (
        alerting.NotificationSettings()
        .receiver(CONTACT_POINT)
        .group_by(GROUP_BY)
        .group_wait(timing["group_wait"])
        .group_interval(timing["group_interval"])
        .repeat_interval(timing["repeat_interval"])
    )
    built = (
        alerting.Rule(name)
        .uid(name.lower().replace(" ", "-"))
        .condition(condition)
        .queries(queries)
        .for_val(alert.for_)
        .no_data_state("OK")  # no series: nothing waits, nothing fails (absent() says when that is wrong)
        .exec_err_state("Error")  # a failing query alerts (DatasourceError): silence is a failure
        .labels(alert.all_labels())
        .annotations(
            {
                "summary": alert.summary,
                "description": alert.grafana_description or "",
                "runbook_url": f"{runbook}#{alert.name.lower()}",
            }
            | dict(alert.grafana_annotations)
        )
        .notification_settings(settings)
        .is_paused(False)
        .build()
    )
    api: Json = json.loads(json.dumps(built, cls=JSONEncoder))
    for api_only in ("folderUID", "orgID", "ruleGroup"):  # the file format says these per group
        api.pop(api_only)
    first = ("uid", "title", "condition", "for", "labels", "annotations")
    out = {key: api.pop(key) for key in first} | api  # the file reads best in this order
    if panel is not None:
        out["dashboardUid"], out["panelId"] = panel
        # The Slack template's Dashboard link (Alertmanager's come from Prometheus's external labels).
        out["annotations"].setdefault("dashboard_url", f"{{{{ externalURL }}}}/d/{panel[0]}")
    # Resolve an instance at the first evaluation its series is missing, as Prometheus does (and as
    # Grafana's own Prometheus import sets; Grafana before 12.0 ignores it and waits two).
    out["missing_series_evals_to_resolve"] = 1
    return out


def contact_point() -> Json:
    built = (
        alerting.ContactPoint()
        .name(CONTACT_POINT)
        .uid(CONTACT_POINT)
        .type("slack")
        .settings({"url": SLACK_URL, "title": SLACK_TITLE, "text": SLACK_TEXT})
        .disable_resolve_message(False)
        .build()
    )
    receiver: Json = json.loads(json.dumps(built, cls=JSONEncoder))
    name = receiver.pop("name")
    return {"orgId": 1, "name": name, "receivers": [receiver]}


def provisioning(alerts: list[Alert], *, interval: str, runbook: str, panels: Mapping[str, tuple[str, int]]) -> Json:
    """grafana/alerting/inbox-monitor.yml: the rule groups, the contact point, its templates."""
    grafana = [a for a in alerts if a.grafana_description is not None]
    groups = []
    for group in dict.fromkeys(a.group for a in grafana):
        rules = [rule(a, grafana, runbook=runbook, panel=panels.get(a.name)) for a in grafana if a.group == group]
        groups.append({"orgId": 1, "name": group, "folder": FOLDER, "interval": interval, "rules": rules})
    return {
        "apiVersion": 1,
        "groups": groups,
        "contactPoints": [contact_point()],
        "templates": [{"orgId": 1, "name": TEMPLATE_GROUP, "template": SLACK_TEMPLATES.read_text()}],
    }
