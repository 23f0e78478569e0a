"""The canned texts of scripted traffic, in French and English, by kind: what customers write in
private and in public, their follow-ups, courtesies and praise, and what the brand answers.

Every question needs a reply for the classifier, in private and in public; a follow-up too, after a
brand reply; a courtesy after a brand reply and praise in public do not; no brand answer is an
automatic reply (tests/unit/test_traffic_texts.py checks it).
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")
Texts = dict[Lang, tuple[str, ...]]

PRIVATE_QUESTIONS: Texts = {
    "fr": (
        "Bonjour, ma commande n'est toujours pas arrivée, vous pouvez vérifier ?",
        "Comment je fais pour changer mon adresse de livraison ?",
        "J'attends mon remboursement depuis 3 semaines, vous pouvez m'aider ?",
        "Vous pouvez m'aider svp, je n'arrive pas à me connecter",
    ),
    "en": (
        "Hi, my order never arrived, can you check?",
        "How do I reset my password?",
        "Still waiting for my refund, can someone help me please?",
        "Can someone help me with my invoice please?",
    ),
}
"""What a customer asks in a DM or on Messenger: about their own order or account."""

PUBLIC_QUESTIONS: Texts = {
    "fr": (
        "Est-ce que vous livrez en Belgique ?",
        "Toujours pas de réponse à ma réclamation, c'est normal ?",
        "Le magasin de Lyon est ouvert dimanche ?",
        "Ma livraison est en retard, que se passe-t-il ?",
    ),
    "en": (
        "Do you ship to Canada?",
        "The app keeps crashing since the update, any fix?",
        "Is the Paris store open on Sunday?",
        "How do I change my delivery address?",
    ),
}
"""What a customer asks in a mention, a comment or a visitor post: in front of everyone."""

FOLLOW_UPS: Texts = {
    "fr": ("Et pour le retour, comment ça se passe ?", "Toujours rien reçu, vous pouvez relancer ?"),
    "en": ("And how long does a refund take?", "Still nothing, can you check again?"),
}
"""A customer's next question in the same thread, before or after the brand's reply."""

EDITS: Texts = {
    "fr": ("Bonjour, toujours pas de réponse à ma réclamation, vous pouvez regarder ?",),
    "en": ("my order never arrived, can you check? (order 123456)",),
}
"""What a customer's question says once they have edited it."""

COURTESY: Texts = {
    "fr": ("Merci beaucoup !", "Super, merci 👍", "ok merci"),
    "en": ("Thanks!", "Great, thank you 👍"),
}
"""A customer's thanks after the brand's reply: no new question."""

PRAISE: Texts = {
    "fr": ("Merci pour le service au top !", "Super équipe 👏"),
    "en": ("Love the new collection 😍", "Thanks, great support as always"),
}
"""A customer's praise in public: no question."""

REPLIES: Texts = {
    "fr": (
        "Bonjour, nous regardons cela tout de suite et revenons vers vous.",
        "Bonjour, c'est noté : votre dossier est transmis au service client.",
        "Bonjour, nous regardons cela tout de suite et revenons vers vous en message privé.",
    ),
    "en": (
        "Hi, we're looking into it right now and will get back to you.",
        "Hi, thanks for your patience: your case is with our support team.",
        "Hi, we're looking into it and will follow up by DM.",
    ),
}
"""The brand's answer to a question: it closes the wait."""

THANKS_BACK: Texts = {"fr": ("Merci à vous !",), "en": ("Thank you!",)}
"""The brand's answer to praise."""

PAGE_POSTS: Texts = {
    "fr": ("Nouvelle collection disponible dès aujourd'hui", "Rendez-vous samedi en boutique"),
    "en": ("Our summer sale starts now",),
}
"""A Facebook Page's own posts, that customers comment on."""

FIRST_NAMES = (
    "Camille",
    "Léa",
    "Hugo",
    "Chloé",
    "Lucas",
    "Manon",
    "Emma",
    "Jules",
    "Olivia",
    "Noah",
    "Grace",
    "Oliver",
)
"""Customers' first names, as Messenger and comments show them."""

SIGNATURES: tuple[str, ...] = ("^CM", "-Hugo", "/LB", "–Jeh", "")
"""How the brand's agents sign its replies in the demo (docs/agents.md), in turn: the demo's roster
names CM, Hugo and LB; "Jeh" is no one it lists; one reply in five is unsigned."""


def signed(text: str, n: int) -> str:
    """`text` signed with the `n`-th signature, in turn (not drawn: a script's draws stay the same)."""
    signature = SIGNATURES[n % len(SIGNATURES)]
    return f"{text} {signature}" if signature else text


def mixed(texts: Texts) -> tuple[str, ...]:
    """The texts of both languages, French first: for scripts that do not pick a language."""
    return tuple(text for lang in LANGS for text in texts[lang])
