"""The phrase-book cache: later starts read the built book; a bad entry is rebuilt, never fatal."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followupd import phrasebook
from followupd.parse import parse_message
from followupd.phrasebook import PhraseBook, load_phrasebook
from followupd.recognise import recognise

SAMPLES = Path(__file__).parent / "samples"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache folder; every load_phrasebook() in the test starts cold in memory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    phrasebook._load.cache_clear()
    yield tmp_path / "followupd" / "phrasebook-all.pickle"
    phrasebook._load.cache_clear()


def _builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the books built from the phrase files from now on."""
    built: list[int] = []
    real = phrasebook._build

    def counting(texts: list[tuple[str, str]]) -> PhraseBook:
        built.append(1)
        return real(texts)

    monkeypatch.setattr(phrasebook, "_build", counting)
    return built


def _explain(book: PhraseBook, name: str) -> str:
    msg = parse_message((SAMPLES / name).read_bytes(), default_tz=BERLIN)
    return repr(recognise(msg, me_addresses={"jane@example.com"}, tz=BERLIN, phrases=book))


def test_a_later_start_reads_the_built_book(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = _builds(monkeypatch)
    first = load_phrasebook()
    assert cache.exists() and built == [1]
    assert os.stat(cache).st_mode & 0o077 == 0
    phrasebook._load.cache_clear()
    second = load_phrasebook()
    assert built == [1]  # read, not built again
    assert second is not first and second == first
    for name in ("01_invite_google_acme.eml", "09_rejection_greenhouse_vandelay.eml"):
        assert _explain(second, name) == _explain(first, name)


@pytest.mark.parametrize(
    "damage",
    [b"", b"not a pickle at all", b"\x80\x05K\x01.", b"\x80\x05\x95\xff\xff\xff\xff"],
    ids=["empty", "garbage", "wrong-shape", "truncated"],
)
def test_a_damaged_entry_is_rebuilt(
    cache: Path, monkeypatch: pytest.MonkeyPatch, damage: bytes
) -> None:
    load_phrasebook()
    cache.write_bytes(damage)
    phrasebook._load.cache_clear()
    built = _builds(monkeypatch)
    book = load_phrasebook()
    assert built == [1]
    assert "invitation" in _explain(book, "01_invite_google_acme.eml")
    phrasebook._load.cache_clear()
    load_phrasebook()
    assert built == [1]  # the rebuilt entry replaced the damaged one


def test_a_changed_phrase_file_is_not_served_from_the_cache(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_phrasebook()
    files = phrasebook._files()
    extra = "kinds:\n  rejection:\n    body:\n      5: ['helaas moeten wij u laten weten']\n"
    monkeypatch.setattr(phrasebook, "_files", lambda: {**files, "nl.yaml": extra})
    phrasebook._load.cache_clear()
    assert load_phrasebook().languages[-1] == "nl"


def test_an_entry_others_could_write_is_ignored(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_phrasebook()
    cache.chmod(0o666)
    phrasebook._load.cache_clear()
    built = _builds(monkeypatch)
    load_phrasebook()
    assert built == [1]


def test_a_cache_folder_that_cannot_be_made_only_costs_time(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.parent.write_text("a file where the cache folder would go\n")
    built = _builds(monkeypatch)
    assert load_phrasebook().languages
    phrasebook._load.cache_clear()
    assert load_phrasebook().languages
    assert built == [1, 1]
