"""First scan of a big INBOX on a local Dovecot: followupd against a naive and a bare fetch.

Seeds user jane's INBOX with --messages messages (default 20,000) written straight into
Dovecot's Maildir before the first login (APPEND of 100,000 messages would take longer than
the scan): 2 % job mail (copies of the job samples in tests/samples with fresh
Message-IDs), each negative sample once, the rest ordinary mail from the generator in
run_once_imap.py (newsletters, notifications, personal mail), one in 60 with a base64
attachment of 100 KB to 5 MB. Dovecot indexes the folder once (a STATUS) before timing,
and its cache file (what it has already parsed out of the messages: header fields, body
structures, sizes) is removed before each measurement, so that none of them profits from
what an earlier one made Dovecot read.

Then, each in its own process so that its peak RSS is its own:

a. `followupd run --once --now ... --config CFG` on a fresh state directory (first scan);
b. a bare batched FETCH of BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID
   CONTENT-TYPE)] over the whole INBOX: the practical limit of any scan on this machine;
c. a naive baseline: FETCH RFC822 in batches and `mailparser.parse_from_bytes` on each;
d. `run --once` again on the state (a) left: the resync of a restarted daemon, with nothing
   new (the one measurement that starts with Dovecot's cache as the others left it);
e. with --compare-inline, (a) again on fresh states, once with `scan_worker: true` (the
   default: candidates read in a worker process on a machine with two cores or more, see
   `ingest_worker.second_core`), once with `scan_worker: false`: every candidate parsed and
   recognised in the scanning process itself (A/B in the same run);
f. with --stopped-worker, (e1) once more with the worker process stopped (SIGSTOP) as soon
   as it is spawned: what a worker that gets no CPU at all costs the scan (the scan reads
   a candidate itself when the worker's answer is late, `ingest_order.GRACE_SECONDS`).

For each: wall seconds, messages per second, bytes the server sent (from Dovecot's logout
line, `out=`), and peak RSS (VmHWM: ru_maxrss would carry over this script's own size
through fork and exec): of that process, of the worker process a big scan starts to read
candidates (`followupd/ingest_worker.py`, read from /proc every 0.1 s while it runs), and
the sum of both, which is what the scan holds at most;
CPU seconds of that process, of its worker, and of Dovecot meanwhile (its master's own and
its reaped children's, from /proc: each session's IMAP process ends with the session), to
show which of the two cores the time went to.
The ratios to the targets of issue 7 are printed below the table.

Run: `python benchmarks/first_scan.py [--messages 20000] [--skip-naive] [--compare-inline]`.
Never asserts on time. Dovecot is stopped and removed even on error.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from _common import Busyness, ChildPeaks, peak_rss_kib, print_machine, process_cpu
from run_once_imap import (
    HEADER_FIELDS,
    KB,
    NOW,
    PASSWORD_ENV,
    USER,
    ZONE,
    Generator,
    crlf,
    followupd_command,
    naive_baseline,
    renamed,
    sample_sets,
    sentences,
    write_config,
)

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.dovecot import Dovecot, remove, start_dovecot  # noqa: E402

MB = 1024 * KB
_OUT = re.compile(rb"out=(\d+)")


def messages(count: int, seed: int) -> Iterator[bytes]:
    """count raw messages in a shuffled, deterministic order, generated one at a time."""
    rng = random.Random(seed)
    job_samples, negative_samples = sample_sets()
    job_count = max(1, round(count * 0.02))
    special = {i: ("job", i) for i in rng.sample(range(count), k=job_count)}
    free = [i for i in range(count) if i not in special]
    for n, i in enumerate(rng.sample(free, k=min(len(free), len(negative_samples)))):
        special[i] = ("negative", n)
    gen = Generator(
        rng=rng,
        pool=sentences(rng, 3000),
        start=datetime(2024, 1, 1, 8, 0, tzinfo=ZONE),
        span=timedelta(days=700),
    )
    blob = rng.randbytes(5 * MB)
    job_no = 0
    for i in range(count):
        what = special.get(i)
        if what and what[0] == "job":
            path = job_samples[job_no % len(job_samples)]
            yield crlf(renamed(path.read_bytes(), job_no // len(job_samples)))
            job_no += 1
        elif what:
            yield crlf(renamed(negative_samples[what[1]].read_bytes(), 0))
        elif rng.random() < 1 / 60:
            mail = gen.personal()
            size = gen.size(100 * KB, 5 * MB)
            offset = rng.randrange(0, len(blob) - size + 1)
            ctype, ext = rng.choice((("application/pdf", "pdf"), ("image/jpeg", "jpg")))
            mail.attachment = (ctype, f"file{i}.{ext}", blob[offset : offset + size])
            yield mail.raw()
        else:
            yield gen.any().raw()


def seed_maildir(server: Dovecot, count: int, seed: int) -> tuple[int, int]:
    """Write the messages into jane's Maildir cur/ (80 % seen); returns (count, bytes)."""
    import pwd

    owner = pwd.getpwnam("dovecot")
    home = server.root / "mail" / USER
    for sub in ("", "cur", "new", "tmp"):
        (home / sub).mkdir(exist_ok=True)
        os.chown(home / sub, owner.pw_uid, owner.pw_gid)
    rng = random.Random(seed + 1)
    total = 0
    base = int(time.time()) - count
    for n, raw in enumerate(messages(count, seed)):
        flags = "S" if rng.random() < 0.8 else ""
        path = home / "cur" / f"{base + n}.M{n}P1.bench,S={len(raw)}:2,{flags}"
        path.write_bytes(raw)
        os.chown(path, owner.pw_uid, owner.pw_gid)
        total += len(raw)
    return count, total


def drop_cache(server: Dovecot) -> None:
    """Remove Dovecot's cache file of jane's INBOX (no session is open between runs)."""
    (server.root / "mail" / USER / "dovecot.index.cache").unlink(missing_ok=True)


def server_bytes(log: Path, offset: int) -> int:
    """Bytes Dovecot sent in the sessions that logged out after `offset` in its log."""
    with log.open("rb") as f:
        f.seek(offset)
        return sum(int(m.group(1)) for m in _OUT.finditer(f.read()))


@dataclass(frozen=True)
class Row:
    """The figures of one measurement."""

    label: str
    work: float  # wall seconds of the work itself
    wall: float  # wall seconds of the process, with start-up and imports
    sent: int  # bytes Dovecot sent
    rss: int  # peak RSS of the process, KiB
    worker_rss: int  # peak RSS of the worker process it started, KiB (0: none)
    cpu: float  # CPU seconds of the process (user + system)
    worker_cpu: float  # CPU seconds of its worker
    server_cpu: float  # CPU seconds Dovecot's processes spent meanwhile


def measured(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run argv; (wall seconds, stdout). Raises if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if os.environ.get("FUPD_BENCH_PROFILE"):
        sys.stderr.write(err.decode("utf-8", "replace"))
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.decode()[-2000:]}")
    return wall, out.decode("utf-8", "replace")


def _text(out: str, name: str) -> str:
    match = re.search(rf"^{name}=(.*)$", out, re.M)
    return match.group(1) if match else ""


def _figure(out: str, name: str) -> float:
    match = re.search(rf"^{name}=([\d.]+)$", out, re.M)
    return float(match.group(1)) if match else 0.0


_LANE = re.compile(
    r"(\d+) candidates read by the worker; (\d+) read here instead as it was late, (\d+)"
    r" kept from it while it lagged; ([\d.]+) s waited for it"
)


class _LaneLog(logging.Handler):
    """Sums what `ingest_order.Lane.finish` logs of each folder read with the worker."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.figures = [0.0, 0.0, 0.0, 0.0]  # by the worker, taken back, kept, s waited

    def emit(self, record: logging.LogRecord) -> None:
        match = _LANE.search(record.getMessage())
        if match:
            self.figures = [a + float(b) for a, b in zip(self.figures, match.groups(), strict=True)]


def _stop_the_worker_once_spawned() -> None:
    import multiprocessing
    import signal

    from followupd import ingest_worker

    start = ingest_worker.Worker.start

    def start_stopped(self: ingest_worker.Worker) -> None:
        start(self)
        for child in multiprocessing.active_children():
            if child.name == "followupd-reader" and child.pid is not None:
                os.kill(child.pid, signal.SIGSTOP)

    ingest_worker.Worker.start = start_stopped  # type: ignore[method-assign]


def worker(mode: str, host: str, port: int, password: str) -> int:
    """--worker: one measurement in this process; prints its figures and peak RSS."""
    import resource

    server = Dovecot(root=Path("/nonexistent"), port=port, tls_port=0)
    server.users = {USER: password}
    server.host = host
    children = ChildPeaks()
    children.start()
    start = time.perf_counter()
    if mode in ("followupd", "resync", "inline", "worker", "stopped"):
        from followupd.cli import main as cli_main

        if mode == "stopped":
            _stop_the_worker_once_spawned()

        lanes = _LaneLog()
        logging.getLogger("followupd.ingest_order").setLevel(logging.DEBUG)
        logging.getLogger("followupd.ingest_order").addHandler(lanes)
        profiler = cProfile.Profile() if os.environ.get("FUPD_BENCH_PROFILE") else None
        code = 0
        try:
            if profiler:
                profiler.enable()
            cli_main(sys.argv[sys.argv.index("--") + 1 :])
        except SystemExit as exc:
            code = int(exc.code or 0)
        if profiler:
            profiler.disable()
            target = os.environ["FUPD_BENCH_PROFILE"]
            if target.endswith(".prof"):
                # for pstats/snakeviz; the resync and inline runs write beside the first scan's
                if mode != "followupd":
                    target = target.removesuffix(".prof") + f".{mode}.prof"
                profiler.dump_stats(target)
            stats = pstats.Stats(profiler, stream=sys.stderr).strip_dirs()
            stats.sort_stats("tottime").print_stats(30)
        if code:
            return code
        print(f"lanes={json.dumps(lanes.figures)}")
    else:
        item = HEADER_FIELDS if mode == "headers" else b"RFC822"
        result = naive_baseline(server, item, parse=mode == "naive")
        print(f"messages={result.messages}")
    print(f"work_seconds={time.perf_counter() - start:.3f}")
    me, ended = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    print(f"peak_rss_kib={peak_rss_kib()}")
    print(f"cpu_seconds={me.ru_utime + me.ru_stime:.3f}")
    # The children ended so far: the scan's worker process, if it started one.
    print(f"worker_rss_kib={children.stop()}")
    print(f"worker_cpu_seconds={ended.ru_utime + ended.ru_stime:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Seed, measure a-c, print the table; see the module docstring."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive baseline")
    parser.add_argument(
        "--compare-inline",
        action="store_true",
        help="also scan with scan_worker: false (candidates read in the scanning process)",
    )
    parser.add_argument(
        "--stopped-worker",
        action="store_true",
        help="also scan with scan_worker: true and the worker process stopped (SIGSTOP)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args, _rest = parser.parse_known_args(argv)
    if args.worker:
        return worker(args.worker, "127.0.0.1", args.port, os.environ[PASSWORD_ENV])

    busy = Busyness()
    server = start_dovecot()
    tmp = Path(tempfile.mkdtemp(prefix="fud-bench-scan-"))
    rows: list[Row] = []
    try:
        t0 = time.perf_counter()
        count, total = seed_maildir(server, args.messages, args.seed)
        seed_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with server.client(USER) as client:
            indexed = int(client.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"])
        index_s = time.perf_counter() - t0
        env = {**os.environ, PASSWORD_ENV: server.users[USER]}
        env.pop("FOLLOWUPD_CONFIG", None)
        me = [sys.executable, str(Path(__file__).resolve()), "--port", str(server.port)]
        config = write_config(tmp / "config.yaml", server, tmp / "state")
        followupd_args = ["run", "--once", "--now", NOW, "--config", str(config)]
        plan = [
            ("a. followupd run --once (first scan)", "followupd", followupd_args),
            ("b. bare FETCH of 6 header fields", "headers", []),
        ]
        if not args.skip_naive:
            plan.append(("c. naive: FETCH RFC822 + mailparser", "naive", []))
        # The resync a restarted daemon does: nothing new since the first scan.
        plan.append(("d. followupd run --once again (resync)", "resync", followupd_args))
        if args.compare_inline:
            inline = write_config(tmp / "inline.yaml", server, tmp / "state-inline")
            with inline.open("a") as f:
                f.write("\nscan_worker: false\n")
            inline_args = ["run", "--once", "--now", NOW, "--config", str(inline)]
            pooled = write_config(tmp / "worker.yaml", server, tmp / "state-worker")
            with pooled.open("a") as f:
                f.write("\nscan_worker: true\n")
            worker_args = ["run", "--once", "--now", NOW, "--config", str(pooled)]
            plan.append(("e1. (a) with scan_worker: true", "worker", worker_args))
            plan.append(("e2. (a) with scan_worker: false", "inline", inline_args))
        if args.stopped_worker:
            stopped = write_config(tmp / "stopped.yaml", server, tmp / "state-stopped")
            stopped_args = ["run", "--once", "--now", NOW, "--config", str(stopped)]
            plan.append(("f. (e1) with the worker SIGSTOPped", "stopped", stopped_args))
        outputs: dict[str, str] = {}
        assert server.process is not None
        server_pid = server.process.pid
        for label, mode, extra in plan:
            offset = server.log_file.stat().st_size
            if mode != "resync":
                drop_cache(server)
            server_cpu = process_cpu(server_pid)
            wall, out = measured([*me, "--worker", mode, "--", *extra], env)
            time.sleep(0.2)  # the logout line is written after the client is gone
            server_cpu = process_cpu(server_pid) - server_cpu
            rows.append(
                Row(
                    label,
                    _figure(out, "work_seconds"),
                    wall,
                    server_bytes(server.log_file, offset),
                    int(_figure(out, "peak_rss_kib")),
                    int(_figure(out, "worker_rss_kib")),
                    _figure(out, "cpu_seconds"),
                    _figure(out, "worker_cpu_seconds"),
                    server_cpu,
                )
            )
            outputs[mode] = out
        status = subprocess.run(
            [*followupd_command(), "status", "--json", "--now", NOW, "--config", str(config)],
            capture_output=True,
            env=env,
            check=True,
            timeout=300,
        )
        summary = json.loads(status.stdout)
    finally:
        remove(server)
        shutil.rmtree(tmp, ignore_errors=True)

    print_machine(busy)
    print(
        f"mailbox: {count} messages ({total / 1e9:.2f} GB) written into the Maildir in"
        f" {seed_s:.0f} s; Dovecot indexed {indexed} in {index_s:.1f} s"
    )
    print()
    header = (
        f"{'what':<38} {'wall s':>6} {'msgs/s':>6} {'proc s':>6} {'CPU s':>5} {'wrk':>4}"
        f" {'Dov':>4} {'MB sent':>7} {'RSS MB':>6} {'wrk':>4} {'sum':>4}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.label:<38} {r.work:>6.2f} {count / r.work:>6.0f} {r.wall:>6.2f}"
            f" {r.cpu:>5.2f} {r.worker_cpu:>4.1f} {r.server_cpu:>4.1f} {r.sent / 1e6:>7.1f}"
            f" {r.rss / 1024:>6.0f} {r.worker_rss / 1024:>4.0f}"
            f" {(r.rss + r.worker_rss) / 1024:>4.0f}"
        )
    print("(wall s: the work itself; proc s: the process with start-up and imports; CPU s:")
    print(" of that process; MB sent: by the server; RSS MB: peak of the process; wrk: of")
    print(" the worker process the scan started (scan_worker), if any; Dov: CPU s of Dovecot's")
    print(" IMAP processes meanwhile; sum: both peaks)")
    for label, mode, _extra in plan:
        by, back, kept, waited = json.loads(_text(outputs[mode], "lanes") or "[0, 0, 0, 0]")
        if by or back or kept:
            print(
                f"{label.split('.')[0]}: candidates read by the worker {by:.0f}, read in the"
                f" scanning process as the worker was late {back:.0f}, while it lagged"
                f" {kept:.0f}; waited for it {waited:.2f} s"
            )
    print()
    recognised = outputs["followupd"].count("recognised ")
    print(
        f"followupd: {recognised} messages recognised as job mail,"
        f" {len(summary.get('applications', []))} applications"
    )
    scan = rows[0].work
    bare = rows[1].work
    print(f"rate vs bare header fetch: {bare / scan:.2f} (target >= 0.5)")
    print(f"rate: {count / scan:.0f} msgs/s (target >= 5,000 at 100,000 messages)")
    if not args.skip_naive:
        print(f"speed-up over naive: {rows[2].work / scan:.1f}x (target >= 10x)")
    main_rss, worker_rss = rows[0].rss / 1024, rows[0].worker_rss / 1024
    print(
        f"peak RSS of the scan: {main_rss:.0f} MB + worker {worker_rss:.0f} MB"
        f" = {main_rss + worker_rss:.0f} MB (target < 150 MB)"
    )
    print(f"(a) started the worker process: {'yes' if rows[0].worker_cpu else 'no'}")
    measured_rows = {mode: r for (_label, mode, _extra), r in zip(plan, rows, strict=True)}
    if args.compare_inline:
        pooled, inline = measured_rows["worker"], measured_rows["inline"]
        print(
            f"scan with the worker vs inline: {inline.work / pooled.work:.2f}x as fast;"
            f" CPU of the scanning process {pooled.cpu:.2f} s vs {inline.cpu:.2f} s,"
            f" of the worker {pooled.worker_cpu:.2f} s"
        )
        if args.stopped_worker:
            print(
                "scan with the worker stopped vs inline:"
                f" {inline.work / measured_rows['stopped'].work:.2f}x as fast"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
