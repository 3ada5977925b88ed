"""Required strings of phrase patterns: the cheap test must never hide a real match."""

from __future__ import annotations

import pickle
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followupd.literals import Matcher, Present, analyse, required
from followupd.model import Kind
from followupd.parse import parse_message
from followupd.phrasebook import Phrase, PhraseSet, load_phrasebook
from followupd.prefilter import _Phrases
from followupd.recognise import recognise
from followupd.recognise_text import flatten, prepare

SAMPLES = Path(__file__).parent / "samples"
BERLIN = ZoneInfo("Europe/Berlin")


def needs(pattern: str) -> list[list[str]]:
    return sorted(sorted(s) for s in required(re.compile(pattern, re.IGNORECASE)))


def test_literal_runs_grow_through_small_alternations() -> None:
    # Whole phrases are far rarer in ordinary mail than their separate words.
    assert needs(r"(?:interview|call) (?:has been|was) moved") == [
        ["call has been moved", "call was moved", "interview has been moved", "interview was moved"]
    ]
    assert needs(r"\bnew (?:date|time)\b") == [["new date", "new time"]]
    assert needs(r"thanks? you") == [["thank you", "thanks you"]]
    assert needs(r"e[- ]mail me") == [["e mail me", "e-mail me"]]


def test_large_alternations_split_the_run() -> None:
    words = "|".join(f"w{i:02d}x" for i in range(80))
    found = needs(rf"(?:{words}) (?:is|was) moved")
    assert [" is moved", " was moved"] in found
    assert sorted(len(options) for options in found) == [2, 80]


def test_optional_parts_require_nothing() -> None:
    assert needs(r"(?:annual )?salary of") == [["salary of"]]
    assert needs(r"interview(?:ing)? with") == [["interview with", "interviewing with"]]
    assert needs(r"(?:interview|\w+) now") == [[" now"]]
    assert needs(r"\d+ days?") == [[" day"]]


def test_patterns_without_useful_strings_are_always_run() -> None:
    assert required(re.compile(r"\b\w{3,}\b")) == ()
    assert Present("anything").all(()) is True


def span(pattern: str) -> tuple[int, int] | None:
    return analyse(re.compile(pattern, re.IGNORECASE))[1]


def test_a_match_lies_close_around_its_required_string() -> None:
    # The required strings end the pattern: a match ends where they do (plus the two
    # characters a word boundary or "$" may read), and starts at most nine characters
    # before them (and one more: a shorter string of a set may start inside a longer one).
    assert span(r"\b\w{2,9}day,? it is\b") == (9 + 1, len("day, it is") + 2)
    # ... or starts it: nothing before, the rest after.
    assert span(r"\bnew (?:date|time)\b") == (0, len("new date") + 2)
    # A look-ahead reads past the match's end.
    assert span(r"foo(?=bar\w{3})") == (0, len("foo") + len("barxyz") + 2)
    # Only the string's first occurrence in a repetition is known to be the one.
    assert span(r"(?:ab|cd)(?:see you ){1,3}") == (2 + 24, 24 + 0 + 2)
    # Unbounded matches are searched over the whole text.
    assert span(r"(?:a|b)+ salary of \d+") is None


@pytest.mark.parametrize("before", [0, 1, 7, 40])
def test_windows_find_a_match_wherever_the_string_sits(before: int) -> None:
    pattern = re.compile(r"(?:\b\w{1,40} )?(?:monday|tuesday) it is\b(?= fine)", re.I)
    phrases = _Phrases(PhraseSet([Phrase(pattern, 1.0, *analyse(pattern))]))
    lead = "word " * 300 + "x" * before
    assert phrases.any_hit(flatten(f"{lead} tuesday it is fine. " + "word " * 300))
    assert not phrases.any_hit(flatten(f"{lead} tuesday it is not fine. " + "word " * 300))
    assert not phrases.any_hit(flatten(f"{lead} tuesday it isn't fine. " + "word " * 300))


def test_lookup_is_case_insensitive_like_the_patterns() -> None:
    present = Present("We would like to INVITE you to an \u0130nterview")
    assert present.all((frozenset({"invite you"}),))
    assert present.all((frozenset({"interview"}),))
    assert not present.all((frozenset({"invite you"}), frozenset({"salary"})))


def test_the_matcher_finds_every_occurrence_even_overlapping_ones() -> None:
    matcher = Matcher(["interview", "view", "inter"])
    text = "interview? an interview"
    assert matcher.starts(text) == {
        "inter": [0, 14],
        "interview": [0, 14],
        "view": [5, 19],
    }
    assert Matcher([]).starts(text) == {}
    assert matcher.starts("") == {}


def test_matcher_offsets_count_characters_in_non_ascii_text() -> None:
    # The windows around each offset are cut from the str: bytes offsets would drift.
    text = "größe — gespräch über das gespräch"
    found = Matcher(["gespräch", "über"]).starts(text)
    assert found == {"gespräch": [8, 26], "über": [17]}
    assert all(text[i : i + len(s)] == s for s, starts in found.items() for i in starts)


def test_a_pickled_matcher_finds_the_same() -> None:
    matcher = Matcher(["einladung", "interview"])
    copy = pickle.loads(pickle.dumps(matcher))
    text = "eine einladung zum interview"
    assert copy.starts(text) == matcher.starts(text) == {"einladung": [5], "interview": [19]}


def test_threads_can_share_a_matcher() -> None:
    # A scan runs without the GIL, so each thread needs its own scratch space.
    matcher = Matcher(["interview"])
    texts = [f"{'x' * n} interview {'y' * n}" for n in range(200)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(matcher.starts, texts))
    assert results == [{"interview": [n + 1]} for n in range(200)]


def _all_phrases() -> list[Phrase]:
    book = load_phrasebook()
    phrases: list[Phrase] = []
    for weighted in [*book.kinds.values(), *(n.phrases for n in book.negatives)]:
        phrases += [*weighted.subject, *weighted.body]
    return phrases


def test_most_phrases_have_a_cheap_test() -> None:
    phrases = _all_phrases()
    with_test = [p for p in phrases if p.needs]
    assert len(with_test) >= 0.9 * len(phrases)


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.eml")), ids=lambda p: p.name)
def test_every_real_match_passes_the_cheap_test(path: Path) -> None:
    book = load_phrasebook()
    msg = parse_message(path.read_bytes(), default_tz=BERLIN)
    texts = prepare(msg, book)
    for text in (texts.subject, texts.flat, texts.full_flat):
        present = Present(text)
        for phrase in _all_phrases():
            if phrase.regex.search(text):
                assert present.all(phrase.needs), phrase.regex.pattern


def test_other_mail_can_skip_the_facts() -> None:
    raw = (SAMPLES / "16_auto_ack_workday_umbrella.eml").read_bytes()
    msg = parse_message(raw, default_tz=BERLIN)
    full = recognise(msg, me_addresses={"jane@example.com"}, tz=BERLIN)
    quick = recognise(msg, me_addresses={"jane@example.com"}, tz=BERLIN, facts_for_other=False)
    assert full.kind == quick.kind == Kind.OTHER
    assert (quick.confidence, quick.automatic) == (full.confidence, full.automatic)
    assert quick.company is None and quick.contacts == ()
    assert full.company is not None or full.contacts


def test_job_mail_keeps_its_facts_either_way() -> None:
    raw = (SAMPLES / "01_invite_google_acme.eml").read_bytes()
    msg = parse_message(raw, default_tz=BERLIN)
    full = recognise(msg, me_addresses={"jane@example.com"}, tz=BERLIN)
    quick = recognise(msg, me_addresses={"jane@example.com"}, tz=BERLIN, facts_for_other=False)
    assert quick == full


_PHRASES = _all_phrases()
_ALL = _Phrases(PhraseSet(_PHRASES))
_FILLER = st.sampled_from(
    ["", "Hi Jane,", "see the notes below.", "Tuesday", "it is", "at 10am", "Best, Anna", "--"]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    phrase=st.sampled_from(_PHRASES),
    data=st.data(),
    before=st.lists(_FILLER, max_size=4),
    after=st.lists(_FILLER, max_size=4),
    pad=st.integers(0, 600),
)
def test_generated_matches_always_pass_the_cheap_tests(
    phrase: Phrase, data: st.DataObject, before: list[str], after: list[str], pad: int
) -> None:
    """Whatever a pattern matches meets its requirements, and the screen's index finds it.

    The padding puts the match deep into a long text, where the screen only runs the
    pattern near its required strings.
    """
    matched = data.draw(st.from_regex(phrase.regex, fullmatch=True))
    assert Present(matched).all(phrase.needs)
    text = flatten(" ".join(["word"] * pad + [*before, matched, *after] + ["word"] * pad))
    if phrase.regex.search(text):
        assert _ALL.any_hit(text)
        assert _Phrases(PhraseSet([phrase])).any_hit(text)
