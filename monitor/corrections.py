"""People's corrections of question decisions: `inbox-monitor mark` and the labels API find the
message and correct it through the engine; `labels export` writes them as a labelled TSV that
scripts/question_eval.py scores the rules on (docs/operations.md, "Corrections")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from monitor.domain.labels import Correction, MessageRef
from monitor.engine import Engine
from monitor.store import labels

if TYPE_CHECKING:
    import asyncpg

NOTE_MAX = 1000
"""Characters of a correction's note (a reason in a sentence or two; a longer one is refused)."""
BY_MAX = 100
"""Characters of who made a correction (a name, a login, an e-mail address)."""


class CorrectionError(Exception):
    """A correction that cannot be made, and why; `status` is the HTTP answer (the CLI exits 2)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def resolve(engine: Engine, ref: str, account: str | None = None) -> MessageRef:
    """The one stored message of a configured account that `ref` (its id, or its link as stored)
    names; CorrectionError when none, or several, do."""
    accounts = {ctx.name: i for i, ctx in engine.accounts.items()}
    if account is not None and account not in accounts:
        raise CorrectionError(404, f"no account named {account!r} (known: {', '.join(sorted(accounts)) or 'none'})")
    if not ref.strip() or len(ref) > labels.REF_MAX:
        raise CorrectionError(400, f"message: expected a message id or link of 1 to {labels.REF_MAX} characters")
    ids = [accounts[account]] if account is not None else list(accounts.values())
    found = await labels.find_messages(engine.store.pool, ref, ids)
    where = f"account {account}" if account is not None else "any configured account"
    if not found:
        raise CorrectionError(404, f"no message {ref!r} in {where} (give its id, or its link as stored)")
    names = sorted({m.account for m in found})
    if len(names) > 1:
        raise CorrectionError(
            409,
            f"{ref!r} names messages of several accounts ({', '.join(names)}): "
            "name the account (--account NAME, or account=NAME)",
        )
    if len(found) > 1:
        listed = ", ".join(m.external_id for m in found)
        raise CorrectionError(409, f"{ref!r} names several messages of {names[0]} ({listed}): give the message id")
    return found[0]


async def mark(
    engine: Engine, ref: str, label: bool | None, *, by: str, note: str | None = None, account: str | None = None
) -> Correction:
    """Correct the decision of the inbound message `ref` names (None: back to the rules) and
    recompute its thread's waits, in one transaction."""
    if note is not None and len(note) > NOTE_MAX:
        raise CorrectionError(400, f"note: longer than {NOTE_MAX} characters")
    if not by.strip() or len(by) > BY_MAX:
        raise CorrectionError(400, f"by: expected a name of 1 to {BY_MAX} characters")
    message = await resolve(engine, ref, account)
    if message.direction != "inbound":
        raise CorrectionError(
            422,
            f"message {message.external_id} of {message.account} is the brand's own "
            "(outbound): only inbound messages are judged",
        )
    return await engine.correct(message, label, by=by.strip(), note=note or None)


def decision_words(is_question: bool, reason: str | None) -> str:
    """`needs a reply (question_mark)`, `no reply (courtesy)`."""
    words = "needs a reply" if is_question else "no reply"
    return f"{words} ({reason})" if reason else words


def correction_dict(c: Correction) -> dict[str, Any]:
    """A correction as the labels API answers it."""
    return {
        "account": c.message.account,
        "message": c.message.external_id,
        "direction": labels.direction_of(c.label),
        "old": {"needs_reply": c.old[0], "reason": c.old[1]},
        "new": {"needs_reply": c.new[0], "reason": c.new[1]},
        "labelled_at": c.labelled_at.isoformat(),
    }


# --- the labelled export -------------------------------------------------------------------------

TSV_HEADER = "label\tlang\ttext"
"""The header of tests/data/questions_labelled.tsv, which scripts/question_eval.py --data reads."""

# A rough language guess for the export's `lang` column (the script scores per language): common
# function words of each language; `und` when neither wins.
_FRENCH = frozenset(
    "le la les un une des du de je j tu il vous nous mon ma mes votre vos est pas ne et ou "
    "pour que qui avec sur dans au aux ce ça ca c merci bonjour toujours encore".split()
)
_ENGLISH = frozenset(
    "the a an i you he we my your is are was not no and or for that who with on in at it "
    "this to of do does can please thanks hi hello still yet".split()
)


def guess_language(text: str) -> str:
    """`fr`, `en` or `und` (undetermined), from the common words of the text."""
    words = "".join(c if c.isalpha() else " " for c in text.lower()).split()
    fr = sum(w in _FRENCH for w in words)
    en = sum(w in _ENGLISH for w in words)
    return "fr" if fr > en else "en" if en > fr else "und"


def labels_tsv(rows: Iterable[asyncpg.Record]) -> str:
    """Corrections as `label<TAB>lang<TAB>text` rows (tests/data/questions_labelled.tsv's format).

    Only messages of public threads: the script scores the public rules; on private channels
    every message needs a reply but a courtesy, which a text alone does not show. Texts are put
    on one line (tabs and line breaks become spaces); an empty text teaches nothing and is left out."""
    lines: list[str] = []
    private = 0
    for r in rows:
        if r["thread_kind"] != "public":
            private += 1
            continue
        text = " ".join(str(r["body"]).split())
        if text:
            lines.append(f"{int(bool(r['label']))}\t{guess_language(text)}\t{text}")
    head = [
        "# Corrections exported by `inbox-monitor labels export`: label 1 = needs a reply, 0 = does not.",
        "# Public threads only; lang is guessed from common words (und: undetermined).",
        "# Score the rules on them: python scripts/question_eval.py --data FILE",
    ]
    if private:
        head.append(f"# {private} correction(s) of private-thread messages left out.")
    return "\n".join([*head, TSV_HEADER, *lines]) + "\n"
