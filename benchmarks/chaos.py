"""The full chaos run: at least 100 SIGKILLs of the daemon on a real Dovecot.

Starts a throwaway Dovecot (tests/dovecot.py). A scenario of --apps applications with ten
messages each is first processed cleanly (user bob, one `followupd run --once`), then
delivered in batches to user jane while `followupd run` (the daemon) is started and
SIGKILLed --kills times: at a random moment, or, for about a third of the starts, by the
fault-injection hook right after an APPEND and before the state update
(FOLLOWUPD_TEST_KILL_AFTER_APPEND). One undisturbed pass ends it. Prints the figures:
kills, kills inside the APPEND window, drafts expected/made, duplicates, missing, and the
time of the chaos run against the clean run.

Run: `python benchmarks/chaos.py [--kills 120] [--apps 30] [--seed 1]`. Exit 1 when the
Drafts folders differ.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import print_machine
from tests.chaos import (
    draft_summary,
    finish,
    run_with_kills,
    scenario,
    setup,
    status_summary,
)
from tests.dovecot import remove, start_dovecot
from tests.stores import ImapStore


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=120)
    parser.add_argument("--apps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print_machine()
    server = start_dovecot()
    try:
        with tempfile.TemporaryDirectory(prefix="fupd-chaos-") as tmp:
            base = Path(tmp)
            messages = scenario(args.apps, 10)
            clean_store = ImapStore(server, "bob")
            clean = setup(base / "clean", clean_store)
            for raw in messages:
                clean_store.deliver(raw)
            started = time.monotonic()
            finish(clean)
            clean_seconds = time.monotonic() - started
            expected = draft_summary(clean_store)

            store = ImapStore(server, "jane")
            chaos = setup(base / "chaos", store)
            report = run_with_kills(chaos, store, messages, args.kills, args.seed)
            finish(chaos)
            made = draft_summary(store)
            ids = Counter(str(m["Message-ID"]) for _f, m in store.drafts())
            states, drafting, apps = status_summary(chaos)
    finally:
        remove(server)
    duplicates = sum(n - 1 for n in ids.values() if n > 1)
    missing = sum((expected - made).values())
    extra = sum((made - expected).values())
    print(f"messages:               {report.messages} across {args.apps} applications")
    print(f"daemon starts:          {report.starts}")
    print(f"SIGKILLs survived:      {report.kills}")
    print(f"  after APPEND, before the state update: {report.kills_after_append}")
    print(f"drafts expected (clean run): {sum(expected.values())}")
    print(f"drafts made under chaos:     {sum(made.values())}")
    print(f"duplicate Message-IDs:  {duplicates}")
    print(f"missing / unexpected:   {missing} / {extra}")
    print(f"status: drafted={states['drafted']} drafting={drafting} applications={apps}")
    print(f"time: clean run {clean_seconds:.1f} s; chaos run {report.seconds:.1f} s")
    ok = made == expected and duplicates == 0 and drafting == 0
    ok = ok and states["drafted"] == sum(expected.values())
    print("result: " + ("Drafts identical to the clean run" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
