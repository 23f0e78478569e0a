"""Grafana-managed alert rules evaluated as Grafana evaluates them, on a real Prometheus.

Grafana is not available here (DESIGN.md), so a rule of grafana/alerting/inbox-monitor.yml is
evaluated by doing what Grafana does: its data source queries go to Prometheus's HTTP API (a range
query with the evaluation interval as its step is the instant query at every evaluation, each at its
own time), and its server-side expressions are applied in Python as Grafana's expression engine
defines them:
  * reduce `last`, strict mode: the series' value at the instant (an instant query has one);
  * threshold: 1 or 0 per series (gt, lt, gte, lte, eq, ne; NaN compares false);
  * math: `$A`, numbers, `&&`, `||`, comparisons, `+ - * /`, is_number/is_nan/is_inf; two sets of
    series combine series whose labels are equal or one a subset of the other.
The rule's state then follows Grafana's state machine: a true condition makes an instance pending
(firing at once when `for` is 0), firing once it has been true for `for`; false makes it normal; a
series missing from the results resolves at that evaluation (missing_series_evals_to_resolve: 1),
and no data at all is normal (noDataState: OK).
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

Json = dict[str, Any]
Labels = frozenset[tuple[str, str]]
Values = dict[Labels, float]
"""One value per series (label set) at one instant."""
Operand = Values | float

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
    "gte": lambda a, b: a >= b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
}
BINARY: dict[str, Callable[[float, float], float]] = {
    "||": lambda a, b: float(bool(a) or bool(b)),
    "&&": lambda a, b: float(bool(a) and bool(b)),
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    ">": lambda a, b: float(a > b),
    "<": lambda a, b: float(a < b),
    ">=": lambda a, b: float(a >= b),
    "<=": lambda a, b: float(a <= b),
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b else math.nan,
}
PRECEDENCE = [["||"], ["&&"], ["==", "!=", ">=", "<=", ">", "<"], ["+", "-"], ["*", "/"]]
FUNCTIONS: dict[str, Callable[[float], float]] = {
    "is_number": lambda v: float(not math.isnan(v) and not math.isinf(v)),
    "is_nan": lambda v: float(math.isnan(v)),
    "is_inf": lambda v: float(math.isinf(v)),
    "abs": abs,
}
_TOKEN = re.compile(r"\s*(\$\w+|\d+(?:\.\d+)?(?:e[+-]?\d+)?|&&|\|\||==|!=|>=|<=|[><+\-*/(),]|[a-z_]+)")


def seconds(duration: str) -> int:
    return sum(int(n) * UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", duration))


def _combine(a: Operand, b: Operand, op: Callable[[float, float], float]) -> Operand:
    if isinstance(a, float) and isinstance(b, float):
        return op(a, b)
    if isinstance(a, float):
        assert isinstance(b, dict)
        return {k: op(a, v) for k, v in b.items()}
    if isinstance(b, float):
        return {k: op(v, b) for k, v in a.items()}
    out: Values = {}
    for ka, va in a.items():
        for kb, vb in b.items():
            if ka <= kb or kb <= ka:  # equal labels, or one set a subset of the other
                out[ka | kb] = op(va, vb)
    return out


def math_expression(expression: str, refs: dict[str, Values]) -> Values:
    """Evaluate a Grafana math expression over the results of other nodes at one instant."""
    tokens: list[str] = list(_TOKEN.findall(expression))
    assert "".join(tokens) == re.sub(r"\s+", "", expression), f"cannot read {expression!r}"
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def level(i: int) -> Operand:
        if i == len(PRECEDENCE):
            return atom()
        left = level(i + 1)
        while peek() in PRECEDENCE[i]:
            op = BINARY[take()]
            left = _combine(left, level(i + 1), op)
        return left

    def atom() -> Operand:
        token = take()
        if token == "(":
            value = level(0)
            assert take() == ")"
            return value
        if token.startswith("$"):
            return dict(refs[token[1:]])
        if token in FUNCTIONS:
            assert take() == "("
            arg = level(0)
            assert take() == ")"
            fn = FUNCTIONS[token]
            return fn(arg) if isinstance(arg, float) else {k: fn(v) for k, v in arg.items()}
        return float(token)

    result = level(0)
    assert pos == len(tokens), f"unread: {tokens[pos:]}"
    assert isinstance(result, dict), expression
    return result


def range_query(prometheus: str, expr: str, end: int, step: int) -> dict[int, Values]:
    """The expression at every instant 0, step, ..., end (seconds): instant -> series -> value."""
    params = {"query": expr, "start": "0", "end": str(end), "step": str(step)}
    request = urllib.request.Request(
        f"{prometheus}/api/v1/query_range", data=urllib.parse.urlencode(params).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        body: Json = json.loads(r.read())
    assert body["status"] == "success", (expr, body)
    out: dict[int, Values] = {t: {} for t in range(0, end + 1, step)}
    for s in body["data"]["result"]:
        labels = frozenset((k, v) for k, v in s["metric"].items() if k != "__name__")
        for t, value in s["values"]:
            out[int(float(t))][labels] = float(value)
    return out


def evaluate(prometheus: str, rule: Json, *, end: int, step: int) -> dict[int, list[dict[str, str]]]:
    """The rule's firing instances at every instant: instant -> [labels (series' and rule's)]."""
    data = {node["refId"]: node for node in rule["data"]}
    queried = {
        ref: range_query(prometheus, node["model"]["expr"], end, step)
        for ref, node in data.items()
        if node["datasourceUid"] != "__expr__"
    }
    for ref, node in data.items():
        if node["datasourceUid"] != "__expr__":
            assert node["model"]["instant"] is True, f"{rule['title']} {ref}: Grafana would reduce a range"
    rule_labels = rule.get("labels", {})
    hold = seconds(rule["for"])
    pending: dict[Labels, int] = {}
    out: dict[int, list[dict[str, str]]] = {}
    for t in range(0, end + 1, step):
        results: dict[str, Values] = {ref: values[t] for ref, values in queried.items()}
        for ref, node in data.items():  # expressions read nodes defined before them
            model = node["model"]
            if node["datasourceUid"] != "__expr__":
                continue
            if model["type"] == "reduce":
                assert model["reducer"] == "last" and "settings" not in model, ref
                results[ref] = dict(results[model["expression"]])
            elif model["type"] == "threshold":
                (condition,) = model["conditions"]
                compare, (limit,) = COMPARE[condition["evaluator"]["type"]], condition["evaluator"]["params"]
                results[ref] = {k: float(compare(v, limit)) for k, v in results[model["expression"]].items()}
            elif model["type"] == "math":
                results[ref] = math_expression(model["expression"], results)
            else:
                raise AssertionError(f"{rule['title']} {ref}: expression type {model['type']} is not emulated")
        condition = results[rule["condition"]]
        firing = []
        for labels, value in condition.items():
            if value and not math.isnan(value):
                since = pending.setdefault(labels, t)
                if t - since >= hold:
                    firing.append({**dict(labels), **rule_labels})
            else:
                pending.pop(labels, None)
        for labels in set(pending) - set(condition):  # missing series: resolved at once
            del pending[labels]
        out[t] = sorted(firing, key=lambda labels: sorted(labels.items()))
    return out
