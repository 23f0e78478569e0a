"""promtool's test series, written into a real Prometheus through its remote-write receiver.

promtool's notation ("0+10x600", "_x7 1x1 stale") is expanded as promtool expands it, and the
samples are sent as Prometheus's remote-write protocol: a protobuf WriteRequest, snappy-compressed.
Both encodings are written here (the literal-only form of snappy is valid snappy), so the test needs
no protobuf or snappy package. Stale samples carry Prometheus's staleness marker, so a series that
goes stale in a promtool test goes stale in the real Prometheus at the same instant.
"""

from __future__ import annotations

import re
import struct
import urllib.request
from dataclasses import dataclass

STALE_NAN = 0x7FF0000000000002
"""Prometheus's staleness marker: a NaN with this bit pattern (model/value.StaleNaN)."""
_SERIES = re.compile(r"^(\w*)\s*(?:\{(.*)\})?$")
_LABEL = re.compile(r'\s*(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_TERM = re.compile(r"^(-?[0-9.e+]+?)(?:([+-][0-9.e]+))?x([0-9]+)$")


@dataclass(frozen=True)
class Series:
    labels: tuple[tuple[str, str], ...]
    """Sorted, `__name__` included."""
    samples: tuple[tuple[int, float | None], ...]
    """(timestamp in ms, value); None is a staleness marker."""


def parse_labels(text: str) -> tuple[tuple[str, str], ...]:
    """`name{a="b",c="d"}` as sorted label pairs, `__name__` included."""
    match = _SERIES.match(text.strip())
    assert match, f"not a series: {text}"
    labels = {"__name__": match[1]} if match[1] else {}
    body = match[2] or ""
    pos = 0
    while pos < len(body):
        label = _LABEL.match(body, pos)
        assert label, f"bad labels at {body[pos:]!r} in {text}"
        labels[label[1]] = label[2].encode().decode("unicode_escape")
        pos = label.end()
    return tuple(sorted(labels.items()))


def expand(values: str) -> list[float | str | None]:
    """promtool's expanding notation: `a+bxn` is a then n more values b apart; `_xn` is n missing
    samples (`_`), `stale` a staleness marker (None)."""
    out: list[float | str | None] = []
    for term in values.split():
        if term == "stale":
            out.append(None)
        elif term == "_":
            out.append("_")
        elif term.startswith("_x"):
            out += ["_"] * int(term[2:])
        elif "x" in term:
            match = _TERM.match(term)
            assert match, f"bad term {term!r}"
            start, step, n = float(match[1]), float(match[2] or 0), int(match[3])
            out += [start + i * step for i in range(n + 1)]
        else:
            out.append(float(term))
    return out


def series(text: str, values: str, interval_ms: int) -> Series:
    samples = tuple(
        (i * interval_ms, None if v is None else float(v))
        for i, v in enumerate(expand(values))
        if v != "_"  # a missing sample: nothing is written
    )
    return Series(parse_labels(text), samples)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def write_request(all_series: list[Series]) -> bytes:
    """prometheus.WriteRequest{timeseries: [TimeSeries{labels: [Label], samples: [Sample]}]}."""
    out = bytearray()
    for s in all_series:
        ts = b"".join(_field(1, _field(1, k.encode()) + _field(2, v.encode())) for k, v in s.labels)
        for t, value in s.samples:
            bits = STALE_NAN if value is None else struct.unpack("<Q", struct.pack("<d", value))[0]
            sample = b"\x09" + struct.pack("<Q", bits) + b"\x10" + _varint(t)
            ts += _field(2, sample)
        out += _field(1, ts)
    return bytes(out)


def snappy(data: bytes) -> bytes:
    """Snappy's block format with literals only (no back-references): valid, uncompressed."""
    out = bytearray(_varint(len(data)))
    for start in range(0, len(data), 65536):
        chunk = data[start : start + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


def remote_write(prometheus: str, all_series: list[Series]) -> None:
    """Send every sample in one request: to an empty TSDB, samples of any age are appendable."""
    request = urllib.request.Request(
        f"{prometheus}/api/v1/write",
        data=snappy(write_request(all_series)),
        method="POST",
        headers={
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status in (200, 204), r.status
