"""Hostile mail in bulk: how much is read, refused or crashes, and how long each takes.

Generates --count messages with tests/hostile.py (eleven kinds: binary junk, huge and
endless headers, CR/LF and encoded-word injection, unknown and lying charsets, multiparts
nested hundreds deep, broken boundaries, damaged calendar parts, undecodable transfer
encodings, NUL and control bytes) plus one 40 MB message, then

a. parses and recognises each in this process, counting: read (with defects or not),
   refused as malformed, and crashes (any other exception; must be 0), with the slowest;
b. the same messages, with one good invitation among them, in a Maildir processed by
   `followupd run --once` as a subprocess: exit code, messages recorded, skipped with a
   reason, drafts made for the good invitation.

Run: `python benchmarks/hostile.py [--count 1000] [--seed 7]`. Exit 1 on any crash.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import print_machine
from followupd.parse import MalformedMessage, parse_message
from followupd.recognise import recognise
from tests.hostile import corpus, enormous
from tests.mail import INVITATION_ICS, crlf
from tests.stores import Followupd, MaildirStore

BERLIN = ZoneInfo("Europe/Berlin")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print_machine()
    messages = [*corpus(args.count, args.seed), ("enormous (40 MB)", enormous())]
    outcome: Counter[tuple[str, str]] = Counter()
    crashes: list[str] = []
    slowest = (0.0, "")
    started = time.monotonic()
    for kind, raw in messages:
        t0 = time.monotonic()
        try:
            msg = parse_message(raw, default_tz=BERLIN)
            recognise(msg, me_addresses={"jane@example.com"}, tz=BERLIN)
            outcome[(kind, "read with defects" if msg.defects else "read")] += 1
        except MalformedMessage:
            outcome[(kind, "refused as malformed")] += 1
        except Exception as exc:  # noqa: BLE001 - counting them is the point
            crashes.append(f"{kind}: {type(exc).__name__}: {exc}")
        took = time.monotonic() - t0
        if took > slowest[0]:
            slowest = (took, kind)
    in_process = time.monotonic() - started
    print(f"\na. parse + recognise in process: {len(messages)} messages in {in_process:.1f} s")
    print(f"{'kind':<24} {'read':>6} {'defects':>8} {'refused':>8}")
    for kind in sorted({k for k, _ in outcome}):
        print(
            f"{kind:<24} {outcome[(kind, 'read')]:>6} {outcome[(kind, 'read with defects')]:>8}"
            f" {outcome[(kind, 'refused as malformed')]:>8}"
        )
    print(f"crashes: {len(crashes)}; slowest message: {slowest[0] * 1000:.0f} ms ({slowest[1]})")
    for line in crashes[:10]:
        print("  " + line)

    with tempfile.TemporaryDirectory(prefix="fupd-hostile-") as tmp:
        base = Path(tmp)
        store = MaildirStore(base / "Maildir")
        half = len(messages) // 2
        for _kind, raw in messages[:half]:
            store.deliver(raw)
        store.deliver(crlf(INVITATION_ICS))
        for _kind, raw in messages[half:]:
            store.deliver(raw)
        run = Followupd(base, store)
        t0 = time.monotonic()
        done = subprocess.run(
            run.command("run", "--once", "--now", "2026-11-05T18:00"),
            capture_output=True,
            text=True,
            env=run.env,
            check=False,
        )
        pipeline = time.monotonic() - t0
        db = sqlite3.connect(base / "state" / "state.sqlite3")
        rows = db.execute("SELECT status, reason FROM messages").fetchall()
        db.close()
        status = json.loads(run("status", "--json", "--now", "2026-11-05T18:00"))
        acme = [m for _f, m in store.drafts() if str(m["In-Reply-To"]) == "<inv-1@acme.example>"]
    skipped = [r for s, r in rows if s == "skipped"]
    unexpected = [r for r in skipped if not r.startswith("malformed: ")]
    print(f"\nb. followupd run --once over a Maildir of {len(messages) + 1} messages:")
    print(f"exit code {done.returncode} in {pipeline:.1f} s; messages recorded {len(rows)}")
    print(f"skipped with a reason: {len(skipped)} (listed by status: {len(status['skipped'])})")
    print(f"skipped because of an unexpected exception (crash caught): {len(unexpected)}")
    print(f"drafts for the one good invitation: {len(acme)} (expected 3)")
    ok = not crashes and not unexpected and done.returncode == 0 and len(acme) == 3
    ok = ok and len(rows) == len(messages) + 1
    print("result: " + ("no crash, nothing lost" if ok else "FAILURE"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
