"""Load the phrase books in `followupd/phrases/*.yaml` into compiled, merged patterns.

The file format is documented at the top of `followupd/phrases/en.yaml`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from followupd import literals, model
from followupd.buildcache import cached
from followupd.literals import Index, analyse
from followupd.model import Kind

# The phrase files are large: libyaml's loader reads them several times faster, which
# `followupd explain` feels at every start. Both loaders are "safe".
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_PACKAGE = "followupd.phrases"
_FLAGS = re.IGNORECASE
# Capital letters of the Latin scripts the phrase books cover (Ä, É, Ñ ...).
UPPER = "A-ZÀ-ÖØ-Þ"
# Titles are capitalised word by word, except for the joining words of `role_joiners`
# ("Head of Sales", "Chef de Projet"); "&", "-" and "/" join in every language. A full
# stop only inside a word ("Node.js"): at a word's end it closes the sentence.
_ROLE = (
    rf"(?P<role>(?-i:[{UPPER}])[\w/&+#'-]*(?:\.[\w/&+#'-]+)*"
    rf"(?: (?:(?-i:[{UPPER}(])[\w/&+#'()-]*(?:\.[\w/&+#'()-]+)*|(?:{{JOINERS}})|&|-|/)){{0,6}}?)"
)
_COMPANY = (
    rf"(?P<company>(?-i:[{UPPER}0-9])[\w&'-]*(?:\.[\w&'-]+)*"
    rf"(?: (?:&|(?-i:[{UPPER}0-9])[\w&'-]*(?:\.[\w&'-]+)*)){{0,3}})"
)
_TOP_KEYS = frozenset(
    {
        "kinds",
        "negatives",
        "job_terms",
        "reply_prefixes",
        "quote_markers",
        "signoffs",
        "reply_context",
        "promised_reply",
        "new_time_cues",
        "durations",
        "interviewer_intros",
        "conjunctions",
        "role_nouns",
        "role_joiners",
        "roles",
        "companies",
        "company_suffixes",
        "company_stopwords",
        "signature_titles",
        "title_at",
        "job_id",
        "ats_domains",
        "freemail_domains",
        "noreply",
        "rooms",
        "numbers",
        "weekdays",
        "months",
        "relative_days",
        "dates",
    }
)


class PhraseBookError(ValueError):
    """A phrase file is malformed: bad YAML, an unknown key or an invalid pattern."""


class Patterns(tuple[re.Pattern[str], ...]):
    """Patterns in their order, and which of them could match a given text.

    `candidates` finds, in one pass over the text, the strings each pattern cannot match
    without (`literals.analyse`), and leaves out the patterns whose strings are absent:
    the same matches in the same order, for a fraction of the searches.
    """

    _index: Index

    def __new__(cls, patterns: Iterable[re.Pattern[str]], index: Index | None = None) -> Patterns:
        self = super().__new__(cls, patterns)
        self._index = index if index is not None else Index([analyse(p)[0] for p in self])
        return self

    def __reduce__(self) -> tuple[type[Patterns], tuple[tuple[re.Pattern[str], ...], Index]]:
        # Pickled with its index, so a cached book is not analysed again.
        return Patterns, (tuple(self), self._index)

    def candidates(self, text: str) -> list[re.Pattern[str]]:
        """The patterns that could match somewhere in `text` (or in any part of it)."""
        return [self[i] for i in self._index.candidates(text)]


@dataclass(frozen=True)
class Phrase:
    """One pattern, the weight a hit on it adds, and strings a hit needs (`literals`)."""

    regex: re.Pattern[str]
    weight: float
    needs: tuple[frozenset[str], ...] = ()
    # Where a match lies around its first need's strings, if bounded (`literals.analyse`).
    reach: tuple[int, int] | None = None


class PhraseSet(tuple[Phrase, ...]):
    """Phrases in their order, with an index of the strings each needs (`literals.Index`)."""

    lookup: Index

    def __new__(cls, phrases: Iterable[Phrase], lookup: Index | None = None) -> PhraseSet:
        self = super().__new__(cls, phrases)
        self.lookup = lookup if lookup is not None else Index([p.needs for p in self])
        return self

    def __reduce__(self) -> tuple[type[PhraseSet], tuple[tuple[Phrase, ...], Index]]:
        # Pickled with its index, so a cached book does not build it again.
        return PhraseSet, (tuple(self), self.lookup)


@dataclass(frozen=True)
class Weighted:
    """Weighted phrases for the subject line and for the body."""

    subject: tuple[Phrase, ...] = ()
    body: tuple[Phrase, ...] = ()


@dataclass(frozen=True)
class Negative:
    """A kind of mail that is not about an application (newsletter, out-of-office ...)."""

    name: str
    automatic: bool
    hard: bool
    phrases: Weighted


@dataclass(frozen=True)
class ReplyPromise:
    """A "we'll be in touch within ..." phrase and the offset it stands for."""

    regex: re.Pattern[str]
    offset: str


@dataclass(frozen=True)
class DateWords:
    """Connecting words of date and time expressions, as regex alternations."""

    at: str
    on: str
    range: str
    of: str
    ordinal: str
    am: str
    pm: str
    noon: str
    next: str  # "next Wednesday": the Wednesday of next week, not the coming one
    separator: str  # between hour and minutes besides ":" and "." ("14h30")
    oclock: str  # after the hour ("14 Uhr", "10h")


@dataclass(frozen=True)
class PhraseBook:
    """Every language's phrases merged; built by `load_phrasebook`."""

    languages: tuple[str, ...]
    kinds: Mapping[Kind, Weighted]
    negatives: tuple[Negative, ...]
    job_terms: Patterns
    reply_prefix: re.Pattern[str]
    quote_markers: Patterns
    signoffs: Patterns
    reply_context: Patterns
    promised_reply: tuple[ReplyPromise, ...]
    new_time_cues: Patterns
    durations: Patterns
    interviewer_intros: Patterns
    name_separator: re.Pattern[str]
    role_nouns: re.Pattern[str]
    role_subject: Patterns
    role_body: Patterns
    company_display: Patterns
    company_subject: Patterns
    company_body: Patterns
    company_suffixes: frozenset[str]
    company_stopwords: frozenset[str]
    signature_titles: re.Pattern[str]
    signature_split: re.Pattern[str]
    job_id: Patterns
    ats_domains: frozenset[str]
    freemail_domains: frozenset[str]
    noreply: re.Pattern[str]
    rooms: re.Pattern[str]
    numbers: Mapping[str, int]
    weekdays: Mapping[str, int]
    months: Mapping[str, int]
    relative_days: Mapping[str, int]
    date_words: DateWords
    placeholders: Mapping[str, str]

    # Indexed phrase lists, built on first use (a few ms each) and kept with the book.
    @functools.cached_property
    def subject_phrases(self) -> PhraseSet:
        """Every subject phrase, of the kinds and of the negatives."""
        return PhraseSet(p for w in self._weighted() for p in w.subject)

    @functools.cached_property
    def body_phrases(self) -> PhraseSet:
        """Every body phrase, of the kinds and of the negatives."""
        return PhraseSet(p for w in self._weighted() for p in w.body)

    @functools.cached_property
    def kind_subject_phrases(self) -> PhraseSet:
        """The kinds' subject phrases: what names a kind in a subject line."""
        return PhraseSet(p for w in self.kinds.values() for p in w.subject)

    @functools.cached_property
    def kind_body_phrases(self) -> PhraseSet:
        """The kinds' body phrases."""
        return PhraseSet(p for w in self.kinds.values() for p in w.body)

    @functools.cached_property
    def job_term_phrases(self) -> PhraseSet:
        """`job_terms` as phrases, for the same indexed search."""
        return PhraseSet(Phrase(t, 0.0, *analyse(t)) for t in self.job_terms)

    def is_ats(self, domain: str) -> bool:
        """Whether `domain` is an applicant tracking system's, or a subdomain of one."""
        labels = domain.lower().strip(".").split(".")
        return bool(domain) and any(
            ".".join(labels[i:]) in self.ats_domains for i in range(len(labels))
        )

    def _weighted(self) -> list[Weighted]:
        return [*self.kinds.values(), *(n.phrases for n in self.negatives)]


def available_languages() -> tuple[str, ...]:
    """The language codes that have a phrase file, sorted."""
    return tuple(sorted(name[:-5] for name in _files()))


def load_phrasebook(languages: Sequence[str] | None = None) -> PhraseBook:
    """Load and merge the phrase files for `languages` (all bundled ones when None).

    Results are cached per language selection, in memory and in the XDG cache folder
    (`followupd.buildcache`), so repeated calls, and later starts, are cheap.
    """
    key = tuple(sorted(set(languages))) if languages is not None else None
    return _load(key)


def _files() -> dict[str, str]:
    root = resources.files(_PACKAGE)
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in root.iterdir()
        if entry.name.endswith(".yaml") and entry.is_file()
    }


@functools.lru_cache(maxsize=8)
def _load(languages: tuple[str, ...] | None) -> PhraseBook:
    files = _files()
    chosen = sorted(files) if languages is None else [f"{code}.yaml" for code in languages]
    missing = [name for name in chosen if name not in files]
    if missing:
        raise PhraseBookError(f"no phrase file for: {', '.join(m[:-5] for m in missing)}")
    if not chosen:
        raise PhraseBookError("no phrase files selected")
    texts = [(name, files[name]) for name in chosen]
    # Compiling and analysing the patterns is most of a cold `followupd explain`.
    entry = "phrasebook-" + ("all" if languages is None else "-".join(languages))
    return cached(entry, _sources(texts), PhraseBook, lambda: _build(texts))


def _sources(texts: Sequence[tuple[str, str]]) -> Iterator[bytes]:
    """What a built book depends on: the phrase files and the code that builds it."""
    for module in (__file__, literals.__file__, model.__file__):
        yield Path(module).read_bytes()
    for name, text in texts:
        yield name.encode()
        yield text.encode()


_INDEXED = (
    "subject_phrases",
    "body_phrases",
    "kind_subject_phrases",
    "kind_body_phrases",
    "job_term_phrases",
)


def _build(texts: Sequence[tuple[str, str]]) -> PhraseBook:
    merged: dict[str, Any] = {}
    for name, text in texts:
        try:
            data = yaml.load(text, Loader=_LOADER) or {}  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            raise PhraseBookError(f"{name}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise PhraseBookError(f"{name}: the top level must be a mapping")
        unknown = set(map(str, data)) - _TOP_KEYS
        if unknown:
            raise PhraseBookError(f"{name}: unknown keys: {', '.join(sorted(unknown))}")
        _merge(merged, data)
    book = _Builder(merged, tuple(name[:-5] for name, _text in texts)).build()
    # Made now, the phrase indexes are cached with the book: they took 80 ms of each start.
    for name in _INDEXED:
        getattr(book, name)
    return book


def _merge(into: dict[Any, Any], data: Mapping[Any, Any]) -> None:
    for raw_key, value in data.items():
        # Weights stay numbers; every other key is a name.
        key = raw_key if isinstance(raw_key, int | float) else str(raw_key)
        old = into.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            _merge(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            old.extend(value)
        else:
            into[key] = value if not isinstance(value, dict) else _merge_copy(value)


def _merge_copy(value: Mapping[Any, Any]) -> dict[Any, Any]:
    copy: dict[Any, Any] = {}
    _merge(copy, value)
    return copy


def _alternation(words: Sequence[str]) -> str:
    ordered = sorted({w.strip().lower() for w in words if str(w).strip()}, key=len, reverse=True)
    return "|".join(re.escape(w).replace(r"\ ", " ") for w in ordered) or "(?!)"


class _Builder:
    def __init__(self, data: dict[str, Any], languages: tuple[str, ...]) -> None:
        self.data = data
        self.languages = languages
        self.numbers = self._int_map("numbers")
        self.weekdays = self._int_map("weekdays")
        self.months = self._int_map("months")
        dates = data.get("dates") or {}
        if not isinstance(dates, dict) or not all(isinstance(k, str) for k in dates):
            raise PhraseBookError("dates: must be a mapping with quoted keys (write 'on':)")
        self.words = DateWords(
            **{
                field: _alternation([str(w) for w in dates.get(field, [])])
                for field in DateWords.__dataclass_fields__
            }
        )
        weekday = rf"\b(?:{_alternation(list(self.weekdays))})\b"
        month = rf"\b(?:{_alternation(list(self.months))})\b\.?"
        ordinal = rf"(?:{self.words.ordinal})?"
        self.placeholders = {
            "{NUMBER}": rf"(?:\d{{1,3}}|\b(?:{_alternation(list(self.numbers))})\b)",
            "{WEEKDAY}": weekday,
            "{MONTH}": month,
            "{DATE}": (
                rf"(?:(?:{weekday},? )?(?:(?:{self.words.of}) )?\d{{1,2}}{ordinal}"
                rf" (?:(?:{self.words.of}) )?{month}"
                rf"|(?:{weekday},? )?{month} \d{{1,2}}{ordinal}\b)(?:,? \d{{4}})?"
            ),
            "{ROLE}": _ROLE.replace(
                "{JOINERS}", _alternation([str(w) for w in self._list("role_joiners")])
            ),
            "{COMPANY}": _COMPANY,
        }

    def build(self) -> PhraseBook:
        kinds_data = self._mapping("kinds")
        kinds: dict[Kind, Weighted] = {}
        for name, value in kinds_data.items():
            try:
                kind = Kind(str(name))
            except ValueError as exc:
                raise PhraseBookError(f"kinds: unknown kind {name!r}") from exc
            kinds[kind] = self._weighted(value, f"kinds.{name}")
        negatives = tuple(
            Negative(
                name=str(name),
                automatic=bool(value.get("automatic", False)),
                hard=bool(value.get("hard", False)),
                phrases=self._weighted(value, f"negatives.{name}"),
            )
            for name, value in self._mapping("negatives").items()
            if isinstance(value, dict)
        )
        promised = []
        for i, item in enumerate(self._list("promised_reply")):
            if not isinstance(item, dict) or "pattern" not in item or "offset" not in item:
                raise PhraseBookError(f"promised_reply[{i}]: needs pattern and offset")
            regex = self._compile(str(item["pattern"]), f"promised_reply[{i}]")
            promised.append(ReplyPromise(regex, str(item["offset"])))
        roles = self._mapping("roles")
        companies = self._mapping("companies")
        return PhraseBook(
            languages=self.languages,
            kinds=kinds,
            negatives=negatives,
            job_terms=self._patterns("job_terms"),
            reply_prefix=self._compile(
                rf"^(?:(?:{_alternation([str(w) for w in self._list('reply_prefixes')])})"
                r"(?:\[\d+\])? ?: ?)+",
                "reply_prefixes",
            ),
            quote_markers=self._patterns("quote_markers"),
            signoffs=self._patterns("signoffs"),
            reply_context=self._patterns("reply_context"),
            promised_reply=tuple(promised),
            new_time_cues=self._patterns("new_time_cues"),
            durations=self._patterns("durations"),
            interviewer_intros=self._patterns("interviewer_intros"),
            name_separator=self._compile(
                rf",? (?:{_alternation([str(w) for w in self._list('conjunctions')])}) |, |,? & ",
                "conjunctions",
            ),
            role_nouns=self._any_word("role_nouns"),
            role_subject=self._patterns_from(roles.get("subject"), "roles.subject"),
            role_body=self._patterns_from(roles.get("body"), "roles.body"),
            company_display=self._patterns_from(companies.get("display"), "companies.display"),
            company_subject=self._patterns_from(companies.get("subject"), "companies.subject"),
            company_body=self._patterns_from(companies.get("body"), "companies.body"),
            company_suffixes=self._lower_set("company_suffixes"),
            company_stopwords=self._lower_set("company_stopwords"),
            signature_titles=self._compile(
                "|".join(f"(?:{p})" for p in map(str, self._list("signature_titles"))) or "(?!)",
                "signature_titles",
            ),
            signature_split=self._compile(
                rf"\s*(?:,|\||\b(?:{_alternation([str(w) for w in self._list('title_at')])})\b"
                r"| @ | - )\s*",
                "title_at",
            ),
            job_id=self._patterns("job_id"),
            ats_domains=self._lower_set("ats_domains"),
            freemail_domains=self._lower_set("freemail_domains"),
            noreply=self._compile(
                "^(?:" + "|".join(f"(?:{p})" for p in map(str, self._list("noreply"))) + ")"
                r"(?:[-_+.].*)?$",
                "noreply",
            ),
            rooms=self._compile(
                "|".join(f"(?:{p})" for p in map(str, self._list("rooms"))) or "(?!)", "rooms"
            ),
            numbers=self.numbers,
            weekdays=self.weekdays,
            months=self.months,
            relative_days=self._int_map("relative_days"),
            date_words=self.words,
            placeholders=self.placeholders,
        )

    def _compile(self, pattern: str, where: str) -> re.Pattern[str]:
        for name, expansion in self.placeholders.items():
            pattern = pattern.replace(name, expansion)
        try:
            return re.compile(pattern, _FLAGS)
        except re.error as exc:
            raise PhraseBookError(f"{where}: invalid pattern {pattern[:80]!r}: {exc}") from exc

    def _weighted(self, value: Any, where: str) -> Weighted:
        if not isinstance(value, dict):
            raise PhraseBookError(f"{where}: must be a mapping with subject/body")
        return Weighted(
            subject=self._phrases(value.get("subject"), f"{where}.subject"),
            body=self._phrases(value.get("body"), f"{where}.body"),
        )

    def _phrases(self, value: Any, where: str) -> tuple[Phrase, ...]:
        if value is None:
            return ()
        if not isinstance(value, dict):
            raise PhraseBookError(f"{where}: must map weights to lists of patterns")
        phrases = []
        for weight, patterns in value.items():
            try:
                w = float(weight)
            except (TypeError, ValueError) as exc:
                raise PhraseBookError(f"{where}: weight {weight!r} is not a number") from exc
            for pattern in patterns or []:
                regex = self._compile(str(pattern), f"{where}.{weight}")
                phrases.append(Phrase(regex, w, *analyse(regex)))
        return tuple(phrases)

    def _patterns(self, key: str) -> Patterns:
        return self._patterns_from(self.data.get(key), key)

    def _patterns_from(self, value: Any, where: str) -> Patterns:
        if value is None:
            return Patterns(())
        if not isinstance(value, list):
            raise PhraseBookError(f"{where}: must be a list of patterns")
        return Patterns(self._compile(str(p), where) for p in value)

    def _any_word(self, key: str) -> re.Pattern[str]:
        words = [str(w) for w in self._list(key)]
        return self._compile(rf"\b(?:{_alternation(words)})s?\b", key)

    def _mapping(self, key: str) -> dict[str, Any]:
        value = self.data.get(key) or {}
        if not isinstance(value, dict):
            raise PhraseBookError(f"{key}: must be a mapping")
        return value

    def _list(self, key: str) -> list[Any]:
        value = self.data.get(key) or []
        if not isinstance(value, list):
            raise PhraseBookError(f"{key}: must be a list")
        return value

    def _lower_set(self, key: str) -> frozenset[str]:
        return frozenset(str(v).strip().lower() for v in self._list(key))

    def _int_map(self, key: str) -> dict[str, int]:
        result: dict[str, int] = {}
        for word, number in self._mapping(key).items():
            try:
                result[str(word).lower()] = int(number)
            except (TypeError, ValueError) as exc:
                raise PhraseBookError(f"{key}.{word}: {number!r} is not a number") from exc
        return result
