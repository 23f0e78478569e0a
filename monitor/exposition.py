"""Metric families that render fast: each series' exposition lines are cached until it changes.

prometheus-client formats every sample on every scrape (about 15 µs a line here); with thousands
of accounts that is seconds per scrape. These families keep the same data model (counters,
gauges, histograms with exemplars, info) and the same two formats — Prometheus text 0.0.4 and
OpenMetrics 1.0.0 — but re-render a series only when its value changes, so a scrape is mostly a
join of cached strings. They are also prometheus-client collectors, so a `CollectorRegistry`
reads them the usual way (the tests compare both renderings).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Literal

from prometheus_client import utils as prometheus_utils
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.samples import Exemplar

Kind = Literal["counter", "gauge", "histogram", "info"]
Labels = tuple[str, ...]

_go_float: Callable[[float], str] = prometheus_utils.floatToGoString
"""prometheus_client's number format (`+Inf`, `1e+06`), typed here: the library leaves it unannotated."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    return "{" + ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)) + "}"


def _join_labels(base: str, extra: str) -> str:
    """`{a="1"}` + `le="2"` -> `{a="1",le="2"}`."""
    if not base:
        return "{" + extra + "}"
    return base[:-1] + "," + extra + "}"


_NO_BUCKETS: list[int] = []
_NO_EXEMPLARS: list[tuple[dict[str, str], float, float] | None] = []


class _Series:
    __slots__ = ("buckets", "exemplars", "label_text", "labels", "om", "sum", "text", "value")

    def __init__(self, labels: Labels, label_text: str, n_buckets: int) -> None:
        self.labels = labels
        self.label_text = label_text
        self.value = 0.0
        # Only a histogram's series has buckets: the others share one empty list each (never
        # written: `observe` is for histograms), tens of thousands fewer objects at 2,000 accounts.
        self.buckets = [0] * n_buckets if n_buckets else _NO_BUCKETS
        self.sum = 0.0
        self.exemplars: list[tuple[dict[str, str], float, float] | None] = (
            [None] * n_buckets if n_buckets else _NO_EXEMPLARS
        )
        self.text: str | None = None
        self.om: str | None = None


class Family:
    """One metric family and its series."""

    def __init__(
        self,
        name: str,
        documentation: str,
        kind: Kind,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float] = (),
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.kind = kind
        self.labelnames = tuple(labelnames)
        self.bounds = sorted(float(b) for b in buckets if b != float("inf"))
        self._le = [_go_float(b) for b in self.bounds] + ["+Inf"]
        self.series: dict[Labels, _Series] = {}
        self._rendered: dict[bool, bytes] = {}
        doc = documentation.replace("\\", "\\\\").replace("\n", "\\n")
        text_name = {"counter": name + "_total", "info": name + "_info"}.get(kind, name)
        text_type = "gauge" if kind == "info" else kind
        self._text_header = f"# HELP {text_name} {doc}\n# TYPE {text_name} {text_type}\n"
        self._om_header = f"# TYPE {name} {kind}\n# HELP {name} {doc}\n"

    def labels(self, *values: str) -> _Series:
        """The series with these label values, created at zero."""
        series = self.series.get(values)
        if series is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name}: expected labels {self.labelnames}, got {values}")
            series = _Series(
                values, _label_text(self.labelnames, values), len(self._le) if self.kind == "histogram" else 0
            )
            self.series[values] = series
            self._rendered.clear()
        return series

    def inc(self, values: Labels, amount: float = 1.0) -> None:
        series = self.labels(*values)
        series.value += amount
        series.text = series.om = None
        self._rendered.clear()

    def set(self, values: Labels, value: float) -> None:
        series = self.labels(*values)
        if series.value != value or series.text is None:
            series.value = value
            series.text = series.om = None
            self._rendered.clear()

    def replace(self, values: Mapping[Labels, float]) -> None:
        """Gauges read from a snapshot: exactly these series, with these values (`set` inlined:
        the snapshot replaces tens of thousands of series, most of them unchanged)."""
        known = self.series
        for key in [k for k in known if k not in values]:
            del known[key]
            self._rendered.clear()
        changed = False
        for key, value in values.items():
            series = known.get(key)
            if series is None:
                series = self.labels(*key)
            elif series.value == value and series.text is not None:
                continue
            series.value = value
            series.text = series.om = None
            changed = True
        if changed:
            self._rendered.clear()

    def remove(self, values: Labels) -> None:
        """Drop the series with these labels, if there is one."""
        if self.series.pop(values, None) is not None:
            self._rendered.clear()

    def retain(self, keep: Callable[[Labels], bool]) -> None:
        """Drop the series whose labels `keep` refuses (accounts this process no longer holds)."""
        for key in [k for k in self.series if not keep(k)]:
            del self.series[key]
            self._rendered.clear()

    def observe(self, values: Labels, value: float, exemplar: Mapping[str, str] | None = None) -> None:
        series = self.labels(*values)
        i = bisect.bisect_left(self.bounds, value)
        series.buckets[i] += 1
        series.sum += value
        if exemplar:
            series.exemplars[i] = (dict(exemplar), value, time.time())
        series.text = series.om = None
        self._rendered.clear()

    def value(self, values: Labels) -> float:
        series = self.series.get(values)
        return 0.0 if series is None else series.value

    # --- rendering ------------------------------------------------------------------------

    def render(self, openmetrics: bool) -> bytes:
        """The family's exposition, encoded; kept until a series changes."""
        cached = self._rendered.get(openmetrics)
        if cached is None:
            cached = self._rendered[openmetrics] = self._render(openmetrics).encode()
        return cached

    def _render(self, openmetrics: bool) -> str:
        parts = [self._om_header if openmetrics else self._text_header]
        for series in self.series.values():
            cached = series.om if openmetrics else series.text
            if cached is None:
                cached = self._render_series(series, openmetrics)
                if openmetrics:
                    series.om = cached
                else:
                    series.text = cached
            parts.append(cached)
        return "".join(parts)

    def _render_series(self, s: _Series, openmetrics: bool) -> str:
        name, lt = self.name, s.label_text
        if self.kind == "counter":
            return f"{name}_total{lt} {_go_float(s.value)}\n"
        if self.kind == "gauge":
            return f"{name}{lt} {_go_float(s.value)}\n"
        if self.kind == "info":
            return f"{name}_info{lt} 1.0\n"
        lines = []
        cumulative = 0
        for i, le in enumerate(self._le):
            cumulative += s.buckets[i]
            bucket_labels = _join_labels(lt, 'le="' + le + '"')
            line = f"{name}_bucket{bucket_labels} {_go_float(cumulative)}"
            ex = s.exemplars[i]
            if openmetrics and ex is not None:
                ex_labels = ",".join(f'{k}="{_escape(v)}"' for k, v in ex[0].items())
                line += f" # {{{ex_labels}}} {_go_float(ex[1])} {ex[2]:.3f}"
            lines.append(line)
        lines.append(f"{name}_count{lt} {_go_float(cumulative)}")
        lines.append(f"{name}_sum{lt} {_go_float(s.sum)}")
        return "\n".join(lines) + "\n"

    # --- prometheus-client collector ----------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        family: Metric
        if self.kind == "counter":
            family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
            for s in self.series.values():
                family.add_metric(list(s.labels), s.value)
        elif self.kind == "gauge":
            family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
            for s in self.series.values():
                family.add_metric(list(s.labels), s.value)
        elif self.kind == "info":
            family = InfoMetricFamily(self.name, self.documentation, labels=self.labelnames)
            for s in self.series.values():
                family.add_metric([], dict(zip(self.labelnames, s.labels, strict=True)))
        else:
            family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
            for s in self.series.values():
                cumulative = 0
                buckets: list[tuple[str, float] | tuple[str, float, Exemplar]] = []
                for i, le in enumerate(self._le):
                    cumulative += s.buckets[i]
                    ex = s.exemplars[i]
                    buckets.append((le, cumulative, Exemplar(ex[0], ex[1], ex[2])) if ex else (le, cumulative))
                family.add_metric(list(s.labels), buckets, s.sum)
        yield family


class FamilySet:
    """Families rendered together; a prometheus-client collector too."""

    def __init__(self) -> None:
        self.families: list[Family] = []
        self._formats: set[bool] = set()

    def add(self, family: Family) -> Family:
        self.families.append(family)
        return family

    def render(self, openmetrics: bool, tail: bytes = b"") -> bytes:
        """Every family's exposition, then `tail` (other collectors' lines): one join, since a body
        is megabytes at thousands of accounts and each copy of it costs a scrape milliseconds."""
        self._formats.add(openmetrics)
        return b"".join([*(f.render(openmetrics) for f in self.families), tail])

    def prerender(self) -> None:
        """Render what changed now, in the formats scraped so far, so the next scrape is a join."""
        for openmetrics in self._formats:
            self.render(openmetrics)

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield from family.collect()
