"""Instagram items -> messages in their threads (monitor/sources/instagram/payloads.py): a thread per
(media, customer), the brand's answers in the thread of whom they answer, the mentions' owners, and
malformed items set aside with what and where."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from monitor.domain.items import Rejected
from monitor.sources.instagram.payloads import (
    comment_messages,
    mentioned_comment_messages,
    mentioned_media_messages,
    parse_media,
    parse_rejected,
    thread_key,
)

BRAND = "17841400000000001"
MEDIA = "17900000000000001"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def comment(cid: str, minute: int, text: str, who: tuple[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """A comment as the Graph API gives it (by the brand when `who` is None)."""
    author_id, name = who or (BRAND, "shop")
    return {
        "id": cid,
        "timestamp": f"2026-06-01T11:{minute:02d}:00+0000",
        "text": text,
        "username": name,
        "from": {"id": author_id, "username": name},
        **extra,
    }


def replies(*items: dict[str, Any]) -> dict[str, Any]:
    return {"replies": {"data": list(items)}}


ANN, BOB, CLO = ("101", "ann"), ("102", "bob"), ("103", "clo")


def threads(items: list[dict[str, Any]]) -> dict[str, tuple[str, str, bool]]:
    parsed = comment_messages(MEDIA, items, BRAND, received_at=NOW, url=None)
    assert parsed.rejected == []
    return {m.external_id: (m.thread_key, m.direction, m.reply_to_brand) for m in parsed.messages}


def test_each_customer_has_a_thread_and_the_brand_answers_in_the_thread_of_whom_it_answers() -> None:
    items = [
        comment(
            "1",
            0,
            "Vous livrez en Belgique ?",
            ANN,
            **replies(
                comment("2", 5, "Oui, partout en Belgique."),  # under Ann's comment: Ann's answer
                comment("3", 6, "Et en Suisse ?", BOB),  # Bob asks under Ann's comment: Bob's thread
                comment("4", 9, "@bob oui aussi !"),  # the brand answers Bob by name, under Ann's
            ),
        ),
        comment("5", 10, "@clo merci, c'est noté"),  # a top-level answer by name
        comment("6", 8, "Il arrive quand ?", CLO),
        comment("7", 11, "Nouvelle collection !", **replies(comment("8", 12, "Elle sort quand ?", ANN))),
    ]
    assert threads(items) == {
        "1": (thread_key(MEDIA, "101"), "inbound", False),
        "2": (thread_key(MEDIA, "101"), "outbound", False),
        "3": (thread_key(MEDIA, "102"), "inbound", False),
        "4": (thread_key(MEDIA, "102"), "outbound", False),
        "5": (thread_key(MEDIA, "103"), "outbound", False),
        "6": (thread_key(MEDIA, "103"), "inbound", False),
        "7": (thread_key(MEDIA, BRAND), "outbound", False),  # addressed to no one: a thread of its own
        "8": (thread_key(MEDIA, "101"), "inbound", True),  # a reply to the brand's comment
    }


def test_a_malformed_comment_is_set_aside_and_parsed_again_later() -> None:
    bad_reply = comment("3", 6, "Et en Suisse ?", BOB)
    del bad_reply["timestamp"]
    items = [
        comment("1", 0, "Vous livrez en Belgique ?", ANN, **replies(comment("2", 5, "Oui !"), bad_reply)),
        {"id": "../me", "text": "hop"},
        comment("4", 1, "Ça marche ?", CLO, replies={"data": 3}),
    ]
    parsed = comment_messages(MEDIA, items, BRAND, received_at=NOW, url=None)
    assert [m.external_id for m in parsed.messages] == ["1", "2"]
    reasons = [(r.kind, r.external_id, r.reason, r.detail, r.context) for r in parsed.rejected]
    assert reasons == [
        ("ig_comment", "3", "missing_created_at", "comment 3.timestamp: missing", {"media": MEDIA, "parent": "1"}),
        (
            "ig_comment",
            "../me",
            "bad_id",
            f"a comment of media {MEDIA}.id: not a Graph id (5 characters)",
            {
                "media": MEDIA,
                "parent": None,
            },
        ),
        ("ig_comment", "4", "bad_field", "comment 4.replies: not a list of comments", {"media": MEDIA, "parent": None}),
    ]
    fixed = dict(bad_reply, timestamp="2026-06-01T11:06:00+0000")
    again = parse_rejected(
        "ig_comment", fixed, parsed.rejected[0].context, page_id="1", ig_user_id=BRAND, received_at=NOW
    )
    assert [(m.external_id, m.thread_key) for m in again.messages] == [("3", thread_key(MEDIA, "102"))]


def test_a_mention_is_the_thread_of_its_author_with_the_brand_answers_under_it() -> None:
    mention = comment(
        "20",
        0,
        "@shop vous livrez en Belgique ?",
        ANN,
        media={"id": "17900000000000099", "permalink": "https://www.instagram.com/p/x/"},
        **replies(
            comment("21", 3, "Oui !"), comment("22", 4, "Moi aussi je veux savoir", BOB), comment("23", 9, "Merci", ANN)
        ),
    )
    parsed = mentioned_comment_messages(mention, BRAND, received_at=NOW)
    key = thread_key("17900000000000099", "101")
    assert [(m.external_id, m.thread_key, m.direction) for m in parsed.messages] == [
        ("20", key, "inbound"),
        ("21", key, "outbound"),
        ("23", key, "inbound"),  # Bob's reply is Bob's business with Ann, not a mention of the brand
    ]
    assert {m.url for m in parsed.messages} == {"https://www.instagram.com/p/x/"}


def test_a_caption_that_mentions_or_tags_the_brand_opens_the_owner_thread() -> None:
    media = {
        "id": "17900000000000077",
        "timestamp": "2026-06-01T11:00:00+0000",
        "caption": "@shop ma commande n'est pas arrivée ?",
        "username": "ann",
        "permalink": "https://www.instagram.com/p/y/",
        "comments": {"data": [comment("30", 2, "@ann on regarde !"), comment("31", 3, "Trop beau", BOB)]},
    }
    parsed = mentioned_media_messages(media, BRAND, received_at=NOW)
    key = thread_key("17900000000000077", "@ann")
    assert [(m.external_id, m.thread_key, m.direction, m.text) for m in parsed.messages] == [
        ("17900000000000077", key, "inbound", "@shop ma commande n'est pas arrivée ?"),
        ("30", key, "outbound", "@ann on regarde !"),
    ]
    assert "comments" not in parsed.messages[0].raw
    nameless = mentioned_media_messages({**media, "username": None}, BRAND, received_at=NOW)
    assert nameless.messages == []
    assert [(r.kind, r.reason, r.detail) for r in nameless.rejected] == [
        ("ig_mentioned_media", "bad_author", "ig_mentioned_media 17900000000000077.username: null")
    ]


def test_a_media_of_the_account_with_its_comment_count() -> None:
    media = parse_media({"id": "1790", "timestamp": "2026-06-01T10:00:00+0000", "comments_count": 4}, received_at=NOW)
    assert not isinstance(media, Rejected)
    assert (media.id, media.created, media.comments) == ("1790", datetime(2026, 6, 1, 10, tzinfo=UTC), 4)
    bad = parse_media({"id": "1790", "timestamp": "2026-06-01T10:00:00+0000", "comments_count": "4"}, received_at=NOW)
    assert isinstance(bad, Rejected)
    assert (bad.reason, bad.detail) == ("bad_field", "ig_media 1790.comments_count: not a count")
