"""First scan of a big local Maildir: followupd against a naive read-and-parse of every file.

Writes --messages messages (default 20,000) into a Maildir, the same mix `first_scan.py`
puts on its Dovecot (2 % job mail, newsletters, notifications, personal mail, one in 60
with an attachment of 100 KB to 5 MB). Then, each in its own process:

a. `followupd run --once --now ... --config CFG` on a fresh state directory: each file's
   first 32 KB is screened (`followupd/mailbox/file_screen.py`), job mail is read whole;
b. naive: read every file whole and parse it with mail-parser.

Prints wall seconds, messages per second, bytes read from files (counted by the kernel:
`rchar` of /proc/self/io) and peak RSS (VmHWM) of the process and of the worker process
a big scan starts to read candidates (`scan_worker`). The files are in the page cache for
both runs (they were just written), so this measures CPU, not the disk.

Run: `python benchmarks/maildir_scan.py [--messages 20000]`. Never asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import Busyness, ChildPeaks, peak_rss_kib, print_machine
from first_scan import messages
from run_once_imap import ME_YAML, NOW, followupd_command

CONFIG = (
    ME_YAML
    + """\
lookback_days: null
accounts:
  - name: local
    maildir: {maildir}
"""
)


def seed(root: Path, count: int, seed_value: int) -> int:
    """Write the messages into root/cur; returns the bytes written."""
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    total = 0
    base = int(time.time()) - count
    for n, raw in enumerate(messages(count, seed_value)):
        (root / "cur" / f"{base + n}.M{n}P1.bench:2,S").write_bytes(raw)
        total += len(raw)
    return total


def worker(mode: str, argv: list[str]) -> int:
    """One measurement in this process: prints work seconds, bytes read and peak RSS (its
    own, and of the worker process a big scan starts to read candidates, if any)."""
    children = ChildPeaks()
    children.start()
    start = time.perf_counter()
    before = _rchar()
    if mode == "followupd":
        from followupd.cli import main as cli_main

        code = 0
        try:
            cli_main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
        if code:
            return code
    else:
        import logging

        import mailparser

        logging.getLogger("mailparser").setLevel(logging.ERROR)
        for path in sorted((Path(argv[0]) / "cur").iterdir()):
            mailparser.parse_from_bytes(path.read_bytes())
    print(f"work_seconds={time.perf_counter() - start:.3f}")
    print(f"read_bytes={_rchar() - before}")
    print(f"peak_rss_kib={peak_rss_kib()}")
    print(f"worker_rss_kib={children.stop()}")
    return 0


def _rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def _value(out: str, name: str) -> float:
    for line in out.splitlines():
        if line.startswith(name + "="):
            return float(line.split("=", 1)[1])
    raise RuntimeError(f"no {name} in the worker's output:\n{out}")


def main(argv: list[str] | None = None) -> int:
    """Seed, measure a and b, print the table; see the module docstring."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.worker:
        return worker(args.worker, rest[1:] if rest[:1] == ["--"] else rest)

    busy = Busyness()
    tmp = Path(tempfile.mkdtemp(prefix="fud-bench-maildir-"))
    try:
        maildir = tmp / "Mail"
        t0 = time.perf_counter()
        total = seed(maildir, args.messages, args.seed)
        seed_s = time.perf_counter() - t0
        config = tmp / "config.yaml"
        config.write_text(CONFIG.format(state=tmp / "state", maildir=maildir))
        me = [sys.executable, str(Path(__file__).resolve())]
        plan = [
            (
                "a. followupd run --once (first scan)",
                "followupd",
                ["run", "--once", "--now", NOW, "--config", str(config)],
            ),
            ("b. naive: read + mailparser", "naive", [str(maildir)]),
        ]
        rows = []
        for label, mode, extra in plan:
            proc = subprocess.run(
                [*me, "--worker", mode, "--", *extra],
                capture_output=True,
                text=True,
                timeout=7200,
                check=False,
            )
            if proc.returncode:
                raise RuntimeError(f"{mode} exited {proc.returncode}: {proc.stderr[-2000:]}")
            rows.append(
                (
                    label,
                    _value(proc.stdout, "work_seconds"),
                    _value(proc.stdout, "read_bytes"),
                    _value(proc.stdout, "peak_rss_kib"),
                    _value(proc.stdout, "worker_rss_kib"),
                )
            )
        status = subprocess.run(
            [*followupd_command(), "status", "--json", "--now", NOW, "--config", str(config)],
            capture_output=True,
            check=True,
            timeout=300,
        )
        applications = len(json.loads(status.stdout).get("applications", []))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print_machine(busy)
    print(f"maildir: {args.messages} messages ({total / 1e9:.2f} GB) written in {seed_s:.0f} s")
    print()
    header = (
        f"{'what':<38} {'wall s':>7} {'msgs/s':>7} {'MB read':>8} {'peak RSS MB':>11}"
        f" {'wrk':>4} {'sum':>4}"
    )
    print(header)
    print("-" * len(header))
    for label, work, read, peak, worker_peak in rows:
        print(
            f"{label:<38} {work:>7.2f} {args.messages / work:>7.0f}"
            f" {read / 1e6:>8.1f} {peak / 1024:>11.0f} {worker_peak / 1024:>4.0f}"
            f" {(peak + worker_peak) / 1024:>4.0f}"
        )
    print("(wrk: peak RSS of the worker process the scan started to read candidates, if any;")
    print(" sum: both peaks, what the scan holds at most)")
    print()
    print(f"followupd: {applications} applications")
    print(f"speed-up over naive: {rows[1][1] / rows[0][1]:.1f}x")
    return 0


if __name__ == "__main__":
    os.environ.pop("FOLLOWUPD_CONFIG", None)
    sys.exit(main())
