#!/usr/bin/env python3
"""Evaluate question detection on the labelled set of public messages.

Usage: python scripts/question_eval.py [--errors] [--data PATH]

Prints precision, recall, F1 and the confusion counts, overall and per language; with
--errors, lists every misclassified message (FP: flagged but should not be; FN: missed).
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitor.domain.questions import needs_reply  # noqa: E402

DEFAULT_DATA = ROOT / "tests" / "data" / "questions_labelled.tsv"


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    label: bool
    lang: str
    text: str


@dataclass(slots=True)
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, expected: bool, predicted: bool) -> None:
        if expected and predicted:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif expected:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def load(path: Path = DEFAULT_DATA) -> list[Example]:
    """Read `label<TAB>lang<TAB>text` rows (a header row and `#` comments are skipped)."""
    examples: list[Example] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for number, row in enumerate(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row or row[0].startswith("#") or row[0] == "label":
                continue
            if len(row) != 3 or row[0] not in ("0", "1"):
                raise ValueError(f"{path}:{number}: expected label<TAB>lang<TAB>text, got {row!r}")
            examples.append(Example(number, row[0] == "1", row[1], row[2]))
    return examples


def evaluate(examples: list[Example]) -> tuple[dict[str, Scores], list[tuple[Example, bool]]]:
    """Scores keyed by "all" and by language, and the misclassified examples."""
    scores: dict[str, Scores] = {"all": Scores()}
    errors: list[tuple[Example, bool]] = []
    for ex in examples:
        predicted = needs_reply(ex.text, private=False)
        scores["all"].add(ex.label, predicted)
        scores.setdefault(ex.lang, Scores()).add(ex.label, predicted)
        if predicted != ex.label:
            errors.append((ex, predicted))
    return scores, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list misclassified messages")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled TSV file")
    args = parser.parse_args(argv)

    scores, errors = evaluate(load(args.data))
    print(f"{'set':<5} {'n':>4} {'prec':>6} {'recall':>6} {'F1':>6}   tp   fp   fn   tn")
    for name, s in scores.items():
        print(
            f"{name:<5} {s.total:>4} {s.precision:>6.3f} {s.recall:>6.3f} {s.f1:>6.3f}"
            f" {s.tp:>4} {s.fp:>4} {s.fn:>4} {s.tn:>4}"
        )
    if args.errors:
        print(f"\n{len(errors)} misclassified:")
        for ex, predicted in errors:
            kind = "FP" if predicted else "FN"
            print(f"  {kind} line {ex.line:>3} [{ex.lang}] {ex.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
