#!/usr/bin/env python3
"""Write tests/data/conversations_labelled.jsonl, the labelled set of public care conversations.

Usage: python scripts/make_conversations.py [--check]

How the set is written: every wording below was written by hand, for the scenario and the slot
it sits in (a customer's opening complaint, the brand asking for details, the customer's terse
answer, a thank-you, a banter reply...), and carries the label of that slot: a terse answer to the
brand's question needs a reply, a bare thank-you does not. A seeded random generator only picks
which brand, customer, wordings and delays make up each conversation, cycling through each list
before repeating a wording, so the same sentence does not come back in every conversation.
The expected waits of a conversation follow from its labels by the definition of a wait (open at
the first message that needs a reply, close at the brand's next non-automatic reply). The same
person wrote these wordings and the rules, so scores on this set are optimistic: see README.

The file is generated: do not edit it by hand; change this script and run it. `--check` exits 1
when the committed file differs from what the script writes (a unit test runs it).

Format: one JSON object per line. The first line is a header `{"generated_by": ...}`; every other
line is a conversation:

    {"id": "en-0001", "lang": "en", "channel": "x" | "facebook", "scenario": "details_terse",
     "messages": [{"id": "1", "author": "sam_r" | "brand", "at": 0, "text": "...",
                   "reply_to": "brand" | "<customer>" | null, "retweet": false,
                   "needs_reply": true}            # customer messages
                  {"id": "2", "author": "brand", "at": 840, "text": "...", "reply_to": "sam_r",
                   "automatic": false}],           # brand messages
     "waits": [{"open": "1", "close": "2"}, {"open": "3", "close": null}]}

`at` is seconds after the conversation starts. On X a thread is one customer's messages and the
brand's replies to that customer (`reply_to`); a customer message replies to the brand when its
`reply_to` is "brand". On Facebook the conversation is one comment thread.
"""

# ruff: noqa: E501  (the wordings are data: one sentence a line reads better than a wrapped one)
from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "conversations_labelled.jsonl"
SEED = 16
FACEBOOK_SHARE = 0.3

# ------------------------------------------------------------------------------------------------
# Wordings. In customer texts "{b}" is where the brand's @handle goes when the message starts with
# it (X; nothing on Facebook), "{B}" the brand's name inside a sentence, "{a}" another customer's
# @handle; in brand texts "{to}" is the customer (@handle on X, first name on Facebook).
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """One kind of problem a brand's customers write about."""

    openers: tuple[str, ...]
    """The customer's first message (each needs a reply)."""
    asks: tuple[str, ...]
    """Keys of the domain's `details` the brand may ask for."""
    fix: str
    """The brand's answer once it knows enough."""
    suggestion: str
    """Something the brand suggests to try."""


@dataclass(frozen=True)
class Domain:
    """One brand: the details its agents ask for, and its customers' issues."""

    handle: str
    name: str
    details: Mapping[str, tuple[str, tuple[str, ...]]]
    """key -> (the brand asks for a detail, terse answers that give it)."""
    issues: tuple[Issue, ...]


EN_DOMAINS = (
    Domain(
        "NovaPlay",
        "NovaPlay",
        details={
            "platform": (
                "{to} Sorry about that! Which platform are you playing on?",
                (
                    "{b}PS4",
                    "{b}Xbox one",
                    "{b}on PC",
                    "{b}Switch",
                    "{b}ps5, disc version",
                    "{b}PC (steam)",
                    "{b}series S",
                ),
            ),
            "store": (
                "{to} Thanks for flagging. Did you buy it in the console store or through the link in our email?",
                ("{b}link", "{b}the console store", "{b}through the email link I think", "{b}store"),
            ),
            "screenshot": (
                "{to} Could you send us a screenshot of the error you get?",
                (
                    "{b}https://t.co/Xk3pQ9Lm2a",
                    "{b}here https://t.co/a8ZKq1Tt0v",
                    "{b}",
                    "{b}this one https://t.co/p0Q2mZ8sLk",
                ),
            ),
            "username": (
                "{to} Which username do you play under?",
                ("{b}DarkFalcon_88", "{b}it's xXmiloXx", "{b}same as here"),
            ),
        },
        issues=(
            Issue(
                ("{b}game keeps crashing on the loading screen", "{b}the game freezes every time I open the shop"),
                ("platform", "screenshot"),
                "{to} Thanks! It's a known issue, the fix ships with tomorrow's patch ^JD",
                "{to} Could you try clearing the cache (hold power for 10s) and restarting? ^JD",
            ),
            Issue(
                ("{b}can't join any match since the patch, stuck on 'connecting'", "{b}servers down again?"),
                ("platform", "screenshot"),
                "{to} Servers are back up, a maintenance overran. Sorry for the trouble ^JD",
                "{to} Please try reinstalling the latest update, that fixes it for most players ^Kim",
            ),
            Issue(
                ("{b}lost all my progress after last night's update. 60 hours gone",),
                ("platform", "username"),
                "{to} Got it. We've restored your progress from yesterday's backup, restart the game and it should be there ^AM",
                "{to} Please log out and back in so the cloud save syncs again ^AM",
            ),
            Issue(
                ("{b}bought the season pass yesterday and it's not in my inventory",),
                ("store", "username"),
                "{to} Thanks, the season pass is now on your account. Sorry for the wait! ^Kim",
                "{to} Try logging out and back in, that should refresh your inventory ^AM",
            ),
            Issue(
                ("{b}my account got banned and I've never cheated in my life",),
                ("username",),
                "{to} Thanks, we've reviewed it: the ban was a mistake and has been lifted ^Kim",
                "{to} You can appeal at https://t.co/appeal and the team will review it within 48h ^JD",
            ),
            Issue(
                ("{b}voice chat has been broken for a week now",),
                ("platform",),
                "{to} Thanks, we've passed this to the team; follow @NovaPlayStatus for the fix ^AM",
                "{to} Please check the mic permission in the system settings and restart the game ^JD",
            ),
        ),
    ),
    Domain(
        "ApexSupport",
        "Apex",
        details={
            "version": (
                "{to} Hi there, which software version are you on? Settings > General > About",
                (
                    "{b}iOS 13.3.1 and when I try to unlock it stays like this",
                    "{b}17.2",
                    "{b}latest one I think, 17.4.1",
                    "{b}13.3",
                    "{b}the one from last week",
                ),
            ),
            "model": (
                "{to} We'd like to help. Which model do you have?",
                ("{b}iPhone 11", "{b}the 12 mini", "{b}XR, 128gb", "{b}SE 2nd gen", "{b}Apex 7 pro"),
            ),
            "charger": (
                "{to} Is it the original charger and cable?",
                (
                    "{b}original cable, different plug",
                    "{b}the one that came in the box",
                    "{b}a cheap one from amazon tbh",
                ),
            ),
        },
        issues=(
            Issue(
                (
                    "{b}my phone won't unlock since the update",
                    "{b}face unlock stopped working after updating",
                    "{b}phone stuck on the logo after the update",
                ),
                ("version", "model"),
                "{to} Thanks. The fix is in the update out today, please install it and let us know ^Sara",
                "{to} Please try a force restart: volume up, volume down, then hold the side button ^Sara",
            ),
            Issue(
                (
                    "{b}battery dies in 3 hours since the last update, this is ridiculous",
                    "{b}phone gets really hot when charging",
                ),
                ("model", "charger"),
                "{to} Thanks for the details, this needs a battery check. You can book a free one here: https://t.co/book ^Tom",
                "{to} Could you check Settings > Battery for an app using a lot of power? ^Tom",
            ),
            Issue(
                ("{b}screen keeps flickering when I lower the brightness",),
                ("model", "version"),
                "{to} Thanks. It's a known display issue on this model, the store will replace the screen for free ^Sara",
                "{to} Please turn off auto-brightness and tell us if it still happens ^Tom",
            ),
            Issue(
                ("{b}my photos disappeared from the gallery",),
                ("version",),
                "{to} Thanks! Your photos are in Recently Deleted, you can restore them from there ^Sara",
                "{to} Could you check the Recently Deleted album? ^Tom",
            ),
        ),
    ),
    Domain(
        "QuickCart",
        "QuickCart",
        details={
            "order": (
                "{to} So sorry! Can you share your order number?",
                ("{b}114-2290-8812", "{b}#QC88120", "{b}order QC-55102, placed on the 3rd", "{b}QC40917"),
            ),
            "address": (
                "{to} Was it shipped to your home or to a pickup point?",
                ("{b}home", "{b}pickup point on Baker St", "{b}my work address", "{b}home, flat 4B"),
            ),
            "payment": (
                "{to} Which payment method did you use?",
                ("{b}paypal", "{b}visa debit", "{b}apple pay", "{b}gift card + card"),
            ),
        },
        issues=(
            Issue(
                ("{b}where's my order? it was due on Tuesday", "{b}package marked delivered but nothing at my door"),
                ("order", "address"),
                "{to} Thanks! The parcel is at the depot and will be delivered tomorrow before 1pm ^Rob",
                "{to} Please check with your neighbours and your safe place first, drivers sometimes leave it there ^Rob",
            ),
            Issue(
                ("{b}charged twice for the same order", "{b}my refund still hasn't arrived after 3 weeks"),
                ("order", "payment"),
                "{to} Thanks, the refund was processed this morning, it'll show in 3-5 working days ^Mia",
                "{to} Refunds show as pending for up to 5 days, could you check your statement again tomorrow? ^Mia",
            ),
            Issue(
                ("{b}received the wrong size again", "{b}the driver left my parcel in the rain, everything's soaked"),
                ("order",),
                "{to} Thanks. We've sent a replacement, no need to send the first one back ^Rob",
                "{to} You can start a free return in My Orders > Return ^Mia",
            ),
            Issue(
                (
                    "{b}can I change my delivery address after ordering?",
                    "{b}how do I return an item I bought in store?",
                ),
                ("order",),
                "{to} Thanks, done: the address is updated on your order ^Mia",
                "{to} You can change it in My Orders > Edit delivery until the parcel ships ^Mia",
            ),
        ),
    ),
    Domain(
        "SkyLinkHelp",
        "SkyLink",
        details={
            "postcode": (
                "{to} Sorry for the trouble. What's your postcode so we can check for outages?",
                ("{b}M14 5RT", "{b}LS6 2AB", "{b}BS3", "{b}it's G12 8QQ"),
            ),
            "light": (
                "{to} Is the light on your router green or orange?",
                ("{b}orange, flashing", "{b}green but still no connection", "{b}orange", "{b}no light at all"),
            ),
            "cable": (
                "{to} Is it on wifi only or on cable too?",
                ("{b}both", "{b}wifi only, cable is fine", "{b}haven't tried cable"),
            ),
            "account": (
                "{to} Could you tell us the name on the account?",
                ("{b}J. Patel", "{b}it's under my wife's name, Sarah Lee"),
            ),
        },
        issues=(
            Issue(
                (
                    "{b}no internet since 7am",
                    "{b}broadband keeps dropping every evening",
                    "{b}speeds are a tenth of what I pay for",
                ),
                ("postcode", "light", "cable"),
                "{to} Thanks. There's an outage in your area, engineers are on site and expect it back by 6pm ^Dan",
                "{to} Could you switch the router off at the wall for 2 minutes and back on? ^Priya",
            ),
            Issue(
                ("{b}my landline has no dial tone", "{b}tv box says no signal"),
                ("postcode",),
                "{to} Thanks, we've reset your line from our side, please restart the box ^Priya",
                "{to} Please try a different socket and check the cable is pushed in ^Dan",
            ),
            Issue(
                ("{b}bill went up £15 without any notice?",),
                ("account",),
                "{to} Thanks. The price change letter went out in March, but we've applied a £10 credit as a goodwill gesture ^Dan",
                "{to} The yearly price change is explained at https://t.co/prices ^Priya",
            ),
            Issue(
                ("{b}engineer never turned up, took a day off work for nothing",),
                ("postcode", "account"),
                "{to} Thanks. We're sorry, the visit is rebooked for Thursday 8-12 and we've added a credit ^Dan",
                "{to} You can pick a new slot at https://t.co/visit ^Priya",
            ),
        ),
    ),
    Domain(
        "FlyAero",
        "FlyAero",
        details={
            "booking": (
                "{to} We're sorry. Could you share your booking reference?",
                ("{b}X7PQ2L", "{b}ref is KD93MN", "{b}it's TR8W4Z, flight FA 2231", "{b}LMQ77P"),
            ),
            "airport": ("{to} Which airport are you at?", ("{b}Gatwick", "{b}LIS, terminal 1", "{b}Manchester T3")),
        },
        issues=(
            Issue(
                ("{b}flight cancelled and no info at the gate", "{b}been on hold for 2 hours trying to rebook"),
                ("booking", "airport"),
                "{to} Thanks, you've been rebooked on tomorrow's 7:15, new boarding pass sent by email ^Lee",
                "{to} You can rebook for free in Manage Booking, it's quicker than the phone today ^Ana",
            ),
            Issue(
                ("{b}my bag didn't make it to Lisbon",),
                ("booking", "airport"),
                "{to} Thanks. Your bag is on the 18:40 flight and will be delivered to your hotel tonight ^Ana",
                "{to} Please file a report at the baggage desk before leaving the airport ^Lee",
            ),
            Issue(
                ("{b}my refund for the cancelled flight in March never came",),
                ("booking",),
                "{to} Thanks, the refund was approved today and will reach your card within 7 days ^Ana",
                "{to} You can follow it at https://t.co/refunds with your booking reference ^Lee",
            ),
            Issue(
                ("{b}how do I add a checked bag to my booking?", "{b}check-in page gives an error every time"),
                ("booking",),
                "{to} Thanks, we've added the bag, you'll get an updated confirmation ^Lee",
                "{to} You can add one in Manage Booking up to 3h before departure ^Lee",
            ),
        ),
    ),
    Domain(
        "BrightBank",
        "BrightBank",
        details={
            "channel": (
                "{to} Sorry about this. Are you using the app or online banking?",
                ("{b}the app", "{b}app on android", "{b}both", "{b}online banking on chrome"),
            ),
            "phone": ("{to} Which phone do you use?", ("{b}Samsung S21", "{b}pixel 7", "{b}iPhone 13 mini")),
        },
        issues=(
            Issue(
                ("{b}app says 'something went wrong' every time I log in", "{b}can't add my card to google pay"),
                ("channel", "phone"),
                "{to} Thanks. A fix for this is in today's app update ^Beth",
                "{to} Please update the app to the latest version and try again ^Beth",
            ),
            Issue(
                ("{b}card declined everywhere today even though I have money",),
                ("channel",),
                "{to} Thanks. We had an issue with card payments this morning, it's fixed now ^Olu",
                "{to} Could you check the card isn't frozen in the app? ^Olu",
            ),
            Issue(
                ("{b}transfer left my account 3 days ago and never arrived", "{b}why was I charged a £25 fee?"),
                ("channel",),
                "{to} Thanks, it was held for a routine check and is released now ^Olu",
                "{to} Transfers to new payees can take up to 2 working days, could you check again tomorrow? ^Beth",
            ),
        ),
    ),
)

FR_DOMAINS = (
    Domain(
        "TelcoNova",
        "TelcoNova",
        details={
            "cp": (
                "{to} Bonjour, pouvez-vous nous indiquer votre code postal ?",
                ("{b}69003", "{b}33000 Bordeaux", "{b}c'est le 59800", "{b}13008"),
            ),
            "voyant": (
                "{to} Quelle est la couleur du voyant de votre box ?",
                ("{b}rouge", "{b}orange qui clignote", "{b}blanc fixe mais pas de connexion", "{b}aucun voyant"),
            ),
            "cable": (
                "{to} Le souci est-il en wifi uniquement ou aussi en câble ?",
                ("{b}les deux", "{b}wifi seulement", "{b}j'ai pas de câble"),
            ),
            "titulaire": (
                "{to} Pouvez-vous nous indiquer le nom du titulaire de la ligne ?",
                ("{b}M. Durand", "{b}c'est au nom de ma mère, Anne Petit"),
            ),
        },
        issues=(
            Issue(
                (
                    "{b}plus d'internet depuis ce matin",
                    "{b}la box redémarre toute seule toutes les 10 minutes",
                    "{b}débit catastrophique le soir",
                ),
                ("cp", "voyant", "cable"),
                "{to} Merci. Un incident touche votre secteur, nos techniciens sont sur place, retour prévu vers 18h ^Léa",
                "{to} Pouvez-vous débrancher la box 2 minutes puis la rebrancher ? ^Karim",
            ),
            Issue(
                ("{b}plus de tonalité sur le fixe", "{b}la télé affiche 'pas de signal' depuis hier"),
                ("cp",),
                "{to} Merci, nous avons relancé votre ligne à distance, redémarrez la box ^Karim",
                "{to} Essayez une autre prise et vérifiez que le câble est bien branché ^Léa",
            ),
            Issue(
                ("{b}facture de 89€ au lieu de 39€, c'est quoi ce délire",),
                ("titulaire",),
                "{to} Merci. L'écart vient de la fin de votre promotion, nous vous accordons un geste de 20€ ^Léa",
                "{to} Le détail de la facture est dans votre espace client, rubrique Consommation ^Karim",
            ),
            Issue(
                ("{b}le technicien n'est jamais venu, j'ai posé une journée pour rien",),
                ("cp", "titulaire"),
                "{to} Merci. Toutes nos excuses, le rendez-vous est reprogrammé jeudi 8h-12h avec un geste commercial ^Léa",
                "{to} Vous pouvez choisir un nouveau créneau sur https://t.co/rdv ^Karim",
            ),
        ),
    ),
    Domain(
        "JeuxNova",
        "JeuxNova",
        details={
            "plateforme": (
                "{to} Oh non ! Sur quelle plateforme jouez-vous ?",
                ("{b}PS4", "{b}sur PC", "{b}Xbox one", "{b}switch", "{b}PS5 version disque", "{b}pc steam"),
            ),
            "capture": (
                "{to} Pouvez-vous nous envoyer une capture de l'erreur ?",
                ("{b}https://t.co/Zq8LmN3pR1", "{b}voilà https://t.co/W2aXc9Qk4e", "{b}"),
            ),
            "pseudo": (
                "{to} Quel est votre pseudo en jeu ?",
                ("{b}LeFauconNoir", "{b}c'est mimi_du_93", "{b}le même qu'ici"),
            ),
        },
        issues=(
            Issue(
                ("{b}le jeu plante au chargement", "{b}impossible de rejoindre une partie depuis le patch"),
                ("plateforme", "capture"),
                "{to} Merci ! C'est un bug connu, le correctif arrive avec le patch de demain ^Tom",
                "{to} Pouvez-vous vider le cache et relancer la console ? ^Inès",
            ),
            Issue(
                ("{b}j'ai perdu toute ma progression après la mise à jour",),
                ("plateforme", "pseudo"),
                "{to} Merci, votre progression est restaurée à partir de la sauvegarde d'hier ^Inès",
                "{to} Déconnectez-vous puis reconnectez-vous pour resynchroniser la sauvegarde ^Tom",
            ),
            Issue(
                ("{b}pass de saison acheté hier et rien dans l'inventaire",),
                ("pseudo",),
                "{to} Merci, le pass de saison est bien sur votre compte maintenant. Désolés pour l'attente ^Tom",
                "{to} Essayez de vous déconnecter puis de vous reconnecter pour rafraîchir l'inventaire ^Inès",
            ),
            Issue(
                (
                    "{b}le chat vocal ne marche plus depuis une semaine",
                    "{b}compte suspendu sans raison, je n'ai jamais triché",
                ),
                ("plateforme", "pseudo"),
                "{to} Merci, c'est corrigé de notre côté, relancez le jeu ^Inès",
                "{to} Essayez de réinstaller la dernière mise à jour depuis le store ^Tom",
            ),
        ),
    ),
    Domain(
        "ShopMarly",
        "Marly",
        details={
            "commande": (
                "{to} Bonjour, pouvez-vous nous communiquer votre numéro de commande ?",
                ("{b}48213", "{b}commande n°77120", "{b}#SM-20931", "{b}la 55102, passée le 3"),
            ),
            "livraison": (
                "{to} La livraison était prévue à domicile ou en point relais ?",
                ("{b}domicile", "{b}point relais rue de la Paix", "{b}à mon travail"),
            ),
            "paiement": (
                "{to} Quel moyen de paiement avez-vous utilisé ?",
                ("{b}paypal", "{b}carte bleue", "{b}en 3 fois"),
            ),
        },
        issues=(
            Issue(
                (
                    "{b}commande toujours pas reçue, elle devait arriver mardi",
                    "{b}colis marqué livré mais rien dans ma boîte aux lettres",
                ),
                ("commande", "livraison"),
                "{to} Merci ! Le colis est au dépôt et sera livré demain avant 13h ^Julie",
                "{to} Pouvez-vous vérifier auprès de vos voisins ? Le livreur laisse parfois le colis chez eux ^Julie",
            ),
            Issue(
                (
                    "{b}j'ai été débitée deux fois pour la même commande",
                    "{b}mon remboursement n'est jamais arrivé, ça fait 3 semaines",
                ),
                ("commande", "paiement"),
                "{to} Merci, le remboursement est parti ce matin, comptez 3 à 5 jours ouvrés ^Sami",
                "{to} Le remboursement peut apparaître en attente 5 jours, pouvez-vous revérifier demain ? ^Sami",
            ),
            Issue(
                ("{b}encore reçu la mauvaise taille",),
                ("commande",),
                "{to} Merci. Nous vous envoyons la bonne taille, inutile de renvoyer la première ^Julie",
                "{to} Le retour est gratuit depuis Mes commandes > Retourner un article ^Sami",
            ),
            Issue(
                (
                    "{b}comment je fais un retour d'un article acheté en magasin ?",
                    "{b}je peux changer l'adresse de livraison après la commande ?",
                ),
                ("commande",),
                "{to} Merci, c'est fait : l'adresse est modifiée sur votre commande ^Sami",
                "{to} Vous pouvez la modifier dans Mes commandes > Modifier la livraison tant que le colis n'est pas parti ^Sami",
            ),
        ),
    ),
    Domain(
        "AirVelia",
        "AirVelia",
        details={
            "resa": (
                "{to} Bonjour, pouvez-vous nous donner votre référence de réservation ?",
                ("{b}QZ7PLM", "{b}c'est la HT3K9D", "{b}réf MPL22X, vol AV 318"),
            ),
            "aeroport": ("{to} Dans quel aéroport êtes-vous ?", ("{b}Orly", "{b}CDG terminal 2E", "{b}Nice T1")),
        },
        issues=(
            Issue(
                (
                    "{b}vol annulé et aucune info en porte d'embarquement",
                    "{b}2h en attente au téléphone pour changer mon vol",
                ),
                ("resa", "aeroport"),
                "{to} Merci, vous êtes replacé sur le vol de 7h15 demain, nouvelle carte d'embarquement envoyée par mail ^Hugo",
                "{to} Vous pouvez changer de vol gratuitement dans Gérer ma réservation, c'est plus rapide que le téléphone ^Clara",
            ),
            Issue(
                ("{b}ma valise n'est pas arrivée à Lisbonne",),
                ("resa", "aeroport"),
                "{to} Merci. Votre valise est sur le vol de 18h40 et sera livrée à votre hôtel ce soir ^Clara",
                "{to} Faites une déclaration au comptoir bagages avant de quitter l'aéroport ^Hugo",
            ),
            Issue(
                (
                    "{b}le remboursement du vol annulé en mars n'est jamais arrivé",
                    "{b}comment ajouter un bagage en soute à ma réservation ?",
                ),
                ("resa",),
                "{to} Merci, c'est validé, vous recevrez la confirmation par mail ^Clara",
                "{to} Vous pouvez le faire dans Gérer ma réservation jusqu'à 3h avant le départ ^Hugo",
            ),
        ),
    ),
    Domain(
        "BanqueAzur",
        "BanqueAzur",
        details={
            "canal": (
                "{to} Bonjour, utilisez-vous l'application ou le site ?",
                ("{b}l'appli", "{b}le site, sur Firefox", "{b}les deux", "{b}appli android"),
            ),
            "tel": (
                "{to} Quel modèle de téléphone avez-vous ?",
                ("{b}iPhone 12", "{b}un Samsung A52", "{b}iOS 17.1, iPhone SE"),
            ),
        },
        issues=(
            Issue(
                (
                    "{b}l'appli affiche 'une erreur est survenue' à chaque connexion",
                    "{b}impossible d'ajouter ma carte à Apple Pay",
                ),
                ("canal", "tel"),
                "{to} Merci. Le correctif est dans la mise à jour de l'application publiée aujourd'hui ^Paul",
                "{to} Pouvez-vous mettre à jour l'application puis réessayer ? ^Paul",
            ),
            Issue(
                ("{b}carte refusée partout aujourd'hui alors que j'ai de l'argent",),
                ("canal",),
                "{to} Merci. Un incident a touché les paiements par carte ce matin, c'est rétabli ^Nadia",
                "{to} Vérifiez que la carte n'est pas verrouillée dans l'application ^Nadia",
            ),
            Issue(
                ("{b}virement parti il y a 3 jours et jamais arrivé", "{b}pourquoi ces 25€ de frais ?"),
                ("canal",),
                "{to} Merci, l'opération était bloquée pour un contrôle, c'est réglé ^Nadia",
                "{to} Un virement vers un nouveau bénéficiaire peut prendre 2 jours ouvrés, pouvez-vous revérifier demain ? ^Paul",
            ),
        ),
    ),
    Domain(
        "FastParcel",
        "FastParcel",
        details={
            "suivi": (
                "{to} Bonjour, pouvez-vous nous transmettre votre numéro de suivi ?",
                ("{b}6A18273645", "{b}le 8R00912234FR", "{b}XW556120378FR"),
            ),
            "ville": (
                "{to} Quelle est votre ville de livraison ?",
                ("{b}Nantes", "{b}Villeurbanne", "{b}Lille centre"),
            ),
        },
        issues=(
            Issue(
                (
                    "{b}colis bloqué 'en cours d'acheminement' depuis 10 jours",
                    "{b}mon colis est parti à la mauvaise adresse",
                ),
                ("suivi", "ville"),
                "{to} Merci. Le colis est au centre de tri de Lyon, il repart aujourd'hui ^Yanis",
                "{to} Vous pouvez suivre et rediriger le colis sur https://t.co/fp-suivi ^Eva",
            ),
            Issue(
                (
                    "{b}avis de passage alors que j'étais chez moi toute la journée",
                    "{b}le livreur a jeté mon colis par-dessus le portail",
                ),
                ("suivi",),
                "{to} Merci, une nouvelle livraison est programmée demain entre 9h et 13h ^Eva",
                "{to} Vous pouvez reprogrammer la livraison sur https://t.co/fp-suivi ^Eva",
            ),
        ),
    ),
)

# A bare courtesy after the brand's answer: no reply needed.
COURTESY = {
    "en": (
        "{b}thanks!",
        "{b}thank you so much 🙏",
        "{b}ok great thanks",
        "{b}perfect, will do",
        "{b}cheers!",
        "{b}brilliant, thanks for the quick reply",
        "{b}👍",
        "{b}amazing, you guys are the best",
        "{b}got it, thanks",
        "{b}appreciate it!",
        "{b}thanks, have a good weekend",
        "{b}legend, thank you",
        "{b}ok thanks",
        "{b}sounds good 👌",
        "{b}thank you ❤️",
        "{b}noted, thanks",
        "{b}great, thanks a lot",
        "{b}thx!!",
        "{b}oh nice, thank you",
        "{b}Thanks Kim!",
        "{b}ty 🙏",
        "{b}many thanks",
        "{b}that's great news, thanks",
        "{b}awesome 🙌",
    ),
    "fr": (
        "{b}merci !",
        "{b}merci beaucoup 🙏",
        "{b}super merci",
        "{b}parfait, merci pour la réponse rapide",
        "{b}top, merci 👍",
        "{b}d'accord merci",
        "{b}ok merci bonne journée",
        "{b}génial merci !!",
        "{b}merci à vous",
        "{b}c'est noté, merci",
        "{b}ça marche merci",
        "{b}nickel merci beaucoup",
        "{b}🙏🙏",
        "{b}merci, vous êtes au top",
        "{b}merci infiniment",
        "{b}ok super",
        "{b}merci Léa !",
        "{b}parfait 👌",
        "{b}merci bcp",
        "{b}trop bien merci",
        "{b}bonne nouvelle, merci",
        "{b}merci pour votre aide",
        "{b}d'acc merci bonne soirée",
        "{b}entendu, merci",
    ),
}

# The customer says the answer solved it, or that they will try it: no reply needed.
RESOLVED = {
    "en": (
        "{b}that worked, thank you!",
        "{b}it works now, thanks so much",
        "{b}all sorted now, cheers",
        "{b}ok I'll try that",
        "{b}will do, thanks",
        "{b}yep that did the trick 🙌",
        "{b}fixed! thank you",
        "{b}perfect, that fixed it",
        "{b}just got it, thanks",
        "{b}it's back up, thanks for the help",
        "{b}ok will try tonight",
        "{b}it's working again 🙏",
        "{b}just arrived, thanks!",
        "{b}found it, thanks for the help",
    ),
    "fr": (
        "{b}c'est bon ça remarche, merci !",
        "{b}ça fonctionne, merci beaucoup",
        "{b}c'est réglé merci",
        "{b}ok je vais essayer",
        "{b}je teste ça ce soir, merci",
        "{b}effectivement ça marche maintenant 👍",
        "{b}problème résolu, merci pour votre aide",
        "{b}bien reçu, merci",
        "{b}colis récupéré, merci !",
        "{b}d'accord je regarde ça",
        "{b}ça remarche 🙏",
        "{b}c'est revenu, merci",
        "{b}je vais tester, merci",
        "{b}trouvé, merci !",
    ),
}

# The customer answers the brand's answer with a remaining problem: needs a reply.
STILL_BROKEN = {
    "en": (
        "{b}thanks but it still doesn't work",
        "{b}tried that, same error",
        "{b}I tried everything, nothing works 🥺",
        "{b}thanks, but I did that already and it's still crashing",
        "{b}ok but when will it actually be fixed?",
        "{b}that didn't help unfortunately",
        "{b}still nothing after restarting",
        "{b}thanks, although the refund still isn't showing",
        "{b}did that, now it says error 503",
        "{b}no luck, still stuck",
        "{b}nope 😞",
        "{b}it worked for an hour and now it's down again",
        "{b}thanks, but that's what you said last week",
        "{b}done that twice. no change",
        "{b}it's been 3 days, this isn't good enough",
    ),
    "fr": (
        "{b}merci mais ça ne marche toujours pas",
        "{b}déjà fait, même erreur",
        "{b}j'ai tout essayé, rien ne marche 😢",
        "{b}c'est ce que j'ai fait, toujours rien",
        "{b}ok mais c'est pour quand la réparation ?",
        "{b}ça n'a rien changé malheureusement",
        "{b}merci, par contre le remboursement n'apparaît toujours pas",
        "{b}j'ai redémarré 3 fois, pareil",
        "{b}toujours le même message d'erreur",
        "{b}non toujours pas 😞",
        "{b}ça a marché une heure et là ça recommence",
        "{b}merci mais c'est ce que vous m'avez dit la semaine dernière",
        "{b}fait deux fois, aucun changement",
        "{b}ça fait 3 jours, c'est pas sérieux",
    ),
}

# The brand asks to move to private messages.
DM_ASK = {
    "en": (
        "{to} Sorry about that! Could you send us a DM with your account email so we can take a look? ^JD",
        "{to} We'd like to help. Please DM us your order number 📩",
        "{to} Hi! Please send us a DM and we'll look into it: https://t.co/dmlink",
        "{to} We can't discuss account details here, could you DM us? ^Kim",
    ),
    "fr": (
        "{to} Bonjour, pouvez-vous nous écrire en MP avec votre numéro client ? ^Léa",
        "{to} Nous allons regarder ça. Envoyez-nous un message privé avec votre référence 📩",
        "{to} Bonjour, suivez ce lien pour nous écrire en privé : https://t.co/mplink",
        "{to} Pour vos données personnelles, passons en MP s'il vous plaît ^Karim",
    ),
}

# The customer says they wrote in private: the private thread carries the wait, not this one.
DM_SENT = {
    "en": (
        "{b}done",
        "{b}DM sent",
        "{b}sent you a DM 👍",
        "{b}just DMed you",
        "{b}done, check your DMs",
        "{b}messaged you",
        "{b}sent!",
        "{b}DM'd",
        "{b}ok sending now",
        "{b}sent you a message",
    ),
    "fr": (
        "{b}c'est fait",
        "{b}MP envoyé",
        "{b}je vous ai envoyé un MP",
        "{b}envoyé 👍",
        "{b}fait, regardez vos MP",
        "{b}je vous écris en privé",
        "{b}c'est envoyé",
        "{b}MP fait",
        "{b}ok je vous envoie ça",
        "{b}je vous ai écrit en privé",
    ),
}

# The customer cannot or will not move to private messages: needs a reply.
DM_TROUBLE = {
    "en": (
        "{b}I DMed you 2 days ago and nobody answered",
        "{b}can't DM you, your DMs are closed",
        "{b}already sent everything by DM last week, still waiting",
        "{b}why do I have to DM? just fix it",
        "{b}your DM link doesn't work",
    ),
    "fr": (
        "{b}je vous ai déjà envoyé un MP il y a 3 jours, aucune réponse",
        "{b}impossible de vous envoyer un MP",
        "{b}pourquoi en privé ? répondez ici",
        "{b}déjà fait la semaine dernière, toujours rien",
        "{b}votre lien ne marche pas",
    ),
}

# Another customer joins the brand's exchange with the same problem: needs a reply.
ME_TOO = {
    "en": (
        "{b}{a} same here, PS5. crashes right after the intro",
        "{b}{a} exact same problem on series X",
        "{b}not just them, mine is down too, postcode M20",
        "{b}{a} happening to me too, latest update",
        "{b}me too, order #QC77123 never came",
        "{b}{a} I'm on PC and it's the same",
        "{b}same issue here since yesterday",
        "{b}{a} same, iPhone 12. any fix yet?",
    ),
    "fr": (
        "{b}{a} pareil pour moi, sur PS4 aussi",
        "{b}même problème ici depuis hier soir, 69007",
        "{b}{a} chez moi aussi ça plante, sur PC",
        "{b}idem, commande 55120 toujours pas reçue",
        "{b}{a} moi aussi depuis la mise à jour",
        "{b}pareil à Lille depuis ce matin",
        "{b}{a} même souci, iPhone 13",
        "{b}pareil, une solution ?",
    ),
}

# Another customer joins to help or cheer: no reply needed.
BYSTANDER = {
    "en": (
        "{a} clear the cache, that fixed it for me",
        "{a} good luck mate 😂",
        "{a} happened to me last week, they sorted it fast",
        "{a} 😂😂",
    ),
    "fr": (
        "{a} vide le cache, chez moi ça a réglé le problème",
        "{a} bon courage 😅",
        "{a} pareil la semaine dernière, ils ont été rapides",
        "{a} mdr",
    ),
}

# Praise, then a contrast word and a complaint: needs a reply.
PRAISE_THEN_COMPLAINT = {
    "en": (
        "{b}love the app, however I'm seriously considering uninstalling because of the constant notifications",
        "{b}great game but matchmaking takes forever",
        "{b}the speed is great but it drops every night at 9",
        "{b}nice crew, but we sat on the tarmac for 2 hours without a word",
        "{b}I like the new design, however I can't see my savings anymore",
        "{b}been a loyal customer for 10 years, but this delivery has been a joke",
        "{b}love your clothes but the sizes are all over the place lately",
        "{b}good price, but the charger stopped charging after a week",
        "{b}the food was lovely, but we were charged for a bottle we never ordered",
    ),
    "fr": (
        "{b}j'adore votre box, par contre le wifi décroche tous les soirs",
        "{b}super équipage mais 3h de retard sans explication",
        "{b}l'appli est jolie, cependant impossible de faire un virement depuis hier",
        "{b}très bon jeu mais les serveurs sont une catastrophe",
        "{b}client fidèle depuis 10 ans, mais là cette livraison c'est n'importe quoi",
        "{b}j'aime beaucoup vos vêtements mais les tailles sont complètement aléatoires",
        "{b}bon rapport qualité prix, par contre le chargeur a lâché au bout d'une semaine",
        "{b}le repas était bon, mais on nous a facturé une bouteille jamais commandée",
        "{b}appli pratique, mais elle me déconnecte toutes les 5 minutes",
    ),
}

# Praise with a contrast that stays positive, and other praise: no reply needed.
PRAISE = {
    "en": (
        "{b}expensive but worth every penny",
        "{b}not gonna lie, the new map is amazing",
        "{b}small plane but the crew were lovely",
        "{b}was skeptical but the new router is fast",
        "{b}the new card design 😍😍",
        "{b}best update so far",
        "{b}can't wait for Lisbon next week!! ✈️",
        "Just got my phone fixed at the {B} store, super quick 🙌",
        "{b}you never disappoint",
        "{b}delivered in 24h as always, thanks",
        "{b}honestly the best customer service I've dealt with",
        "{b}took a while but it was worth the wait",
        "{b}the app update is so smooth",
        "Shoutout to {B} for sorting my booking so fast",
    ),
    "fr": (
        "{b}un peu cher mais la qualité est là",
        "{b}pas mal du tout la nouvelle map",
        "{b}petit avion mais équipage adorable",
        "{b}sceptique au début mais la nouvelle box est rapide",
        "{b}la nouvelle carte est trop belle 😍",
        "{b}meilleure mise à jour depuis longtemps",
        "{b}vivement Lisbonne la semaine prochaine ✈️",
        "Téléphone réparé en boutique {B} en 20 min, top 🙌",
        "{b}vous ne décevez jamais",
        "{b}livré en 24h comme toujours, merci",
        "{b}franchement le meilleur service client que j'ai eu",
        "{b}un peu long mais ça valait le coup",
        "{b}l'appli est super fluide depuis la mise à jour",
        "Merci {B} pour la fibre, ça change la vie",
    ),
}

# Banter with the brand (and the brand's playful answer, then laughter): no reply needed.
BANTER = {
    "en": (
        "who else is playing {B} tonight? 🎮",
        "lol the {B} ad with the dog 😂",
        "{b}your social media person deserves a raise 😂",
        "{b}marry me",
        "{b}who runs this account, asking for a friend 👀",
        "{b}you guys are unhinged today lmao",
        "Me waiting for the {B} sale like 👀👀",
        "{b}be honest, is the blue one the best?? 😂",
    ),
    "fr": (
        "qui d'autre joue à {B} ce soir ? 🎮",
        "mdr la pub {B} avec le chat 😂",
        "{b}le CM mérite une augmentation 😂",
        "{b}épousez-moi",
        "{b}c'est qui le CM aujourd'hui, il est en forme 😂",
        "{b}vous êtes pas bien aujourd'hui ptdr",
        "Moi qui attends les soldes {B} comme 👀👀",
        "{b}soyez honnêtes, le bleu c'est le meilleur ?? 😂",
    ),
}
BRAND_BANTER = {
    "en": (
        "{to} We'll pass that on 😎",
        "{to} Asking for a friend, sure 👀",
        "{to} Only if you bring snacks 🍿",
        "{to} The dog is the real star, we know 🐶",
    ),
    "fr": (
        "{to} On transmet 😎",
        "{to} Pour un ami, bien sûr 👀",
        "{to} Seulement si tu ramènes le goûter 🍿",
        "{to} Le chat a son propre agent maintenant 🐱",
    ),
}
LAUGHTER = {
    "en": ("{b}😂😂😂", "{b}haha fair enough", "{b}lmao", "{b}hahaha deal", "{b}lol ok ok 😂", "{b}🤣"),
    "fr": ("{b}😂😂😂", "{b}mdr ok", "{b}ptdr", "{b}haha bien joué", "{b}mdrrr 😂", "{b}🤣"),
}

# Retweets of the brand's posts.
RETWEETS = {
    "en": (
        "RT @{h}: Our summer sale starts now ☀️ Up to 50% off everything",
        "RT @{h}: New update out today! 🚀",
        "RT @{h}: We're hiring! Join the team https://t.co/jobs",
    ),
    "fr": (
        "RT @{h}: Les soldes d'été commencent maintenant ☀️",
        "RT @{h}: Nouvelle mise à jour dispo ! 🚀",
        "RT @{h}: On recrute ! https://t.co/jobs",
    ),
}

# Automatic replies (template wording) and human replies that mention the same words.
AUTOMATIC = {
    "en": (
        "{to} Thanks for your message! Our team is currently away. We typically reply within 2 hours between 8am and 8pm.",
        "{to} This is an automated reply: we've received your message and an agent will get back to you as soon as possible.",
        "{to} Hi! We're currently closed. Our agents are available Mon-Fri 9am-6pm and will reply then.",
        "{to} [Auto-reply] Thanks for reaching out. We're outside our support hours right now.",
        "{to} Out of office: the social team is away until Monday 9am.",
    ),
    "fr": (
        "{to} Merci pour votre message. Notre service client est actuellement fermé, un conseiller vous répondra dès l'ouverture (9h-18h).",
        "{to} Réponse automatique : nous avons bien reçu votre message et vous répondrons dans les plus brefs délais.",
        "{to} Ceci est un message automatique. Nos conseillers sont disponibles du lundi au vendredi de 9h à 19h.",
        "{to} Bonjour ! Nous sommes actuellement absents, nous revenons vers vous dès lundi.",
        "{to} Message d'absence : l'équipe est en congés jusqu'au 2 janvier.",
    ),
}
HUMAN_LOOKALIKE = {
    "en": (
        "{to} Hi, we don't have an out of office option on the basic plan, but you can set an auto-reply in Settings > Mail ^JD",
        "{to} Sorry, that automatic reply shouldn't have gone out. I'm Jen and I'm looking at your order now",
        "{to} Our stores are closed on bank holidays, but the online shop is open as usual ^AM",
        "{to} Thanks for your patience! The refund was sent this morning and should show within 3-5 days ^Kim",
        "{to} We usually reply within the hour, sorry this one took longer. The parcel is at the depot ^Rob",
    ),
    "fr": (
        "{to} Bonjour, ce n'est pas une réponse automatique, je suis bien là 😊 Pouvez-vous me donner votre numéro de commande ? ^Léa",
        "{to} Nous sommes fermés le dimanche, mais vous pouvez déposer votre colis en point relais ^Karim",
        "{to} Nos horaires sont de 9h à 18h du lundi au samedi ^Inès",
        "{to} Merci pour votre patience, le remboursement est parti ce matin ^Tom",
        "{to} Le message d'absence se règle dans Paramètres > Messagerie > Répondeur ^Léa",
    ),
}

# Top-level requests without a cue the old rules knew: needs a reply.
NEW_CUES = {
    "en": (
        "{b}heeeelp!!!!",
        "{b}pleeeease answer me",
        "{b}helloooo is anyone there",
        "{b}urgeeeent",
        "awaiting response {B}",
        "{b}awaiting your reply since Monday",
        "{b}still awaiting my refund",
        "{b}awaiting a callback",
        "{b}[TYPE YOUR QUESTION HERE]",
        "{b}[your question here] order 88123",
        "{b}<enter your message>",
        "{b}nothing works since the update",
        "{b}nothing is working today",
        "{b}literally nothing loads",
        "{b}someone is pretending to be you on WhatsApp asking for my PIN",
        "{b}got a phishing text claiming to be you",
        "{b}my account was hacked and someone ordered 3 TVs",
        "{b}account hacked, email changed",
        "{b}is this fake account yours? @{h}_support_help",
        "{b}unauthorised transaction on my card",
        "{b}there's a fake {B} page promising free upgrades",
        "{b}a player in my lobby keeps sending racist messages",
        "{b}your driver was really aggressive with my mum",
        "{b}my parcel 🥺",
        "{b}my whole weekend ruined 😭😭",
        "{b}the app 😩😩",
        "{b}I never made this payment",
        "{b}suspicious email from your address asking me to confirm my card",
    ),
    "fr": (
        "{b}au secouuuurs",
        "{b}répondezzzz svp",
        "{b}allôôôô il y a quelqu'un",
        "{b}urgeeeent",
        "{b}attente de réponse depuis lundi",
        "{b}toujours en attente de réponse",
        "{b}dans l'attente de votre retour",
        "{b}attente de remboursement depuis un mois",
        "{b}[TAPEZ VOTRE QUESTION ICI]",
        "{b}[Votre question] commande 88123",
        "{b}<écrivez votre message>",
        "{b}rien ne marche depuis ce matin",
        "{b}plus rien ne fonctionne",
        "{b}rien ne s'affiche",
        "{b}j'ai reçu un SMS frauduleux à votre nom",
        "{b}mon compte a été piraté",
        "{b}tentative d'hameçonnage avec votre logo, attention",
        "{b}opération que je n'ai jamais faite sur mon compte",
        "{b}un faux compte {B} demande les codes des gens",
        "{b}quelqu'un usurpe votre identité sur Facebook",
        "{b}un joueur m'insulte en boucle dans le chat",
        "{b}votre livreur m'a parlé comme un chien",
        "{b}mon colis 🥺",
        "{b}week-end gâché 😭😭",
        "{b}l'appli 😩😩",
        "{b}je n'ai jamais fait ce paiement",
        "{b}mail suspect envoyé depuis votre adresse qui demande mon code de carte",
    ),
}

# Replies to the brand's own campaign posts (the brand is not in the customer's thread).
CAMPAIGN_POST = {
    "en": "Our new collection is out today ✨ What's your favourite colour?",
    "fr": "La nouvelle collection est en ligne ✨ Votre couleur préférée ?",
}
CAMPAIGN_REPLY_NO = {
    "en": (
        "{b}omg need this 😍",
        "{b}adding to cart immediately",
        "{b}the green one!!",
        "{b}take my money",
        "{b}finally!!",
        "{b}looks great",
        "{b}blue, obviously 💙",
        "{b}obsessed 😍😍",
    ),
    "fr": (
        "{b}trop beau 😍",
        "{b}le vert !!",
        "{b}enfin !!!",
        "{b}ça fait envie",
        "{b}bleu évidemment 💙",
        "{b}je craque",
        "{b}magnifique",
        "{b}j'adore la rouge",
    ),
}
CAMPAIGN_REPLY_YES = {
    "en": (
        "{b}is this available in Canada?",
        "{b}will it come in XL?",
        "{b}nice, but my refund from March is still pending",
        "{b}great, now fix my internet that's been down 3 days",
        "{b}when does it ship to Ireland",
        "{b}the link doesn't work",
    ),
    "fr": (
        "{b}c'est dispo en 42 ?",
        "{b}et en XL c'est prévu ?",
        "{b}et mon remboursement de mars ?",
        "{b}super mais j'ai toujours pas la fibre alors que c'était prévu en janvier",
        "{b}vous livrez en Suisse",
        "{b}le lien ne marche pas",
    ),
}

# Nudges before the brand answers: they join the open wait.
NUDGES = {
    "en": (
        "{b}hello??",
        "{b}anyone?",
        "{b}still waiting...",
        "{b}any update?",
        "{b}???",
        "{b}2 hours and still nothing",
        "{b}helloooo",
        "{b}can someone answer please",
    ),
    "fr": (
        "{b}allô ?",
        "{b}il y a quelqu'un ?",
        "{b}toujours rien...",
        "{b}une réponse peut-être ?",
        "{b}???",
        "{b}2h et toujours rien",
        "{b}ohééé",
        "{b}quelqu'un peut répondre svp",
    ),
}

# A new question after the exchange is over: opens a next wait.
NEXT_QUESTION = {
    "en": (
        "{b}oh and one more thing, can I change the delivery date?",
        "{b}also, is there a student discount?",
        "{b}another question: do you deliver on Sundays?",
        "{b}and how long does the refund take?",
        "{b}btw my other order is missing too",
    ),
    "fr": (
        "{b}autre question : je peux changer le créneau de livraison ?",
        "{b}et sinon vous livrez le samedi ?",
        "{b}petite question en plus, il y a une réduction étudiant ?",
        "{b}et le remboursement prend combien de temps ?",
        "{b}au fait mon autre commande n'est pas arrivée non plus",
    ),
}

# Yes/no answers to the brand: their meaning depends on the brand's question.
YES_ANSWER = {  # the brand asked whether they tried something: a "yes" leaves the problem open
    "en": (
        ("{to} Have you tried restarting the router?", "{b}yes"),
        ("{to} Did you get a confirmation email?", "{b}no"),
        ("{to} Have you updated the app?", "{b}yep"),
    ),
    "fr": (
        ("{to} Avez-vous essayé de redémarrer la box ?", "{b}oui"),
        ("{to} Avez-vous reçu un mail de confirmation ?", "{b}non"),
        ("{to} Avez-vous mis à jour l'application ?", "{b}oui"),
    ),
}
CHECK_BACK = {  # the brand asked whether it works now: a "yes" closes the matter
    "en": (
        ("{to} Is everything working now?", "{b}yes all good, thanks"),
        ("{to} Did the parcel arrive?", "{b}yes it did 😊"),
    ),
    "fr": (
        ("{to} Tout fonctionne maintenant ?", "{b}oui c'est bon merci"),
        ("{to} Le colis est bien arrivé ?", "{b}oui reçu ce matin 😊"),
    ),
}

FIRST_NAMES = {
    "en": ("Sam", "Olivia", "Jack", "Amelia", "Noah", "Isla", "Leo", "Grace", "Theo", "Freya", "Ravi", "Chloe"),
    "fr": ("Camille", "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Emma", "Jules", "Inès", "Nathan", "Yasmine", "Louis"),
}
SURNAMES = ("r", "b", "k", "m", "t", "d", "l", "p", "w", "g")

T = TypeVar("T")


# ------------------------------------------------------------------------------------------------
# Assembly
# ------------------------------------------------------------------------------------------------


class Decks:
    """Each list is shuffled and dealt in turn, so every wording is used before any repeats."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.decks: dict[int, list[int]] = {}

    def pick(self, items: Sequence[T]) -> T:
        key = id(items)
        deck = self.decks.get(key)
        if not deck:
            deck = list(range(len(items)))
            self.rng.shuffle(deck)
            self.decks[key] = deck
        return items[deck.pop()]


@dataclass
class Conversation:
    id: str
    lang: str
    channel: str
    scenario: str
    domain: Domain
    issue: Issue
    customer: str
    first_name: str
    messages: list[dict[str, object]] = field(default_factory=list)
    clock: int = 0

    def _fill(self, text: str, *, other: str | None = None, to: str | None = None) -> str:
        x = self.channel == "x"
        brand = f"@{self.domain.handle} " if x else ""
        named = f"@{self.domain.handle}" if x else self.domain.name
        out = text.replace("{b}", brand).replace("{B}", named).replace("{h}", self.domain.handle)
        if other is not None:
            out = out.replace("{a}", f"@{other}" if x else other.split("_")[0].capitalize())
        if "{to}" in out:
            name = to or self.customer
            out = out.replace("{to}", f"@{name}" if x else "")
        return out.strip()

    def say(
        self,
        text: str,
        needs_reply: bool,
        *,
        after: int,
        reply_to: str | None = None,
        author: str | None = None,
        other: str | None = None,
        retweet: bool = False,
    ) -> str:
        self.clock += after
        mid = str(len(self.messages) + 1)
        message: dict[str, object] = {
            "id": mid,
            "author": author or self.customer,
            "at": self.clock,
            "text": self._fill(text, other=other),
            "reply_to": reply_to,
        }
        if retweet:
            message["retweet"] = True
        message["needs_reply"] = needs_reply
        self.messages.append(message)
        return mid

    def brand(self, text: str, *, after: int, automatic: bool = False, to: str | None = None) -> str:
        self.clock += after
        mid = str(len(self.messages) + 1)
        self.messages.append(
            {
                "id": mid,
                "author": "brand",
                "at": self.clock,
                "text": self._fill(text, to=to),
                "reply_to": to or self.customer,
                "automatic": automatic,
            }
        )
        return mid

    def waits(self) -> list[dict[str, str | None]]:
        """The waits the labels give, by the definition of a wait (per thread on X)."""
        threads: dict[str, list[dict[str, object]]] = {}
        for m in self.messages:
            key = "all" if self.channel == "facebook" else str(m["reply_to"] if m["author"] == "brand" else m["author"])
            threads.setdefault(key, []).append(m)
        out: list[tuple[int, dict[str, str | None]]] = []
        for messages in threads.values():
            opened: str | None = None
            for m in messages:
                if m["author"] != "brand":
                    if m["needs_reply"] and opened is None:
                        opened = str(m["id"])
                elif not m["automatic"] and opened is not None:
                    out.append((int(opened), {"open": opened, "close": str(m["id"])}))
                    opened = None
            if opened is not None:
                out.append((int(opened), {"open": opened, "close": None}))
        return [w for _, w in sorted(out, key=lambda item: item[0])]

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "lang": self.lang,
            "channel": self.channel,
            "scenario": self.scenario,
            "messages": self.messages,
            "waits": self.waits(),
        }


def minutes(rng: random.Random, low: float, high: float) -> int:
    return int(rng.uniform(low, high) * 60)


Scenario = Callable[[Conversation, Decks, random.Random], None]


def details_terse(c: Conversation, d: Decks, rng: random.Random) -> None:
    """Complaint; the brand asks for a detail; a terse answer; the brand answers (or not yet)."""
    c.say(d.pick(c.issue.openers), True, after=0)
    ask, answers = c.domain.details[d.pick(c.issue.asks)]
    c.brand(ask, after=minutes(rng, 3, 90))
    c.say(d.pick(answers), True, after=minutes(rng, 1, 30), reply_to="brand")
    if rng.random() < 0.75:
        c.brand(c.issue.fix, after=minutes(rng, 5, 120))
        if rng.random() < 0.5:
            c.say(d.pick(COURTESY[c.lang]), False, after=minutes(rng, 1, 30), reply_to="brand")


def answered_courtesy(c: Conversation, d: Decks, rng: random.Random) -> None:
    """Question; the brand answers; a thank-you (sometimes two)."""
    c.say(d.pick(c.issue.openers), True, after=0)
    c.brand(rng.choice((c.issue.fix, c.issue.suggestion)), after=minutes(rng, 3, 120))
    c.say(d.pick(COURTESY[c.lang]), False, after=minutes(rng, 1, 60), reply_to="brand")
    if rng.random() < 0.2:
        c.say(d.pick(COURTESY[c.lang]), False, after=minutes(rng, 1, 10), reply_to="brand")


def still_broken(c: Conversation, d: Decks, rng: random.Random) -> None:
    """The brand suggests a fix; it does not work; the brand answers again (or not yet)."""
    c.say(d.pick(c.issue.openers), True, after=0)
    c.brand(c.issue.suggestion, after=minutes(rng, 3, 120))
    c.say(d.pick(STILL_BROKEN[c.lang]), True, after=minutes(rng, 5, 240), reply_to="brand")
    if rng.random() < 0.6:
        c.brand(c.issue.fix, after=minutes(rng, 5, 120))


def resolved(c: Conversation, d: Decks, rng: random.Random) -> None:
    """The brand suggests a fix; the customer says it worked, or that they will try."""
    c.say(d.pick(c.issue.openers), True, after=0)
    c.brand(c.issue.suggestion, after=minutes(rng, 3, 120))
    c.say(d.pick(RESOLVED[c.lang]), False, after=minutes(rng, 2, 120), reply_to="brand")


def dm_move(c: Conversation, d: Decks, rng: random.Random) -> None:
    """The brand moves to DM; the customer says done (or that DMs do not work for them)."""
    c.say(d.pick(c.issue.openers), True, after=0)
    c.brand(d.pick(DM_ASK[c.lang]), after=minutes(rng, 3, 90))
    if rng.random() < 0.7:
        c.say(d.pick(DM_SENT[c.lang]), False, after=minutes(rng, 1, 20), reply_to="brand")
    else:
        c.say(d.pick(DM_TROUBLE[c.lang]), True, after=minutes(rng, 1, 600), reply_to="brand")
        if rng.random() < 0.5:
            c.brand(c.issue.fix, after=minutes(rng, 5, 60))


def other_customer(c: Conversation, d: Decks, rng: random.Random) -> None:
    """The brand asks a customer for details; another customer joins (same problem, or to help)."""
    other = f"{d.pick(FIRST_NAMES[c.lang]).lower()}_{rng.randrange(10, 99)}"
    if other.split("_")[0] == c.customer.split("_")[0]:
        other = "x" + other
    c.say(d.pick(c.issue.openers), True, after=0)
    ask, answers = c.domain.details[d.pick(c.issue.asks)]
    c.brand(ask, after=minutes(rng, 3, 60))
    if rng.random() < 0.6:
        c.say(d.pick(answers), True, after=minutes(rng, 1, 20), reply_to="brand")
    if rng.random() < 0.7:
        c.say(
            d.pick(ME_TOO[c.lang]), True, after=minutes(rng, 1, 120), reply_to="brand", author=other, other=c.customer
        )
        if rng.random() < 0.5:
            c.brand(d.pick(DM_ASK[c.lang]), after=minutes(rng, 5, 60), to=other)
    else:
        c.say(
            d.pick(BYSTANDER[c.lang]),
            False,
            after=minutes(rng, 1, 120),
            reply_to=c.customer,
            author=other,
            other=c.customer,
        )


def other_answers(c: Conversation, d: Decks, rng: random.Random) -> None:
    """The brand asks a customer for details; another customer with the same problem answers the
    brand's question tersely (on X: a reply to the brand's reply, in a thread of their own)."""
    other = f"{d.pick(FIRST_NAMES[c.lang]).lower()}_{rng.randrange(10, 99)}"
    if other.split("_")[0] == c.customer.split("_")[0]:
        other = "x" + other
    c.say(d.pick(c.issue.openers), True, after=0)
    ask, answers = c.domain.details[d.pick(c.issue.asks)]
    c.brand(ask, after=minutes(rng, 3, 60))
    c.say(d.pick(answers), True, after=minutes(rng, 1, 120), reply_to="brand", author=other, other=c.customer)
    if rng.random() < 0.5:
        c.brand(d.pick(DM_ASK[c.lang]), after=minutes(rng, 5, 60), to=other)


def praise_then_complaint(c: Conversation, d: Decks, rng: random.Random) -> None:
    """Praise, a contrast word, a complaint; the brand answers (or not yet)."""
    c.say(d.pick(PRAISE_THEN_COMPLAINT[c.lang]), True, after=0)
    if rng.random() < 0.6:
        c.brand(d.pick(DM_ASK[c.lang]), after=minutes(rng, 5, 120))


def praise(c: Conversation, d: Decks, rng: random.Random) -> None:
    """Praise; sometimes the brand thanks them and they answer with a heart."""
    c.say(d.pick(PRAISE[c.lang]), False, after=0)
    if rng.random() < 0.5:
        thanks = {
            "en": ("{to} Thank you, that's lovely to hear! 💙", "{to} Thanks for the kind words!"),
            "fr": ("{to} Merci beaucoup, ça fait plaisir ! 💙", "{to} Merci pour ce retour !"),
        }[c.lang]
        c.brand(d.pick(thanks), after=minutes(rng, 5, 300))
        if rng.random() < 0.5:
            c.say(d.pick(("{b}❤️", "{b}🙏", "{b}🥰", "{b}😊")), False, after=minutes(rng, 1, 60), reply_to="brand")


def banter(c: Conversation, d: Decks, rng: random.Random) -> None:
    """Banter with (or about) the brand; the brand plays along; laughter."""
    c.say(d.pick(BANTER[c.lang]), False, after=0)
    if rng.random() < 0.6:
        c.brand(d.pick(BRAND_BANTER[c.lang]), after=minutes(rng, 2, 60))
        if rng.random() < 0.7:
            c.say(d.pick(LAUGHTER[c.lang]), False, after=minutes(rng, 1, 30), reply_to="brand")


def retweet(c: Conversation, d: Decks, rng: random.Random) -> None:
    """A retweet of the brand's post (X) or a share with the post's text (Facebook)."""
    c.say(d.pick(RETWEETS[c.lang]), False, after=0, retweet=c.channel == "x")


def automatic(c: Conversation, d: Decks, rng: random.Random) -> None:
    """A question gets an automatic reply first, then a human one (or a human reply that names
    the same words as an automatic one)."""
    c.say(d.pick(c.issue.openers), True, after=0)
    if rng.random() < 0.65:
        c.brand(d.pick(AUTOMATIC[c.lang]), after=minutes(rng, 0.1, 1), automatic=True)
        if rng.random() < 0.3:
            c.say(d.pick(NUDGES[c.lang]), True, after=minutes(rng, 10, 120))
        if rng.random() < 0.8:
            c.brand(c.issue.fix, after=minutes(rng, 30, 600))
    else:
        c.brand(d.pick(HUMAN_LOOKALIKE[c.lang]), after=minutes(rng, 3, 90))
        if rng.random() < 0.5:
            c.say(d.pick(COURTESY[c.lang]), False, after=minutes(rng, 1, 30), reply_to="brand")


def new_cue(c: Conversation, d: Decks, rng: random.Random) -> None:
    """A top-level request in words the rules of aae4154 did not know; the brand answers (or not)."""
    c.say(d.pick(NEW_CUES[c.lang]), True, after=0)
    if rng.random() < 0.6:
        c.brand(d.pick(DM_ASK[c.lang]), after=minutes(rng, 3, 120))
        if rng.random() < 0.5:
            c.say(d.pick(DM_SENT[c.lang]), False, after=minutes(rng, 1, 20), reply_to="brand")


def campaign_reply(c: Conversation, d: Decks, rng: random.Random) -> None:
    """A reply to the brand's campaign post: reaction (no reply) or a question/complaint."""
    if rng.random() < 0.55:
        c.say(d.pick(CAMPAIGN_REPLY_NO[c.lang]), False, after=0, reply_to="brand")
    else:
        c.say(d.pick(CAMPAIGN_REPLY_YES[c.lang]), True, after=0, reply_to="brand")
        if rng.random() < 0.5:
            c.brand(d.pick(DM_ASK[c.lang]), after=minutes(rng, 5, 200))


def nudge(c: Conversation, d: Decks, rng: random.Random) -> None:
    """A question, a nudge before any answer (it joins the wait), then the answer."""
    c.say(d.pick(c.issue.openers), True, after=0)
    c.say(d.pick(NUDGES[c.lang]), True, after=minutes(rng, 20, 240))
    if rng.random() < 0.8:
        c.brand(c.issue.fix, after=minutes(rng, 5, 120))


def next_question(c: Conversation, d: Decks, rng: random.Random) -> None:
    """An exchange ends with thanks; later a new question opens a next wait."""
    c.say(d.pick(c.issue.openers), True, after=0)
    c.brand(c.issue.fix, after=minutes(rng, 3, 120))
    c.say(d.pick(COURTESY[c.lang]), False, after=minutes(rng, 1, 30), reply_to="brand")
    c.say(d.pick(NEXT_QUESTION[c.lang]), True, after=minutes(rng, 30, 1440), reply_to="brand")
    if rng.random() < 0.6:
        c.brand(c.issue.suggestion, after=minutes(rng, 5, 120))


def yes_no(c: Conversation, d: Decks, rng: random.Random) -> None:
    """The brand asks a yes/no question: "yes" to "have you tried..." leaves the problem open,
    "yes" to "is it working now?" closes it."""
    c.say(d.pick(c.issue.openers), True, after=0)
    if rng.random() < 0.5:
        ask, answer = d.pick(YES_ANSWER[c.lang])
        c.brand(ask, after=minutes(rng, 3, 60))
        c.say(answer, True, after=minutes(rng, 1, 30), reply_to="brand")
        if rng.random() < 0.6:
            c.brand(c.issue.fix, after=minutes(rng, 5, 60))
    else:
        c.brand(c.issue.fix, after=minutes(rng, 3, 60))
        ask, answer = d.pick(CHECK_BACK[c.lang])
        c.brand(ask, after=minutes(rng, 600, 1440))
        c.say(answer, False, after=minutes(rng, 1, 120), reply_to="brand")


SCENARIOS: tuple[tuple[str, Scenario, int], ...] = (
    # (name, builder, conversations per language)
    ("details_terse", details_terse, 30),
    ("answered_courtesy", answered_courtesy, 18),
    ("still_broken", still_broken, 14),
    ("resolved", resolved, 12),
    ("dm_move", dm_move, 16),
    ("other_customer", other_customer, 12),
    ("praise_then_complaint", praise_then_complaint, 9),
    ("praise", praise, 14),
    ("banter", banter, 10),
    ("retweet", retweet, 5),
    ("automatic", automatic, 14),
    ("new_cue", new_cue, 22),
    ("campaign_reply", campaign_reply, 10),
    ("nudge", nudge, 8),
    ("next_question", next_question, 8),
    ("yes_no", yes_no, 6),
    ("other_answers", other_answers, 6),
)


def build() -> list[dict[str, object]]:
    rng = random.Random(SEED)
    decks = Decks(rng)
    out: list[dict[str, object]] = []
    for lang, domains in (("en", EN_DOMAINS), ("fr", FR_DOMAINS)):
        n = 0
        for name, scenario, count in SCENARIOS:
            for _ in range(count):
                n += 1
                first = decks.pick(FIRST_NAMES[lang])
                customer = (
                    f"{first.lower().replace('é', 'e').replace('è', 'e')}_{rng.choice(SURNAMES)}{rng.randrange(1, 99)}"
                )
                # retweets and campaign replies live on X; the rest on both channels
                x_only = name in ("retweet", "campaign_reply")
                channel = "x" if x_only or rng.random() >= FACEBOOK_SHARE else "facebook"
                domain = decks.pick(domains)
                c = Conversation(
                    f"{lang}-{n:04d}", lang, channel, name, domain, decks.pick(domain.issues), customer, first
                )
                scenario(c, decks, rng)
                out.append(c.as_json())
    return out


def render(conversations: list[dict[str, object]]) -> str:
    header = {
        "generated_by": "scripts/make_conversations.py",
        "note": "DO NOT EDIT: generated, see the script's docstring",
    }
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in conversations]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is not what this writes")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run python scripts/make_conversations.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} conversations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
