"""Signals in a message that rules can react to beyond its kind: references, a final round.

Kept apart from classification: a message is still an invitation when it also asks for
references, and the references heads-up only needs to know that it did.
"""

from __future__ import annotations

import re

from followupd.model import ParsedMessage
from followupd.phrasebook import Patterns

REFERENCES_REQUESTED = "references_requested"
FINAL_ROUND = "final_round"

_PATTERNS: dict[str, tuple[str, ...]] = {
    REFERENCES_REQUESTED: (
        # English
        r"\b(?:provide|send|share|give|supply|need|require|request|ask for|forward)\b"
        r"[^.?!\n]{0,60}\b(?:references|referees)\b",
        r"\b(?:references|referees)\b[^.?!\n]{0,40}\b(?:contact details|names|list)\b",
        r"\breference[- ]checks?\b",
        # German, French, Spanish
        r"\breferenz(?:en|geber(?:innen)?|personen)\b",
        r"\b(?:vos|des|deux|trois) r[ée]f[ée]rences\b",
        r"\breferencias\b",
    ),
    FINAL_ROUND: (
        r"\b(?:final|last) (?:round|stage|interview|step)\b",
        r"\bfinal[- ]round\b",
        r"\b(?:letzte[nrs]?|finale[nrs]?) (?:runde|gespr[äa]ch|interview)\b",
        r"\b(?:dernier|ultime) entretien\b|\bentretien final\b",
        r"\b(?:[úu]ltima|final) (?:entrevista|ronda|fase)\b|\bentrevista final\b",
    ),
}
# Run only where their required words occur: most job mail asks for neither.
_COMPILED = {name: Patterns(re.compile(p, re.I) for p in pats) for name, pats in _PATTERNS.items()}
# "Thank you for your references" or "no references needed" is not a request.
_NOT_A_REQUEST = re.compile(
    r"\b(?:no|not|without) (?:need (?:for|of) )?references?\b|\bthank you for (?:your|the) refer",
    re.I,
)


def signals_of(msg: ParsedMessage) -> tuple[str, ...]:
    """The signals a message carries, from its subject, text and calendar summaries."""
    texts = [msg.subject, msg.text, *(p.summary for p in msg.calendar)]
    found = []
    for name, regexes in _COMPILED.items():
        for text in texts:
            hit = next((m for rx in regexes.candidates(text) for m in rx.finditer(text)), None)
            if hit is None:
                continue
            sentence = _sentence(text, hit.start())
            if name == REFERENCES_REQUESTED and _NOT_A_REQUEST.search(sentence):
                continue
            found.append(name)
            break
    return tuple(found)


def _sentence(text: str, at: int) -> str:
    start = max(text.rfind(c, 0, at) for c in ".!?\n") + 1
    ends = [i for i in (text.find(c, at) for c in ".!?\n") if i >= 0]
    return text[start : min(ends) if ends else len(text)]
