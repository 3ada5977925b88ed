"""Text preparation shared by classify and extract: normalising, quoted history, signatures."""

from __future__ import annotations

import re
from dataclasses import dataclass

from followupd.model import ParsedMessage
from followupd.phrasebook import PhraseBook

# Patterns are written with ASCII quotes and hyphens; mail uses typographic ones.
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2012": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u202f": " ",
        "\u2009": " ",
        "\u200b": "",
        "\ufeff": "",
    }
)
_SPACES = re.compile(r"[ \t\f\v]+")
# A full stop after a number ends no sentence in "am 3. März"; "¿" and "¡" open one.
_SENTENCE_END = re.compile(r"(?<!\d\.)(?<=[.!?])\s+(?=[A-ZÀ-ÖØ-Þ0-9\"'(¿¡])|\n{2,}")
MAX_SCAN_CHARS = 200_000
# Phrases that matter sit near the top of a message; this keeps huge mails cheap.
MAX_PHRASE_CHARS = 64_000


@dataclass(frozen=True)
class Texts:
    """One message's text in the forms recognition needs."""

    subject: str  # normalised, one line
    fresh: str  # body without quoted history, lines kept
    flat: str  # `fresh` with whitespace runs collapsed: what phrase patterns see
    body: str  # fresh text above the signature, lines kept
    signature: str  # the signature block (may be empty)
    full_flat: str  # the whole text, quoted history included, collapsed


def normalise(text: str) -> str:
    """Typographic quotes and dashes → ASCII; unusual spaces → plain spaces."""
    if text.isascii():  # O(1) in CPython: nothing to translate, and no copy
        return text
    return text.translate(_TRANSLATE)


def flatten(text: str) -> str:
    """Collapse every whitespace run (line breaks included) to one space."""
    # str.split() and regex \s agree on what is whitespace; split+join is far faster.
    return " ".join(text.split())


def prepare(msg: ParsedMessage, book: PhraseBook) -> Texts:
    """Normalise the subject and body and split off quoted history and the signature."""
    text = normalise(msg.text[:MAX_SCAN_CHARS])
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    fresh_lines = _fresh_lines(lines, book)
    body_lines, signature_lines = _split_signature(fresh_lines, book)
    fresh = "\n".join(fresh_lines).strip()
    return Texts(
        subject=flatten(normalise(msg.subject)),
        fresh=fresh,
        flat=flatten(fresh[: MAX_PHRASE_CHARS * 2])[:MAX_PHRASE_CHARS],
        body="\n".join(body_lines).strip(),
        signature="\n".join(signature_lines).strip(),
        full_flat=flatten(text[: MAX_PHRASE_CHARS * 2])[:MAX_PHRASE_CHARS],
    )


def sentences(flat: str) -> list[str]:
    """Rough sentence split of collapsed text; good enough to keep phrases apart."""
    return [s.strip() for s in _SENTENCE_END.split(flat) if s and s.strip()]


def _fresh_lines(lines: list[str], book: PhraseBook) -> list[str]:
    """Lines before quoted history: no "> " lines, nothing after "On ... wrote:" and the like.

    Mail clients wrap long attribution lines, so each line is also tried joined to the next.
    """
    for index, line in enumerate(lines):
        if not line:
            continue
        joined = f"{line} {lines[index + 1]}" if index + 1 < len(lines) else line
        if any(m.search(line) or m.search(joined) for m in book.quote_markers):
            lines = lines[:index]
            break
    return [line for line in lines if not line.startswith(">")]


def _split_signature(lines: list[str], book: PhraseBook) -> tuple[list[str], list[str]]:
    """Split at the last sign-off line ("Best regards," "-- "), if there is one."""
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line and len(line) < 40 and any(s.search(line) for s in book.signoffs):
            return lines[:index], lines[index + 1 :]
    return lines, []
