#!/usr/bin/env python3
"""Evaluate question detection on labelled single messages and on labelled conversations.

Usage: python scripts/question_eval.py [--errors] [--data FILE.tsv] [--conversations FILE.jsonl]

Without options both built-in sets are scored: the single public messages of
tests/data/questions_labelled.tsv and the conversations of tests/data/conversations_labelled.jsonl.
`--data FILE` scores only that TSV, `--conversations FILE` only that JSONL; `--errors` lists every
wrong decision (FP: flagged but should not be; FN: missed) and every wait not found.

Single messages: precision, recall and F1 of `decide`, overall and per language.

TSV format (what `inbox-monitor labels export` writes), UTF-8, tab-separated, no quoting (a text
holds no tab or newline), lines starting with `#` are comments:

    label<TAB>lang<TAB>text[<TAB>optional columns...]

* `label`: 1 = needs a reply, 0 = does not; `lang`: a language code (`fr`, `en`, ...); `text`:
  the message as received.
* A header row starting with `label` is optional; it is required to use the optional columns,
  which it names, in any order after `text`: `thread` (a thread key, shown with errors only),
  `private`, `reply_to_brand`, `after_brand_reply`, `brand_spoke` (each `0`/`1`, or empty for 0).
  Without them a row is judged as a public message that starts its thread.

Conversations: the JSONL written by scripts/make_conversations.py (its docstring gives the
format). Each conversation is split into threads as the sources do (X: one thread per customer
with the brand's replies to that customer; Facebook: the comment thread), and each thread goes
through `monitor.engine.thread_outcome` -- the engine's own decisions and `compute_waits`. Reported:

* message-level precision and recall, separately for *first* messages (a customer message that
  does not reply to the brand and comes before any brand reply in its thread) and for *replies*
  (a customer message that replies to the brand, or follows a brand reply in its thread);
* the automatic-reply decision on the brand's messages;
* wait-level agreement: the share of expected waits found with the right open and close
  message, and the waits found that no label expects (spurious).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# After the path above (the script runs from a checkout, installed or not): hence E402.
from monitor.domain.model import ThreadInfo, ThreadMessage  # noqa: E402
from monitor.domain.questions import decide  # noqa: E402
from monitor.domain.sla import Policy, Targets  # noqa: E402
from monitor.engine import AccountContext, thread_outcome  # noqa: E402

DEFAULT_DATA = ROOT / "tests" / "data" / "questions_labelled.tsv"
DEFAULT_CONVERSATIONS = ROOT / "tests" / "data" / "conversations_labelled.jsonl"

FLAGS = ("private", "reply_to_brand", "after_brand_reply", "brand_spoke")
OPTIONAL_COLUMNS = ("thread", *FLAGS)


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    label: bool
    lang: str
    text: str
    thread: str | None = None
    private: bool = False
    reply_to_brand: bool = False
    after_brand_reply: bool = False
    brand_spoke: bool = False


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


def _flag(value: str, path: Path, number: int, column: str) -> bool:
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise ValueError(f"{path}:{number}: column {column!r} must be 0, 1 or empty, got {value!r}")


def load(path: Path = DEFAULT_DATA) -> list[Example]:
    """Read a labelled TSV (see the module docstring for the format)."""
    examples: list[Example] = []
    extra: list[str] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for number, row in enumerate(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row or row[0].startswith("#"):
                continue
            if row[0] == "label":
                if row[:3] != ["label", "lang", "text"]:
                    raise ValueError(f"{path}:{number}: the header must start label<TAB>lang<TAB>text, got {row!r}")
                unknown = [c for c in row[3:] if c not in OPTIONAL_COLUMNS]
                if unknown or len(set(row[3:])) != len(row[3:]):
                    raise ValueError(
                        f"{path}:{number}: unknown or repeated columns {row[3:]!r} "
                        f"(optional columns: {', '.join(OPTIONAL_COLUMNS)})"
                    )
                extra = row[3:]
                continue
            if len(row) != 3 + len(extra) or row[0] not in ("0", "1"):
                names = "<TAB>".join(["label", "lang", "text", *extra])
                raise ValueError(f"{path}:{number}: expected {names} with label 0 or 1, got {row!r}")
            values = dict(zip(extra, row[3:], strict=True))
            examples.append(
                Example(
                    number,
                    row[0] == "1",
                    row[1],
                    row[2],
                    thread=values.get("thread") or None,
                    **{f: _flag(values.get(f, ""), path, number, f) for f in FLAGS},
                )
            )
    return examples


def evaluate(examples: Sequence[Example]) -> tuple[dict[str, Scores], list[tuple[Example, bool]]]:
    """Scores keyed by "all" and by language, and the misclassified examples."""
    scores: dict[str, Scores] = {"all": Scores()}
    errors: list[tuple[Example, bool]] = []
    for ex in examples:
        predicted = decide(
            ex.text,
            private=ex.private,
            after_brand_reply=ex.after_brand_reply,
            brand_spoke=ex.brand_spoke,
            reply_to_brand=ex.reply_to_brand,
        ).needs_reply
        scores["all"].add(ex.label, predicted)
        scores.setdefault(ex.lang, Scores()).add(ex.label, predicted)
        if predicted != ex.label:
            errors.append((ex, predicted))
    return scores, errors


# ------------------------------------------------------------------------------------------------
# Conversations
# ------------------------------------------------------------------------------------------------

_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_NOW = _EPOCH + timedelta(days=30)
_POLICY = Policy("eval", public=Targets(3600.0, 3600.0), private=Targets(3600.0, 3600.0))


@dataclass(frozen=True, slots=True)
class Judged:
    """One message of a conversation: what the labels say and what the engine decided."""

    conversation: str
    id: str
    text: str
    inbound: bool
    category: str
    """"first" or "reply" for a customer message; "brand" for the brand's."""
    expected: bool
    """Customer message: needs a reply; brand message: is automatic."""
    predicted: bool
    reason: str | None


@dataclass(slots=True)
class ConversationScores:
    conversations: int = 0
    first: Scores = field(default_factory=Scores)
    reply: Scores = field(default_factory=Scores)
    automatic: Scores = field(default_factory=Scores)
    waits_expected: int = 0
    waits_found: int = 0
    waits_spurious: int = 0
    errors: list[Judged] = field(default_factory=list)
    wait_errors: list[tuple[str, str, tuple[str, str | None]]] = field(default_factory=list)
    """(conversation, "missed" or "spurious", (open, close))."""
    by_scenario: dict[str, tuple[int, int]] = field(default_factory=dict)
    """scenario -> (expected waits, found)."""

    @property
    def wait_agreement(self) -> float:
        return self.waits_found / self.waits_expected if self.waits_expected else 1.0

    @property
    def messages(self) -> Scores:
        s = Scores()
        for part in (self.first, self.reply):
            s.tp, s.fp, s.fn, s.tn = s.tp + part.tp, s.fp + part.fp, s.fn + part.fn, s.tn + part.tn
        return s


def load_conversations(path: Path = DEFAULT_CONVERSATIONS) -> list[dict[str, Any]]:
    """Read the conversations of a labelled JSONL file (its header line is skipped)."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc}") from exc
            if "messages" not in item:
                continue  # the header
            for key in ("id", "channel", "messages", "waits"):
                if key not in item:
                    raise ValueError(f"{path}:{number}: conversation without {key!r}")
            out.append(item)
    return out


def _threads(conversation: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The conversation's threads as the sources build them, messages in time order."""
    threads: dict[str, list[dict[str, Any]]] = {}
    for m in sorted(conversation["messages"], key=lambda m: (m["at"], int(m["id"]))):
        if conversation["channel"] == "facebook":
            key = "comment"
        else:
            key = m["reply_to"] if m["author"] == "brand" else m["author"]
        threads.setdefault(str(key), []).append(m)
    return threads


def judge_conversation(conversation: dict[str, Any], scores: ConversationScores) -> None:
    """Run the engine on each thread of one conversation and add what it got right to `scores`."""
    cid = conversation["id"]
    x = conversation["channel"] == "x"
    account = AccountContext(1, "eval", "eval", "x" if x else "facebook", _POLICY)
    found: set[tuple[str, str | None]] = set()
    # As the X source sets it: a reply to one of the brand's replies (one in the conversation
    # before it), not to the brand's own post at the root (a campaign tweet, not in the set).
    brand_said = [m["at"] for m in conversation["messages"] if m["author"] == "brand"]
    for n, (customer, messages) in enumerate(_threads(conversation).items()):
        thread = [
            ThreadMessage(
                external_id=m["id"],
                direction="outbound" if m["author"] == "brand" else "inbound",
                created_at=_EPOCH + timedelta(seconds=m["at"]),
                text=m["text"],
                author_id=m["author"],
                is_retweet=bool(m.get("retweet", False)),
                reply_to_brand=x and m.get("reply_to") == "brand" and any(t < m["at"] for t in brand_said),
            )
            for m in messages
        ]
        outcome = thread_outcome(account, ThreadInfo(n + 1, 1, "public", customer, customer), thread, _NOW)
        for w in outcome.waits:
            found.add((w.opened_message, w.closed_message))
        brand_before = False
        for m, tm in zip(messages, thread, strict=True):
            is_question, is_automatic, reason = outcome.flags[m["id"]][:3]
            if tm.direction == "outbound":
                judged = Judged(cid, m["id"], m["text"], False, "brand", bool(m["automatic"]), is_automatic, reason)
                scores.automatic.add(judged.expected, judged.predicted)
                brand_before = brand_before or not m["automatic"]
            else:
                category = "reply" if tm.reply_to_brand or brand_before else "first"
                judged = Judged(cid, m["id"], m["text"], True, category, bool(m["needs_reply"]), is_question, reason)
                (scores.reply if category == "reply" else scores.first).add(judged.expected, judged.predicted)
            if judged.expected != judged.predicted:
                scores.errors.append(judged)
    expected = {(w["open"], w["close"]) for w in conversation["waits"]}
    scores.conversations += 1
    scores.waits_expected += len(expected)
    scores.waits_found += len(expected & found)
    scores.waits_spurious += len(found - expected)
    total, ok = scores.by_scenario.get(conversation.get("scenario", "?"), (0, 0))
    scores.by_scenario[conversation.get("scenario", "?")] = (total + len(expected), ok + len(expected & found))
    scores.wait_errors += [(cid, "missed", w) for w in sorted(expected - found, key=str)]
    scores.wait_errors += [(cid, "spurious", w) for w in sorted(found - expected, key=str)]


def evaluate_conversations(conversations: Sequence[dict[str, Any]]) -> ConversationScores:
    """Message-level and wait-level scores of the engine on labelled conversations."""
    scores = ConversationScores()
    for conversation in conversations:
        judge_conversation(conversation, scores)
    return scores


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


def _table(rows: Sequence[tuple[str, Scores]]) -> None:
    print(f"{'set':<9} {'n':>4} {'prec':>6} {'recall':>6} {'F1':>6}   tp   fp   fn   tn")
    for name, s in rows:
        print(
            f"{name:<9} {s.total:>4} {s.precision:>6.3f} {s.recall:>6.3f} {s.f1:>6.3f}"
            f" {s.tp:>4} {s.fp:>4} {s.fn:>4} {s.tn:>4}"
        )


def report_messages(path: Path, errors: bool) -> None:
    scores, wrong = evaluate(load(path))
    print(f"single messages ({path.name})")
    _table(list(scores.items()))
    if errors:
        print(f"\n{len(wrong)} misclassified:")
        for ex, predicted in wrong:
            print(f"  {'FP' if predicted else 'FN'} line {ex.line:>3} [{ex.lang}] {ex.text}")


def report_conversations(path: Path, errors: bool) -> ConversationScores:
    s = evaluate_conversations(load_conversations(path))
    print(f"conversations ({path.name}): {s.conversations}")
    _table([("first", s.first), ("reply", s.reply), ("all", s.messages), ("automatic", s.automatic)])
    print(
        f"waits: {s.waits_found} of {s.waits_expected} expected found with the right open and close "
        f"(agreement {s.wait_agreement:.3f}); {s.waits_spurious} spurious"
    )
    if errors:
        print("\nwait agreement by scenario:")
        for name, (total, ok) in sorted(s.by_scenario.items()):
            print(f"  {name:<22} {ok:>4} / {total:<4} {ok / total if total else 1.0:.3f}")
        print(f"\n{len(s.errors)} wrong decisions:")
        for j in s.errors:
            kind = ("FP" if j.predicted else "FN") if j.inbound else ("auto FP" if j.predicted else "auto FN")
            print(f"  {kind:<7} {j.conversation}/{j.id} [{j.category}] {j.reason}: {j.text}")
        print(f"\n{len(s.wait_errors)} waits missed or spurious:")
        for cid, kind, (opened, closed) in s.wait_errors:
            print(f"  {kind:<8} {cid} open {opened} close {closed}")
    return s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list wrong decisions and waits")
    parser.add_argument("--data", type=Path, help="a labelled TSV file of single messages (format above)")
    parser.add_argument("--conversations", type=Path, help="a labelled JSONL file of conversations")
    args = parser.parse_args(argv)
    both = args.data is None and args.conversations is None
    if both or args.data is not None:
        report_messages(args.data or DEFAULT_DATA, args.errors)
    if both:
        print()
    if both or args.conversations is not None:
        report_conversations(args.conversations or DEFAULT_CONVERSATIONS, args.errors)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
