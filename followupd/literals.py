"""Literal strings a pattern cannot match without: a cheap test that rules most patterns out.

Searching a hundred-odd phrase patterns over every message dominated a first scan. Nearly
every phrase contains a word it cannot match without ("interview", "salary of"); a plain
substring test for such words is many times faster than running the pattern, so a
pattern is only run on text that contains at least one of its required strings. The test
never changes a result: it only skips patterns that could not have matched.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

import ahocorasick

# The parser behind `re.compile` (Python 3.11+); private, so any surprise in its output
# falls back to "no required strings" (always run the pattern) instead of failing.
_p: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

# Shorter strings rule out too little to be worth a test of their own.
MIN_LENGTH = 3
# re.IGNORECASE maps U+0130 (capital dotted I) to "i"; casefold() makes it two characters.
_FOLD = str.maketrans({"\u0130": "i"})


def fold(text: str) -> str:
    """Text as the required-string test sees it: case-folded, like re.IGNORECASE."""
    return text.translate(_FOLD).casefold()


def required(pattern: re.Pattern[str]) -> tuple[frozenset[str], ...]:
    """Sets of folded strings; every match of `pattern` contains one string of each set.

    Empty when nothing useful can be derived; then the pattern must always be run.
    """
    try:
        found = _sequence(list(_p.parse(pattern.pattern, pattern.flags)))
    except Exception:  # noqa: BLE001 - an unexpected parse tree only costs speed
        return ()
    useful = {frozenset(fold(s) for s in options) for options in found}
    useful = {options for options in useful if _strength(options) >= MIN_LENGTH}
    # The longest strings are the rarest: test them first.
    return tuple(sorted(useful, key=lambda o: (-_strength(o), sorted(o))))


def _strength(options: frozenset[str]) -> int:
    return min((len(s) for s in options), default=0)


def _best(sets: list[frozenset[str]]) -> frozenset[str] | None:
    return max(sets, key=lambda s: (_strength(s), -len(s)), default=None)


def _sequence(items: Iterable[tuple[Any, Any]]) -> list[frozenset[str]]:
    """Every requirement of a sequence: its literal runs and what its elements require."""
    needs: list[frozenset[str]] = []
    run: list[str] = []

    def close_run() -> None:
        if run:
            needs.append(frozenset({"".join(run)}))
            run.clear()

    for op, arg in items:
        if op is _c.LITERAL:
            run.append(chr(arg))
            continue
        close_run()
        needs.extend(_element(op, arg))
    close_run()
    return needs


def _element(op: Any, arg: Any) -> list[frozenset[str]]:
    """What one non-literal element of a sequence requires."""
    if op is _c.SUBPATTERN:
        return _sequence(arg[-1])
    if op is _c.BRANCH:
        union: set[str] = set()
        for branch in arg[1]:
            best = _best(_sequence(branch))
            if best is None:
                return []  # one branch needs nothing, so the whole needs nothing
            union |= best
        return [frozenset(union)]
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        low, _high, inner = arg
        return _sequence(inner) if low >= 1 else []
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _sequence(arg)
    return []  # classes, anchors, look-arounds, back-references: nothing required


class Matcher:
    """Finds which of a fixed set of strings occur in a text, in one pass (Aho-Corasick).

    Cheaper than `Present` when most of the strings would be looked up anyway.
    """

    def __init__(self, strings: Iterable[str]) -> None:
        self._automaton = ahocorasick.Automaton()
        for string in set(strings):
            self._automaton.add_word(string, string)
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()

    def found(self, text: str) -> frozenset[str]:
        """The strings that occur in the (folded) text."""
        if self._empty:
            return frozenset()
        return frozenset(value for _end, value in self._automaton.iter(fold(text)))


def satisfied(needs: tuple[frozenset[str], ...], found: frozenset[str]) -> bool:
    """True when each set in `needs` has a string in `found` (so when `needs` is empty)."""
    return all(not options.isdisjoint(found) for options in needs)


class Index:
    """Which of many patterns a text could match, found from the strings present in it.

    One Aho-Corasick pass finds the required strings in the text; only patterns whose
    every requirement is met are returned, in their original order, for the caller to run.
    """

    def __init__(self, needs: Sequence[tuple[frozenset[str], ...]]) -> None:
        self._needs = list(needs)
        self._always = [i for i, need in enumerate(self._needs) if not need]
        self._by_string: dict[str, list[int]] = {}
        for i, need in enumerate(self._needs):
            if need:
                for string in need[0]:
                    self._by_string.setdefault(string, []).append(i)
        self._matcher = Matcher(s for need in self._needs for options in need for s in options)

    def candidates(self, text: str) -> list[int]:
        """Indexes of the patterns whose required strings all occur in `text`."""
        found = self._matcher.found(text) if text else frozenset()
        chosen = set(self._always)
        for string in found:
            for i in self._by_string.get(string, ()):
                if i not in chosen and satisfied(self._needs[i], found):
                    chosen.add(i)
        return sorted(chosen)


class Present:
    """Which required strings occur in one text, each looked up at most once."""

    def __init__(self, text: str) -> None:
        self.text = fold(text)
        self._seen: dict[str, bool] = {}

    def all(self, needs: tuple[frozenset[str], ...]) -> bool:
        """True when each set in `needs` has a string in the text (so when `needs` is empty)."""
        return all(self._any(options) for options in needs)

    def _any(self, options: frozenset[str]) -> bool:
        for option in options:
            hit = self._seen.get(option)
            if hit is None:
                hit = self._seen[option] = option in self.text
            if hit:
                return True
        return False
