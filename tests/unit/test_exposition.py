"""The cached exposition says exactly what prometheus-client would say of the same data."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics_exposition
from prometheus_client.openmetrics import parser as openmetrics_parser
from prometheus_client.parser import text_string_to_metric_families as parse_text

from monitor.exposition import Family, FamilySet

# prometheus_client leaves its OpenMetrics functions unannotated: their types, here.
openmetrics_latest: Callable[[CollectorRegistry], bytes] = openmetrics_exposition.generate_latest
parse_openmetrics: Callable[[str], Iterable[Metric]] = openmetrics_parser.text_string_to_metric_families

LabelPairs = tuple[tuple[str, str], ...]
Sample = tuple[str, str, str, LabelPairs, float, tuple[LabelPairs, float] | None]
"""(family, type, sample name, labels, value, exemplar labels and value)"""

HOSTILE = 'a"b\\c\nd}{,=é🙂'


def families() -> FamilySet:
    f = FamilySet()
    counter = f.add(Family("t_events", "Events.", "counter", ("account", "kind")))
    gauge = f.add(Family("t_open", "Open \\ things\nnow.", "gauge", ("account",)))
    hist = f.add(Family("t_seconds", "Durations.", "histogram", ("account",), buckets=(1, 60, 1800)))
    f.add(Family("t_build", "Build.", "info", ("version",))).labels("1.2.3")
    f.add(Family("t_plain", "No labels.", "gauge")).set((), 3.5)
    counter.inc(("a", "first"), 3)
    counter.labels(HOSTILE, "next")
    gauge.set((HOSTILE,), 7)
    gauge.replace({("x",): 1.0, ("y",): 2.0})
    for v in (0.5, 30, 30, 1800, 5000):
        hist.observe(("a",), v, {"message_id": f"m{v}", "url": "https://x.com/s/1"})
    hist.observe((HOSTILE,), 2.0)
    return f


def samples(families_: Iterable[Metric]) -> set[Sample]:
    out: set[Sample] = set()
    for family in families_:
        for s in family.samples:
            ex = (tuple(sorted(s.exemplar.labels.items())), s.exemplar.value) if s.exemplar else None
            out.add((family.name, family.type, s.name, tuple(sorted(s.labels.items())), s.value, ex))
    return out


def test_text_format_matches_prometheus_client() -> None:
    f = families()
    registry = CollectorRegistry()
    registry.register(f)
    ours = samples(parse_text(f.render(openmetrics=False).decode()))
    theirs = samples(parse_text(generate_latest(registry).decode()))
    assert ours == {s for s in theirs if not s[2].endswith("_created")}
    assert ("t_open", "gauge", "t_open", (("account", "x"),), 1.0, None) in ours


def test_openmetrics_format_matches_prometheus_client_with_exemplars() -> None:
    f = families()
    registry = CollectorRegistry()
    registry.register(f)
    ours = samples(parse_openmetrics(f.render(openmetrics=True).decode() + "# EOF\n"))
    theirs = samples(parse_openmetrics(openmetrics_latest(registry).decode()))
    assert ours == {s for s in theirs if not s[2].endswith("_created")}
    assert any(s[5] is not None for s in ours)  # exemplars are there


def test_cached_lines_are_rerendered_when_a_value_changes() -> None:
    f = FamilySet()
    counter = f.add(Family("t_events", "Events.", "counter", ("account",)))
    counter.inc(("a",))
    assert 't_events_total{account="a"} 1.0' in f.render(False).decode()
    counter.inc(("a",))
    assert 't_events_total{account="a"} 2.0' in f.render(False).decode()
    assert 't_events_total{account="a"} 2.0' in f.render(True).decode()
