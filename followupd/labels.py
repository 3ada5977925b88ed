"""Labelled corpora: hand-written ground truth for messages, and checking a recognition
against it.

A corpus is a folder per language (`tests/corpus/en/`, `tests/corpus/de/` ...) holding
RFC 5322 files and a `labels.yaml` mapping each file name to what a careful reader says
it is (format at the top of `tests/samples/labels.yaml`). The recognition benchmark and
the corpus test both score with `check`, so they cannot disagree on what "right" means.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from followupd.model import Kind, Recognition

# Legal-form words: "Fjordlight GmbH" and "Fjordlight" are the same company.
_LEGAL_FORMS = frozenset(
    {
        "inc",
        "ltd",
        "limited",
        "gmbh",
        "llc",
        "plc",
        "corp",
        "corporation",
        "ag",
        "sa",
        "sl",
        "sas",
        "sarl",
        "bv",
        "nv",
        "se",
        "co",
        "kg",
        "ug",
    }
)
_PUNCT = re.compile(r"[^\w&]+")
KINDS = tuple(k.value for k in Kind)


class LabelError(ValueError):
    """A labels file is malformed or does not match the files beside it."""


@dataclass(frozen=True)
class Labelled:
    """One corpus message and its label."""

    path: Path
    lang: str  # the corpus folder's name
    label: Mapping[str, Any]


@dataclass(frozen=True)
class Check:
    """One labelled field compared with what recognition found."""

    field: str
    ok: bool
    expected: str
    got: str


def load_corpus(root: Path, lang: str | None = None) -> list[Labelled]:
    """Every labelled message under `root/*/labels.yaml` (only `root/lang` when given).

    Raises LabelError naming the file when a label is malformed, a labelled file is
    missing or a message file has no label.
    """
    items: list[Labelled] = []
    for labels_path in sorted(root.glob("*/labels.yaml")):
        folder = labels_path.parent
        if lang is not None and folder.name != lang:
            continue
        try:
            data = yaml.safe_load(labels_path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise LabelError(f"{labels_path}: {exc}") from exc
        if not isinstance(data, dict):
            raise LabelError(f"{labels_path}: expected a mapping of file name to label")
        on_disk = {p.name for p in folder.glob("*.eml")}
        unlabelled = sorted(on_disk - set(data))
        if unlabelled:
            raise LabelError(f"{labels_path}: no label for {', '.join(unlabelled[:5])}")
        for name, label in data.items():
            _validate(labels_path, str(name), label, on_disk)
            items.append(Labelled(folder / str(name), folder.name, label))
    return items


def _validate(labels_path: Path, name: str, label: Any, on_disk: set[str]) -> None:
    where = f"{labels_path}: {name}"
    if name not in on_disk:
        raise LabelError(f"{where}: file not found")
    if not isinstance(label, dict) or label.get("kind") not in KINDS:
        raise LabelError(f"{where}: needs kind, one of {', '.join(KINDS)}")
    interview = label.get("interview")
    if interview is not None and not (isinstance(interview, dict) and interview.get("start")):
        raise LabelError(f"{where}: interview needs a start (or null)")
    try:
        if interview is not None:
            _instant(interview["start"])
            if interview.get("end") is not None:
                _instant(interview["end"])
        if label.get("promised_reply_by") is not None:
            date.fromisoformat(str(label["promised_reply_by"]))
    except ValueError as exc:
        raise LabelError(f"{where}: {exc}") from exc


def _instant(text: Any) -> datetime:
    value = datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise ValueError(f"time without offset: {text}")
    return value


def company_key(name: str | None) -> str | None:
    """A company name reduced for comparison: case, punctuation and legal form dropped."""
    if name is None:
        return None
    words = _PUNCT.sub(" ", name.casefold()).split()
    while len(words) > 1 and words[-1] in _LEGAL_FORMS:
        words.pop()
    return " ".join(words)


def _text_key(value: str | None) -> str | None:
    return None if value is None else " ".join(value.casefold().split())


def _show(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "-" if value is None else str(value)


def check(label: Mapping[str, Any], result: Recognition) -> list[Check]:
    """Compare every field the label states with `result`.

    Times are compared as instants (14:00+01:00 equals 13:00Z); an interview end is only
    checked when the label gives one; interviewers are compared as a set of addresses (or
    names, where the message gives no address); company ignores case and legal form.
    """
    checks = [Check("kind", result.kind.value == label["kind"], label["kind"], result.kind.value)]
    if "automatic" in label:
        checks.append(
            Check(
                "automatic",
                result.automatic is bool(label["automatic"]),
                str(label["automatic"]),
                str(result.automatic),
            )
        )
    if "company" in label:
        expected = label["company"]
        ok = company_key(expected) == company_key(result.company)
        checks.append(Check("company", ok, _show(expected), _show(result.company)))
    if "role" in label:
        expected = label["role"]
        ok = _text_key(expected) == _text_key(result.role)
        checks.append(Check("role", ok, _show(expected), _show(result.role)))
    interview = label.get("interview")
    if interview is not None:
        got = result.interview
        # `end: null` in a label means the message gives no length: only the start is checked.
        for field in ("start", "end"):
            if interview.get(field) is not None:
                expected_at = _instant(interview[field])
                got_at = getattr(got, field) if got else None
                ok = got_at == expected_at
                checks.append(Check(field, ok, _show(expected_at), _show(got_at)))
    if "interviewers" in label:
        expected_people = sorted(str(p).casefold() for p in label["interviewers"] or [])
        got_people = sorted((a.email or a.name).casefold() for a in result.interviewers)
        checks.append(
            Check(
                "interviewers",
                expected_people == got_people,
                ", ".join(expected_people) or "-",
                ", ".join(got_people) or "-",
            )
        )
    if "promised_reply_by" in label:
        raw = label["promised_reply_by"]
        expected_date = date.fromisoformat(str(raw)) if raw is not None else None
        checks.append(
            Check(
                "promised",
                expected_date == result.promised_reply_by,
                _show(expected_date),
                _show(result.promised_reply_by),
            )
        )
    if "job_id" in label:
        expected_id = None if label["job_id"] is None else str(label["job_id"])
        checks.append(
            Check("job_id", expected_id == result.job_id, _show(expected_id), _show(result.job_id))
        )
    return checks
