"""The built-in rules' word lists (data): the French and English words and phrases each cue is
made of, as regex sources read against normalised text (lower case, no accents, no apostrophes;
see `normalise`), and the emoji that set a tone. `decision` compiles them."""

from __future__ import annotations

# SMS spellings and contractions, read as the words they stand for.
SMS = {
    "pk": "pourquoi",
    "pq": "pourquoi",
    "pkoi": "pourquoi",
    "pourkoi": "pourquoi",
    "prk": "pourquoi",
    "tjrs": "toujours",
    "tjs": "toujours",
    "tjr": "toujours",
    "qqn": "quelqu un",
    "qq1": "quelqu un",
    "qlq1": "quelqu un",
    "kelkun": "quelqu un",
    "cmt": "comment",
    "cmnt": "comment",
    "koi": "quoi",
    "jai": "j ai",
    "g": "j ai",
    "pa": "pas",
    "rep": "reponse",
    "bcp": "beaucoup",
    "jsp": "je sais pas",
    "chui": "je suis",
    "chuis": "je suis",
    "dispo": "disponible",
    "auj": "aujourd hui",
    "ajd": "aujourd hui",
    "mm": "meme",
    "pr": "pour",
    "ms": "mais",
    "tt": "tout",
    "u": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "plse": "please",
    "thx": "thanks",
    "thnx": "thanks",
    "thanx": "thanks",
    "tks": "thanks",
    "ty": "thanks",
    "idk": "i don t know",
    "im": "i m",
    "ive": "i ve",
    "cant": "can t",
    "dont": "don t",
    "doesnt": "doesn t",
    "didnt": "didn t",
    "isnt": "isn t",
    "wont": "won t",
    "havent": "haven t",
    "hasnt": "hasn t",
    "wasnt": "wasn t",
    "arent": "aren t",
    "whats": "what s",
    "wheres": "where s",
    "hows": "how s",
    "whos": "who s",
    "yall": "y all",
    "ppl": "people",
    "msg": "message",
    "acc": "account",
}

_NOT = r"(?:n t| not)"  # "doesn't" -> "doesn t"; "does not"
_TIME_UNIT = r"(?:min\w*|h|hr?s?|heures?|hours?|jours?|days?|semaines?|weeks?|mois|months?)"
_NUM = r"(?:\d+|un|une|deux|trois|quatre|cinq|plusieurs|des|a|an|two|three|four|five|six|several|many|over)"

# Phrases that look like complaints but are not: removed before judging.
NEUTRAL = (
    # "pas de souci(s) pour le retard" (up to the next comma, stopping at "mais"/"but")
    (
        r"(?:pas de|pas d|aucun|aucune|sans|jamais eu (?:de|d|le moindre|aucun)|jamais de|"
        r"no|not an?|never had (?:an?|any)|never (?:an?|any)|without (?:an?|any)|zero|0) "
        r"(?:souci|soucis|probleme|problemes|pb|pbs|panne|pannes|retard|retards|bug|bugs|"
        r"worries|worry|problem|problems|issue|issues|complaints?|delays?|stress)"
        r"(?: (?:pour|avec|with|about|for) (?:(?!mais\b|but\b)[^,.;!?])*)?"
    ),
    (
        r"(?:probleme|souci|pb|bug|panne|problem|issue|issues|bug) "
        r"(?:regle|resolu|corrige|repare|fixed|solved|resolved|sorted)(?: itself)?"
    ),
    r"(?:c est|tout est|all|everything|it s|its) (?:regle|resolu|good|sorted|fixed|working)",
    (
        r"(?:regle|resolu|fixed|solved|sorted|resolved) (?:le|mon|ce|the|my|this|that) "
        r"(?:probleme|souci|problem|issue)"
    ),
    r"(?:that|this|which|it) (?:fixed|solved|sorted) (?:it|mine)(?: for me)?",
    (
        r"rien a (?:dire|redire|signaler)|nothing to complain about|can t complain|"
        r"no complaints|working again|fonctionne de nouveau|remarche|marche de nouveau|"
        r"never (?:disappoint|disappoints|fail|fails|lets? me down)|"
        r"jamais decu|jamais decue|jamais decus|never late|toujours a l heure"
    ),
    # praise and courtesy built on a negation
    (
        r"(?:ne |n )?(?:regrette|regrettez|regretterez|hesite|hesitez|hesitera|change|changez|"
        r"decoit|decevez|decoivent|lasse|lassez) (?:\w+ )?(?:pas|rien|jamais)|"
        r"(?:je |j )?(?:n en )?(?:reviens|reviens toujours) pas|pas mal|pas cher|pas chere|"
        r"pas peu fiere?|pas de regrets?|sans regrets?|(?:je ne suis |je suis |ne suis )?pas decue?s?|"
        r"(?:ne |n )?(?:m en|vous en|s en) lasse\w* (?:pas|jamais)|rien a jeter"
    ),
    (
        r"can t (?:wait|stop|get enough|fault|complain|recommend|thank|believe how|praise|rate|"
        r"beat|say enough|go wrong|ask for)|couldn t (?:be happier|do enough|ask for|fault|"
        r"recommend|have asked|be more|wait|stop|believe how)|won t (?:regret|be disappointed|"
        r"find better|go anywhere)|wouldn t (?:go anywhere|change|trade)|"
        r"never (?:been happier|change|changes|regret|regretted|disappoint\w*|lets? (?:me|us) down)|"
        r"not (?:gonna|going to) lie|not bad|not too bad|not only|don t (?:change|miss|stop|"
        r"hesitate)|didn t disappoint|doesn t disappoint|no regrets?|nothing but (?:praise|love)"
    ),
)

# Complaints, by family (the family names the decision's reason: `complaint:<family>`). French
# then English in each family. Keep each entry general: a word or a short construction.
COMPLAINTS: dict[str, list[str]] = {
    # no answer, no news, still waiting
    "waiting": [
        r"toujours (?:pas|rien|aucun|aucune|en attente|sans|bloque\w*|le meme|pareil)",
        (
            r"(?:aucune?|pas de|pas d|sans|zero|0|plus de|plus d) "
            r"(?:reponse|reponses|nouvelles?|info|infos|information|informations|retour|suivi|"
            r"solution|explication|remboursement|colis|livraison|geste|contact|service|rappel)"
        ),
        r"(?:jamais|pas|rien|toujours pas|toujours rien) (?:eu de reponse|eu de nouvelles|eu de retour|eu de rappel)",
        r"personne (?:ne |n )?(?:repond|decroche|sait|rappelle|m a|ne m|n a|pour)",
        r"j attends|on attend|j attend|nous attendons|en attente|attendre encore|"
        r"(?:ca|cela) fait " + _NUM + r" " + _TIME_UNIT,
        r"sans (?:aucune )?(?:reponse|nouvelles|raison|prevenir|explication|suite)",
        r"pas un (?:mot|verre|geste|message|mail|appel|sms|sou)",
        r"personne (?:ne|n)|silence radio|injoignable",
        (
            r"(?:dans l |en )?attente (?:d une |d un |de |d |du )?(?:votre |vos |ma |mon |mes |la |le |une |un )?"
            r"(?:reponse|reponses|retour|rappel|remboursement|nouvelles|technicien|solution|suite|confirmation|"
            r"intervention)"
        ),
        (
            r"still (?:waiting|no|nothing|not|haven t|hasn t|didn t|isn t|can t|cannot|don t|"
            r"doesn t|won t|seeing|getting|charging|broken|down|missing|unable|nobody|no one|"
            r"wrong|having|the same|charged)"
        ),
        (
            r"(?:no|zero|0|without) (?:reply|replies|response|responses|answer|answers|explanation|"
            r"update|updates|news|word|info|information|contact|callback|call back|help|sign|apology)"
        ),
        (
            r"(?:nobody|noone|no one|nobody s|no one s) (?:\w+ )?(?:answers|answer|answering|picks up|"
            r"replies|reply|replying|responds|responding|knows|helps|helping|cares|called|calls|"
            r"at the|has|is|seems|gets)"
        ),
        (
            r"(?:been|i m|i am|am|keep|still|was|were|spent|kept|we re|we are|they re) "
            r"(?:\w+ )?(?:waiting|chasing)|waiting (?:for|since|on|all|over|ages|forever|hours|days)"
        ),
        r"(?:it s|its|it has|it ve|has|have) been " + _NUM + r" (?:\w+ )?" + _TIME_UNIT,
        r"heard nothing|not heard back|nothing back|unreachable",
        (
            r"awaiting (?:a |an |your |my |the |any )?(?:response|responses|reply|replies|answer|callback|call back|"
            r"call|refund|technician|engineer|update|news|confirmation|feedback|resolution|decision)|still awaiting"
        ),
        r"(?:no|zero|0|without) (?:follow ?up|after ?sales|customer service|support)",
    ],
    # a service, an app or a device does not work
    "not_working": [
        (
            r"(?:aucune?|pas de|pas d|sans|zero|0|plus de|plus d) "
            r"(?:reseau|connexion|internet|signal|tele|tv|ligne|courant|electricite|wifi|telephone)"
        ),
        (
            r"(?:marche|marchent|fonctionne|fonctionnent|functionne|charge|s affiche|repond|repondez|"
            r"repondent|passe|s ouvre|ouvre|demarre|connecte|synchronise|veut) "
            r"(?:pas|plus|toujours pas|jamais|rien)"
        ),
        r"(?:n arrive|arrive|n arrivons|arrivons|parviens|parvient) (?:pas|plus)",
        r"impossible",
        r"plante|plantee|plantage|plantages|crash\w*|bug\w*|beug\w*|bogue",
        (
            r"en panne|panne|pannes|coupure|coupures|coupe(?! du monde| de france| de cheveux)|"
            r"coupee|coupes|bloque|bloquee|bloques|bloquees|erreur|erreurs"
        ),
        r"(?:plus|pas) (?:d |de )?(?:internet|reseau|connexion|wifi|tele|tv|ligne|signal|acces|tonalite|son|image)",
        (
            r"surchauffe\w*|chauffe (?:beaucoup|trop|enormement|anormalement)|overheat\w*|"
            r"(?:gets|getting|runs|running) (?:really |very |so |too )?hot"
        ),
        (
            r"(?:ne |n )?(?:recois|recoit|recevons|recu|marche|peux|peut|pouvons|arrive|apparait|"
            r"apparaissent|trouve|vois|voit|affiche|s affiche|ouvre|s ouvre|passe|charge|repond|"
            r"s allume|allume|demarre|fonctionne|accede|accepte|valide|prend|detecte|reconnait|"
            r"connecte|synchronise|telecharge|envoie|lance|se lance|imprime) "
            r"(?:pas|plus|jamais|rien|nulle part|toujours pas)"
        ),
        (
            r"hs|hors service|hors d usage|inaccessible|indisponible|en rade|"
            r"trop lent|tres lent|super lent|rame|ralenti|tourne dans le vide"
        ),
        r"(?:mot de passe|mdp|identifiant|code) (?:oublie|perdu|bloque|refuse)",
        (
            r"redemarre|s eteint|se deconnecte|se ferme|invalide|refuse|refusee|refuses|refusees|pas valide|"
            r"non valide|non reconnue?|coup(?:ait|aient|ent|ures?|ee|ees)|"
            r"toujours (?:indique|affiche|marque|en cours|en preparation|bloque|rien)"
        ),
        (
            r"(?:plus )?rien ne (?:marche|marchent|fonctionne|fonctionnent|va|s affiche|charge|passe|s ouvre|"
            r"repond|s allume|demarre|s installe|se lance|bouge|se passe)|il ne se passe rien"
        ),
        r"cannot|(?:does|do|is|are|will|wo|did|ca|can|could|would|was)" + _NOT + r" (?:\w+ )?"
        r"(?:work|working|load|loading|open|opening|let|connect|sync|syncing|send|accept|log|"
        r"login|sign|access|find|get(?! enough| over| bored| tired)|pay|charge|show|showing|update|"
        r"go through|start|turn on|"
        r"respond|reply|answer|arrive|arrived|recognise|recognize)",
        (
            r"not (?:working|happy|ok|okay|good enough|acceptable|impressed|received|arrived|here|"
            r"delivered|fair|right|loading|showing|great|good)"
        ),
        (
            r"stopped (?:working|loading|syncing|responding|sending|charging)|keeps? (?:crashing|"
            r"failing|freezing|saying|logging|dropping|cutting|charging|asking|telling)"
        ),
        (
            r"broken|broke|outage|outages|offline|crash\w*|error|errors|bug|bugs|buggy|glitch\w*|"
            r"froze|freez\w*|frozen|lagging|faulty|defective|stuck|locked|blocked|"
            r"suspended|disconnect\w*|dropp(?:ed|ing)|unable|declined|rejected"
        ),
        r"(?:is|are|been|was|went|goes|still|keeps going|all|internet|wifi|site|app|network) down",
        r"(?:lock|block|freez|suspend|clos|cancel)(?:ed|ing|s|e|ed)? (?:my|me|our|out)",
        (
            r"(?:hasn t|haven t|didn t|has not|have not|did not) (?:\w+ )?(?:sent|send|updated|update|"
            r"shipped|processed|heard|worked|work|loaded|load|moved|changed)"
        ),
        (
            r"never (?:\w+ )?(?:works?|loads?|sends?|sent|answers?|replies|reply|responds?|calls? back|picks? up|"
            r"updates?)"
        ),
        (
            r"out of (?:order|service|sync)|unavailable|buffering|laggy|"
            r"(?:so|too|very|painfully|super|really|incredibly) slow|"
            r"forgot (?:my )?(?:password|login|pin|username)"
        ),
        r"(?:no|zero|0|without) (?:signal|service|internet|wifi|connection|power|access|dial tone)|raccroch\w*",
        (
            r"hang up|hung up|hangs up|hanging up|reboot\w*|restarts?|restarting|"
            r"keeps? (?!getting better|improving|impressing|surprising|delivering|going|coming back)"
            r"\w+ing|kept \w+ing|invalid|not valid|refused|(?:cut|cuts|cutting|kept cutting) (?:out|off)|"
            r"kept (?:crashing|failing|freezing|dropping|cutting|saying|asking)|still (?:says|shows|showing|"
            r"saying|stuck|pending|processing|out|on)"
        ),
        (
            r"nothing (?:\w+ )?(?:works|worked|is working|s working|loads|loaded|is loading|happens|happened|"
            r"helps|helped|changed|opens|shows|comes up)"
        ),
    ],
    # an order, a parcel, a trip: not received, late, lost, wrong
    "order": [
        (
            r"(?:jamais|pas|rien|toujours pas|toujours rien) "
            r"(?:recu|recue|recus|recues|arrive|arrivee|arrives|livre|livree|livres|rembourse|remboursee)"
        ),
        r"retard\w*|surbook\w*|laisse\w* a terre|rate (?:mon|ma|notre) \w+|annul\w*",
        (
            r"perdu|perdue|perdus|perdues|disparu\w*|manquant\w*|errone\w*|mauvaise? (?:taille|article|produit|"
            r"commande|adresse|couleur|colis|modele|pointure|piece)"
        ),
        r"avis de passage|pas sonne|jamais venue?s?|rupture|rien (?:dans|sur) (?:l|le|la|les|mon|ma|mes)",
        (
            r"(?:never|not|hasn t|haven t|didn t|wasn t|has not|have not|did not|was not|were not|"
            r"weren t) (?:\w+ )?(?:arrived|arrive|received|receive|came|come|showed up|turned up|"
            r"delivered|happened|got|refunded|responded|replied|answered|called|fixed|working)"
        ),
        r"(?:no|zero|0|without) (?:parcel|package|order|delivery)",
        r"never (?:\w+ )?(?:arrives?|arrived|comes?|came|shows? up|turns? up)",
        r"lost|stolen|wrong|cancel+ed|cancel+ation\w*|delayed|delay|delays|on hold",
        r"(?:threw|thrown|chucked|dumped|left) (?:my|the|our) (?:parcel|package|box|order|bag)",
        (
            r"(?:\d+ ?(?:min|mins|minutes|hours?|hrs?|h|days?) )late|(?:always|arrived|running|"
            r"is|was|so|again|very) late|late again|someone else s (?:order|parcel|package)|"
            r"(?:is|are|was|were|went|still|gone|item|items|parcel|package|box|"
            r"piece|part|parts|money|payment|refund) missing|missing (?:item|items|parcel|package|box|"
            r"piece|part|parts|money|payment|refund|drink|order|delivery|from)|out of stock"
        ),
    ],
    # charges, refunds, prices
    "billing": [
        (
            r"debit\w* (?:deux|2|3|trois|plusieurs) fois|factur\w* (?:deux|2|3|trois|plusieurs) fois|"
            r"preleve\w*|prelevement\w*|surfactur\w*|remboursement|rembourse(?:z|r)"
        ),
        r"factur\w* (?:alors|deux|sans|a tort|en trop|encore)|abusi\w*|exorbitant\w*",
        r"(?:no|zero|0|without) refund|overcharged|double charged|charged (?:me|twice|for|again|a|us|my)|refund\w*",
        (
            r"(?:bill|price|charge|charges|fee|fees) (?:doubled|went up|increased|tripled)|overpriced|extortionate|"
            r"(?:costs?|prices?|fees?|charges?|shipping|delivery) (?:is|are) (?:insane|ridiculous|"
            r"extortionate|crazy|too high|daylight robbery)|billed (?:us|me|twice|for|again|my)"
        ),
    ],
    # a damaged or spoilt product
    "damaged": [
        r"casse|cassee|casses|cassees|abime\w*|ecrase\w*|endommage\w*|defectueu\w*",
        (
            r"degueu\w*|crade|crado|insalubre|"
            r"(?:arrive\w*|livre\w*|plat|repas|commande|pizza|totalement|completement|est|etait) "
            r"froide?s?|allerg\w*"
        ),
        (
            r"raye\w*|rayure\w*|plie|pliee|plies|pliees|fendu\w*|fissure\w*|troue\w*|dechire\w*|tache|tachee|"
            r"moisi\w*|perime\w*|fuite\w*"
        ),
        (
            r"damaged|smashed|filthy|dirty|gross|allerg\w*|"
            r"(?:stone|arrived|was|were|been|is|are|came|totally|completely) cold"
        ),
        r"scratch\w*|cracked|torn|ripped|stained|mouldy|moldy|expired|leak\w*|dented|bent",
    ],
    # scams, phishing, hacked accounts, impersonation, payments the customer did not make
    "fraud": [
        (
            r"arnaque\w*|voleur\w*|escroc\w*|escroquerie\w*|fraude\w*|frauduleu\w*|phishing|hameconn\w*|"
            r"usurp\w*|piratage|(?:ete|fait|faire|s est fait) pirate\w*|compte pirate\w*"
        ),
        (
            r"(?:faux|fausse|fausses) (?:compte|comptes|profil|profils|site|sites|page|pages|mail|mails|sms|"
            r"message|messages|conseiller|conseillers|numero|concours|jeu concours|service client|annonce|"
            r"application|appli|livreur)"
        ),
        (
            r"(?:sms|mail|email|e mail|message|appel|lien|site|courriel) (?:\w+ )?(?:suspect|suspects|louche|"
            r"bizarre|frauduleu\w*)"
        ),
        r"se (?:fait|faisant) passer pour (?:vous|votre|un conseiller|un agent|la banque)",
        (
            r"(?:operations?|paiements?|achats?|prelevements?|virements?|transactions?|retraits?|commandes?) "
            r"(?:que je n ai|que j ai|qu on n a) (?:jamais|pas) (?:fait|faite|faites|faits|effectue\w*|"
            r"autorise\w*|commande\w*|demande\w*|valide\w*)|non autorise\w*|"
            r"je n ai (?:jamais|pas) (?:fait|effectue|autorise|valide) (?:ce|cette|ces|cet) "
            r"(?:paiements?|achats?|virements?|prelevements?|operations?|transactions?|retraits?)"
        ),
        r"(?:compte|carte|donnees|mot de passe|identifiants?) (?:\w+ ){0,3}compromis\w*",
        (
            r"scam\w*|rip ?off|fraud\w*|hacked|hacker|hackers|hacking|spoof\w*|impersonat\w*|"
            r"pretend\w* to be (?:you|your|from)|claiming to be (?:you|from)"
        ),
        (
            r"fake (?:\w+ )?(?:account|accounts|page|pages|profile|profiles|site|website|websites|email|emails|e mail|"
            r"mail|text|texts|sms|message|messages|call|calls|number|app|giveaway|support|agent|agents|"
            r"customer service|listing|seller)"
        ),
        (
            r"suspicious (?:email|emails|e mail|text|texts|sms|link|links|call|calls|message|messages|"
            r"transaction|transactions|payment|payments|login|logins|activity|charge|charges)"
        ),
        (
            r"unauthori[sz]ed|(?:never|didn t|did not) (?:make|made|authori[sz]e\w*|approve\w*) "
            r"(?:this|that|these|those|the|any) (?:payments?|purchases?|transactions?|transfers?|charges?|"
            r"withdrawals?)|"
            r"(?:account|card|data|details|password) (?:\w+ ){0,3}(?:compromised|breached)"
        ),
    ],
    # harassment, insults, threats, rude or aggressive staff
    "abuse": [
        (
            r"harcel\w*|menac\w*|insult\w*|agress\w*|racis\w*|homophob\w*|sexiste\w*|irrespectueu\w*|"
            r"impoli\w*|(?:parle|parlait|parler) comme (?:a )?(?:un chien|de la merde|un moins que rien)|"
            r"m a (?:mal parle|hurle dessus|crie dessus)"
        ),
        (
            r"harass\w*|abusive|threat\w*|aggressive\w*|bully\w*|intimidat\w*|verbally|sexist|rude|"
            r"(?:shouted|yelled|swore) at (?:me|us|my)|spoke to (?:me|us|my \w+) like"
        ),
    ],
    # anger, disappointment, contempt
    "unhappy": [
        (
            r"nul|nulle|nuls|nulles|inadmissible|inacceptable|scandal\w*|honteu\w*|honte|lamentable|"
            r"pitoyable|minable|catastroph\w*|cata|n importe quoi|une blague|"
            r"decu|decue|decus|decues|decevant\w*|deception|(?:pas|plus) content\w*|marre|"
            r"ras le bol|j en ai assez|insupportable|penible|inutile|bidon|bidons|galere\w*|"
            r"enerve\w*|furieu\w*|agace\w*|naze|pourri\w*|merci pour rien|a chier|"
            r"c est (?:pas|plus) normal|pas normal|inexistant\w*|incompetent\w*|honteusement"
        ),
        r"abuse\w*|mensong\w*|moque|moquez|foutez|se fout|degoute\w*|en colere|colere|furax|venere",
        (
            r"mal (?:recu|recue|accueilli\w*|parle|servi\w*|traite\w*|conseille\w*|emballe\w*|"
            r"livre\w*|pose\w*|installe\w*|fait|fini\w*|informe\w*)"
        ),
        r"mediateur|signalconso|ufc|porter plainte|plainte|avocat|resili\w*",
        (
            r"terrible|awful|horrible|appalling|shocking|pathetic|useless|worst|ridiculous|unacceptable|"
            r"disgraceful|disgusting|disgrace|shambles|disappoint\w*|fed up|sick of|tired of|furious|angry|"
            r"annoy\w*|frustrat\w*|wtf|smh|fail|failed|poor|rubbish|garbage|incompetent|nightmare|"
            r"hopeless|shameful|complain\w*|thanks for nothing|not impressed"
        ),
        r"(?:a|what a|is a|such a|absolute|total|complete) (?:joke|mess|farce)",
        r"dead(?<!i m dead)(?<!im dead)(?<!i am dead)(?! funny| good)",
        (
            r"ruined|gache|gachee|gaches|gachees|gutted|devastated|livid|fuming|raging|pissed|having a laugh|"
            r"taking the (?:piss|mick|mickey)|"
            r"i hate|hate (?:this|your|the|it|you)|promised (?:a|to|me|us|it)"
        ),
    ],
    # a problem named as such, or a situation to sort out
    "problem": [
        r"probleme|problemes|souci|soucis|pb|dysfonctionnement\w*",
        (
            r"(?:encore|toujours) (?:une|un|le meme|la meme) (?:fois|panne|coupure|bug|probleme|"
            r"retard|souci|erreur)"
        ),
        r"alors que|alors qu",
        (
            r"quand(?! (?:je|j|on|il|elle|ils|elles|vous|tu|nous|c est|ca|meme|le|la|les|l|un|une|mon|ma|"
            r"mes|ton|ta|votre|vos|notre|nos|des)\b)"
        ),
        (
            r"(?:\d+|deux|trois|quatre|cinq|\d+e|\d+eme|deuxieme|troisieme|quatrieme) fois que|"
            r"je fais quoi|on fait quoi|que faire|quoi faire|je cherche"
        ),
        r"problem|problems|issue|issues|trouble|even though",
        (
            r"(?:\d+(?:st|nd|rd|th)|second|third|fourth|fifth) time|"
            r"looking for (?:a|an|the|some) (?:contact|number|email|way|person|someone|help|info|"
            r"phone|address|manager)|what (?:do|should|can) (?:i|we) do"
        ),
    ],
}
COMPLAINT = [part for parts in COMPLAINTS.values() for part in parts]

# Requests.
REQUEST = [
    # --- French
    (
        r"(?:pouvez|pourriez|pourrais|pourrait|peux|peut|pouvais|voudriez|voulez|veuillez) "
        r"(?:vous|tu|on|t on|il|quelqu un)"
    ),
    r"(?:vous|tu) (?:pouvez|pourriez|peux|pourrais|voulez|voudriez) (?!etre\b)",
    r"(?:quelqu un|une personne|quelqu un de chez vous) (?:peut|pourrait|pour|serait)",
    r"moi(?<=\wez moi)(?! (?:aussi|non plus|meme)\b)|nous(?<=\wez nous)(?! (?:aussi|non plus|meme)\b)",
    (
        r"(?:aide|aidez|aider|rappelle|rappeler|contacte|contacter|repondre|rembourser|corriger|"
        r"verifier|regarder|traiter) (?:moi|nous|m|me|svp|stp|vite|rapidement|s il|au plus vite|"
        r"urgemment)"
    ),
    (
        r"merci (?:de|d) (?!(?:votre|vos|ta|ton|tes|la|le|les|l|cette|ce|ces|m avoir|nous avoir|"
        r"avoir|rien|tout|tous|toutes|etre|exister|partager|penser|faire rever)\b)\w+"
    ),
    (
        r"merci d avance|svp|stp|s il vous plait|s il te plait|sil vous plait|svpp+|urgent|urgence|"
        r"au secours|a l aide|a laide"
    ),
    (
        r"j aimerais|je voudrais|je souhaiterais|je souhaite|je voulais (?:savoir|demander)|"
        r"je veux (?:etre|parler|savoir|mon|ma|mes|un remboursement|une reponse|des explications|"
        r"annuler|resilier|comprendre|que|qu|juste|porter|reclamer|changer|retourner)|"
        r"j ai besoin|besoin d|besoin de|je cherche|je demande|j exige|nous voudrions"
    ),
    (
        r"(?:en|par|un|mon|envoye|envoyez|envoyer|ecrit|ecris|repondez|repondre) (?:un |en )?"
        r"(?:mp|dm|message prive)|(?:mp|dm) envoye"
    ),
    # --- English
    (
        r"please|pleeease|pleaseee|urgent|urgently|asap|sos|help(?<!the help)(?<!your help)"
        r"(?<!for help)(?<!ur help)(?<!some help)(?<!great help)(?<!quick help)(?! was| from you)"
    ),
    (
        r"(?:i|we) (?:need|needs|require|demand|expect) "
        r"(?:to|a|an|my|our|help|someone|some|an answer|answers|the|me|you|money)"
    ),
    (
        r"(?:i|we) (?:would like|d like|want|wanna) (?:to (?:cancel|speak|talk|know|complain|"
        r"return|change|close|get|be|report|request|make|ask|add|update|check|claim|dispute)|"
        r"my|our|a refund|an? (?:answer|refund|explanation|update)|help|someone|some help)"
    ),
    (
        r"need (?:help|to|someone|assistance|support|info|my|our)|need an? (?:\w+ )?(?:label|"
        r"refund|receipt|invoice|reply|answer|callback|replacement|engineer|technician|update)"
    ),
    (
        r"dm me|dm us|message me|call me|call us|email me|contact me|get back to me|"
        r"reach out to me|look into (?:this|it|my)|check (?:my|on|your|ur|dm|dms|inbox)|"
        r"check (?:this|it)(?! out)|tell me (?:how|why|what|where|when|if)|"
        r"(?:figure|work) out (?:how|why|where|what)|"
        r"sort (?:this|it|my) out|fix (?:this|it|my|the)|refund me|send me|let me know|advise|"
        r"escalate|sent (?:you )?(?:a|an) (?:dm|message|pm|email)|dmed you|dm d you|"
        r"inbox me|pm me|feature request|any (?:eta|update|updates|news|word)"
    ),
]

# Question cues other than "?".
QUESTION = [
    # --- French
    r"est ce (?:que|qu)",
    (
        r"(?:comment|cmt) (?:je|j|on|faire|fait|faites|puis|peut|peux|pouvez|dois|doit|faut|"
        r"vous|ca|cela|se fait|obtenir|changer|modifier|annuler|recuperer|contacter|acceder|"
        r"activer|installer|configurer|savoir|ils|il|elle|avoir|trouver|payer)"
    ),
    r"(?:je|on|j|nous) (?:fais|fait|faisons|dois|peux|peut|fait) comment",
    r"pourquoi|combien",
    (
        r"quand (?:est ce|est|sera|seront|allez|va|vais|pourrai|pourrais|pourrons|arrive|revient|"
        r"reviendra|ouvre|ouvrez|part|livrez|aurai|recevrai|vont|aurons|comptez|prevoyez)"
    ),
    (
        r"ou (?:en est|en sont|est|sont|se trouve|trouver|puis je|peut on|je peux|on peut|acheter|"
        r"faut il|dois je|je trouve|le trouver|la trouver|les trouver)"
    ),
    (
        r"(?:il|elle|c|je|on|ca|ils|elles|il en|j en) (?:est|sont|trouve|la trouve|le trouve|"
        r"les trouve|peux|dois|en est|passe|est passe|est passee|suis) ou"
    ),
    (
        r"quel(?:le)?s? (?:est|sont|sera|seront|delai|delais|horaire|horaires|tarif|tarifs|prix|"
        r"jour|heure|date|taille|modele|difference|solution|procedure|numero|adresse|frais|"
        r"conditions|moyen|demarche|demarches|offre|forfait|option)"
    ),
    (
        r"c est (?:quoi|quand|ou|combien|normal|possible|grave|pour quand|prevu|dispo|"
        r"disponible)"
    ),
    (
        r"y a t il|y a t|y aura t il|il y a (?:un )?moyen|y a (?:un )?moyen|est il possible|"
        r"serait il possible|possible d|possible de|est ce possible|possibilite de"
    ),
    (
        r"(?:avez|auriez|etes|faites|livrez|acceptez|proposez|prevoyez|vendez|comptez|pouvez|"
        r"ouvrez|expediez|envoyez|remboursez|prenez|faut|dois|puis|peut|sera|seront|est) "
        r"(?:vous|il|je|on|elle|ils|t il|t elle|t on)"
    ),
    (
        r"savoir (?:si|ou|comment|quand|pourquoi|combien|quel\w*|s il)|je (?:ne )?sais pas "
        r"(?:quoi|comment|si|ou|pourquoi|qui)|je me demande|une question|petite question|"
        r"des nouvelles (?:de|du|des) (?:ma|mon|mes|notre|nos)"
    ),
    r"quelqu un (?:sait|saurait|peut|pourrait|connait)",
    # --- English
    r"how to|which (?:one|size|plan|store|model|option|flight|day|way)",
    (
        r"any (?:eta|update|updates|news|idea|ideas|word|chance|plans?|way|info|help|timeline|"
        r"reason|clue)|anyone (?:there|home|know|knows|else having|else getting|from|at)"
    ),
    (
        r"wondering (?:if|whether|how|when|why|what)|i wonder|not sure (?:if|how|what|why|"
        r"whether|where)|no idea (?:how|why|what|where)|don t know (?:how|why|what|where|if)|"
        r"quick question|a question|quick q"
    ),
]


# Question cues that only count at the start of a clause, after one of CLAUSE_WORDS (or at the
# start of the text, or after punctuation).
QUESTION_START = [
    (
        r"vous (?:livrez|faites|avez (?:le|la|les|des|un|une|du|encore|toujours)|"
        r"acceptez|proposez|prevoyez|vendez|remboursez|etes ouverts?|ouvrez|fermez|expediez|"
        r"envoyez|prenez|gardez|comptez|reprenez|echangez|allez)"
    ),
    (
        r"(?:how|why|where|when|what|who) (?:do|does|did|can|could|should|would|will|is|are|was|"
        r"were|to|long|much|many|come|s|re|happened|about|time|day|date|exactly|now|if|the hell|"
        r"on earth|am|has|have|happens)"
    ),
    (
        r"(?:do|did|was|were|has|have|am|can|could|would|should|will|may|shall) (?:you|u|ya|"
        r"i|we|they|it|this|that|there|my|the|your|ur|our|anyone|anybody|someone|somebody|he|she|"
        r"these|those|y all|any)"
    ),
    r"does (?!not|n t)\w+",
    (
        r"(?:is|are) (?:there|it|this|that|my|the|your|ur|our|a|an|any|anyone|someone|these|"
        r"those|you|u|they|we|he|she|\w+ (?:available|open|free|included|possible|still|down|"
        r"working|ok|okay|normal|real|legit))"
    ),
]

CLAUSE_WORDS = (
    r"hi|hello|hey|hiya|yo|so|ok|okay|also|btw|but|and|guys|team|folks|question|bonjour|"
    r"salut|bonsoir|coucou|svp|stp|please|et|mais|sinon|alors|donc|par contre"
)

# Questions that do not ask the brand anything: rhetoric, invitations to the crowd, banter.
RHETORICAL = (
    (
        r"who else|anyone else (?:love|loves|loving|obsessed|excited|addicted)|qui d autre|"
        r"qui veut|qui vient|qui est partant|qui a vu|qui est chaud|is it just me or|"
        r"am i the only one who (?:love|loves|likes)|who s (?:going|coming|excited|ready|in)|"
        r"who is (?:going|coming|excited|ready)|who wants|anyone (?:want|wants|wanna|fancy|up for)|"
        r"how (?:good|cool|great|amazing|cute|awesome|nice|lovely|beautiful|gorgeous) (?:is|are)|"
        r"isn t (?:it|this|that|she|he|they) (?:just )?(?:great|amazing|gorgeous|beautiful|cute|"
        r"lovely|awesome|perfect)|n est ce pas|t as vu|vous avez vu|did you see|c est toi|"
        r"have you seen (?!my|our)|avez vous vu|tu as vu|shall we|on y va|tu viens|"
        r"you coming|are we going|should we go|"
        r"is that you|that s you|guess what|devinez|what more could you want|"
        r"que demander de plus|quoi de mieux|what s not to love"
    ),
)
LAUGH = (r"mdr+|ptdr+|lol+|lmao+|lmfao|rofl|ha(?:ha)+h?|a?h(?:ah)+|xd+|jpp|mort de rire",)
LAUGH_EMOJI = "\U0001f602\U0001f923\U0001f606\U0001f639"
# Emoji that say something is wrong: anger and sarcasm (enough on their own)...
SARCASM_EMOJI = "\U0001f643\U0001f644\U0001f621\U0001f620\U0001f92c\U0001f624\U0001f44e\U0001f612"
# ... and sadness or pleading, which count only without laughter or praise. Not "😭": it cries
# with laughter or emotion as often as with sadness ("that finale 😭😭").
SAD_EMOJI = (
    "\U0001f97a\U0001f622\U0001f61e\U0001f614\U0001f61f\U0001f641\u2639\U0001f63f\U0001f494"
    "\U0001f625\U0001f613\U0001f629\U0001f62b\U0001f616\U0001f623\U0001f926\U0001f198\U0001f630"
)

# A negated verb is a complaint more often than not once the idioms of praise built on a
# negation ("can't wait", "ne changez rien") have been set aside by NEUTRAL.
NEGATION = [
    r"(?:ne|n) (?:\w+ ){1,2}(?:pas|plus|jamais|rien|aucune?|nulle part)",
    (
        r"(?:je|j|il|elle|on|ca|ils|elles|tu|c est|ca a|on m a|m a|m ont|y a|ya) (?:\w+ )?"
        r"(?:pas|plus|jamais|rien)"
    ),
    r"n t(?<=\w n t) \w+|(?:not|never|cannot|no longer) \w+",
]

# "Me too" from another customer (or the same one): a problem report when nothing praises.
ME_TOO = (
    (
        r"same here|same for me|same with me|same thing here|same problem|same issue|me too|me as well|"
        r"mine too|(?:happening|happens|happened) to me too|moi aussi|moi de meme|idem|chez moi aussi|"
        r"pour moi aussi|pareil (?:pour moi|ici|chez moi|de mon cote|a \w+)|meme (?:chose|souci|probleme) "
        r"(?:ici|pour moi|chez moi)"
    ),
)


# Tone of a message without any cue above: praise, thanks, excitement...
POSITIVE = (
    (
        r"merci\w*|thanks?|thank you|bravo|super|top|genial|parfait|excellent\w*|magnifique\w*|"
        r"sublime\w*|beau|belle|beaux|belles|joli\w*|canon\w*|adore\w*|aime|aimons|love\w*|"
        r"amazing|awesome|great|best|meilleur\w*|perfect\w*|brilliant|lovely|gorgeous|stunning|"
        r"beautiful|cute|fire|unreal|incroyable\w*|impeccable|nickel|trop bien|kiff\w*|j ai hate|"
        r"vivement|can t wait|excited|proud|fier|fiere|content|contente|happy|heureu\w*|ravi\w*|"
        r"recommande\w*|recommend\w*|congrats|congratulations|felicitations|well done|legend\w*|"
        r"hero\w*|favou?rite|prefere\w*|fan|enjoy\w*|good|bien|cool|nice|sympa|merveill\w*|wow|"
        r"yay|enfin|finally|faultless|smooth|kind|adorable|gentil\w*|efficace|rapide|fast|quick|"
        r"helpful|friendly|miracle|claque|ca envoie|je valide|je participe|concours|giveaway|"
        r"hope|j espere|fingers crossed|cheers|respect|obsessed|chef s kiss|bonne|bon|hello|"
        r"game changer|life saver|lifesaver|dinguerie|de ouf|ouf|pepite|"
        r"happy|joyeu\w*|hate de|delicious|delicieu\w*|miam|yum\w*|waouh|ouah|grace a|thanks to"
    ),
)
FIRST_PERSON = (r"je|j|me|m|moi|mon|ma|mes|nous|notre|nos|on|i|my|me|mine|we|our|us",)
# Emoji of a message that is not happy (any other emoji is cheerful).
UNHAPPY_EMOJI = frozenset(
    "\U0001f643\U0001f644\U0001f621\U0001f620\U0001f92c\U0001f624\U0001f44e\U0001f612"
    "\U0001f61e\U0001f622\U0001f629\U0001f62b\U0001f616\U0001f623\U0001f975\U0001f922"
    "\U0001f92e\U0001f4a9\U0001f631\U0001f630\U0001f613\U0001f614\U0001f615\u2639"
    "\U0001f641\U0001f914\U0001f625\U0001f61f\U0001f628\U0001f627\U0001f626"
    "\U0001f97a\U0001f63f\U0001f494\U0001f926\U0001f198"
)  # not "😭": see SAD_EMOJI

# Contrast words: praise, then one of these and a clause with no praise of its own is a complaint.
CONTRAST = (
    r"but|however|although|though|except|unfortunately|sadly|mais|par contre|cependant|toutefois|"
    r"neanmoins|sauf que|en revanche|malheureusement|dommage que|helas"
)

# A template's placeholder left in ("@Brand [TYPE YOUR QUESTION HERE]"): the customer meant to
# ask something. Read on the folded text, where brackets are still there.
PLACEHOLDER = (
    r"[\[<{] ?(?:type|write|enter|insert|add|your|tapez|ecrivez|saisissez|inserez|indiquez|votre|"
    r"question|message)\b[^\]>}\n]{0,60}[\]>}]"
)

# Calls that, stretched ("helloooo", "allôôô"), nudge the brand.
CALLS = frozenset(
    "hello helo hey hi yo allo alo ohe anyone anybody someone somebody help please svp stp "
    "bonjour coucou youhou".split()
)

# After the brand's reply: a bare courtesy, thanks, praise, "it works now" or "I'll try that"
# needs no reply (on private channels too). Every word of the message must be one of these.
# ("d account" is "d'acc" once the SMS table has read "acc" as "account".)
COURTESY_WORDS = (
    (
        r"merci\w*|remerciements?|thanks?|thank you|thankyou|thks|cheers|ta|ok|okay|oki|okey|okk+|k|"
        r"kk|d accord|daccord|dac|d account|dacc|parfait\w*|top|super|genial\w*|nickel|cool|tres|bien|recu|recue|note|"
        r"noted|ca marche|entendu|beaucoup|infiniment|encore|a|vous|toi|aussi|you|too|"
        r"bonne (?:journee|soiree|fin de journee|continuation|semaine|nuit|nouvelle)|bon (?:weekend|"
        r"week end|dimanche|courage)|bravo|excellent|impeccable|great|perfect|awesome|got it|"
        r"sounds good|will do|all good|appreciate it|much appreciated|appreciated|"
        r"have a (?:nice|good|great|lovely) (?:day|evening|weekend|one)|so much|a lot|very much|"
        r"again|lot|oui|yes|yep|yeah|yup|ouais|no worries|no problem|np|pas de souci|"
        r"pas de soucis|pas de probleme|de rien|tout bon|c est bon|c est parfait|c est top|"
        r"c est note|c est gentil|sympa|and|et|for|info|infos|l info|bye|au revoir|ciao|a bientot|lovely|brilliant|"
        r"amazing|fab|nice|ah|oh|ahh|xx+|x|bisous|bises|good|fine|helpful|help|for the|"
        r"pour|votre|la|le|reponse|retour|aide|your|the|reply|response|quick|rapide|"
        r"many|mille|grand|big|enorme|vraiment|really|i|it|very|much|so"
    ),
    # praise of the answer or the team
    (
        r"(?:you|you guys|y all) (?:are|re) (?:the best|amazing|awesome|brilliant|great|stars|legends|heroes|"
        r"the greatest)|you guys|the best|best|legend\w*|star|stars|hero|heroes|you rock|rock|"
        r"love you(?: guys| all)?|lifesaver|life saver|saved my (?:day|life)|fantastic|wonderful|superb|"
        r"great news|good news|news|that s (?:great|good|brilliant|perfect|amazing|awesome|fantastic|lovely|kind)|"
        r"vous etes (?:au top|top|les meilleurs|geniaux|super|adorables|formidables|rapides|efficaces)|"
        r"au top|trop bien|trop fort\w*|formidable|efficace\w*|reactif\w*|service|customer service|"
        r"service client|team|equipe|support"
    ),
    # the answer worked, or the customer will try it
    (
        r"(?:that|it|this|all|everything|it s|its|that s|everything s) (?:worked|works|working|sorted|fixed|"
        r"resolved|solved|back)|worked|works|working|sorted|fixed|resolved|solved|back up|back|"
        r"(?:that )?did the trick|that did it|it did|just got it|found it|received|arrived|just arrived|just|now|up|"
        r"tonight|today|this morning|later|i ll try(?: that| it)?|will try(?: that| it)?|try that|"
        r"i ll check|will check|i ll let you know|keep you posted|done"
    ),
    (
        r"ca (?:re)?(?:marche|fonctionne)(?: maintenant| de nouveau| bien)?|remarche|refonctionne|"
        r"c est (?:regle|resolu|revenu|reparti)|regle|resolu|probleme resolu|revenu|reparti|bien recu|"
        r"bien arrive\w*|recupere\w*|colis recupere|trouve|je (?:vais )?(?:essayer|tester|regarder|voir)(?: ca)?|"
        r"j essaie|j essaye|je teste(?: ca)?|je regarde(?: ca)?|je vous tiens au courant|effectivement|"
        r"maintenant|de nouveau|ce soir|ce matin|aujourd hui|c est fait|fait"
    ),
)
# Words that, after a thanks, are not the agent's name ("thanks but...", "merci pour...").
NOT_A_NAME = frozenset(
    "but mais for pour though anyway quand nothing rien however cependant par although sauf except "
    "still toujours not pas no non to de".split()
)
# A bare yes or no answers a question of the brand's ("Have you tried restarting?" "yes"):
# the conversation goes on.
BARE_YES_NO = frozenset("yes yep yeah yup no nope nah oui ouais non".split())

# After the brand asked to move to private messages: "DM sent", "c'est fait, MP envoyé".
DM_SENT = (
    (
        r"dm sent|dm d|dmd|dmed|dm ed|pm d|pmed|(?:just )?(?:dmed|dm d|messaged|emailed|pmed|pm d) (?:you|u)|"
        r"sent (?:you |u )?(?:a |an )?(?:dm|pm|message|private message|email|e mail|mail)|sent|sending(?: it)?|"
        r"check (?:your |ur )?(?:dm|dms|inbox|messages|pm|pms)"
    ),
    (
        r"mp envoye|c est envoye|envoye|mp fait|"
        r"je vous ai (?:envoye|ecrit|fait|transmis) (?:un |en |par )?(?:mp|dm|message prive|message|mail|prive)|"
        r"je vous (?:ecris|ai ecrit) en (?:prive|mp|message prive)|regardez vos (?:mp|messages|dm)|"
        r"(?:ok )?je vous (?:envoie|transmets) (?:ca|tout ca|un mp|le numero|ma reference)"
    ),
)

DM_HINTS = ("dm", "mp", "pm", "sen", "envoi", "envoy", "mail", "message", "ecri", "prive", "inbox", "transm")
"""Substrings of every DM_SENT match: most messages skip that regex."""

# Automatic replies (read normalised text). Template wordings only: a human reply that names
# them ("we don't have an out of office option", "ce n'est pas une réponse automatique",
# "we're closed on Sundays") is not automatic.
AUTOMATIC = (
    # a reply that says it is automatic
    (
        r"(?:ceci est|c est|this is|ce message est|this message is) (?:un|une|an|a) "
        r"(?:(?:message|reponse|mail|email|e mail|courriel|reply|response) )?"
        r"(?:automatique|automated|automatic|auto generated|auto reply|auto response)"
    ),
    (
        r"(?:message|reponse|mail|email|reply|response) (?:envoye\w* |genere\w* )automatiquement|"
        r"(?:sent|generated) automatically|automatically generated|ne pas repondre a ce (?:message|mail)|"
        r"do not reply to this (?:message|email)"
    ),
    # out of the office
    r"(?:i am|i m|we are|we re|currently|presently) (?:currently |now |presently )?out of (?:the )?office",
    r"(?:je suis|nous sommes|actuellement) (?:actuellement )?absente?s? (?:du bureau|jusqu)",
    # closed or away *now* (a human "nous sommes fermés le dimanche" has no "now")
    (
        r"(?:nous sommes|on est|notre (?:equipe|service(?: client)?|agence|boutique|magasin|standard) est|"
        r"nos (?:equipes|conseillers|bureaux|agences|services) sont) (?:actuellement|momentanement|"
        r"en ce moment|pour le moment) (?:fermes?|fermees?|absents?|absentes?|en conges|en vacances|"
        r"indisponibles?)"
    ),
    (
        r"(?:(?:our|the) (?:team|office|offices|agents?|support team|support|customer service|customer care|"
        r"social team|social media team|store|stores) (?:is|are)|we (?:are|re)) "
        r"(?:(?:currently|now|temporarily|presently) (?:away|closed|offline|unavailable|out of the office)|"
        r"(?:away|closed|offline|unavailable) (?:right now|at the moment|for the (?:day|night|weekend|evening|"
        r"holidays)|until|today|tonight))"
    ),
    # announced reply times
    r"we typically (?:reply|replies|respond|answer)|(?:typically|usually) (?:replies|responds) within",
    r"(?:nous|on) (?:vous )?repond(?:ons|rons)? (?:generalement|habituellement|en general) (?:sous|en|dans)",
    # "thanks for your message" and when or who will answer (not "thanks for your patience")
    (
        r"merci (?:pour|de) votre (?:message|demande|contact|courriel|mail)[^.!?]{0,80}"
        r"(?:dans les (?:plus )?brefs delais|des que possible|des l ouverture|un conseiller|nos conseillers|"
        r"notre equipe vous|sous \d+\w*|dans les \d+\w*)"
    ),
    (
        r"(?:thanks? (?:you )?for (?:your|the) (?:message|enquiry|inquiry|email|tweet|dm)|thanks? (?:you )?for "
        r"(?:contacting|reaching out|getting in touch))[^.!?]{0,80}"
        r"(?:as soon as possible|asap|within \d+\w*|one of our|an agent|an advisor|a member of (?:our|the) team|"
        r"during (?:our )?(?:business|opening|office) hours)"
    ),
    (
        r"(?:reached|contacted|messaged) us outside|(?:we re|we are|you re|you are) (?:currently |now )?"
        r"outside (?:of )?(?:our )?(?:business|office|opening|working|support) hours"
    ),
    (
        r"vous nous (?:contactez|ecrivez|avez contacte\w*|avez ecrit) en dehors (?:de nos|des) horaires|"
        r"actuellement en dehors (?:de nos|des) horaires"
    ),
)
# ... or a label at the start: "Réponse automatique : ...", "[Auto-reply] ...", "Out of office: ...".
AUTOMATIC_START = (
    r"(?:(?:bonjour|hello|hi|hey) (?:[!,.] )?)?(?:reponse automatique|message automatique|repondeur automatique|"
    r"auto ?reply|auto ?response|automatic reply|automatic response|automated reply|automated response|"
    r"automated message|out of (?:the )?office|message d absence|absent du bureau)\b(?! \?)"
)
