"""Recognition quality over the labelled corpus in tests/corpus/*/labels.yaml.

Prints, for every language folder together and for each on its own: a confusion matrix
(rows: the label, columns: what recognition said), precision and recall per kind, the
accuracy of each extracted field, the issue's targets with PASS/FAIL, and every mistake
(file: field expected vs got). The person is Jane Doe <jane@example.com> in Europe/Berlin,
as in the labels. As a naive baseline, the same matrix is scored for "the subject alone"
(recognition fed the message with its body and calendar parts removed).

Run: `python benchmarks/recognition.py [--lang en] [--corpus tests/corpus] [--no-mistakes]`.
Never asserts; exit code 0 unless the corpus itself is malformed (2).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from followupd.labels import KINDS, Check, LabelError, Labelled, check, load_corpus  # noqa: E402
from followupd.model import Recognition  # noqa: E402
from followupd.parse import parse_message  # noqa: E402
from followupd.recognise import recognise  # noqa: E402

TZ = ZoneInfo("Europe/Berlin")
ME = frozenset({"jane@example.com"})
FIELDS = ("automatic", "company", "role", "start", "end", "interviewers", "promised", "job_id")
TARGET_KINDS = ("rejection", "offer", "invitation", "confirmation")
MIN_PRECISION = 0.97
MIN_RECALL = 0.93
MIN_TIME = 0.95
MIN_COMPANY = 0.95


@dataclasses.dataclass(frozen=True)
class Scored:
    item: Labelled
    checks: list[Check]
    got_kind: str
    confidence: float


def run(items: Sequence[Labelled], *, subject_only: bool = False) -> list[Scored]:
    """Recognise every corpus message and compare it with its label."""
    scored = []
    for item in items:
        msg = parse_message(item.path.read_bytes(), default_tz=TZ)
        if subject_only:
            msg = dataclasses.replace(msg, text="", calendar=())
        result: Recognition = recognise(msg, me_addresses=ME, tz=TZ)
        scored.append(Scored(item, check(item.label, result), result.kind.value, result.confidence))
    return scored


def confusion(scored: Sequence[Scored]) -> list[str]:
    counts = Counter((s.item.label["kind"], s.got_kind) for s in scored)
    short = {k: k[:6] for k in KINDS}
    lines = ["expected \\ got " + " ".join(f"{short[k]:>6}" for k in KINDS) + "   total"]
    for row in KINDS:
        total = sum(counts[(row, c)] for c in KINDS)
        if not total:
            continue
        cells = " ".join(f"{counts[(row, c)] or '.':>6}" for c in KINDS)
        lines.append(f"{row:<14} {cells}   {total:>5}")
    return lines


def precision_recall(scored: Sequence[Scored]) -> dict[str, tuple[float | None, float | None, int]]:
    """Per kind: (precision, recall, support); None where undefined (nothing to divide)."""
    out = {}
    for kind in KINDS:
        tp = sum(1 for s in scored if s.item.label["kind"] == kind and s.got_kind == kind)
        said = sum(1 for s in scored if s.got_kind == kind)
        support = sum(1 for s in scored if s.item.label["kind"] == kind)
        out[kind] = (tp / said if said else None, tp / support if support else None, support)
    return out


def field_accuracy(scored: Sequence[Scored]) -> dict[str, tuple[int, int]]:
    """Per field: (right, labelled)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in scored:
        for c in s.checks:
            if c.field in FIELDS:
                tally[c.field][1] += 1
                tally[c.field][0] += int(c.ok)
    return {f: (tally[f][0], tally[f][1]) for f in FIELDS if tally[f][1]}


def _fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.3f}"


def report(title: str, scored: Sequence[Scored]) -> list[str]:
    """The matrix, precision/recall and field accuracy for one set of messages."""
    lines = [f"== {title}: {len(scored)} messages", *confusion(scored), ""]
    lines.append(f"{'kind':<14} {'precision':>9} {'recall':>7} {'support':>8}")
    for kind, (p, r, n) in precision_recall(scored).items():
        if n or p is not None:
            lines.append(f"{kind:<14} {_fmt(p):>9} {_fmt(r):>7} {n:>8}")
    lines.append(f"{'kind accuracy':<14} {_kind_accuracy(scored):>9.3f}")
    right = sorted(s.confidence for s in scored if s.item.label["kind"] == s.got_kind)
    if right:
        # Rules may ask for a minimum confidence (min_confidence: 0.7), so a right kind
        # given with low confidence can still make no draft.
        low = sum(1 for c in right if c < 0.7)
        lines.append(
            f"{'confidence':<14} right kinds: median {right[len(right) // 2]:.2f},"
            f" below 0.7: {low}/{len(right)}"
        )
    lines.append("")
    lines.append(f"{'field':<14} {'accuracy':>9} {'right/labelled':>15}")
    for field, (ok, n) in field_accuracy(scored).items():
        lines.append(f"{field:<14} {ok / n:>9.3f} {f'{ok}/{n}':>15}")
    return lines


def targets(scored: Sequence[Scored]) -> list[str]:
    """The issue's targets, each with PASS or FAIL."""
    lines = ["== targets (issue 3)"]
    pr = precision_recall(scored)
    for kind in TARGET_KINDS:
        p, r, _ = pr[kind]
        lines.append(_target(f"{kind} precision", p, MIN_PRECISION))
        lines.append(_target(f"{kind} recall", r, MIN_RECALL))
    fields = field_accuracy(scored)
    times = [s for s in scored if s.item.label.get("interview") is not None]
    exact = sum(1 for s in times if all(c.ok for c in s.checks if c.field in ("start", "end")))
    lines.append(
        _target("interview start/end exact", exact / len(times) if times else None, MIN_TIME)
    )
    ok, n = fields.get("company", (0, 0))
    lines.append(_target("company", ok / n if n else None, MIN_COMPANY))
    return lines


def _target(name: str, value: float | None, minimum: float) -> str:
    verdict = "n/a " if value is None else ("PASS" if value >= minimum else "FAIL")
    return f"{verdict} {name:<28} {_fmt(value)} (target >= {minimum})"


def _kind_accuracy(scored: Sequence[Scored]) -> float:
    return sum(1 for s in scored if s.item.label["kind"] == s.got_kind) / max(1, len(scored))


def mistakes(scored: Sequence[Scored]) -> list[str]:
    lines = ["== mistakes (file: field expected -> got)"]
    for s in scored:
        for c in s.checks:
            if not c.ok:
                lines.append(
                    f"{s.item.lang}/{s.item.path.name}: {c.field} {c.expected!r} -> {c.got!r}"
                )
    if len(lines) == 1:
        lines.append("none")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "tests" / "corpus")
    parser.add_argument("--lang", help="only this language folder (en, de, fr, es ...)")
    parser.add_argument("--no-mistakes", action="store_true", help="leave out the list")
    args = parser.parse_args(argv)
    try:
        items = load_corpus(args.corpus, args.lang)
    except LabelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not items:
        print(f"error: no labelled messages under {args.corpus}", file=sys.stderr)
        return 2
    scored = run(items)
    langs = sorted({s.item.lang for s in scored})
    out = report("all languages" if len(langs) > 1 else f"language {langs[0]}", scored)
    if len(langs) > 1:
        for lang in langs:
            out += ["", *report(f"language {lang}", [s for s in scored if s.item.lang == lang])]
    baseline = run(items, subject_only=True)
    out += [
        "",
        "== naive baseline: the subject line alone (body and calendar removed)",
        f"kind accuracy {_kind_accuracy(baseline):.3f}  "
        f"(full recognition: {_kind_accuracy(scored):.3f})",
    ]
    out += ["", *targets(scored)]
    if not args.no_mistakes:
        out += ["", *mistakes(scored)]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
