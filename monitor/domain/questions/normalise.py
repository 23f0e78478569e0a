"""How the built-in rules read a text: case- and accent-folded (`fold`), then normalised
(`normalise`: links and @mentions dropped, apostrophes, hyphens and brackets made spaces,
punctuation set apart from words, SMS spellings read as the words they stand for)."""

from __future__ import annotations

import re
import unicodedata

from monitor.domain.questions.words import SMS

_FOLD_TABLE: dict[int, str | None] = {ord("œ"): "oe", ord("æ"): "ae", ord("ø"): "o", ord("ł"): "l", ord("đ"): "d"}
_NEEDS_FOLD_TABLE = re.compile("[œæøłđ]")

# (the lookbehind, unlike \b, starts a domain only once per run of [a-z0-9-]: no quadratic time)
_URL_RE = re.compile(r"(?:https?://|www\.)\S*|(?<![a-z0-9-])[a-z0-9-]+\.(?:com|fr|net|org|co|ly|io)/\S*")
_MENTION_RE = re.compile(r"@(?<![\w@]@)\w+")  # "@" first: lets `re` scan for it quickly
# apostrophes, hyphens, dashes, hashtags, quotes, brackets, slashes, "+" and "=" become spaces
_SPACE_CHARS = (
    "'\u2018\u2019\u201a\u201b\u02bc\u02b9`\u00b4"  # apostrophes
    "-\u2010\u2011\u2012\u2013\u2014\u2212"  # hyphens and dashes
    '#"\u00ab\u00bb\u201c\u201d\u201e()[]{}/\\*_+=|~<>^'
)
# one character for one (fast paths of str.translate and bytes.translate); "?!.,;:" are then
# set apart from words with str.replace
_SPACE_TABLE: dict[int, str] = {ord(c): " " for c in _SPACE_CHARS + "\x00"}
_SPACE_TABLE.update({ord(c): "?" for c in "\uff1f\u061f\u00bf"})  # fullwidth, Arabic, ¿
_SPACE_TABLE.update({ord(c): "!" for c in "\uff01\u00a1"})
_SPACE_TABLE[ord("\u2026")] = "."  # …
_ASCII_SPACE_TABLE = bytes(ord(_SPACE_TABLE.get(i, chr(i))) if i < 128 else i for i in range(256))
_COMBINING_RE = re.compile("[\u0300-\u036f]+")

_SMS_WORDS = frozenset(SMS)
_REPEATED_PUNCT_RE = re.compile(r"([?!.,;:])(?:\s*\1)+")

# Stretched words ("heeeelp", "pleeease", "allôôô"): a run of three letters or more.
STRETCH_RE = re.compile(r"([a-z])\1\1+")


def fold(text: str) -> str:
    """Case-fold and strip accents (keeps everything else)."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    folded = _COMBINING_RE.sub("", unicodedata.normalize("NFKD", folded))
    return folded.translate(_FOLD_TABLE) if _NEEDS_FOLD_TABLE.search(folded) else folded


def normalise(folded: str) -> str:
    """Folded text -> the form the built-in rules read (see module docstring)."""
    t = folded
    if "/" in t or "www." in t:
        t = _URL_RE.sub(" ", t)
    if "@" in t:
        t = _MENTION_RE.sub(" ", t)
    if t.isascii():
        t = t.encode("ascii").translate(_ASCII_SPACE_TABLE).decode("ascii")
    else:
        t = t.translate(_SPACE_TABLE)
    repeated = False
    for c in "?!.,;:":
        if c in t:
            repeated = repeated or t.count(c) > 1
            t = t.replace(c, f" {c} ")
    if repeated:
        t = _REPEATED_PUNCT_RE.sub(r"\1", t)  # "???" -> "?", "! !" -> "!"
    words = t.split()
    if not _SMS_WORDS.isdisjoint(words):
        words = [SMS.get(word, word) for word in words]
    return " ".join(words)


def destretch(text: str) -> str:
    """Normalised text with the letters of each stretched run read once ("heeeelp" -> "help")."""
    words = STRETCH_RE.sub(r"\1", text).split()
    if not _SMS_WORDS.isdisjoint(words):
        words = [SMS.get(word, word) for word in words]
    return " ".join(words)
