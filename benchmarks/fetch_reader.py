"""The client's cost of reading a first scan's FETCH answers, and the round trips for candidates.

Seeds jane's INBOX like first_scan.py (default 20,000 messages, 2 % job mail), then, in this
one process against one Dovecot, reads the first stage of the staged fetch (BODYSTRUCTURE
and 13 header fields for every message, in batches of 500) three ways:

a. imapclient's `fetch` (imaplib reads the answer, imapclient parses it): the naive way;
b. imaplib's `uid("FETCH", ...)` alone, answers left unparsed: imaplib's reading alone;
c. `imap_wire.fetch_fast`, what the scan uses: read and parsed into imapclient's shapes.

Each is run twice and the faster run kept; Dovecot's cache is warm after the first read,
so the server's share is the same for all. Client CPU is this process's CPU time (Dovecot
is another process). c is checked to give the same structures and header fields as a.

Then the candidates of the scan (what `staged_fetch` hands over as job mail) are read with
`bounded_messages` one message per FETCH (as before) and per batch of 500 UIDs (candidates
of one shape share a FETCH; all FETCH commands of a batch are pipelined), with the FETCH
commands and round trips counted and the bytes compared.

Run: `python benchmarks/fetch_reader.py [--messages 20000]`. Never asserts on time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import Busyness, print_machine
from first_scan import seed_maildir
from run_once_imap import USER

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from followupd.mailbox.base import Fetched  # noqa: E402
from followupd.mailbox.imap_fetch import (  # noqa: E402
    HEADER_ITEM,
    STAGE_BATCH,
    Leaf,
    Multipart,
    bounded_messages,
    staged_fetch,
    structure,
)
from followupd.mailbox.imap_wire import Pipeline, Request, fetch_fast  # noqa: E402
from followupd.prefilter import Screen  # noqa: E402
from followupd.recognise import default_phrasebook  # noqa: E402
from tests.dovecot import remove, start_dovecot  # noqa: E402

ITEMS = [b"BODYSTRUCTURE", HEADER_ITEM]


class Counted:
    """fetch_fast over one connection, counting FETCH commands and round trips."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.commands = self.round_trips = 0

    def __call__(self, requests: Sequence[Request]) -> dict[int, dict[bytes, Any]]:
        self.round_trips += 1
        self.commands += len(requests)
        return fetch_fast(self.client, requests)


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, CPU s of this process, result) of the faster of two runs."""
    best: tuple[float, float, Any] | None = None
    for _ in range(2):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = work()
        run = (time.perf_counter() - wall0, time.process_time() - cpu0, result)
        if best is None or run[1] < best[1]:
            best = run
    assert best is not None
    return best


def batches(uids: list[int]) -> list[list[int]]:
    return [uids[i : i + STAGE_BATCH] for i in range(0, len(uids), STAGE_BATCH)]


def main(argv: list[str] | None = None) -> int:
    """Seed, measure, print; see the module docstring."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    busy = Busyness()
    server = start_dovecot()
    try:
        count, total = seed_maildir(server, args.messages, args.seed)
        with server.client(USER) as client:
            client.select_folder("INBOX", readonly=True)
            uids = sorted(client.search("ALL"))
            imap = client._imap
            item_text = "(" + " ".join(i.decode() for i in ITEMS) + ")"

            def imapclient_way() -> dict[int, Any]:
                found: dict[int, Any] = {}
                for batch in batches(uids):
                    found.update(client.fetch(batch, ITEMS))
                return found

            def imaplib_alone() -> int:
                parts = 0
                for batch in batches(uids):
                    _typ, data = imap.uid("FETCH", ",".join(map(str, batch)), item_text)
                    parts += len(data)
                return parts

            def wire_way() -> dict[int, Any]:
                found: dict[int, Any] = {}
                for batch in batches(uids):
                    found.update(fetch_fast(client, [(batch, ITEMS)]))
                return found

            imapclient_way()  # Dovecot parses every file once, for all three
            rows = [
                ("a. imapclient fetch (naive)", *timed(imapclient_way)),
                ("b. imaplib uid FETCH, unparsed", *timed(imaplib_alone)),
                ("c. imap_wire.fetch_fast", *timed(wire_way)),
            ]
            slow, fast = rows[0][3], rows[2][3]
            header = next(k for k in slow[uids[0]] if k.startswith(b"BODY[HEADER.FIELDS"))
            agree = sorted(fast) == uids and all(
                fast[u][header] == slow[u][header]
                and structure(fast[u][b"BODYSTRUCTURE"]) == structure(slow[u][b"BODYSTRUCTURE"])
                for u in uids
            )

            screen = Screen(
                default_phrasebook(), "in", threaded=lambda ids: False, ours=lambda mid: False
            )
            scanned = list(staged_fetch(Pipeline.over(client), "INBOX", uids, screen))
            candidates = [i.uid for i in scanned if isinstance(i, Fetched)]
            trees: dict[int, Leaf | Multipart] = {
                u: structure(fast[u][b"BODYSTRUCTURE"]) for u in candidates
            }
            one_each = Counted(client)
            per_batch = Counted(client)

            def one_by_one() -> dict[int, bytes]:
                found: dict[int, bytes] = {}
                for uid in candidates:
                    found.update(bounded_messages(one_each, [(uid, trees[uid])]))
                return found

            def batched() -> dict[int, bytes]:
                found: dict[int, bytes] = {}
                for batch in batches(uids):
                    chosen = [(u, trees[u]) for u in batch if u in trees]
                    if chosen:
                        found.update(bounded_messages(per_batch, chosen))
                return found

            single = timed(one_by_one)
            grouped = timed(batched)
    finally:
        remove(server)

    print_machine(busy)
    print(f"mailbox: {count} messages ({total / 1e9:.2f} GB)")
    print()
    print(f"first stage ({' '.join(i.decode()[:30] for i in ITEMS)}...) for every message:")
    head = f"{'reader':<34} {'wall s':>7} {'client CPU s':>12} {'msgs/s (CPU)':>12}"
    print(head)
    print("-" * len(head))
    for label, wall, cpu, _result in rows:
        print(f"{label:<34} {wall:>7.2f} {cpu:>12.2f} {count / cpu:>12.0f}")
    print(
        f"fast reader gives imapclient's structures and header fields: {'yes' if agree else 'NO'}"
    )
    print(f"client CPU, imapclient / fast reader: {rows[0][2] / rows[2][2]:.1f}x")
    print()
    print(f"candidates of the scan: {len(candidates)}")
    head = (
        f"{'candidate bodies':<34} {'FETCHes':>7} {'round trips':>11} {'wall ms':>8} {'CPU ms':>7}"
    )
    print(head)
    print("-" * len(head))
    for label, counter, (wall, cpu, _r) in (
        ("one FETCH per candidate", one_each, single),
        ("shared FETCHes, pipelined", per_batch, grouped),
    ):
        # timed() ran each twice: per run is half the count.
        print(
            f"{label:<34} {counter.commands // 2:>7} {counter.round_trips // 2:>11}"
            f" {wall * 1000:>8.1f} {cpu * 1000:>7.1f}"
        )
    print(f"same bytes either way: {'yes' if single[2] == grouped[2] else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
