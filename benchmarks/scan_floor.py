"""Where a first scan's time goes, stage by stage, against the bare header fetch.

Seeds jane's INBOX on a local Dovecot as `first_scan.py` does (--messages, default 20,000)
and measures, each after removing Dovecot's cache file (so Dovecot parses every message
again, as on a first scan), in one run:

1. bare: the issue's bare batched FETCH of six header fields with imapclient (as in
   `first_scan.py`);
2. stage one read: followupd's first stage alone (BODYSTRUCTURE and the screen's header
   fields, batches sent one ahead over followupd's pipelined reader, fields and structures
   decoded), nothing judged: what the issue's staged design asks of every message;
3. + screen: the same, and each message judged from its headers (`Screen.judge`);
4. staged fetch: `imap_fetch.staged_fetch` as a scan runs it (probes, the candidates' text
   parts), the messages handed over and dropped: nothing parsed, recognised or recorded;
5. first scan: `followupd run --once` on a fresh state (start-up and imports, recognition of
   the candidates, recording every message, planning).

For each (logging in included): wall seconds, messages per second and its ratio to the
bare fetch's rate, CPU seconds of the client (this process for 1-4, the followupd process
and its worker for 5) and of Dovecot meanwhile. On a machine with two cores the scan's
wall time cannot be less than half the sum of both CPU columns: that bounds what any
further work on one side buys.

Run: `python benchmarks/scan_floor.py [--messages 20000]`. Never asserts on time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from _common import Busyness, print_machine, process_cpu
from first_scan import drop_cache, seed_maildir
from run_once_imap import HEADER_FIELDS, NOW, PASSWORD_ENV, USER, write_config

from followupd.mailbox.imap_fetch import (
    FIRST_STAGE,
    STAGE_BATCH,
    staged_fetch,
    structure,
)
from followupd.mailbox.imap_wire import Pipeline
from followupd.prefilter import Screen, header_fields
from followupd.recognise import default_phrasebook
from tests.dovecot import Dovecot, remove, start_dovecot

_HEADER_KEY = FIRST_STAGE[1].replace(b".PEEK", b"", 1)


def first_stage(pipeline: Pipeline, uids: list[int]) -> Iterator[dict[bytes, object]]:
    """Every message's first-stage answer, batches sent one ahead as a scan sends them."""
    batches = [uids[i : i + STAGE_BATCH] for i in range(0, len(uids), STAGE_BATCH)]
    ticket = pipeline.send([(batches[0], FIRST_STAGE)]) if batches else None
    for number in range(len(batches)):
        following = None
        if number + 1 < len(batches):
            following = pipeline.send([(batches[number + 1], FIRST_STAGE)])
        assert ticket is not None
        yield from pipeline.collect(ticket).values()
        ticket = following


def read_only(pipeline: Pipeline, uids: list[int], screen: Screen) -> int:
    count = 0
    for item in first_stage(pipeline, uids):
        header_fields(bytes(item[_HEADER_KEY] or b""))  # type: ignore[call-overload]
        structure(item[b"BODYSTRUCTURE"])
        count += 1
    return count


def judged(pipeline: Pipeline, uids: list[int], screen: Screen) -> int:
    count = 0
    for item in first_stage(pipeline, uids):
        fields = header_fields(bytes(item[_HEADER_KEY] or b""))  # type: ignore[call-overload]
        structure(item[b"BODYSTRUCTURE"])
        screen.judge(fields, False)
        count += 1
    return count


def staged(pipeline: Pipeline, uids: list[int], screen: Screen) -> int:
    return sum(1 for _ in staged_fetch(pipeline, "INBOX", uids, screen))


def _client_cpu() -> float:
    """CPU seconds of this process and of its children that have ended."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(server: Dovecot, work: Callable[[], int]) -> tuple[float, float, float, int]:
    """(wall, client CPU, Dovecot CPU, messages) of `work`, Dovecot's cache file removed."""
    drop_cache(server)
    server_cpu = process_cpu(server.process.pid)
    start, cpu = time.perf_counter(), _client_cpu()
    count = work()
    wall, cpu = time.perf_counter() - start, _client_cpu() - cpu
    time.sleep(0.3)  # the IMAP process ends after the logout: its CPU goes to the master
    return wall, cpu, process_cpu(server.process.pid) - server_cpu, count


def over_inbox(server: Dovecot, work: Callable[[Pipeline, list[int], Screen], int]) -> int:
    """`work` over the whole INBOX on a pipelined connection of its own."""
    screen = Screen(default_phrasebook(), "in", lambda _ids: False, lambda _id: False)
    with server.client(USER) as client:
        client.select_folder("INBOX", readonly=True)
        return work(Pipeline.over(client), sorted(client.search("ALL")), screen)


def bare(server: Dovecot) -> int:
    from run_once_imap import naive_baseline

    return naive_baseline(server, HEADER_FIELDS, parse=False).messages


def first_scan(server: Dovecot, tmp: Path, messages: int) -> int:
    shutil.rmtree(tmp / "state", ignore_errors=True)
    config = write_config(tmp / "config.yaml", server, tmp / "state")
    env = {**os.environ, PASSWORD_ENV: server.users[USER]}
    command = [sys.executable, "-m", "followupd", "run", "--once", "--now", NOW]
    subprocess.run([*command, "--config", str(config)], env=env, check=True, capture_output=True)
    return messages


def main(argv: list[str] | None = None) -> int:
    """Seed, measure rows 1-5, print the table; see the module docstring."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    busy = Busyness()
    server = start_dovecot()
    tmp = Path(tempfile.mkdtemp(prefix="followupd-floor-"))
    try:
        seed_maildir(server, args.messages, args.seed)
        with server.client(USER) as client:  # Dovecot indexes the folder once
            count = int(client.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"])
        default_phrasebook()  # built (or read from its cache) before anything is timed
        rows = [
            ("1 bare header fetch (imapclient)", timed(server, lambda: bare(server))),
            (
                "2 stage one read, nothing judged",
                timed(server, lambda: over_inbox(server, read_only)),
            ),
            (
                "3 stage one read + screen verdicts",
                timed(server, lambda: over_inbox(server, judged)),
            ),
            ("4 staged fetch, nothing parsed", timed(server, lambda: over_inbox(server, staged))),
            (
                "5 first scan (followupd run --once)",
                timed(server, lambda: first_scan(server, tmp, count)),
            ),
        ]
    finally:
        remove(server)
        shutil.rmtree(tmp, ignore_errors=True)
    print_machine(busy)
    print(f"{'what':<38} {'wall s':>6} {'msgs/s':>7} {'x bare':>6} {'client s':>8} {'Dov s':>5}")
    base_rate = rows[0][1][3] / rows[0][1][0]
    for label, (wall, cpu, server_cpu, count) in rows:
        rate = count / wall
        print(
            f"{label:<38} {wall:>6.2f} {rate:>7.0f} {rate / base_rate:>6.2f}"
            f" {cpu:>8.2f} {server_cpu:>5.2f}"
        )
    print("(x bare: the rate as a fraction of the bare fetch's; client s: CPU seconds of the")
    print(" client, for row 5 the followupd process and its worker; Dov s: CPU seconds of")
    print(" Dovecot's processes meanwhile. With two cores, wall >= (client s + Dov s) / 2.)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
