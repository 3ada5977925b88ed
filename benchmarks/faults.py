"""Many connection faults in a row against one running daemon, on a real Dovecot.

Starts a throwaway Dovecot and tests/faultproxy.py in front of it, and `followupd run`
(one draft rule, short timings: timeout 2 s, idle_renew 2 s) talking through the proxy.
Then --faults times: arm a random fault (cut mid-FETCH, answer to APPEND lost, cut
mid-APPEND, cut mid-IDLE, silent stall in IDLE, reconnects refused for 5 s), deliver two
invitations straight to Dovecot, and wait until their drafts are in Drafts. Prints the
faults injected and recovered by kind, the time from delivery to draft with and without a
fault (the fault-free deliveries are the baseline), and drafts expected/made/duplicated.

Run: `python benchmarks/faults.py [--faults 40] [--seed 1]`. Exit 1 on any loss or duplicate.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import print_machine
from tests.dovecot import remove, start_dovecot
from tests.faultproxy import FaultProxy
from tests.test_connections import FAULTS, IDLE_FAULTS, ProxiedStore
from tests.test_daemon import invitation, stop_daemon, wait_for
from tests.test_signals import ACK, _followupd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print_machine()
    rng = random.Random(args.seed)
    kinds = [*FAULTS, "refuse-reconnects"]
    injected: Counter[str] = Counter()
    recovered: Counter[str] = Counter()
    with_fault: list[float] = []
    baseline: list[float] = []
    server = start_dovecot()
    proxy = FaultProxy(server.host, server.port)
    try:
        with tempfile.TemporaryDirectory(prefix="fupd-faults-") as tmp:
            store = ProxiedStore(server, proxy)
            run = _followupd(Path(tmp), store, ACK)
            daemon = run.start()
            expected = 0
            try:
                for i in range(args.faults * 2):
                    kind = kinds[rng.randrange(len(kinds))] if i % 2 else None
                    fired_before = len(proxy.fired)
                    if kind == "refuse-reconnects":
                        proxy.refuse_for(5)
                    elif kind is not None:
                        pattern, action, from_client = FAULTS[kind]
                        proxy.arm(pattern, action, from_client=from_client)
                    if kind in IDLE_FAULTS:
                        # Fires at the next IDLE renewal; the mail then comes while it is down.
                        wait_for(lambda b=fired_before: len(proxy.fired) > b, 20)
                    started = time.monotonic()
                    for _ in range(2):
                        sent = datetime.now(UTC) - timedelta(minutes=5)
                        store.deliver(invitation(expected, sent))
                        expected += 1
                    done = wait_for(lambda n=expected: len(store.drafts()) >= n, 90)
                    took = time.monotonic() - started
                    if kind is None:
                        baseline.append(took)
                        continue
                    if not wait_for(lambda b=fired_before: len(proxy.fired) > b, 20):
                        proxy.disarm()
                        kind = f"{kind} (never triggered)"
                    injected[kind] += 1
                    if done:
                        recovered[kind] += 1
                        with_fault.append(took)
                time.sleep(2)
            finally:
                stop_daemon(daemon)
            ids = Counter(str(m["Message-ID"]) for _f, m in store.drafts())
            states = Counter(a["state"] for a in run.status(datetime.now(UTC).isoformat())["done"])
    finally:
        proxy.close()
        remove(server)
    duplicates = sum(n - 1 for n in ids.values() if n > 1)
    print(f"{'fault':<32} injected recovered")
    for kind in sorted(injected):
        print(f"{kind:<32} {injected[kind]:>8} {recovered[kind]:>9}")
    print(f"{'total':<32} {sum(injected.values()):>8} {sum(recovered.values()):>9}")
    print(f"proxy: {proxy.connections} connections, {proxy.refused} refused")

    def fmt(xs: list[float]) -> str:
        if not xs:
            return "n/a"
        return f"median {statistics.median(xs):.1f} s, max {max(xs):.1f} s (n={len(xs)})"

    print(f"delivery -> draft, no fault (baseline): {fmt(baseline)}")
    print(f"delivery -> draft, with a fault:        {fmt(with_fault)}")
    print(f"drafts expected {expected}, made {len(ids)}, duplicates {duplicates}")
    print(f"status: {dict(states)}")
    ok = len(ids) == expected and duplicates == 0 and states == {"drafted": expected}
    ok = ok and sum(recovered.values()) == sum(injected.values())
    print("result: " + ("every fault recovered, every draft once" if ok else "FAILURE"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
