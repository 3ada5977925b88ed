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
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import hyperscan

# The parser behind `re.compile` (Python 3.11+); private, so any surprise in its output
# falls back to "no required strings" (always run the pattern) instead of failing.
_p: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

# Shorter strings rule out too little to be worth a test of their own.
MIN_LENGTH = 3
# How many strings one requirement may grow to when a literal run branches
# ("new (?:date|time|slot)" → three strings): longer strings are rarer in ordinary mail.
MAX_VARIANTS = 64
# Patterns whose matches can be longer than this are searched over the whole text.
MAX_REACH = 1000
# re.IGNORECASE maps U+0130 (capital dotted I) to "i"; casefold() makes it two characters.
_FOLD = str.maketrans({"\u0130": "i"})
_ZERO_WIDTH = (_c.AT, _c.ASSERT, _c.ASSERT_NOT)
_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None))


def fold(text: str) -> str:
    """Text as the required-string test sees it: case-folded, like re.IGNORECASE."""
    if text.isascii():  # O(1) in CPython; most mail text is ASCII
        return text.lower()
    return text.translate(_FOLD).casefold()


# (strings, before, after): every match holds one of the strings, starting at most
# `before` characters after the match's start and at most `after` characters before its
# end (None: not bounded, or not known).
Need = tuple[frozenset[str], int | None, int | None]


def analyse(
    pattern: re.Pattern[str],
) -> tuple[tuple[frozenset[str], ...], tuple[int, int] | None]:
    """(`required` strings, where a match lies around its first requirement, or None).

    The second is (before, after): a match containing an occurrence of the first required
    strings that starts at offset s lies within [s - before, s + after) of the text, with
    the characters a look-ahead or a word boundary reads after the match's end included.
    None when matches can be longer than MAX_REACH.
    """
    try:
        tree = _p.parse(pattern.pattern, pattern.flags)
        walk = _Walk(tree.state)
        found = walk.sequence(list(tree))
        high = int(tree.getwidth()[1])
        margin = walk.look_ahead(list(tree))
    except Exception:  # noqa: BLE001 - an unexpected parse tree only costs speed
        return (), None
    spans: dict[frozenset[str], tuple[int | None, int | None]] = {}
    for options, before, after in found:
        key = _minimal(frozenset(fold(s) for s in options))
        if _strength(key) >= MIN_LENGTH:
            # The same strings twice: either occurrence may be the one.
            old = spans.get(key, (0, 0))
            spans[key] = (_most(before, old[0]), _most(after, old[1]))
    # The longest strings are the rarest: test them first.
    needs = tuple(sorted(spans, key=lambda o: (-_strength(o), sorted(o))))
    if high > MAX_REACH or margin is None or not needs:
        return needs, None
    before, after = spans[needs[0]]
    return needs, (
        min(high, before if before is not None else high),
        min(high, after if after is not None else high) + margin,
    )


def required(pattern: re.Pattern[str]) -> tuple[frozenset[str], ...]:
    """Sets of folded strings; every match of `pattern` contains one string of each set.

    Empty when nothing useful can be derived; then the pattern must always be run.
    """
    return analyse(pattern)[0]


def _minimal(options: frozenset[str]) -> frozenset[str]:
    """Drop strings that contain another option: finding the shorter one is enough."""
    return frozenset(s for s in options if not any(o != s and o in s for o in options))


def _strength(options: frozenset[str]) -> int:
    return min((len(s) for s in options), default=0)


def _best(needs: list[Need]) -> Need | None:
    return max(needs, key=lambda n: (_strength(n[0]), -len(n[0])), default=None)


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def _most(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else max(a, b)


class _Walk:
    """The requirements of a parsed pattern, with where each lies in a match."""

    def __init__(self, state: Any) -> None:
        self._state = state

    def width(self, items: list[tuple[Any, Any]]) -> int | None:
        """The most characters `items` can match; None beyond MAX_REACH."""
        high = int(_p.SubPattern(self._state, items).getwidth()[1]) if items else 0
        return high if high <= MAX_REACH else None

    def sequence(self, items: list[tuple[Any, Any]]) -> list[Need]:
        """Every requirement of a sequence: its runs of literal text and what the rest requires.

        A run goes on through small alternations and optional parts, so it becomes a set of
        strings ("new date", "new time", "new slot"), one of which every match contains.
        """
        needs: list[Need] = []
        run, first = {""}, 0

        def close_run(end: int) -> None:
            if run != {""}:
                lengths = [len(s) for s in run]
                # A shorter string of the set may start inside a longer one the run matched.
                inside = max(lengths) - min(lengths)
                before = _add(self.width(items[:first]), inside)
                after = _add(max(lengths), self.width(items[end:]))
                needs.append((frozenset(run), before, after))

        for index, (op, arg) in enumerate(items):
            options = _strings(op, arg)
            if options is not None:
                if len(run) * len(options) > MAX_VARIANTS:
                    close_run(index)
                    run, first = {""}, index
                run = {a + b for a in run for b in options}
                continue
            close_run(index)
            run, first = {""}, index + 1
            head, tail = self.width(items[:index]), self.width(items[index + 1 :])
            whole = self.width([(op, arg)])
            for strings, before, after in self.element(op, arg):
                if op in _REPEATS:  # the string may be in any repetition
                    needs.append((strings, _add(head, whole), _add(whole, tail)))
                else:
                    needs.append((strings, _add(head, before), _add(after, tail)))
        close_run(len(items))
        return needs

    def element(self, op: Any, arg: Any) -> list[Need]:
        """What one element that matches no small set of strings requires (spans from its
        own start and to its own end)."""
        if op is _c.SUBPATTERN:
            return self.sequence(list(arg[-1]))
        if op is _c.BRANCH:
            union: set[str] = set()
            before: int | None = 0
            after: int | None = 0
            for branch in arg[1]:
                best = _best(self.sequence(list(branch)))
                if best is None:
                    return []  # one branch needs nothing, so the whole needs nothing
                union |= best[0]
                before, after = _most(before, best[1]), _most(after, best[2])
            return [(frozenset(union), before, after)]
        if op in _REPEATS:
            low, _high, inner = arg
            return self.sequence(list(inner)) if low >= 1 else []
        if op is getattr(_c, "ATOMIC_GROUP", None):
            return self.sequence(list(arg))
        return []  # classes, back-references: nothing required

    def look_ahead(self, items: list[tuple[Any, Any]]) -> int | None:
        """Characters past a match's end the pattern may read: two for a word boundary or
        an end anchor ("$" looks for a line break before the end), more for a look-ahead
        (None if unbounded)."""
        most = 2
        for op, arg in items:
            if op in (_c.ASSERT, _c.ASSERT_NOT) and arg[0] == 1:
                inner = self.width(list(arg[1]))
                if inner is None:
                    return None
                most = max(most, inner + 2)
            for child in _children(op, arg):
                deeper = self.look_ahead(child)
                if deeper is None:
                    return None
                most = max(most, deeper)
        return most


def _children(op: Any, arg: Any) -> list[list[tuple[Any, Any]]]:
    """The sub-sequences inside one element."""
    if op is _c.SUBPATTERN:
        return [list(arg[-1])]
    if op is _c.BRANCH:
        return [list(branch) for branch in arg[1]]
    if op in _REPEATS:
        return [list(arg[2])]
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return [list(arg)]
    if op in (_c.ASSERT, _c.ASSERT_NOT):
        return [list(arg[1])]
    return []


def _strings(op: Any, arg: Any) -> set[str] | None:
    """Every string one element can match, when that is a small finite set; else None."""
    if op is _c.LITERAL:
        return {chr(arg)}
    if op in _ZERO_WIDTH:
        return {""}  # anchors and look-arounds consume nothing
    if op is _c.SUBPATTERN:
        return _all_strings(arg[-1])
    if op is _c.BRANCH:
        union: set[str] = set()
        for branch in arg[1]:
            strings = _all_strings(branch)
            if strings is None:
                return None
            union |= strings
        return union if len(union) <= MAX_VARIANTS else None
    if op is _c.IN and all(kind is _c.LITERAL for kind, _ in arg) and len(arg) <= 4:
        return {chr(code) for _, code in arg}
    if op in _REPEATS and arg[0] == 0 and arg[1] == 1:
        inner = _all_strings(arg[2])
        return None if inner is None else inner | {""}
    return None


def _all_strings(items: Iterable[tuple[Any, Any]]) -> set[str] | None:
    """Every string a sequence can match, when that is a small finite set; else None."""
    result = {""}
    for op, arg in items:
        options = _strings(op, arg)
        if options is None:
            return None
        result = {a + b for a in result for b in options}
        if len(result) > MAX_VARIANTS:
            return None
    return result


class Matcher:
    """Finds where any of a fixed set of strings occur in a text, in one pass (Hyperscan).

    Hyperscan reads about a byte per nanosecond; the Aho-Corasick automaton it replaced
    took 12 ns per character, which made the 4 KB text probe most of a first scan.
    """

    def __init__(self, strings: Iterable[str]) -> None:
        self._strings = sorted(set(strings))
        self._database = _compiled(self._strings)
        self._local = threading.local()

    def __getstate__(self) -> tuple[list[str], bytes | None]:
        blob = hyperscan.dumpb(self._database) if self._database is not None else None
        return self._strings, blob

    def __setstate__(self, state: tuple[list[str], bytes | None]) -> None:
        # A database made for another CPU or Hyperscan version raises here: the cache
        # that stored it then builds the book again.
        self._strings, blob = state
        self._database = None if blob is None else hyperscan.loadb(blob, hyperscan.HS_MODE_BLOCK)
        self._local = threading.local()

    def starts(self, folded: str) -> dict[str, list[int]]:
        """{string: offsets where it starts} for the strings in `folded` (a `fold`ed text)."""
        found: dict[str, list[int]] = {}
        if self._database is None or not folded:
            return found
        data = folded.encode()
        hits: list[tuple[int, int]] = []
        self._database.scan(
            data,
            match_event_handler=lambda index, _from, end, _flags, _context: hits.append(
                (index, end)
            ),
            scratch=self._scratch(),
        )
        strings = self._strings
        if len(data) == len(folded):  # ASCII: byte offsets are character offsets
            for index, end in hits:
                string = strings[index]
                found.setdefault(string, []).append(end - len(string))
            return found
        located = sorted((end - len(strings[index].encode()), index) for index, end in hits)
        chars = done = 0
        for start, index in located:
            # A match starts on a character boundary: UTF-8 never matches mid-character.
            chars += len(data[done:start].decode())
            done = start
            found.setdefault(strings[index], []).append(chars)
        return found

    def _scratch(self) -> hyperscan.Scratch:
        """This thread's scratch space: a scan uses it without the GIL held."""
        scratch: hyperscan.Scratch | None = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._database)
        return scratch


def _compiled(strings: Sequence[str]) -> hyperscan.Database | None:
    """A block-mode database of the strings as plain bytes; None when there are none."""
    if not strings:
        return None
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[string.encode() for string in strings],
        ids=list(range(len(strings))),
        elements=len(strings),
        flags=0,
        literal=True,
    )
    return database


class Index:
    """Which of many patterns a text could match, found from the strings present in it.

    One Hyperscan pass looks only for each pattern's rarest requirement (its first);
    the patterns it finds are then checked for their other requirements by substring
    tests. Every match of a pattern contains an occurrence of its first requirement, so
    `where` also tells where in the text a match can be.
    """

    def __init__(self, needs: Sequence[tuple[frozenset[str], ...]]) -> None:
        self._needs = list(needs)
        self._always = [i for i, need in enumerate(self._needs) if not need]
        self._by_string: dict[str, list[int]] = {}
        for i, need in enumerate(self._needs):
            if need:
                for string in need[0]:
                    self._by_string.setdefault(string, []).append(i)
        self._matcher = Matcher(self._by_string)

    def candidates(self, text: str) -> list[int]:
        """Indexes of the patterns whose required strings all occur in `text`."""
        return [i for i, _starts in self.where(text)]

    def where(self, text: str) -> list[tuple[int, list[int] | None]]:
        """(index, offsets in `text` where its first requirement starts) of each candidate.

        The offsets are None for patterns that are always run, and when case-folding
        changed the text's length (so offsets in the folded text are not offsets in `text`).
        """
        chosen: dict[int, list[int] | None] = dict.fromkeys(self._always)
        if text:
            present = Present(text)
            exact = len(present.text) == len(text)
            for string, starts in self._matcher.starts(present.text).items():
                for i in self._by_string[string]:
                    if i in chosen:
                        spots = chosen[i]
                        if spots is not None:
                            spots += starts
                    elif present.all(self._needs[i][1:]):
                        chosen[i] = list(starts) if exact else None
        return sorted(chosen.items())


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
