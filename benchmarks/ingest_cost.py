"""What a job message costs once it is fetched, and what loading the phrase books costs.

The first-scan benchmark measures everything at once; this one measures the part that
grows with the number of job messages and the start-up every command pays, without a
server, so that small changes show:

1. Phrase books, each in a fresh `python` process (median of --starts runs), import of
   the module included: built from the YAML files (the naive way; a cache folder that
   cannot be made, so nothing is written either) against read from the cache entry an
   earlier start wrote (`followupd/buildcache.py`).
2. Per job message, in process: `parse_message`, `recognise`, and `Engine.ingest` as a scan
   calls it (parse, recognise and the state file), into a fresh state file: once with every
   commit waiting for the disk (synchronous=FULL, the naive way) and once inside
   `Tracker.intake` (synchronous=NORMAL, what a scan does).

The messages are copies of the job samples in tests/samples with fresh Message-IDs, as in
first_scan.py. Run: `python benchmarks/ingest_cost.py [--messages 1000] [--starts 5]`.
Never asserts on time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from _common import Busyness, print_machine
from run_once_imap import ME_YAML, ZONE, crlf, renamed, sample_sets

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from followupd.config import load_config  # noqa: E402
from followupd.mailbox.base import Fetched  # noqa: E402
from followupd.parse import parse_message  # noqa: E402
from followupd.pipeline import Engine, Report  # noqa: E402
from followupd.recognise import default_phrasebook, recognise  # noqa: E402
from followupd.ruleset import load_rules  # noqa: E402
from followupd.tracker import Tracker  # noqa: E402

ME = frozenset({"jane@example.com"})
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=ZONE)
_LOAD = (
    "import time; t = time.perf_counter();"
    " from followupd.phrasebook import load_phrasebook; load_phrasebook();"
    " print(time.perf_counter() - t)"
)
CONFIG = (
    ME_YAML
    + """\
accounts:
  - name: work
    maildir: {state}/Mail
"""
)


def book_load(cache: Path) -> float:
    """Seconds to import the phrase-book module and load the books, in a fresh process."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", _LOAD], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout)


def job_messages(count: int) -> list[bytes]:
    jobs, _others = sample_sets()
    return [crlf(renamed(jobs[i % len(jobs)].read_bytes(), i // len(jobs))) for i in range(count)]


@contextlib.contextmanager
def engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.yaml"
        config_path.write_text(CONFIG.format(state=tmp))
        config = load_config(config_path)
        tracker = Tracker(Path(tmp) / "state.sqlite3")
        try:
            yield Engine(config, load_rules(config.rules_path), tracker)
        finally:
            tracker.close()


def ingest_ms(raws: list[bytes], *, relaxed: bool) -> tuple[float, int]:
    """(ms per message for Engine.ingest over `raws`, how many were recognised as job mail)."""
    with engine() as eng:
        report = Report()
        durability = eng.tracker.intake() if relaxed else contextlib.nullcontext()
        start = time.perf_counter()
        with durability:
            for uid, raw in enumerate(raws, 1):
                eng.ingest("work", Fetched("INBOX", str(uid), uid, raw), 1, "in", report, NOW)
        seconds = time.perf_counter() - start
    return 1000 * seconds / len(raws), report.count("recognised")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="job messages to ingest")
    parser.add_argument("--starts", type=int, default=5, help="fresh processes per book load")
    args = parser.parse_args(argv)
    busy = Busyness()

    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        # A cache folder that cannot be made: every start builds, and writes nothing.
        nowhere = Path(tmp) / "a-file"
        nowhere.write_text("")
        book_load(Path(tmp))  # writes the cache entry the "cached" runs read
        for _ in range(args.starts):
            cold.append(book_load(nowhere))
            warm.append(book_load(Path(tmp)))

    raws = job_messages(args.messages)
    default_phrasebook()
    start = time.perf_counter()
    parsed = [parse_message(raw, default_tz=ZONE) for raw in raws]
    parse = 1000 * (time.perf_counter() - start) / len(raws)
    start = time.perf_counter()
    for msg in parsed:
        recognise(msg, me_addresses=ME, tz=ZONE, facts_for_other=False)
    recog = 1000 * (time.perf_counter() - start) / len(raws)
    full, recognised = ingest_ms(raws, relaxed=False)
    relaxed, _ = ingest_ms(raws, relaxed=True)

    print_machine(busy)
    print(f"messages: {len(raws)} copies of the job samples in tests/samples")
    print()
    print(f"{'what':58}{'median':>10}{'min':>10}")
    print("-" * 78)
    print(
        f"{'phrase books built from YAML (naive), s':58}"
        f"{statistics.median(cold):10.3f}{min(cold):10.3f}"
    )
    print(
        f"{'phrase books read from the cache, s':58}"
        f"{statistics.median(warm):10.3f}{min(warm):10.3f}"
    )
    print()
    print(f"{'per job message':58}{'ms':>10}")
    print("-" * 68)
    print(f"{'parse_message':58}{parse:10.2f}")
    print(f"{'recognise':58}{recog:10.2f}")
    print(f"{'Engine.ingest, every commit synchronous=FULL (naive)':58}{full:10.2f}")
    print(f"{'Engine.ingest inside Tracker.intake (a scan)':58}{relaxed:10.2f}")
    print()
    print(f"recognised as job mail: {recognised} of {len(raws)}")
    print(
        f"phrase books: cache {statistics.median(cold) / statistics.median(warm):.0f}x faster;"
        f" ingest: intake saves {full - relaxed:.2f} ms per job message"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
