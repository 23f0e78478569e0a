"""Words and number formats of the reports, in French and English."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from monitor.domain.model import CHANNEL_NAMES
from monitor.reports.model import Language
from monitor.reports.period import Period

NNBSP = "\u202f"  # narrow no-break space: French thousands separator and before % and units
MINUS = "\u2212"
NBSP = "\u00a0"
# French typography: a no-break space before ":" and a narrow one before ";", "?" and "!" (the
# Imprimerie nationale's rule), where the sign ends a clause (not in 09:00 nor in https://).
_FRENCH_COLON = re.compile(r"[ \u00a0\u202f]?:(?=\s|$)")
_FRENCH_TALL = re.compile(r"[ \u00a0\u202f]?([;?!])(?=\s|$|<)")


def french_spacing(text: str) -> str:
    """`text` with the no-break spaces French puts before two-part punctuation."""
    return _FRENCH_TALL.sub(NNBSP + r"\1", _FRENCH_COLON.sub(NBSP + ":", text))


_STRINGS: dict[str, dict[Language, str]] = {
    "title": {"en": "Social inbox SLA report", "fr": "Rapport SLA des messageries sociales"},
    "compared_with": {"en": "compared with", "fr": "comparé à"},
    "generated": {"en": "Figures as of", "fr": "Chiffres arrêtés au"},
    # Which hours the figures use (monitor/reports/present.py: response_clock, sla_clock).
    "response_clock_wall": {"en": "response times in wall time", "fr": "délais en temps écoulé"},
    "response_clock_business": {"en": "response times in business hours", "fr": "délais en heures ouvrées"},
    "response_clock_mixed": {
        "en": "response times in business hours (wall time without a calendar)",
        "fr": "délais en heures ouvrées (temps écoulé sans calendrier)",
    },
    "sla_clock_wall": {"en": "SLA in wall time", "fr": "SLA en temps écoulé"},
    "sla_clock_business": {"en": "SLA in business hours", "fr": "SLA en heures ouvrées"},
    "sla_clock_mixed": {
        "en": "SLA in business hours or wall time, by policy",
        "fr": "SLA en heures ouvrées ou en temps écoulé selon la politique",
    },
    "sla_clock_policy": {"en": "SLA on each policy's clock", "fr": "SLA selon l'horloge de chaque politique"},
    "clock_wall": {"en": "wall time", "fr": "temps écoulé"},
    "clock_business": {"en": "business hours", "fr": "heures ouvrées"},
    "clock_mixed": {
        "en": "business hours where the policy has a calendar, wall time elsewhere",
        "fr": "heures ouvrées si la politique a un calendrier, temps écoulé sinon",
    },
    "clock_policy": {"en": "each policy's own clock", "fr": "l'horloge de chaque politique"},
    "hours_note": {
        "en": "<b>Hours.</b> Median and P90 first response: {response}. Within SLA and breaches: {sla}, the "
        "clock the policy's targets run on. Questions, waits and response rate are counts, by the local day "
        "({timezone}) the question was asked. Wall time is the time that passed, what the customer waited; "
        "business hours count only the opening hours of the policy's calendar. The longest waits are "
        "ranked by wall time.",
        "fr": "<b>Heures.</b> Première réponse médiane et P90 : {response}. Part dans le SLA et dépassements : "
        "{sla}, l'horloge des objectifs de la politique. Questions, attentes et taux de réponse sont des "
        "comptes, par jour local ({timezone}) de la question. Le temps écoulé est ce que le client a "
        "attendu ; les heures ouvrées ne comptent que les heures d'ouverture du calendrier de la politique. Les "
        "attentes les plus longues sont classées en temps écoulé.",
    },
    "all_brands": {"en": "all brands", "fr": "toutes les marques"},
    "brands": {"en": "brands", "fr": "marques"},
    "summary": {"en": "Summary", "fr": "Synthèse"},
    "by_brand_channel": {"en": "By brand and channel", "fr": "Par marque et par canal"},
    "charts": {"en": "Trends", "fr": "Tendances"},
    "daily_volume": {
        "en": "Daily volume and share answered within SLA",
        "fr": "Volume quotidien et part des réponses dans le SLA",
    },
    "distribution": {"en": "First response time", "fr": "Délai de première réponse"},
    "heatmap": {
        "en": "Breaches by weekday and hour the question was asked",
        "fr": "Dépassements selon le jour et l'heure de la question",
    },
    "longest": {"en": "The 10 longest waits", "fr": "Les 10 attentes les plus longues"},
    "per_account": {"en": "Per account", "fr": "Par compte"},
    "x_api_spend": {"en": "X API spend (estimate)", "fr": "Dépenses de l'API X (estimation)"},
    "x_api_spend_note": {
        "en": "Resources X bills at pay-per-use prices, each once per UTC day, over the period's days; "
        "the Developer Console is the reference (docs/cost.md).",
        "fr": "Ressources facturées par X au prix du paiement à l'usage, chacune une fois par jour UTC, sur les "
        "jours de la période ; la console développeur fait foi (docs/cost.md).",
    },
    "billed_resources": {"en": "Billed resources", "fr": "Ressources facturées"},
    "spend_dollars": {"en": "Spend ($)", "fr": "Dépense ($)"},
    "answered_questions": {"en": "Answered questions", "fr": "Questions répondues"},
    "spend_per_answered": {"en": "$ per answered question", "fr": "$ par question répondue"},
    "methodology": {"en": "Methodology", "fr": "Méthodologie"},
    "questions": {"en": "Questions", "fr": "Questions"},
    "waits": {"en": "Waits opened", "fr": "Attentes ouvertes"},
    "response_rate": {"en": "Response rate", "fr": "Taux de réponse"},
    "median_first": {"en": "Median first response", "fr": "1re réponse médiane"},
    "p90_first": {"en": "P90 first response", "fr": "1re réponse P90"},
    "within_sla": {"en": "Within SLA", "fr": "Dans le SLA"},
    "breaches": {"en": "Breaches", "fr": "Dépassements"},
    "brand": {"en": "Brand", "fr": "Marque"},
    "channel": {"en": "Channel", "fr": "Canal"},
    "account": {"en": "Account", "fr": "Compte"},
    "total": {"en": "Total", "fr": "Total"},
    "customer": {"en": "Customer", "fr": "Client"},
    "asked": {"en": "Asked", "fr": "Posée le"},
    "waited": {"en": "Waited", "fr": "Attente"},
    "business_time": {"en": "Business time", "fr": "Heures ouvrées"},
    "target": {"en": "Target", "fr": "Objectif"},
    "outcome": {"en": "Outcome", "fr": "Issue"},
    "link": {"en": "Link", "fr": "Lien"},
    "open": {"en": "open", "fr": "ouvrir"},
    "unanswered": {"en": "Unanswered", "fr": "Sans réponse"},
    "unanswered_past_target": {"en": "Unanswered", "fr": "Sans réponse"},
    "waiting": {"en": "Waiting, on time", "fr": "En attente, dans les temps"},
    "answered_late": {"en": "Answered late", "fr": "Réponse tardive"},
    "answered_in_time": {"en": "Answered in time", "fr": "Réponse dans les temps"},
    "no_data": {"en": "No data for this period", "fr": "Aucune donnée sur la période"},
    "no_waits": {"en": "No question was asked in this period.", "fr": "Aucune question sur la période."},
    "waits_axis": {"en": "Waits opened", "fr": "Attentes ouvertes"},
    "sla_axis": {"en": "Within SLA", "fr": "Dans le SLA"},
    "first_responses_axis": {"en": "First responses", "fr": "Premières réponses"},
    "previous_period": {"en": "previous period", "fr": "période précédente"},
    "vs_previous": {"en": "vs previous period", "fr": "vs période précédente"},
    "changes_against": {"en": "Changes against", "fr": "Évolutions par rapport à"},
    "page": {"en": "Page", "fr": "Page"},
    "of": {"en": "of", "fr": "sur"},
    "public": {"en": "public", "fr": "public"},
    "private": {"en": "private", "fr": "privé"},
    "first": {"en": "first", "fr": "première"},
    "next": {"en": "next", "fr": "suivante"},
    "policy": {"en": "Policy", "fr": "Politique"},
    "policy_targets": {
        "en": "targets: public {public_first} (first) / {public_next} (next), private {private_first} / {private_next}",
        "fr": "objectifs : public {public_first} (première) / {public_next} (suivante), privé {private_first} / "
        "{private_next}",
    },
    "policy_calendar": {"en": "business hours {timezone}: {hours}", "fr": "heures ouvrées {timezone} : {hours}"},
    "policy_holidays": {"en": "public holidays {holidays}", "fr": "jours fériés {holidays}"},
    "policy_sla_all_hours": {"en": "the SLA counts every hour", "fr": "le SLA compte toutes les heures"},
    "always_open": {
        "en": "no calendar: every hour counts, wall time",
        "fr": "sans calendrier : toutes les heures comptent, en temps écoulé",
    },
    "encrypted_note": {
        "en": "<b>Encrypted chats.</b> {waits} waits were opened by encrypted chats (XChat): the platform "
        "gives their sender and time, not their text, so each one counts as a question.",
        "fr": "<b>Messages chiffrés.</b> {waits} attentes ont été ouvertes par des messages chiffrés (XChat) : "
        "la plateforme en donne l'expéditeur et l'heure, pas le texte ; chacun compte comme une question.",
    },
    "no_previous": {
        "en": "No data in the previous period ({period}): no changes shown.",
        "fr": "Aucune donnée sur la période précédente ({period}) : pas d'évolution affichée.",
    },
    "peers": {"en": "You and your peers", "fr": "Vous et vos concurrents"},
    "peers_intro": {
        "en": "Public questions on X in the period, as of the same instant, with the same rules: each brand's "
        "own (mentions of it and replies to its posts) beside its competitors' (see the methodology).",
        "fr": "Questions publiques sur X pendant la période, arrêtées au même instant, avec les mêmes règles : "
        "celles de chaque marque (mentions et réponses à ses publications) à côté de celles de ses concurrents "
        "(voir la méthodologie).",
    },
    "peers_own": {"en": "its public questions on X", "fr": "ses questions publiques sur X"},
    "within_target": {"en": "Within target", "fr": "Dans l'objectif"},
    "posts_read": {"en": "Posts read", "fr": "Posts lus"},
    "peer_read_from": {"en": "read from {date}", "fr": "lu depuis le {date}"},
    "peer_not_read": {"en": "not read yet", "fr": "pas encore lu"},
    "peer_budget_day": {"en": "daily budget reached on 1 day", "fr": "budget quotidien atteint 1 jour"},
    "peer_budget_days": {
        "en": "daily budget reached on {days} days",
        "fr": "budget quotidien atteint {days} jours",
    },
    "by_agent": {"en": "Who answered: by team and agent", "fr": "Qui a répondu : par équipe et par agent"},
    "team": {"en": "Team", "fr": "Équipe"},
    "agent": {"en": "Agent", "fr": "Agent"},
    "answers": {"en": "Answers", "fr": "Réponses"},
    "median_response": {"en": "Median response", "fr": "Réponse médiane"},
    "p90_response": {"en": "P90 response", "fr": "Réponse P90"},
    "no_team": {"en": "(no team)", "fr": "(sans équipe)"},
    "unsigned": {"en": "Unsigned replies", "fr": "Réponses non signées"},
    "no_answers": {
        "en": "No question of this period was answered.",
        "fr": "Aucune question de la période n'a eu de réponse.",
    },
    "more_agents": {"en": "more agents: see the CSV or JSON", "fr": "autres agents : voir le CSV ou le JSON"},
    "agents_note": {
        "en": "The questions of the period that each team's and agent's replies answered (first and next "
        "waits), their response times and the share answered by the deadline. An agent is told by the "
        "signature ending a reply (^JD, -Bettina); a team by the roster.",
        "fr": "Les questions de la période auxquelles les réponses de chaque équipe et de chaque agent ont "
        "répondu (premières et suivantes), leurs délais et la part donnée avant l'échéance. L'agent se lit "
        "à la signature qui termine la réponse (^JD, -Bettina) ; l'équipe, dans l'annuaire.",
    },
    "slack_more": {
        "en": "Full report attached to the email / in the reports directory.",
        "fr": "Rapport complet joint au courriel / dans le répertoire des rapports.",
    },
}

_METHOD: dict[Language, list[str]] = {
    "en": [
        (
            "<b>Question.</b> An inbound message that needs a reply. In private conversations (X and "
            "Instagram direct messages, Messenger) every inbound message is one, except a bare thank-you right "
            "after a brand reply. In public (mentions, replies, comments, visitor posts) questions, requests "
            "and complaints count, in French and English; praise, retweets and the brand's own posts do not."
        ),
        (
            "<b>Wait.</b> Opens at the earliest unanswered question of a thread (later questions join it) and "
            "closes at the brand's first reply in that thread. Replies marked automatic (away messages, "
            "instant replies) do not close a wait. A thread's first wait gives the <i>first response</i> "
            "time; later ones are <i>next</i> waits, with their own target."
        ),
        (
            "<b>Which waits.</b> Those opened during the period, counted as of the instant stated at the top: "
            "a wait answered after it counts as unanswered. <i>Questions</i> are the inbound questions of those "
            "waits. The <i>response rate</i> is the share of waits answered, first and next alike. Response times "
            "(median, P90) are those of the answered first waits. The previous period is the same length just "
            "before (the previous week or calendar month)."
        ),
        (
            "<b>SLA.</b> Each wait has a target set by the account's policy (per channel, public or private, "
            "first or next, with priority rules). It is <i>within SLA</i> if answered by its deadline and "
            "<i>breached</i> once the deadline passes without a reply, answered later or not at all. The share "
            "within SLA is answered in time ÷ (answered in time + breached): a question still unanswered past "
            "its deadline counts against it; one still before its deadline is left out until its outcome is "
            "known. Breaches are counted by the hour the question was asked."
        ),
        (
            "<b>Agents.</b> A wait is the agent's whose reply closed it: the signature at the end of the "
            "reply (^JD, ^Jen, -Bettina, –Jeh, /AB, or the policy's own rules), named and given a team by "
            "the roster. Unsigned replies are counted apart; a question nobody answered is nobody's. "
            "Replies by an app marked automatic (a bot) close no wait, so they count for no one."
        ),
        (
            "<b>Changes.</b> Counts and times change in percent; shares in percentage points (pts). A change "
            "shown in green is an improvement."
        ),
    ],
    "fr": [
        (
            "<b>Question.</b> Un message entrant qui appelle une réponse. En conversation privée (messages "
            "directs X et Instagram, Messenger), tout message entrant en est une, sauf un simple remerciement "
            "juste après une réponse de la marque. En public (mentions, réponses, commentaires, publications "
            "de visiteurs), les questions, demandes et réclamations comptent, en français et en anglais ; pas "
            "les compliments, les retweets ni les publications de la marque."
        ),
        (
            "<b>Attente.</b> Elle s'ouvre à la plus ancienne question sans réponse d'un fil (les questions "
            "suivantes s'y ajoutent) et se ferme à la première réponse de la marque dans ce fil. Les réponses "
            "automatiques configurées (absence, réponse instantanée) ne la ferment pas. La première attente "
            "d'un fil donne le délai de <i>première réponse</i> ; les suivantes ont leur propre objectif."
        ),
        (
            "<b>Attentes comptées.</b> Celles ouvertes pendant la période, arrêtées à l'instant indiqué en tête : "
            "une attente traitée après cet instant compte comme sans réponse. Les <i>questions</i> sont les "
            "messages entrants de ces attentes. Le <i>taux de réponse</i> est la part des attentes traitées, "
            "premières et suivantes. Les délais (médiane, P90) sont ceux des premières attentes traitées. La "
            "période précédente a la même durée, juste avant (semaine ou mois civil précédent)."
        ),
        (
            "<b>SLA.</b> Chaque attente a un objectif fixé par la politique du compte (par canal, public ou "
            "privé, première ou suivante, avec règles de priorité). Elle est <i>dans le SLA</i> si la réponse "
            "arrive avant l'échéance, et en <i>dépassement</i> dès que l'échéance passe sans réponse, traitée "
            "plus tard ou jamais. La part dans le SLA vaut traitées à temps ÷ (traitées à temps + dépassements) : "
            "une question encore sans réponse après son échéance compte contre elle ; une question encore avant "
            "son échéance est écartée tant que son issue n'est pas connue. Les dépassements sont comptés selon "
            "l'heure de la question."
        ),
        (
            "<b>Agents.</b> Une attente est à l'agent dont la réponse l'a fermée : la signature qui termine la "
            "réponse (^JD, ^Jen, -Bettina, –Jeh, /AB, ou les règles de la politique), nommé et rattaché à une "
            "équipe par l'annuaire. Les réponses non signées sont comptées à part ; une question restée sans "
            "réponse n'est à personne. Les réponses d'une application marquée automatique (un robot) ne "
            "ferment pas d'attente : elles ne comptent pour personne."
        ),
        (
            "<b>Évolutions.</b> Volumes et délais varient en pourcentage ; les parts en points (pts). Une "
            "évolution en vert est une amélioration."
        ),
    ],
}

_PEER_METHOD: dict[Language, str] = {
    "en": (
        "<b>You and your peers.</b> Each brand's public questions on X (mentions of it, replies to its "
        "posts) beside its competitors', over the same period, as of the same instant, with the same rules: "
        "the brand's question detection, threads, targets and calendar (its X account's policy), and the "
        "definitions above; <i>within target</i> is the share within the brand's targets. A competitor's "
        "questions and replies are read with X's recent search, which reaches 7 days back, within a daily "
        "budget of posts read (X bills each): a competitor is compared from 7 days before it was first read, "
        "and on a day its budget ran out, the rest of its posts are read on the next days. Direct messages "
        "and deleted posts are not seen, for the brand as for its competitors. Competitors on Facebook and "
        "Instagram are not compared: their public content needs a special Meta permission."
    ),
    "fr": (
        "<b>Vous et vos concurrents.</b> Les questions publiques posées à chaque marque sur X (mentions, "
        "réponses à ses publications) à côté de celles posées à ses concurrents, sur la même période, "
        "arrêtées au même instant, avec les mêmes règles : détection des questions, fils, objectifs et "
        "calendrier de la marque (la politique de son compte X), et les définitions ci-dessus ; <i>dans "
        "l'objectif</i> est la part traitée dans les objectifs de la marque. Les questions et réponses d'un "
        "concurrent sont lues par la recherche récente de X, qui remonte 7 jours, dans un budget quotidien de "
        "posts lus (X facture chacun) : un concurrent est comparé à partir de 7 jours avant sa première "
        "lecture, et un jour où son budget est épuisé, le reste de ses posts est lu les jours suivants. Les "
        "messages privés et les posts supprimés ne sont pas vus, pour la marque comme pour ses concurrents. "
        "Les concurrents sur Facebook et Instagram ne sont pas comparés : leur contenu public demande une "
        "autorisation spéciale de Meta."
    ),
}

# Why the question that opened a wait needs a reply (the rule's name in monitor/domain/questions.py,
# or `corrected` by a person); a rule not listed here is shown by its name.
_REASONS: dict[str, dict[Language, str]] = {
    "question_mark": {"en": "question (?)", "fr": "question (?)"},
    "question": {"en": "question", "fr": "question"},
    "complaint": {"en": "complaint or request", "fr": "réclamation ou demande"},
    "unhappy_emoji": {"en": "unhappy emoji", "fr": "emoji mécontent"},
    "first_person_report": {"en": "problem reported", "fr": "problème signalé"},
    "reply_to_brand": {"en": "reply to the brand", "fr": "réponse à la marque"},
    "private": {"en": "private message", "fr": "message privé"},
    "pattern:extra": {"en": "policy pattern", "fr": "motif de la politique"},
    "corrected": {"en": "corrected by a person", "fr": "corrigé à la main"},
    "encrypted": {"en": "encrypted chat (no text)", "fr": "message chiffré (sans texte)"},
}

_MONTHS: dict[Language, list[str]] = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
}
_SHORT_MONTHS: dict[Language, list[str]] = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "fr": ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
}
_DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""The weekdays as a calendar's `hours` names them (monitor/config.py)."""
_WEEKDAYS: dict[Language, list[str]] = {
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "fr": ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."],
}


class Words:
    """The words and formats of one language."""

    def __init__(self, language: Language) -> None:
        self.language: Language = language

    def __call__(self, key: str) -> str:
        return self.typeset(_STRINGS[key][self.language])

    def typeset(self, text: str) -> str:
        """`text` with this language's spacing around punctuation."""
        return french_spacing(text) if self.language == "fr" else text

    def methodology(self) -> list[str]:
        """Paragraphs with <b>/<i> markup only."""
        return [self.typeset(p) for p in _METHOD[self.language]]

    def peer_methodology(self) -> str:
        """The method of "You and your peers" (docs/peers.md), <b>/<i> markup only."""
        return self.typeset(_PEER_METHOD[self.language])

    def weekdays(self) -> list[str]:
        return list(_WEEKDAYS[self.language])

    # --- numbers ------------------------------------------------------------------------------

    def integer(self, n: int) -> str:
        text = f"{abs(n):,}"
        text = text.replace(",", NNBSP) if self.language == "fr" else text
        return (MINUS if n < 0 else "") + text

    def decimal(self, x: float, digits: int = 1) -> str:
        text = f"{abs(x):,.{digits}f}"
        if self.language == "fr":
            text = text.replace(",", NNBSP).replace(".", ",")
        return (MINUS if x < 0 and round(abs(x), digits) != 0 else "") + text

    def percent(self, share: float | None, digits: int = 1) -> str:
        if share is None:
            return "–"
        value = self.decimal(100 * share, digits)
        return f"{value}{NNBSP}%" if self.language == "fr" else f"{value}%"

    def duration(self, seconds: float | None) -> str:
        """45 s, 12 min, 1 h 05 (en: 1h 05m), 2 j 3 h (en: 2d 3h)."""
        if seconds is None:
            return "–"
        s = round(seconds)
        fr = self.language == "fr"
        if s < 60:
            return f"{s}{NNBSP}s"
        if s < 3600:
            return f"{s // 60}{NNBSP}min"
        if s < 86400:
            h, m = divmod(s // 60, 60)
            return f"{h}{NNBSP}h{NNBSP}{m:02d}" if fr else f"{h}h{NBSP}{m:02d}m"
        d, h = divmod(s // 3600, 24)
        return f"{d}{NNBSP}j{NNBSP}{h}{NNBSP}h" if fr else f"{d}d{NBSP}{h}h"

    def round_duration(self, seconds: float) -> str:
        """A round duration for axis labels: 5 min, 1 h, 1 d (fr: 1 j)."""
        s = int(seconds)
        if s % 86400 == 0:
            return f"{s // 86400}{NNBSP}{'j' if self.language == 'fr' else 'd'}"
        if s % 3600 == 0:
            return f"{s // 3600}{NNBSP}h"
        if s % 60 == 0:
            return f"{s // 60}{NNBSP}min"
        return f"{s}{NNBSP}s"

    def bucket(self, lower: float, upper: float | None) -> str:
        """< 5 min, 5–15 min, 30 min–1 h, > 1 d."""
        if upper is None:
            return f"> {self.round_duration(lower)}"
        if lower == 0:
            return f"< {self.round_duration(upper)}"
        low, high = self.round_duration(lower), self.round_duration(upper)
        low_n, _, low_unit = low.partition(NNBSP)
        high_n, _, high_unit = high.partition(NNBSP)
        if low_unit == high_unit:
            return f"{low_n}–{high_n}{NNBSP}{high_unit}"
        return f"{low}–{high}"

    # --- changes against the previous period -----------------------------------------------------

    def relative_change(self, now: float | None, before: float | None) -> str:
        """+12 % / −3 %; "" when there is nothing to compare with (nothing is said)."""
        if now is None or before is None or before == 0:
            return ""
        change = (now - before) / before
        sign = "+" if round(100 * change) > 0 else ""
        return sign + self.percent(change, 0)

    def points_change(self, now: float | None, before: float | None) -> str:
        """+1.5 pts / −0.3 pts; "" when there is nothing to compare with."""
        if now is None or before is None:
            return ""
        change = 100 * (now - before)
        sign = "+" if round(change, 1) > 0 else ""
        return f"{sign}{self.decimal(change, 1)}{NNBSP}pts"

    # --- dates ----------------------------------------------------------------------------------

    def day(self, d: date, *, year: bool = True) -> str:
        month = _MONTHS[self.language][d.month - 1]
        if self.language == "fr":
            text = f"{'1er' if d.day == 1 else d.day} {month}"
        else:
            text = f"{d.day} {month}"
        return f"{text} {d.year}" if year else text

    def short_day(self, d: date) -> str:
        """`2 Mar` / `2 mars`: the month named, which no reader takes for another day."""
        return f"{d.day}{NBSP}{_SHORT_MONTHS[self.language][d.month - 1]}"

    def period(self, p: Period) -> str:
        """`1–7 June 2026`, `March 2026`, `30 March – 5 April 2026`."""
        first, last = p.first_day, p.last_day
        if p.kind == "month":
            return f"{_MONTHS[self.language][first.month - 1]} {first.year}"
        if first == last:
            return self.day(first)
        if first.year != last.year:
            return f"{self.day(first)} – {self.day(last)}"
        if first.month != last.month:
            return f"{self.day(first, year=False)} – {self.day(last)}"
        start = "1er" if self.language == "fr" and first.day == 1 else str(first.day)
        return f"{start}–{self.day(last)}"

    def instant(self, at: datetime, timezone: str) -> str:
        local = at.astimezone(ZoneInfo(timezone))
        if self.language == "fr":
            return f"{self.day(local.date())} à {local:%H:%M} ({timezone})"
        return f"{self.day(local.date())} at {local:%H:%M} ({timezone})"

    def timestamp(self, at: datetime, timezone: str) -> str:
        """Compact local date and time for tables: `5 Dec 06:01` / `5 déc. 06:01`."""
        local = at.astimezone(ZoneInfo(timezone))
        return f"{self.short_day(local.date())} {local:%H:%M}"

    def weekly_hours(self, hours: dict[str, list[str]]) -> str:
        """`Mon–Fri 09:00–18:00, Sat 10:00–12:00`: days with the same periods grouped."""
        days = [d for d in _DAY_KEYS if hours.get(d)]
        groups: list[list[str]] = []
        for d in days:
            previous = groups[-1][-1] if groups else None
            if (
                previous is not None
                and hours[previous] == hours[d]
                and _DAY_KEYS.index(d) == _DAY_KEYS.index(previous) + 1
            ):
                groups[-1].append(d)
            else:
                groups.append([d])
        names = dict(zip(_DAY_KEYS, _WEEKDAYS[self.language], strict=True))
        out = []
        for g in groups:
            span = names[g[0]] if len(g) == 1 else f"{names[g[0]]}–{names[g[-1]]}"
            periods = " ".join(p.replace("-", "–") for p in hours[g[0]])
            out.append(f"{span} {periods}")
        return ", ".join(out)

    def reason(self, reason: str | None) -> str:
        """Why a question needs a reply, in words ("" when unknown)."""
        if not reason:
            return ""
        words = _REASONS.get(reason)
        return words[self.language] if words else reason.replace("_", " ")

    def channel(self, channel: str | None) -> str:
        """A channel's name, the same in every language (X, Facebook, Instagram)."""
        return CHANNEL_NAMES.get(channel or "", channel or "")
