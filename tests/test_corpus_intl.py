"""German, French and Spanish corpus: every labelled field of every message, and explain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from followupd.model import Kind, Recognition
from followupd.parse import parse_message
from followupd.recognise import recognise

CORPUS = Path(__file__).parent / "corpus"
LANGUAGES = ("de",)
BERLIN = ZoneInfo("Europe/Berlin")
ME = {"jane@example.com"}


def _labels() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for lang in LANGUAGES:
        labels = yaml.safe_load((CORPUS / lang / "labels.yaml").read_text(encoding="utf-8"))
        found.update({f"{lang}/{name}": label for name, label in labels.items()})
    return found


LABELS = _labels()


def recognise_file(key: str) -> Recognition:
    raw = (CORPUS / key).read_bytes()
    return recognise(parse_message(raw, default_tz=BERLIN), me_addresses=ME, tz=BERLIN)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_labelled(lang: str) -> None:
    names = {p.name for p in (CORPUS / lang).glob("*.eml")}
    assert names == {k.split("/", 1)[1] for k in LABELS if k.startswith(f"{lang}/")}
    assert len(names) >= 35


@pytest.mark.parametrize("key", sorted(LABELS))
def test_message_matches_label(key: str) -> None:
    label = LABELS[key]
    result = recognise_file(key)
    assert result.kind == Kind(label["kind"]), result.evidence
    assert result.automatic is label["automatic"]
    for field in ("company", "role", "job_id"):
        if field in label:
            assert getattr(result, field) == label[field], field
    expected = label["interview"]
    if expected is None:
        if result.kind in (Kind.INVITATION, Kind.CONFIRMATION):
            assert result.interview is None
    else:
        assert result.interview is not None
        assert result.interview.start.isoformat() == expected["start"]
        assert result.interview.end.isoformat() == expected["end"]
        assert result.interview.timezone == expected["timezone"]
    assert [a.email or a.name for a in result.interviewers] == label["interviewers"]
    promised = label["promised_reply_by"]
    assert result.promised_reply_by == (date.fromisoformat(promised) if promised else None)


def test_explain_json_shows_the_german_phrases(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "followupd",
            "explain",
            "--json",
            str(CORPUS / "de" / "de_019_absage_personio_nordwind.eml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "FOLLOWUPD_CONFIG": ""},
    )
    assert done.returncode == 0, done.stderr
    explained = json.loads(done.stdout)
    assert explained["kind"] == "rejection"
    assert 'body: "uns leider für eine andere kandidatin entschieden"' in explained["evidence"]
    assert 'body: "nach sorgfältiger abwägung"' in explained["evidence"]
