"""The Slack messages, rendered by amtool from deploy/prometheus/templates/slack.tmpl.

The alerts fed to amtool are the ones promtool proves the rules produce: the expected alerts of
deploy/prometheus/tests/night.yml (a night on call: questions at risk, the first breach, a growing
count, the last answer) and of questions.yml. Each notification is built as Alertmanager builds
it (the group's alerts sorted as Alertmanager sorts them, common labels and annotations), and the
rendered messages are the ones docs/alerting.md shows: the test fails when they drift apart.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cmp_to_key
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "prometheus"
DOCS = ROOT / "docs" / "alerting.md"
NIGHT = DEPLOY / "tests" / "night.yml"
MINUTE_0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
"""The night's minute 0 (promtool counts from the Unix epoch; the texts show no clock time)."""
FIELDS = ("title", "title_link", "text", "fallback", "footer", "color")
"""The Slack attachment fields alertmanager.yml fills from the templates."""
SEPARATOR = "\n=====\n"

pytestmark = pytest.mark.tools("amtool")


@dataclass(frozen=True)
class Message:
    """A rendered Slack attachment."""

    title: str
    title_link: str
    text: str
    fallback: str
    footer: str
    color: str

    def as_seen(self) -> str:
        """What a person sees in Slack: links show their label, the colour a mark before the title."""
        mark = {"danger": "🔴", "warning": "🟠", "good": "🟢"}.get(self.color, "🔵")
        body = re.sub(r"<[^|>]+\|([^>]+)>", r"[\1]", self.text).rstrip("\n")
        lines = [f"{mark} {self.title}", *body.split("\n"), self.footer]
        return "\n".join(lines[:1] + ["   " + line for line in lines[1:]])


def minutes(value: str) -> int:
    """promtool's eval_time ("25m", "1h35m") in minutes."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?", value)
    assert match and value, value
    return 60 * int(match[1] or 0) + int(match[2] or 0)


def at(minute: int) -> str:
    return (MINUTE_0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_alerts(path: Path, alertname: str) -> dict[int, list[dict[str, Any]]]:
    """The alerts promtool expects, by minute: {minute: [{labels, annotations}]}."""
    out: dict[int, list[dict[str, Any]]] = {}
    for test in yaml.safe_load(path.read_text())["tests"]:
        for case in test["alert_rule_test"]:
            if case["alertname"] == alertname:
                out[minutes(case["eval_time"])] = [
                    {
                        "labels": {"alertname": alertname, **{k: str(v) for k, v in a["exp_labels"].items()}},
                        "annotations": {k: str(v) for k, v in a.get("exp_annotations", {}).items()},
                    }
                    for a in case["exp_alerts"]
                ]
    return out


def _before(a: dict[str, str], b: dict[str, str]) -> int:
    """Alertmanager's order of alerts in a notification (types.AlertSlice): job, instance, then the
    label sets compared name by name (model.LabelSet.Before)."""
    for key in ("job", "instance"):
        if key in a or key in b:
            if key not in a or key not in b:
                return 1 if key not in a else -1
            if a[key] != b[key]:
                return -1 if a[key] < b[key] else 1
    for (name_a, value_a), (name_b, value_b) in zip(sorted(a.items()), sorted(b.items()), strict=False):
        if name_a != name_b:
            return -1 if name_a < name_b else 1
        if value_a != value_b:
            return -1 if value_a < value_b else 1
    return len(a) - len(b)


def _alert_before(a: dict[str, Any], b: dict[str, Any]) -> int:
    return _before(a["labels"], b["labels"])


def notification(receiver: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Alertmanager's template data for one group's notification (alerts: labels, annotations,
    status, startsAt, endsAt)."""
    alerts = sorted(alerts, key=cmp_to_key(_alert_before))
    common = [set(a["labels"].items()) for a in alerts]
    common_annotations = [set(a["annotations"].items()) for a in alerts]
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "receiver": receiver,
        "status": "firing" if firing else "resolved",
        "alerts": [{**a, "generatorURL": "http://prometheus.example.com/graph", "fingerprint": ""} for a in alerts],
        "groupLabels": {k: alerts[0]["labels"][k] for k in ("brand", "account") if k in alerts[0]["labels"]},
        "commonLabels": dict(set.intersection(*common)),
        "commonAnnotations": dict(set.intersection(*common_annotations)),
        "externalURL": "http://alertmanager.example.com:9093",
    }


def firing(alerts: list[dict[str, Any]], starts: dict[str, int]) -> list[dict[str, Any]]:
    """These alerts firing; `starts`: the minute each step (or the alert) began."""
    return [
        {
            **a,
            "status": "firing",
            "startsAt": at(starts[a["labels"].get("questions_at_least", "")]),
            "endsAt": "0001-01-01T00:00:00Z",
        }
        for a in alerts
    ]


def resolved(alerts: list[dict[str, Any]], starts: dict[str, int], end: int) -> list[dict[str, Any]]:
    return [{**a, "status": "resolved", "endsAt": at(end)} for a in firing(alerts, starts)]


def render(data: dict[str, Any], tmp_path: Path, templates: Path = DEPLOY / "templates") -> Message:
    """Every field of the Slack attachment, rendered by amtool with the repository's templates."""
    (tmp_path / "data.json").write_text(json.dumps(data))
    text = SEPARATOR.join(f'{{{{ template "social_inbox.slack.{field}" . }}}}' for field in FIELDS)
    result = subprocess.run(
        [
            "amtool",
            "template",
            "render",
            f"--template.glob={templates / '*.tmpl'}",
            f"--template.data={tmp_path / 'data.json'}",
            f"--template.text={text}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values = result.stdout.split(SEPARATOR)
    assert len(values) == len(FIELDS), result.stdout
    return Message(**dict(zip(FIELDS, values, strict=True)))


def night(tmp_path: Path) -> dict[str, Message]:
    """The four messages of the night (night.yml), by the name docs/alerting.md gives them."""
    at_risk = expected_alerts(NIGHT, "SocialInboxQuestionAtRisk")
    unanswered = expected_alerts(NIGHT, "SocialInboxQuestionUnanswered")
    # The minute each step of the count began: the first listed minute it fires (night.yml lists
    # the minute before each, where it does not).
    starts: dict[str, int] = {}
    for minute in sorted(unanswered):
        for a in unanswered[minute]:
            starts.setdefault(a["labels"]["questions_at_least"], minute)
    assert starts == {"1": 7, "2": 8, "5": 25, "10": 25}
    assert unanswered[6] == [] and unanswered[100] == [] and at_risk[0] == []
    grown = unanswered[24] + [a for a in unanswered[25] if a["labels"]["questions_at_least"] in ("5", "10")]
    return {
        "at risk": render(notification("slack-team", firing(at_risk[2], {"": 1})), tmp_path),
        "unanswered": render(notification("slack-oncall", firing(unanswered[7], starts)), tmp_path),
        # What Alertmanager holds at minute 25: steps 5 and 10 just sent, steps 1 and 2 as Prometheus
        # last sent them (an unchanged alert is sent again only every resend delay, a minute).
        "a growing count": render(notification("slack-oncall", firing(grown, starts)), tmp_path),
        "resolved": render(notification("slack-oncall", resolved(unanswered[99], starts, 100)), tmp_path),
    }


def test_the_night_reads_as_plain_sentences(tmp_path: Path) -> None:
    messages = night(tmp_path)
    links = (
        "<https://inbox.example.com/go/oldest?account=acme-x&breached=1|Open the oldest question> · "
        "<https://grafana.example.com/d/inbox-live?var-brand=acme&var-account=acme-x|Dashboard> · "
        "<https://git.example.com/inbox-monitor/runbook.md#socialinboxquestionunanswered|Runbook>"
    )
    dashboard = "https://grafana.example.com/d/inbox-live?var-brand=acme&var-account=acme-x"

    risk = messages["at risk"]
    assert risk.title == "2 questions to @acme on X will pass their 30 min target, the first in 5 min"
    assert risk.text == (
        "Oldest waiting 25 min · brand acme · account acme-x\n"
        "<https://inbox.example.com/go/oldest?account=acme-x|Open the oldest question> · "
        f"<{dashboard}|Dashboard> · "
        "<https://git.example.com/inbox-monitor/runbook.md#socialinboxquestionatrisk|Runbook>\n"
    )
    assert (risk.color, risk.footer) == ("warning", "SocialInboxQuestionAtRisk · warning")

    first = messages["unanswered"]
    assert first.title == "1 question to @acme on X unanswered past its 30 min target"
    assert first.text == f"Oldest waiting 30 min · brand acme · account acme-x\n{links}\n"
    assert (first.color, first.footer, first.title_link) == (
        "danger",
        "SocialInboxQuestionUnanswered · critical",
        dashboard,
    )

    # Four alerts (steps 1, 2, 5, 10) in the group: one message, said once.
    growing = messages["a growing count"]
    assert growing.title == "16 questions to @acme on X unanswered past their 30 min target"
    assert growing.text == f"Oldest waiting 48 min · brand acme · account acme-x\n{links}\n"

    # From the first breach (minute 7) to the last answer (minute 100), whatever the steps did.
    done = messages["resolved"]
    assert done.title == "Resolved: no question to @acme on X is waiting past its target"
    assert done.text == "Lasted 1 h 33 min.\n"
    assert (done.color, done.footer) == ("good", "SocialInboxQuestionUnanswered · critical")

    for message in messages.values():
        assert message.fallback == message.title  # a phone's lock screen shows the title
        assert "SocialInbox" not in message.title and "." not in message.title.split(" ")[0]
        assert not re.search(r"\d\.\d|\d[smh]\b", message.title + message.text)  # "52 min", never "50.82s"


def test_docs_show_the_messages_as_rendered(tmp_path: Path) -> None:
    """docs/alerting.md shows each message of the night under `<!-- slack: NAME -->`."""
    docs = DOCS.read_text()
    shown = dict(re.findall(r"<!-- slack: ([a-z ]+) -->\n```text\n(.*?)\n```", docs, flags=re.DOTALL))
    messages = night(tmp_path)
    assert set(shown) == set(messages), sorted(shown)
    for name, message in messages.items():
        assert shown[name] == message.as_seen(), (
            f"docs/alerting.md, message {name!r}: replace its block with\n{message.as_seen()}"
        )


def test_mixed_targets_business_hours_and_an_unknown_handle_read_well(tmp_path: Path) -> None:
    """questions.yml: two targets (5 min and 30 min), business hours that differ from the wall
    clock; a takeover where no process exports the account (no handle, no oldest wait yet)."""
    alerts = expected_alerts(DEPLOY / "tests" / "questions.yml", "SocialInboxQuestionUnanswered")
    message = render(notification("slack-oncall", firing(alerts[16], {"1": 10, "2": 15})), tmp_path)
    assert message.title == "2 questions to @acme on X unanswered past their targets (5 min to 30 min)"
    assert message.text.startswith("Oldest waiting 36 min (26 min in business hours) · brand acme · account acme-x\n")
    takeover = [a for a in alerts[6] if a["labels"]["account"] == "globex-fb"]
    message = render(notification("slack-oncall", firing(takeover, {"1": 2})), tmp_path)
    assert message.title == "1 question to globex-fb on Facebook unanswered past its SLA target"
    assert message.text.startswith("Oldest wait not known right now · brand globex · account globex-fb\n")
    risk = expected_alerts(DEPLOY / "tests" / "questions.yml", "SocialInboxQuestionAtRisk")
    message = render(notification("slack-team", firing(risk[4], {"": 4})), tmp_path)
    assert message.title == "1 question to @acme on X will pass its 30 min target in 6 min"


def test_other_alerts_keep_their_summary_and_description(tmp_path: Path) -> None:
    """A group holding a question alert and a failing stream: the question is the title, the
    stream follows with its own headline; its resolution says how long it lasted."""
    question = expected_alerts(NIGHT, "SocialInboxQuestionUnanswered")[7]
    stream = {
        "labels": {
            "alertname": "SocialInboxPollerFailing",
            "severity": "critical",
            "brand": "acme",
            "channel": "x",
            "account": "acme-x",
            "stream": "x.replies",
        },
        "annotations": {
            "summary": "An account's stream has not been polled successfully for 15 minutes",
            "description": "No poll of x.replies for acme-x (x, brand acme) has succeeded in the last 15 minutes.",
            "dashboard_url": "https://grafana.example.com/d/inbox-pipeline?var-brand=acme&var-account=acme-x",
            "runbook_url": "https://git.example.com/inbox-monitor/runbook.md#socialinboxpollerfailing",
        },
    }
    message = render(
        notification("slack-oncall", firing(question, {"1": 7}) + resolved([stream], {"": -40}, 5)), tmp_path
    )
    assert message.title == "1 question to @acme on X unanswered past its 30 min target"
    assert message.text.endswith(
        "\n:white_check_mark: *Resolved: An account's stream has not been polled successfully for 15 minutes"
        " — brand acme, x account acme-x, stream x.replies.* Lasted 45 min.\n"
    )
    assert message.footer == "SocialInboxPollerFailing, SocialInboxQuestionUnanswered · critical"
    message = render(notification("slack-oncall", firing([stream], {"": -40})), tmp_path)
    assert message.title == (
        "An account's stream has not been polled successfully for 15 minutes — brand acme, x account acme-x, "
        "stream x.replies"
    )
    assert message.text == (
        "No poll of x.replies for acme-x (x, brand acme) has succeeded in the last 15 minutes.\n"
        "<https://grafana.example.com/d/inbox-pipeline?var-brand=acme&var-account=acme-x|Dashboard> · "
        "<https://git.example.com/inbox-monitor/runbook.md#socialinboxpollerfailing|Runbook>\n"
    )


def annotation_duration(value: float) -> str:
    """A duration as the rules' annotations write it (alerts.toml): `$round` in PromQL, then the `d`
    template - Prometheus's humanizeDuration and the template's regular expressions, read from
    alerts.toml so that the test follows the rules."""
    rounded = round(value) if round(value) < 60 else 60 * round(value / 60)
    if rounded >= 36000:
        rounded = 3600 * int(value / 3600 + 0.5)
    days, rest = divmod(int(rounded), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days}d {hours}h {minutes}m {secs}s"
    elif hours:
        text = f"{hours}h {minutes}m {secs}s"
    elif minutes:
        text = f"{minutes}m {secs}s"
    else:
        text = f"{rounded:.4g}s"
    alerts_toml = (DEPLOY / "alerts.toml").read_text()
    chain = re.search(r'\{\{ define "d" \}\}\{\{ \. \| humanizeDuration (.*?) \}\}\{\{ end', alerts_toml)
    assert chain, "alerts.toml: the `d` template"
    for pattern, replacement in re.findall(r'\| reReplaceAll "(.*?)" "(.*?)"', chain[1]):
        text = re.sub(pattern, replacement.replace("$1", r"\1").replace("$2", r"\2"), text)
    return text


@pytest.mark.parametrize(
    "seconds", [45, 59.6, 3120, 6300, 35999, 39600, 84600, 86400, 88200, 172800, 183600, 185000, 30 * 86400 + 3600]
)
def test_a_resolved_message_rounds_as_the_annotations(seconds: float, tmp_path: Path) -> None:
    """ "Lasted ..." says a duration as the annotations say one ("2 days 3 h", never "51 h")."""
    start = MINUTE_0
    alert = {
        "labels": {"alertname": "SocialInboxQuestionUnanswered"},
        "annotations": {},
        "status": "resolved",
        "startsAt": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endsAt": (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    (tmp_path / "data.json").write_text(json.dumps({"alerts": [alert]}))
    result = subprocess.run(
        [
            "amtool",
            "template",
            "render",
            f"--template.glob={DEPLOY / 'templates' / '*.tmpl'}",
            f"--template.data={tmp_path / 'data.json'}",
            '--template.text={{ template "social_inbox.lasted" (index .Alerts 0) }}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == annotation_duration(seconds)


GRAFANA_ALERTING = ROOT / "grafana" / "alerting" / "inbox-monitor.yml"


def grafana_rules() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(GRAFANA_ALERTING.read_text())
    return {rule["title"]: rule for group in doc["groups"] for rule in group["rules"]}


def test_grafana_sends_the_same_messages(tmp_path: Path) -> None:
    """Grafana's Slack contact point uses the templates Alertmanager uses, provisioned as a Grafana
    notification template; the question rules carry the annotations those templates read, written
    with the same duration rule. Grafana is not available here (DESIGN.md): the template Grafana
    gets is rendered by amtool (the same Go templates, and Grafana's notification data model has
    what slack.tmpl reads), and the Grafana annotations are checked to be the Prometheus ones'
    templates fed by the same rounded queries, not rendered by Grafana."""
    doc = yaml.safe_load(GRAFANA_ALERTING.read_text())
    (template,) = doc["templates"]
    assert template["template"] == (DEPLOY / "templates" / "slack.tmpl").read_text()
    (receiver,) = doc["contactPoints"][0]["receivers"]
    assert receiver["settings"]["title"] == '{{ template "social_inbox.slack.title" . }}'
    assert receiver["settings"]["text"] == '{{ template "social_inbox.slack.text" . }}'

    alerts_toml = (DEPLOY / "alerts.toml").read_text()
    define = re.search(r'\{\{ define "d" \}\}.*?\{\{ end -\}\}', alerts_toml)
    assert define
    rounding = "round(%[1]s) < 60 or round(%[1]s, 60) < 36000 or round(%[1]s, 3600)"
    assert f'$round := "{rounding}"' in alerts_toml  # the Prometheus annotations' rounding
    rules = grafana_rules()
    for name, durations in (
        ("SocialInboxQuestionUnanswered", ("target", "oldest_wait")),
        ("SocialInboxQuestionAtRisk", ("target", "oldest_wait", "time_left")),
    ):
        annotations = rules[name]["annotations"]
        assert {"questions", *durations, "dashboard_url", "runbook_url"} <= set(annotations), name
        for fact in durations:
            assert annotations[fact].startswith(define[0]), (name, fact)
        facts = {n["refId"]: n["model"] for n in rules[name]["data"] if n["refId"].endswith("_query")}
        assert facts, name
        for model in facts.values():
            inner = re.fullmatch(r"round\((.+?)\) < 60 or .*", model["expr"])
            assert inner and model["expr"] == rounding.replace("%[1]s", inner[1]), (name, model["expr"])

    # The same alert through both paths: Grafana's labels add its folder; it has no handle (no
    # `query` in its templates), so the account's name stands where Alertmanager's says @acme.
    unanswered = expected_alerts(NIGHT, "SocialInboxQuestionUnanswered")
    starts = {"1": 7, "2": 8, "5": 25, "10": 25}
    grown = unanswered[24] + [a for a in unanswered[25] if a["labels"]["questions_at_least"] in ("5", "10")]
    (tmp_path / "grafana").mkdir()
    (tmp_path / "grafana" / "social-inbox-slack.tmpl").write_text(template["template"])
    for alerts in (firing(unanswered[7], starts), firing(grown, starts), resolved(unanswered[99], starts, 100)):
        prometheus = render(notification("slack-oncall", alerts), tmp_path)
        as_grafana = [
            {
                **a,
                "labels": {**a["labels"], "grafana_folder": "Social inbox"},
                "annotations": {k: v for k, v in a["annotations"].items() if k != "account_handle"},
            }
            for a in alerts
        ]
        grafana = render(notification("inbox-monitor-slack", as_grafana), tmp_path, tmp_path / "grafana")
        assert grafana.title == prometheus.title.replace("@acme", "acme-x"), grafana.title
        assert grafana.text.split("\n")[0] == prometheus.text.split("\n")[0]
