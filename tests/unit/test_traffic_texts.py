"""The canned texts of scripted traffic mean to the classifier what the scripts take them for."""

from __future__ import annotations

import pytest

from monitor.domain.questions import is_automatic, needs_reply
from monitor.simulator import traffic

QUESTIONS = [*traffic.mixed(traffic.PRIVATE_QUESTIONS), *traffic.mixed(traffic.PUBLIC_QUESTIONS)]


@pytest.mark.parametrize("text", [*QUESTIONS, *traffic.mixed(traffic.EDITS)])
def test_every_question_needs_a_reply_in_private_and_in_public(text: str) -> None:
    assert needs_reply(text, private=True) and needs_reply(text, private=False)
    assert needs_reply(f"@brand {text}", private=False)


@pytest.mark.parametrize("text", traffic.mixed(traffic.FOLLOW_UPS))
def test_a_follow_up_needs_a_reply_before_and_after_the_brands(text: str) -> None:
    for private in (True, False):
        assert needs_reply(text, private=private) and needs_reply(text, private=private, after_brand_reply=True)


@pytest.mark.parametrize("text", traffic.mixed(traffic.COURTESY))
def test_a_courtesy_after_the_brands_reply_asks_nothing(text: str) -> None:
    for private in (True, False):
        assert not needs_reply(text, private=private, after_brand_reply=True)


@pytest.mark.parametrize("text", traffic.mixed(traffic.PRAISE))
def test_praise_in_public_asks_nothing(text: str) -> None:
    assert not needs_reply(text, private=False) and not needs_reply(f"@brand {text}", private=False)


@pytest.mark.parametrize("text", [*traffic.mixed(traffic.REPLIES), *traffic.mixed(traffic.THANKS_BACK)])
def test_no_brand_answer_is_an_automatic_reply(text: str) -> None:
    assert not is_automatic(text)


def test_every_kind_speaks_french_and_english() -> None:
    kinds = [
        traffic.PRIVATE_QUESTIONS,
        traffic.PUBLIC_QUESTIONS,
        traffic.FOLLOW_UPS,
        traffic.EDITS,
        traffic.COURTESY,
        traffic.PRAISE,
        traffic.REPLIES,
        traffic.THANKS_BACK,
        traffic.PAGE_POSTS,
    ]
    assert all(set(kind) == set(traffic.LANGS) and all(kind[lang] for lang in traffic.LANGS) for kind in kinds)
