"""Question detection: the labelled set, each rule, and robustness."""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.domain.questions import (
    DEFAULT_RULES,
    MAX_CHARS,
    REASONS,
    Decision,
    QuestionRules,
    alternation,
    automatic_reason,
    decide,
    is_automatic,
    needs_reply,
    normalise,
)
from monitor.domain.questions import words as word_lists

ROOT = Path(__file__).resolve().parents[2]


def _load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


question_eval = _load_script("question_eval")
make_conversations = _load_script("make_conversations")
EXAMPLES = question_eval.load()
CONVERSATIONS = question_eval.load_conversations()


def public(text: str, **kwargs: object) -> bool:
    return needs_reply(text, private=False, **kwargs)  # type: ignore[arg-type]


def first(text: str) -> Decision:
    """A public message that starts its thread."""
    return decide(text, private=False)


def answer(text: str) -> Decision:
    """A public message right after the brand's reply in its thread, replying to it."""
    return decide(text, private=False, after_brand_reply=True, brand_spoke=True, reply_to_brand=True)


# --------------------------------------------------------------------------------------------
# Labelled set
# --------------------------------------------------------------------------------------------


def test_labelled_set_is_large_balanced_and_bilingual() -> None:
    assert len(EXAMPLES) >= 220
    positives = sum(ex.label for ex in EXAMPLES)
    assert 0.4 <= positives / len(EXAMPLES) <= 0.6
    langs = {ex.lang for ex in EXAMPLES}
    assert langs == {"fr", "en"}
    for lang in langs:
        share = sum(ex.lang == lang for ex in EXAMPLES) / len(EXAMPLES)
        assert 0.4 <= share <= 0.6
    assert len({ex.text for ex in EXAMPLES}) == len(EXAMPLES), "duplicate messages"


def test_precision_and_recall_on_labelled_set() -> None:
    scores, errors = question_eval.evaluate(EXAMPLES)
    overall = scores["all"]
    listing = "\n".join(f"{'FP' if p else 'FN'} {ex.text}" for ex, p in errors)
    assert overall.precision >= 0.9, listing
    assert overall.recall >= 0.9, listing
    for lang in ("fr", "en"):
        assert scores[lang].precision >= 0.85, (lang, listing)
        assert scores[lang].recall >= 0.85, (lang, listing)


def test_eval_script_prints_scores(capsys: pytest.CaptureFixture[str]) -> None:
    assert question_eval.main(["--errors"]) == 0
    out = capsys.readouterr().out
    assert "prec" in out and "recall" in out and "fr" in out and "en" in out
    assert "misclassified" in out
    assert "first" in out and "reply" in out and "agreement" in out and "wrong decisions" in out


# --------------------------------------------------------------------------------------------
# Labelled conversations (scored through the engine: its decisions and compute_waits)
# --------------------------------------------------------------------------------------------


def test_conversation_set_is_large_bilingual_and_varied() -> None:
    assert len(CONVERSATIONS) >= 300
    assert {c["lang"] for c in CONVERSATIONS} == {"fr", "en"}
    assert {c["channel"] for c in CONVERSATIONS} == {"x", "facebook"}
    scenarios = {c["scenario"] for c in CONVERSATIONS}
    assert {
        "details_terse",
        "answered_courtesy",
        "other_customer",
        "dm_move",
        "praise_then_complaint",
        "banter",
        "retweet",
        "automatic",
        "praise",
        "campaign_reply",
    } <= scenarios
    customer = [m for c in CONVERSATIONS for m in c["messages"] if m["author"] != "brand"]
    texts = [m["text"] for m in customer]
    assert len(set(texts)) >= 0.4 * len(texts), "wordings repeat too much"
    labels = [m["needs_reply"] for m in customer]
    assert 0.25 <= labels.count(False) / len(labels) <= 0.75


def test_conversation_file_is_what_the_generator_writes() -> None:
    assert make_conversations.main(["--check"]) == 0


def test_expected_waits_follow_from_the_labels() -> None:
    for c in CONVERSATIONS:
        ids = {m["id"] for m in c["messages"]}
        for w in c["waits"]:
            assert w["open"] in ids and (w["close"] is None or w["close"] in ids), c["id"]
        opened = {w["open"] for w in c["waits"]}
        needing = {m["id"] for m in c["messages"] if m.get("needs_reply")}
        assert opened <= needing, c["id"]


def test_thresholds_on_conversations() -> None:
    s = question_eval.evaluate_conversations(CONVERSATIONS)
    listing = "\n".join(f"{j.conversation}/{j.id} [{j.category}] {j.reason}: {j.text}" for j in s.errors)
    assert s.waits_expected >= 300
    assert s.wait_agreement >= 0.98, listing
    assert s.waits_spurious <= 0.02 * s.waits_expected, listing
    assert s.reply.total >= 200
    assert s.reply.precision >= 0.95, listing
    assert s.reply.recall >= 0.95, listing
    assert s.first.precision >= 0.9, listing
    assert s.first.recall >= 0.9, listing
    assert s.automatic.precision >= 0.95 and s.automatic.recall >= 0.95, listing


def test_a_thank_you_after_an_answer_opens_no_wait() -> None:
    conversation: dict[str, Any] = {
        "id": "t",
        "channel": "x",
        "scenario": "t",
        "waits": [{"open": "1", "close": "2"}],
        "messages": [
            {
                "id": "1",
                "author": "sam",
                "at": 0,
                "text": "@Brand my order never arrived",
                "reply_to": None,
                "needs_reply": True,
            },
            {
                "id": "2",
                "author": "brand",
                "at": 60,
                "text": "@sam It's at the depot, delivery tomorrow",
                "reply_to": "sam",
                "automatic": False,
            },
            {
                "id": "3",
                "author": "sam",
                "at": 120,
                "text": "@Brand thanks!",
                "reply_to": "brand",
                "needs_reply": False,
            },
        ],
    }
    s = question_eval.evaluate_conversations([conversation])
    assert (s.waits_found, s.waits_spurious, s.reply.tn) == (1, 0, 1)
    conversation["messages"][2]["text"] = "@Brand thanks but it still doesn't work"
    s = question_eval.evaluate_conversations([conversation])
    assert (s.waits_found, s.waits_spurious, s.reply.fp) == (1, 1, 1)


def test_eval_reads_the_exported_tsv_with_optional_columns(tmp_path: Path) -> None:
    data = tmp_path / "labels.tsv"
    data.write_text(
        "# exported by inbox-monitor labels export\n"
        "label\tlang\ttext\tthread\tprivate\treply_to_brand\tafter_brand_reply\tbrand_spoke\n"
        "1\ten\t@Brand PS4\tx:1:2\t0\t1\t1\t1\n"
        "0\ten\t@Brand thanks!\tx:1:2\t0\t1\t1\t1\n"
        "1\tfr\tmerci\tfb:9\t1\t\t\t\n"
        "0\tfr\tmerci\tfb:9\t1\t\t1\t1\n",
        encoding="utf-8",
    )
    examples = question_eval.load(data)
    assert [(e.label, e.private, e.reply_to_brand, e.after_brand_reply, e.thread) for e in examples] == [
        (True, False, True, True, "x:1:2"),
        (False, False, True, True, "x:1:2"),
        (True, True, False, False, "fb:9"),
        (False, True, False, True, "fb:9"),
    ]
    scores, errors = question_eval.evaluate(examples)
    assert errors == [] and scores["all"].total == 4
    plain = tmp_path / "plain.tsv"
    plain.write_text("1\ten\t@Brand PS4\n", encoding="utf-8")  # no header: a first public message
    assert question_eval.evaluate(question_eval.load(plain))[0]["all"].fn == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("label\tlang\ttext\tmood\n", "unknown or repeated columns"),
        ("label\tlang\ttext\tprivate\n1\ten\thi\tyes\n", "column 'private' must be 0, 1 or empty"),
        ("label\tlang\ttext\tprivate\n1\ten\thi\n", "expected label<TAB>lang<TAB>text<TAB>private"),
        ("2\ten\thi\n", "with label 0 or 1"),
    ],
)
def test_eval_rejects_a_bad_tsv_naming_the_line(tmp_path: Path, content: str, message: str) -> None:
    data = tmp_path / "bad.tsv"
    data.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as caught:
        question_eval.load(data)
    assert "bad.tsv:" in str(caught.value)


# --------------------------------------------------------------------------------------------
# Private channels
# --------------------------------------------------------------------------------------------

COURTESIES = [
    "merci",
    "Merci !",
    "thanks 👍",
    "ok merci beaucoup !",
    "parfait, merci",
    "👍",
    "top merci",
    "Merci pour votre réponse rapide 🙏",
    "thank you so much!!",
    "cool, thanks, got it",
    "super merci, bonne journée",
    "MERCI A VOUS",
]


@pytest.mark.parametrize("text", COURTESIES)
def test_private_courtesy_right_after_brand_reply_needs_no_reply(text: str) -> None:
    assert needs_reply(text, private=True, after_brand_reply=True) is False


@pytest.mark.parametrize("text", COURTESIES)
def test_private_courtesy_opening_a_conversation_needs_a_reply(text: str) -> None:
    assert needs_reply(text, private=True) is True
    assert needs_reply(text, private=True, after_brand_reply=False) is True


@pytest.mark.parametrize(
    "text",
    [
        "merci, et pour ma commande ?",
        "ok mais ça ne marche toujours pas",
        "thanks but I still haven't got my refund",
        "merci ?",
        "bonjour",
        "",  # a photo or a file: may show the problem
        "merci " * 40,  # too long to be a bare courtesy
    ],
)
def test_private_message_after_brand_reply_that_is_not_a_bare_courtesy(text: str) -> None:
    assert needs_reply(text, private=True, after_brand_reply=True) is True


@pytest.mark.parametrize("text", ["j'adore votre marque", "😍", "RT @x: hello", "lol"])
def test_private_every_other_inbound_message_needs_a_reply(text: str) -> None:
    assert needs_reply(text, private=True) is True


# --------------------------------------------------------------------------------------------
# Configurable rules
# --------------------------------------------------------------------------------------------


def test_ignore_pattern_wins_over_everything() -> None:
    rules = QuestionRules(extra_patterns=("concours",), ignore_patterns=(r"#?concours",))
    complaint = "#concours toujours pas de réponse, c'est scandaleux ?"
    assert public(complaint) is True
    assert public(complaint, rules=rules) is False
    assert needs_reply(complaint, private=True, rules=rules) is False
    assert needs_reply("concours", private=True, after_brand_reply=True, rules=rules) is False


def test_extra_patterns_make_a_message_need_a_reply() -> None:
    praise = "Super produit, livré en 24h 😍 #garantie"
    assert public(praise) is False
    rules = QuestionRules(extra_patterns=(r"#garantie\b",))
    assert public(praise, rules=rules) is True
    assert public("#GARANTIE 👍", rules=rules) is True
    assert public("Magnifique 😍", rules=rules) is False


def test_rule_patterns_are_case_and_accent_insensitive() -> None:
    accented = QuestionRules(extra_patterns=("réponse",))
    plain = QuestionRules(extra_patterns=("reponse",))
    for rules in (accented, plain):
        assert public("Quelle REPONSE 😍", rules=rules) is True
        assert public("quelle réponse 😍", rules=rules) is True
        assert public("Quelle Réponse 😍", rules=rules) is True


def test_rule_patterns_see_mentions_and_urls() -> None:
    rules = QuestionRules(ignore_patterns=(r"@spam_bot\b", r"bit\.ly/"))
    assert public("@spam_bot toujours pas de réponse ?", rules=rules) is False
    assert public("ça ne marche pas https://bit.ly/xyz", rules=rules) is False
    assert public("ça ne marche pas", rules=rules) is True


def test_rules_validation() -> None:
    with pytest.raises(ValueError, match="ignore_patterns"):
        QuestionRules(ignore_patterns=("(unclosed",))
    with pytest.raises(TypeError):
        QuestionRules(extra_patterns="merci")  # type: ignore[arg-type]
    rules = QuestionRules(extra_patterns=["a", "b"])  # type: ignore[arg-type]
    assert rules.extra_patterns == ("a", "b")
    assert hash(rules) == hash(QuestionRules(extra_patterns=("a", "b")))
    assert QuestionRules() == DEFAULT_RULES


# --------------------------------------------------------------------------------------------
# Public channels
# --------------------------------------------------------------------------------------------


def test_retweets_never_need_a_reply() -> None:
    complaint = "@brand toujours pas de réponse, c'est scandaleux"
    assert public(complaint) is True
    assert public(complaint, is_retweet=True) is False
    assert needs_reply(complaint, private=True, is_retweet=True) is False
    assert public("RT @brand: still waiting for my refund??") is False


@pytest.mark.parametrize(
    "text",
    [
        "😍😍😍",
        "👍",
        "🔥🔥",
        "@brand",
        "@brand @other",
        "https://t.co/abc",
        "@brand https://t.co/x 🎉",
        "",
        "   ",
        "!!!",
    ],
)
def test_emoji_only_bare_mentions_and_links_need_no_reply(text: str) -> None:
    assert public(text) is False


@pytest.mark.parametrize(
    ("accented", "plain"),
    [
        ("ça ne marche pas", "ca ne marche pas"),
        ("toujours pas de réponse", "toujours pas de reponse"),
        ("Où est mon colis", "ou est mon colis"),
        ("Commande jamais reçue", "commande jamais recue"),
        ("déçue du service", "decue du service"),
    ],
)
def test_accents_and_case_do_not_matter(accented: str, plain: str) -> None:
    assert public(accented) is True
    assert public(plain) is True
    assert public(plain.upper()) is True
    assert public(f"@Brand {accented} !!!!") is True


@pytest.mark.parametrize(
    "text",
    [
        "comment je fais pour changer mon adresse",
        "est-ce que vous livrez en Belgique",
        "how do I reset my password",
        "pouvez-vous m'aider",
        "please DM me",
        "j'attends mon remboursement",
        "can someone help",
        "still waiting",
        "my order never arrived",
        "service client nul",
        "inadmissible",
        "scandaleux",
        "pk ma commande est annulée",
        "svp rappelez moi",
        "jsp quoi faire, la box clignote",
    ],
)
def test_questions_requests_and_complaints_need_a_reply(text: str) -> None:
    assert public(text) is True
    assert public(f"@brand {text}") is True


@pytest.mark.parametrize(
    "text",
    [
        "pas de souci, merci !",
        "no worries, thanks!",
        "merci, problème résolu",
        "never had a problem with @brand",
        "Jamais eu de panne en 3 ans @brand",
        "can't wait for the sale @brand 😍",
        "qui d'autre adore @brand ?",
        "who else loves @brand? 🙌",
        "@brand merci pour la livraison super rapide 😍",
        "@brand @nul_officiel merci !",  # a handle is not a complaint
        "lol the @brand ad 😂",
    ],
)
def test_praise_thanks_negations_and_banter_need_no_reply(text: str) -> None:
    assert public(text) is False


def test_urls_are_not_judged() -> None:
    assert public("Bel article https://example.com/bug-nul-scandale") is False


# --------------------------------------------------------------------------------------------
# Rule families: each decision names its rule
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # stretched words
        ("@Brand heeeelp!!!!", "stretched"),
        ("@Brand pleeeease answer me", "stretched"),
        ("@Brand helloooo", "stretched"),
        ("@Marque au secouuuurs", "stretched"),
        ("@Marque allôôôô il y a quelqu'un", "stretched"),
        ("@Marque ohééé", "stretched"),
        # waiting
        ("awaiting response @Brand", "complaint:waiting"),
        ("@Brand still awaiting my refund", "complaint:waiting"),
        ("@Marque attente de réponse depuis lundi", "complaint:waiting"),
        ("@Marque dans l'attente de votre retour", "complaint:waiting"),
        # placeholder
        ("@Brand [TYPE YOUR QUESTION HERE]", "placeholder"),
        ("@Brand <enter your message>", "placeholder"),
        ("@Marque [TAPEZ VOTRE QUESTION ICI]", "placeholder"),
        ("@Marque [Votre question] commande 88123", "placeholder"),
        # nothing works
        ("@Brand nothing works since the update", "complaint:not_working"),
        ("@Brand literally nothing loads", "complaint:not_working"),
        ("@Marque rien ne marche depuis ce matin", "complaint:not_working"),
        ("@Marque plus rien ne fonctionne", "complaint:not_working"),
        # fraud, phishing, hacked accounts
        ("@Brand got a phishing text claiming to be you", "complaint:fraud"),
        ("@Brand my account was hacked and someone ordered 3 TVs", "complaint:fraud"),
        ("@Brand someone is pretending to be you on WhatsApp", "complaint:fraud"),
        ("@Brand there's a fake Brand page promising free upgrades", "complaint:fraud"),
        ("@Brand unauthorised transaction on my card", "complaint:fraud"),
        ("@Brand I never made this payment", "complaint:fraud"),
        ("@Marque je n'ai jamais fait ce paiement", "complaint:fraud"),
        ("@Marque mon compte a été piraté", "complaint:fraud"),
        ("@Marque tentative d'hameçonnage avec votre logo", "complaint:fraud"),
        ("@Marque un faux compte demande les codes des gens", "complaint:fraud"),
        ("@Marque opération que je n'ai jamais faite sur mon compte", "complaint:fraud"),
        # abuse
        ("@Brand a player in my lobby sends racist messages", "complaint:abuse"),
        ("@Brand your driver was really aggressive with my mum", "complaint:abuse"),
        ("@Marque un joueur m'insulte en boucle dans le chat", "complaint:abuse"),
        ("@Marque votre livreur m'a parlé comme un chien", "complaint:abuse"),
        # praise, then a contrast word and a complaint
        ("@Brand love the app, however I'm seriously considering uninstalling it", "contrast"),
        ("@Brand great game but matchmaking takes forever", "contrast"),
        ("@Marque j'adore votre box, par contre le wifi décroche tous les soirs", "contrast"),
        ("@Marque j'aime beaucoup vos vêtements mais les tailles sont complètement aléatoires", "contrast"),
        ("@Marque super appli, cependant les notifications arrivent en retard", "complaint:order"),
        # sad and pleading emoji
        ("@Brand my parcel 🥺", "unhappy_emoji"),
        ("@Brand 🥺🥺", "unhappy_emoji"),
        ("@Marque mon colis 😢", "unhappy_emoji"),
        ("@Marque 😡", "unhappy_emoji"),
        # me too
        ("@Brand @sam same here on the Xbox", "me_too"),
        ("@Marque @lea pareil pour moi, sur PS4 aussi", "me_too"),
        # the other families keep their reasons
        ("@Brand please DM me", "request"),
        ("@Marque svp rappelez moi", "request"),
        ("@Brand my order never arrived", "complaint:order"),
        ("@Marque débité deux fois pour la même commande", "complaint:billing"),
        ("@Brand the screen arrived cracked", "complaint:damaged"),
        ("@Marque service client nul", "complaint:unhappy"),
        ("@Brand I have a problem with my bill", "complaint:problem"),
        ("@Marque elle ne veut jamais s'allumer", "complaint:negation"),
        ("@Marque je n'ai pas commandé ce modèle", "complaint:negation"),
        ("@Brand how do I reset my password", "question"),
        ("@Marque vous livrez en Belgique ?", "question_mark"),
        ("@Brand the left lens of my glasses is scratched", "complaint:damaged"),
        ("@Marque le verre gauche de mes lunettes se décolle", "first_person_report"),
    ],
)
def test_first_messages_that_need_a_reply_name_their_rule(text: str, reason: str) -> None:
    assert first(text) == Decision(True, reason)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # stretched praise stays praise
        ("@Brand sooooo good 😍", "praise"),
        ("@Brand yesssss finally in stock", "praise"),
        ("@Brand heyyyy love the new stuff", "praise"),
        ("@Marque trop bonnnn 😍", "cheerful_emoji"),
        ("@Brand hiiiii 😍", "cheerful_emoji"),
        ("@Brand ohhhh", "no_cue"),
        # a contrast that ends in praise, or before any praise
        ("@Brand expensive but worth every penny", "no_cue"),
        ("@Brand small plane but the crew were lovely", "praise"),
        ("@Brand was skeptical but the new router is fast", "praise"),
        ("@Marque un peu cher mais la qualité est là", "no_cue"),
        ("@Marque petit avion mais équipage adorable", "praise"),
        ("@Brand great service but I'm biased 😂", "praise"),
        # "nothing beats" and "rien ne vaut" are praise
        ("@Brand nothing beats your carrot cake", "no_cue"),
        ("@Marque rien ne vaut votre gâteau aux carottes", "no_cue"),
        # crying with emotion or laughter, and nostalgia
        ("@Brand that season 3 finale 😭😭😭", "cheerful_emoji"),
        ("@Marque déjà nostalgique de nos vacances 🥲", "cheerful_emoji"),
        ("@Brand love it 🥺❤️", "praise"),
        # a bracket that is no placeholder
        ("@Brand [photo] new setup <3", "no_cue"),
        # "me too" with praise
        ("@Brand @sam me too, love it", "praise"),
    ],
)
def test_hard_negatives_name_their_rule(text: str, reason: str) -> None:
    assert first(text) == Decision(False, reason)


@pytest.mark.parametrize(
    "text",
    [
        "@Brand PS4",
        "@Brand Xbox one",
        "@Brand on PC",
        "@Brand link",
        "@Brand iOS 13.3.1 and when I try to unlock it stays like this",
        "@Brand I tried everything, nothing works 🥺",
        "@Brand https://t.co/Xk3pQ9Lm2a",
        "@Brand",
        "@Brand thanks but it still doesn't work",
        "@Brand ok but when will it be fixed?",
        "@Brand nope 😞",
        "@Brand yes",
        "@Brand no",
        "@Brand thanks 🙄",
        "@Brand lmao my order still hasn't arrived though",
        "@Brand I DMed you 2 days ago and nobody answered",
        "@Brand can't DM you, your DMs are closed",
        "@Marque PS4",
        "@Marque sur PC",
        "@Marque 69003",
        "@Marque oui",
        "@Marque non",
        "@Marque merci mais ça ne marche toujours pas",
        "@Marque j'ai tout essayé, rien ne marche 😢",
        "@Marque merci, par contre le remboursement n'apparaît toujours pas",
        "@Marque merci pour rien",
        "@Marque je vous ai déjà envoyé un MP il y a 3 jours, aucune réponse",
    ],
)
def test_an_answer_to_the_brand_needs_a_reply_unless_a_courtesy(text: str) -> None:
    assert answer(text) == Decision(True, "reply_to_brand")
    # after the brand's words in the thread, without replying to it (Facebook): the same
    assert decide(text, private=False, brand_spoke=True) == Decision(True, "reply_to_brand")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("@Brand thanks!", "courtesy"),
        ("@Brand ok great thanks", "courtesy"),
        ("@Brand perfect, will do", "courtesy"),
        ("@Brand amazing, you guys are the best", "courtesy"),
        ("@Brand it works now, thanks so much", "courtesy"),
        ("@Brand ok I'll try that", "courtesy"),
        ("@Brand yep that did the trick 🙌", "courtesy"),
        ("@Brand Thanks Kim!", "courtesy"),
        ("@Brand yes all good, thanks", "courtesy"),
        ("@Brand 👍", "courtesy"),
        ("@Marque merci beaucoup 🙏", "courtesy"),
        ("@Marque merci Léa !", "courtesy"),
        ("@Marque d'acc merci bonne soirée", "courtesy"),
        ("@Marque merci, vous êtes au top", "courtesy"),
        ("@Marque c'est bon ça remarche, merci !", "courtesy"),
        ("@Marque ok je vais essayer", "courtesy"),
        ("@Marque oui reçu ce matin 😊", "courtesy"),
        ("@Brand DM sent", "moved_to_dm"),
        ("@Brand done, check your DMs", "moved_to_dm"),
        ("@Brand DM'd", "moved_to_dm"),
        ("@Marque MP envoyé", "moved_to_dm"),
        ("@Marque je vous ai écrit en privé", "moved_to_dm"),
        ("@Marque fait, regardez vos MP", "moved_to_dm"),
        ("@Brand haha fair enough", "banter"),
        ("@Brand lol ok ok 😂", "banter"),
        ("@Marque mdr ok", "banter"),
        ("@Marque ptdr", "banter"),
    ],
)
def test_an_answer_to_the_brand_that_needs_no_reply(text: str, reason: str) -> None:
    assert answer(text) == Decision(False, reason)
    assert decide(text, private=False, brand_spoke=True) == Decision(False, reason)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@Brand omg need this 😍", Decision(False, "cheerful_emoji")),
        ("@Brand the green one!!", Decision(False, "no_cue")),
        ("@Marque trop beau 😍", Decision(False, "praise")),
        ("@Brand is this available in Canada?", Decision(True, "question_mark")),
        ("@Marque et mon remboursement de mars ?", Decision(True, "complaint:billing")),
        ("@Brand great, now fix my internet that's been down 3 days", Decision(True, "request")),
    ],
)
def test_a_reply_to_a_brand_post_with_no_brand_reply_in_its_thread_is_judged_on_its_words(
    text: str, expected: Decision
) -> None:
    # X: it replies to the account's own post (a campaign tweet, the conversation's root), which the
    # source does not count as replying to the brand (see test_x_parse), and nothing else the brand said
    assert decide(text, private=False) == expected


def test_private_courtesy_also_counts_later_in_the_conversation() -> None:
    assert decide("merci !", private=True, brand_spoke=True) == Decision(False, "courtesy")
    assert decide("ça remarche, merci", private=True, after_brand_reply=True) == Decision(False, "courtesy")
    assert decide("merci", private=True) == Decision(True, "private")
    assert decide("MP envoyé", private=True, after_brand_reply=True) == Decision(True, "private")


_TEXTS = st.one_of(
    st.sampled_from([ex.text for ex in EXAMPLES]),
    st.sampled_from([m["text"] for c in CONVERSATIONS for m in c["messages"]]),
    st.text(max_size=80),
)


@settings(max_examples=400, deadline=None)
@given(
    text=_TEXTS,
    private=st.booleans(),
    after=st.booleans(),
    spoke=st.booleans(),
    to_brand=st.booleans(),
    retweet=st.booleans(),
)
def test_every_decision_names_a_documented_reason(
    text: str, private: bool, after: bool, spoke: bool, to_brand: bool, retweet: bool
) -> None:
    d = decide(
        text, private=private, after_brand_reply=after, brand_spoke=spoke, reply_to_brand=to_brand, is_retweet=retweet
    )
    assert d.reason in REASONS
    assert automatic_reason(text) in (None, "automatic")


def test_reasons_are_documented() -> None:
    doc = (ROOT / "docs" / "questions.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_:]+)` \|", doc, re.MULTILINE))
    assert documented == set(REASONS)
    assert "docs/questions.md" in (ROOT / "README.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Automatic replies
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Nous sommes actuellement fermés, nous vous répondrons dès lundi.",
        "Thanks for your message, we'll get back to you within 24h.",
        "Merci pour votre message, nous vous répondrons dans les plus brefs délais.",
        "Our team is away right now.",
        "Réponse automatique : notre service client est ouvert de 9h à 18h.",
        "Hi! We typically reply within a few hours.",
        "REPONSE AUTOMATIQUE",
        "@sam This is an automated reply: an agent will get back to you as soon as possible.",
        "@sam [Auto-reply] Thanks for reaching out. We're outside our support hours right now.",
        "@sam Out of office: the social team is away until Monday 9am.",
        "@léa Ceci est un message automatique. Nos conseillers sont disponibles de 9h à 19h.",
        "@léa Message d'absence : l'équipe est en congés jusqu'au 2 janvier.",
        "Notre service client est actuellement fermé, un conseiller vous répondra dès l'ouverture.",
        "I am currently out of the office with limited access to email.",
    ],
)
def test_default_automatic_replies(text: str) -> None:
    assert is_automatic(text) is True
    assert automatic_reason(text) == "automatic"


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour Marie, pouvez-vous nous envoyer votre numéro de commande en MP ?",
        "Sorry about that! Can you DM us your order number?",
        "C'est corrigé, merci de votre patience 🙏",
        "Hi Anna, we'll get back to you within the hour with the tracking number",
        "Bonjour, nous reviendrons vers vous rapidement avec une solution",
        "",
        # human replies that name the words of a template
        "Hi, we don't have an out of office option on the basic plan, but you can set one in Settings",
        "Sorry, that automatic reply shouldn't have gone out. I'm Jen and I'm looking at your order now",
        "Our stores are closed on bank holidays, but the online shop is open as usual ^AM",
        "Thanks for your patience! The refund was sent this morning and should show within 3-5 days",
        "We usually reply within the hour, sorry this one took longer. The parcel is at the depot",
        "Bonjour, ce n'est pas une réponse automatique, je suis bien là 😊 Votre numéro de commande ?",
        "Nous sommes fermés le dimanche, mais vous pouvez déposer votre colis en point relais",
        "Nos horaires sont de 9h à 18h du lundi au samedi ^Inès",
        "Ce produit est actuellement indisponible, il revient la semaine prochaine",
        "Merci pour votre patience, le remboursement est parti ce matin ^Tom",
        "Le message d'absence se règle dans Paramètres > Messagerie > Répondeur ^Léa",
        "Automatic reply? No, I'm a real person 😊 What's your order number?",
    ],
)
def test_human_replies_are_not_automatic(text: str) -> None:
    assert is_automatic(text) is False
    assert automatic_reason(text) is None


def test_automatic_patterns() -> None:
    rules = QuestionRules(automatic_patterns=(r"^\[bot\]", "accusé de réception"))
    assert is_automatic("[BOT] ticket 123 créé", rules) is True
    assert is_automatic("Accuse de reception de votre demande", rules) is True
    assert is_automatic("[bot] ticket 123", DEFAULT_RULES) is False
    assert automatic_reason("[BOT] ticket 123 créé", rules) == "pattern:automatic"


# --------------------------------------------------------------------------------------------
# Robustness
# --------------------------------------------------------------------------------------------

_WORDS = sorted({w for ex in EXAMPLES for w in ex.text.split()})
_messages = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=500),
    st.lists(st.sampled_from(_WORDS), max_size=40).map(" ".join),
    st.builds(
        lambda a, b, n: (a + "\x00" + b) * n,
        st.text(max_size=50),
        st.text(max_size=50),
        st.integers(min_value=0, max_value=2000),
    ),
)
_rules = st.builds(
    QuestionRules,
    extra_patterns=st.lists(st.text(max_size=10).map(re.escape), max_size=2).map(tuple),
    ignore_patterns=st.lists(st.text(max_size=10).map(re.escape), max_size=2).map(tuple),
    automatic_patterns=st.lists(st.text(max_size=10).map(re.escape), max_size=2).map(tuple),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_messages, private=st.booleans(), after=st.booleans(), retweet=st.booleans(), rules=_rules)
def test_never_raises_and_is_deterministic(
    text: str, private: bool, after: bool, retweet: bool, rules: QuestionRules
) -> None:
    first = needs_reply(text, private=private, after_brand_reply=after, is_retweet=retweet, rules=rules)
    again = needs_reply(text, private=private, after_brand_reply=after, is_retweet=retweet, rules=rules)
    assert isinstance(first, bool)
    assert first == again
    assert is_automatic(text, rules) == is_automatic(text, rules)
    assert isinstance(is_automatic(text), bool)


@pytest.mark.parametrize(
    "text",
    [
        "a-" * 200_000 + "/",  # was quadratic in the URL pattern
        "pas de souci pour " * 50_000,
        "ne " * 200_000,
        "\x00" * 1_000_000,
        "é" * 500_000,
        "e" + "\u0301" * 500_000,
        "😍" * 300_000,
        "thanks for your message " + "b " * 300_000,
        "[type " * 200_000,
        "heeeeeeeeeeeeeeeeeeeeeeey " * 50_000,
        "love it but " * 100_000,
        "merci " + "x" * 1_000_000,
    ],
    ids=[
        "hyphens",
        "neutral",
        "ne",
        "nul",
        "accents",
        "combining",
        "emoji",
        "long-tail",
        "placeholder",
        "stretched",
        "contrast",
        "courtesy",
    ],
)
def test_very_long_texts_are_fast(text: str) -> None:
    start = time.perf_counter()
    needs_reply(text, private=False)
    needs_reply(text, private=True, after_brand_reply=True)
    decide(text, private=False, brand_spoke=True, after_brand_reply=True, reply_to_brand=True)
    is_automatic(text)
    assert time.perf_counter() - start < 2.0


def test_only_the_beginning_of_a_huge_text_is_judged() -> None:
    assert public("a" * MAX_CHARS + " toujours pas de réponse") is False
    assert public("toujours pas de réponse " + "a" * MAX_CHARS) is True


# --------------------------------------------------------------------------------------------
# The alternation optimiser must not change what the rule sets match.
# --------------------------------------------------------------------------------------------

_FAMILIES = {
    "neutral": word_lists.NEUTRAL,
    "need": (*word_lists.COMPLAINT, *word_lists.REQUEST, *word_lists.NEGATION),
    "rhetorical": word_lists.RHETORICAL,
    "question": tuple(word_lists.QUESTION),
    "me_too": word_lists.ME_TOO,
    "positive": word_lists.POSITIVE,
    **{f"complaint:{name}": tuple(parts) for name, parts in word_lists.COMPLAINTS.items()},
}
_COMPILED = {
    name: (re.compile(r"\b" + alternation.fast(*parts) + r"\b"), re.compile(r"\b(?:" + "|".join(parts) + r")\b"))
    for name, parts in _FAMILIES.items()
}
_NORMALISED = [normalise.normalise(normalise.fold(ex.text)) for ex in EXAMPLES]
_VOCABULARY = sorted({w for n in _NORMALISED for w in n.split()})


@pytest.mark.parametrize("family", sorted(_FAMILIES))
def test_fast_alternation_matches_like_the_plain_one_on_the_labelled_set(family: str) -> None:
    fast, plain = _COMPILED[family]
    for norm in _NORMALISED:
        assert (fast.search(norm) is None) == (plain.search(norm) is None), norm


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.sampled_from(_VOCABULARY), min_size=1, max_size=12))
def test_fast_alternation_matches_like_the_plain_one_on_shuffled_words(words: list[str]) -> None:
    norm = " ".join(words)
    for fast, plain in _COMPILED.values():
        assert (fast.search(norm) is None) == (plain.search(norm) is None), norm


def test_split_and_expand_helpers() -> None:
    assert alternation.split_top(r"a|(?:b|c)|[|]|\||d") == ["a", "(?:b|c)", "[|]", r"\|", "d"]
    assert alternation.expand("(?:a|b)c") == ["ac", "bc"]
    assert alternation.expand("(?:a|b)?c") == ["c", "ac", "bc"]
    assert alternation.expand("(?:a|b)+c") == ["(?:a|b)+c"]
