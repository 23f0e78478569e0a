"""The SocialInbox alerts, once: what each alert tests, for how long and how severe.

The one source of both alerting outputs: deploy/prometheus/generate.py renders the Prometheus rule
files from it, grafana/generate.py the Grafana-managed rules, so the two never disagree. It reads
alerts.toml (the alerts written by hand), slo.toml (the burn-rate alerts) and stale.toml
(SocialInboxStreamStale). Standard library only (tomllib), like the generators that import it.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ALERTS_CONFIG = HERE / "alerts.toml"
SLO_CONFIG = HERE / "slo.toml"
STALE_CONFIG = HERE / "stale.toml"
SEVERITIES = ("critical", "warning", "info")
INHIBITION_ONLY = "none"
"""The severity of an alert that only feeds an Alertmanager inhibition and reaches no one."""
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
OPENED = "social_inbox_waits_opened_total"
BREACHED = "social_inbox_waits_breached_total"
STREAM = ("brand", "channel", "account", "stream")
# A PromQL comparison and the Grafana threshold type that keeps the same series.
OPS = {">": "gt", "<": "lt", ">=": "gte", "<=": "lte", "==": "eq", "!=": "ne"}


def seconds(duration: str) -> int:
    """A Prometheus duration with one unit ("5m", "3d") in seconds."""
    match = re.fullmatch(r"([0-9]+)([smhdw])", duration)
    if match is None or (match[1] != "0" and match[1].startswith("0")):
        raise ValueError(f"not a duration such as 5m, 1h or 3d: {duration!r}")
    return int(match[1]) * UNITS[match[2]]


def number(value: float) -> str:
    return f"{round(value, 10):g}"


@dataclass(frozen=True)
class Condition:
    """`query op threshold`, per series: the query gives one series per alert instance (its value
    is the alert's value); the threshold is a number, or a PromQL query whose series, matched
    `on` the given labels, give each instance its own threshold."""

    query: str
    op: str
    threshold: float | str
    on: tuple[str, ...] = ()
    record: str | None = None
    """What stands for `query` in the Prometheus rules: the recording rule that holds it, or PromQL
    over recording rules (Grafana runs the query)."""

    def promql(self) -> str:
        left = self.record or self.query
        if isinstance(self.threshold, str):
            return f"{left}\n{self.op} on ({', '.join(self.on)})\n{self.threshold}"
        return f"{left} {self.op} {number(self.threshold)}"


@dataclass(frozen=True)
class Steps:
    """One alert instance per step the value has reached within `over`, told apart by the label
    `label`: Alertmanager notifies a group again when an alert joins it, not when a value changes,
    so a growing value notifies at each step and a falling one (within `over`) does not."""

    label: str
    at: tuple[int, ...]
    over: str

    def select(self, value: str, ranged: str) -> str:
        """PromQL: `value` labelled with each step its peak over `over` has reached. `ranged` is
        `value` over a range: `recorded[1h]` in Prometheus, the subquery `(query)[1h:]` in Grafana."""
        first = f'label_replace({value}, "{self.label}", "{self.at[0]}", "", "")'
        more = [
            f'or label_replace({value} and max_over_time({ranged}) >= {step}, "{self.label}", "{step}", "", "")'
            for step in self.at[1:]
        ]
        return "\n".join(["(", f"  {first}", *(f"  {term}" for term in more), ")"])


@dataclass(frozen=True)
class Alert:
    """One alerting rule: its name and group, its condition, `for:`, severity and texts.

    The condition is either `conditions` (all of them hold, PromQL `and`) or `selects`, PromQL
    that itself returns the firing series (absent(), alternatives joined by `or`)."""

    group: str
    name: str
    for_: str
    severity: str
    summary: str
    conditions: tuple[Condition, ...] = ()
    selects: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    why: str = ""
    prometheus_annotations: str = ""
    """The Prometheus rule's annotations after `summary` (YAML lines; Prometheus templates)."""
    grafana_description: str | None = None
    """The Grafana rule's description (Grafana templates); None: no Grafana rule (inhibition only)."""
    grafana_facts: tuple[tuple[str, str], ...] = ()
    """Queries (refId, PromQL) the Grafana rule runs for its annotations only ($values.refId)."""
    grafana_annotations: tuple[tuple[str, str], ...] = ()
    """The Grafana rule's annotations after `description` (name, Grafana template)."""
    records: tuple[tuple[str, str], ...] = ()
    """Recording rules (name, PromQL) the Prometheus rule reads, written just before it."""

    def promql(self) -> str:
        """The Prometheus rule's `expr`."""
        if self.selects is not None:
            return self.selects
        return "\nand ".join(c.promql() for c in self.conditions)

    def all_labels(self) -> dict[str, str]:
        """The labels the rule adds to every alert it fires."""
        return {"severity": self.severity, **dict(self.labels)}


@dataclass(frozen=True)
class BurnRate:
    long: str
    short: str
    factor: float
    severity: str
    for_: str


@dataclass(frozen=True)
class Slo:
    name: str
    objective: float
    by: tuple[str, ...]
    burn_rates: tuple[BurnRate, ...]

    @property
    def budget(self) -> float:
        return round(1 - self.objective, 10)

    @property
    def group(self) -> str:
        return f"social-inbox.slo.{self.name}"

    def record(self, window: str) -> str:
        """`brand_channel:social_inbox_waits_breached_per_opened:ratio_rate5m` (level:metric:operations)."""
        return f"{'_'.join(self.by)}:social_inbox_waits_breached_per_opened:ratio_rate{window}"

    def ratio(self, window: str) -> str:
        """The SLI over `window`: breached waits / opened waits, per `by` (what `record` holds)."""
        by = ", ".join(self.by)
        return f"sum by ({by}) (rate({BREACHED}[{window}]))\n/\nsum by ({by}) (rate({OPENED}[{window}]))"


@dataclass(frozen=True)
class Stale:
    """SocialInboxStreamStale's thresholds: stale past max(intervals x poll interval, floor)."""

    intervals: float
    floor: str
    for_: str
    severity: str


def load_slo(path: Path = SLO_CONFIG) -> Slo:
    """Read and check slo.toml."""
    data: dict[str, Any] = tomllib.loads(path.read_text())
    slo = data["slo"]
    objective = float(slo["objective"])
    if not 0 < objective < 1:
        raise ValueError(f"slo.objective must be between 0 and 1 (exclusive), not {objective}")
    by = tuple(slo.get("by", ["brand", "channel"]))
    if not by or not all(re.fullmatch(r"[a-z_]+", label) for label in by):
        raise ValueError(f"slo.by must list label names, not {by!r}")
    rates = []
    for i, r in enumerate(data["burn_rates"]):
        rate = BurnRate(r["long"], r["short"], float(r["factor"]), r["severity"], r["for"])
        for duration in (rate.long, rate.short, rate.for_):
            seconds(duration)
        if seconds(rate.short) >= seconds(rate.long):
            raise ValueError(f"burn_rates[{i}]: the short window must be shorter than the long one")
        if rate.factor <= 0 or rate.severity not in SEVERITIES:
            raise ValueError(f"burn_rates[{i}]: factor must be > 0, severity one of {SEVERITIES}")
        rates.append(rate)
    if len({r.long for r in rates}) != len(rates):
        raise ValueError("burn_rates: each alert needs its own long window (it labels the alert)")
    return Slo(str(slo["name"]), objective, by, tuple(rates))


def load_stale(path: Path = STALE_CONFIG) -> Stale:
    """Read and check stale.toml."""
    data: dict[str, Any] = tomllib.loads(path.read_text())
    stale = data["stale"]
    config = Stale(float(stale["intervals"]), str(stale["floor"]), str(stale["for"]), str(stale["severity"]))
    if not config.intervals >= 1:
        raise ValueError(
            f"stale.intervals must be at least 1 (a stream is polled once an interval), not {config.intervals}"
        )
    seconds(config.floor)
    seconds(config.for_)
    if config.severity not in SEVERITIES:
        raise ValueError(f"stale.severity must be one of {SEVERITIES}, not {config.severity!r}")
    return config


def load_alerts(path: Path = ALERTS_CONFIG) -> list[Alert]:
    """Read and check alerts.toml; a mistake is named with the alert and the field."""
    data: dict[str, Any] = tomllib.loads(path.read_text())
    out = []
    for i, a in enumerate(data.get("alerts", [])):
        where = f"{path.name}: alerts[{i}] ({a.get('name', 'no name')})"
        if not re.fullmatch(r"SocialInbox[A-Z]\w+", str(a.get("name", ""))):
            raise ValueError(f"{where}: name must start with SocialInbox")
        if a.get("severity") not in (*SEVERITIES, INHIBITION_ONLY):
            raise ValueError(f"{where}: severity must be one of {(*SEVERITIES, INHIBITION_ONLY)}")
        if ("query" in a) == ("selects" in a):
            raise ValueError(f"{where}: give either query (with op and threshold) or selects")
        try:
            seconds(str(a.get("for")))
        except ValueError as exc:
            raise ValueError(f"{where}: for: {exc}") from None
        conditions: tuple[Condition, ...] = ()
        records: tuple[tuple[str, str], ...] = ()
        if "query" in a:
            if a.get("op") not in OPS or not isinstance(a.get("threshold"), int | float):
                raise ValueError(f"{where}: op must be one of {list(OPS)} and threshold a number")
            query, record = a["query"].strip(), a.get("record")
            if record is not None and not re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z_0-9]+", str(record)):
                raise ValueError(f"{where}: record must be a recording rule name, level:metric:operations")
            condition = Condition(query, a["op"], float(a["threshold"]), record=record)
            if "steps" in a:
                steps = load_steps(a["steps"], where)
                if record is None:
                    raise ValueError(f"{where}: steps need a record (the value whose peak they follow)")
                condition = Condition(
                    steps.select(f"({query})", f"({query})[{steps.over}:]"),
                    a["op"],
                    float(a["threshold"]),
                    record=steps.select(record, f"{record}[{steps.over}]"),
                )
            conditions = (condition,)
            records = ((record, query),) if record is not None else ()
        grafana = a.get("grafana_description")
        if grafana is None and a["severity"] != INHIBITION_ONLY:
            raise ValueError(f"{where}: grafana_description is missing (only an inhibition-only alert has none)")
        out.append(
            Alert(
                group=a["group"],
                name=a["name"],
                for_=a["for"],
                severity=a["severity"],
                summary=a["summary"],
                conditions=conditions,
                selects=a["selects"].strip() if "selects" in a else None,
                why=a.get("why", "").strip(),
                prometheus_annotations=a.get("prometheus_annotations", "").strip(),
                grafana_description=grafana,
                grafana_facts=tuple(load_texts(a.get("grafana_facts", {}), f"{where}: grafana_facts")),
                grafana_annotations=tuple(
                    load_texts(a.get("grafana_annotations", {}), f"{where}: grafana_annotations")
                ),
                records=records,
            )
        )
    return out


def load_texts(table: Any, where: str) -> list[tuple[str, str]]:
    """A table of names (lower case, as refIds and annotation names) and texts."""
    if not isinstance(table, dict) or not all(
        re.fullmatch(r"[a-z_]+", str(k)) and isinstance(v, str) for k, v in table.items()
    ):
        raise ValueError(f"{where}: give lower_case names = texts")
    return [(k, v.strip()) for k, v in table.items()]


def load_steps(steps: Any, where: str) -> Steps:
    """An alert's `steps` table: label, at (increasing whole numbers from 1), over (a duration)."""
    at = steps.get("at") if isinstance(steps, dict) else None
    if not isinstance(at, list) or not at or at[0] != 1 or any(not isinstance(n, int) for n in at):
        raise ValueError(f"{where}: steps.at must list whole numbers from 1 up")
    if any(b <= a for a, b in itertools.pairwise(at)):
        raise ValueError(f"{where}: steps.at must increase")
    if not re.fullmatch(r"[a-z_]+", str(steps.get("label", ""))):
        raise ValueError(f"{where}: steps.label must be a label name")
    try:
        seconds(str(steps.get("over")))
    except ValueError as exc:
        raise ValueError(f"{where}: steps.over: {exc}") from None
    return Steps(steps["label"], tuple(at), steps["over"])


def burn_rate_alerts(slo: Slo) -> list[Alert]:
    """SocialInboxSLOBurnRate, one rule per burn rate of slo.toml: both windows above the factor."""
    where = ", ".join(f"{label} {{{{ $labels.{label} }}}}" for label in slo.by)
    out = []
    for rate in slo.burn_rates:
        threshold = round(rate.factor * slo.budget, 10)
        windows = (rate.long, rate.short)
        out.append(
            Alert(
                group=slo.group,
                name="SocialInboxSLOBurnRate",
                for_=rate.for_,
                severity=rate.severity,
                summary="The SLA error budget is burning too fast",
                conditions=tuple(Condition(slo.ratio(w), ">", threshold, record=slo.record(w)) for w in windows),
                labels=(("slo", slo.name), ("window", rate.long)),
                why=f"{number(rate.factor)}x the budget over {rate.long}, confirmed over {rate.short}.",
                grafana_description=(
                    f"{{{{ humanizePercentage $values.C.Value }}}} of the waits of {where} breached their SLA "
                    f"over the last {rate.long}, and over the last {rate.short} too: the error budget "
                    f"({number(slo.budget * 100)} % of waits, SLO {slo.name}) burns at {number(rate.factor)}x "
                    "the sustainable rate."
                ),
            )
        )
    return out


def stale_alert(stale: Stale) -> Alert:
    """SocialInboxStreamStale: the last successful poll older than max(intervals x interval, floor)."""
    s = ", ".join(STREAM)
    age = "\n".join(
        [
            "(",
            "  time() - (",
            f"    max by ({s}) (social_inbox_last_successful_poll_timestamp_seconds)",
            "    or",
            f"    max by ({s}) (social_inbox_stream_monitored_since_timestamp_seconds)",
            "  )",
            ")",
        ]
    )
    limit = (
        f"max by ({s}) (clamp_min({number(stale.intervals)} * social_inbox_poll_interval_seconds, "
        f"{seconds(stale.floor)}))"
    )
    return Alert(
        group="social-inbox.streams",
        name="SocialInboxStreamStale",
        for_=stale.for_,
        severity=stale.severity,
        summary="An account's stream is not being polled",
        conditions=(Condition(age, ">", limit, on=STREAM),),
        grafana_description=(
            "No poll of {{ $labels.stream }} for {{ $labels.account }} ({{ $labels.channel }}, brand "
            "{{ $labels.brand }}) has succeeded for {{ humanizeDuration $values.C.Value }}: over "
            f"{number(stale.intervals)} poll intervals and over {stale.floor}. New questions to this account "
            "are not seen, so they cannot alert."
        ),
    )


def all_alerts() -> list[Alert]:
    """Every SocialInbox alert: alerts.toml's, then the burn rates (slo.toml), then stale.toml's."""
    return [*load_alerts(), *burn_rate_alerts(load_slo()), stale_alert(load_stale())]
