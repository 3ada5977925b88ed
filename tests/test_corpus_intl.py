"""German, French and Spanish corpora: size and coverage, and explain's evidence.

Every labelled field of every message is checked by `tests/test_corpus.py`, which reads
all corpus folders; this file holds what is particular to the non-English ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from followupd.labels import load_corpus
from followupd.model import Kind

CORPUS = Path(__file__).parent / "corpus"
LANGUAGES = ("de", "fr", "es")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_has_a_corpus_covering_every_kind(lang: str) -> None:
    items = load_corpus(CORPUS, lang)
    assert len(items) >= 35
    assert {i.label["kind"] for i in items} == {k.value for k in Kind}


def explain(path: Path, home: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "followupd", "explain", "--json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "XDG_CONFIG_HOME": str(home), "FOLLOWUPD_CONFIG": ""},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_explain_json_shows_the_german_phrases(tmp_path: Path) -> None:
    explained = explain(CORPUS / "de" / "de_019_absage_personio_nordwind.eml", tmp_path)
    assert explained["kind"] == "rejection"
    evidence = explained["evidence"]
    assert isinstance(evidence, list)
    assert 'body: "uns leider für eine andere kandidatin entschieden"' in evidence
    assert 'body: "nach sorgfältiger abwägung"' in evidence
