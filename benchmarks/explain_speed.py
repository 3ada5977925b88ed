"""How long `followupd explain` takes per message, in process and as a command.

Three measurements over the sample messages in tests/samples/*.eml:

1. in process: `followupd.explain.explain_message(path, config)` called over every sample,
   the whole set repeated so that there are about 500 calls (mean/median/p95 ms per call;
   the very first call, which pays for the lazy imports and phrase books, is shown apart);
   the same loop is then split into its stages (config + rules load, parse, recognise);
2. the command as a user runs it: `followupd explain --json FILE` as a subprocess for
   about 20 messages (mean wall time per call: interpreter start-up, imports, work, output);
3. `followupd --help` start-up time (mean over 10 runs).

Run: `python benchmarks/explain_speed.py [--calls 500] [--cli-calls 20] [--help-runs 10]`.
Never asserts on time; prints a table.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "samples"

CONFIG_YAML = """\
me:
  name: Jane Doe
  email: jane@example.com
  timezone: Europe/Berlin
state_dir: {state}
accounts:
  - name: local
    maildir: {maildir}
"""


def machine_lines() -> list[str]:
    """nproc, Python version and CPU model, for the header of the output."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"machine: nproc={os.cpu_count()}  cpu={cpu}",
        f"python:  {platform.python_implementation()} {platform.python_version()}"
        f" ({sys.executable})",
    ]


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def write_config(tmp: Path) -> Path:
    """A minimal config with one Maildir account in tmp; returns its path."""
    maildir = tmp / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    config = tmp / "config.yaml"
    config.write_text(CONFIG_YAML.format(state=tmp / "state", maildir=maildir))
    return config


def followupd_command() -> list[str]:
    """The installed console script next to this interpreter (what `pip install` made).

    Falls back to the first `followupd` on PATH, then to `python -m followupd`.
    """
    beside = Path(sys.executable).parent / "followupd"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("followupd")
    return [found] if found else [sys.executable, "-m", "followupd"]


def cpu_steal() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs so far, from /proc/stat; (0, 0) elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0, 0
    values = [int(v) for v in fields]
    return (values[7] if len(values) > 7 else 0), sum(values[:8])


def load_average() -> str:
    """The 1-minute load average, or '?'."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


@dataclass
class Timings:
    """Wall and CPU milliseconds of repeated runs of one thing."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def call(self, func: Callable[[], T]) -> T:
        """Run func once in this process, recording its wall and CPU time."""
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = func()
        self.wall.append((time.perf_counter() - wall0) * 1000)
        self.cpu.append((time.process_time() - cpu0) * 1000)
        return result

    def command(self, argv: list[str], env: dict[str, str]) -> None:
        """Run argv as a subprocess, recording wall time and the child's user+sys CPU time."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall0 = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, env=env, check=False, timeout=120)
        self.wall.append((time.perf_counter() - wall0) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.cpu.append(used * 1000)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")

    def row(self, label: str) -> str:
        """One table line: label, n, wall mean/median/p95/max, CPU mean (ms)."""
        w = self.wall
        return (
            f"{label:<46} {len(w):>4} {statistics.fmean(w):>8.1f} {statistics.median(w):>8.1f}"
            f" {percentile(w, 95):>8.1f} {max(w):>8.1f} {statistics.fmean(self.cpu):>8.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    """Run the three measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="in-process calls (about)")
    parser.add_argument("--cli-calls", type=int, default=20, help="subprocess explain runs")
    parser.add_argument("--help-runs", type=int, default=10, help="`followupd --help` runs")
    args = parser.parse_args(argv)

    samples = sorted(SAMPLES.glob("*.eml"))
    if not samples:
        print(f"no samples in {SAMPLES}", file=sys.stderr)
        return 1
    repeat = max(1, round(args.calls / len(samples)))

    for line in machine_lines():
        print(line)
    print(f"samples: {len(samples)} files from {SAMPLES.relative_to(REPO)}, repeated {repeat}x")
    print()

    with tempfile.TemporaryDirectory(prefix="fud-bench-explain-") as tmp_name:
        tmp = Path(tmp_name)
        config = write_config(tmp)
        env = {**os.environ, "FOLLOWUPD_CONFIG": str(config)}

        # -- 1. in process ------------------------------------------------------------
        import_start = time.perf_counter()
        from followupd.explain import explain_message

        import_ms = (time.perf_counter() - import_start) * 1000
        first_ms = time_call(lambda: explain_message(samples[0], config))
        per_call: list[float] = []
        kinds: dict[str, int] = {}
        for _ in range(repeat):
            for path in samples:
                start = time.perf_counter()
                result = explain_message(path, config)
                per_call.append((time.perf_counter() - start) * 1000)
                kinds[result["kind"]] = kinds.get(result["kind"], 0) + 1

        # -- 1b. the same work split into its stages --------------------------------------
        from followupd.parse import parse_message
        from followupd.pipeline import calendar_for
        from followupd.recognise import recognise
        from followupd.setup import load_checked

        cfg, _rules = load_checked(config)
        zone = calendar_for(cfg).zone
        raws = [p.read_bytes() for p in samples]
        load_ms: list[float] = []
        parse_ms: list[float] = []
        recognise_ms: list[float] = []
        for _ in range(repeat):
            load_ms.append(time_call(lambda: load_checked(config)))
            for raw in raws:
                start = time.perf_counter()
                msg = parse_message(raw, default_tz=zone)
                parse_ms.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                recognise(msg, me_addresses=cfg.me.addresses, tz=zone)
                recognise_ms.append((time.perf_counter() - start) * 1000)

        # -- 2. the command ---------------------------------------------------------------
        command = followupd_command()
        cli_files = [samples[i % len(samples)] for i in range(args.cli_calls)]
        cli_ms = [
            time_command([*command, "explain", "--json", "--config", str(config), str(p)], env)
            for p in cli_files
        ]

        # -- 3. start-up ------------------------------------------------------------------
        help_ms = [time_command([*command, "--help"], env) for _ in range(args.help_runs)]
        bare_ms = [
            time_command([sys.executable, "-c", "pass"], env) for _ in range(args.help_runs)
        ]

    header = f"{'what (ms)':<44} {'n':>5} {'mean':>9} {'median':>9} {'p95':>9} {'max':>9}"
    print(header)
    print("-" * len(header))
    print(row("explain_message, in process", len(per_call), per_call))
    print(row("  of which: load_checked (config+rules)", len(load_ms), load_ms))
    print(row("  of which: parse_message", len(parse_ms), parse_ms))
    print(row("  of which: recognise", len(recognise_ms), recognise_ms))
    print(row("`followupd explain --json FILE` (subprocess)", len(cli_ms), cli_ms))
    print(row("`followupd --help` (subprocess)", len(help_ms), help_ms))
    print(row("`python -c pass` (bare interpreter)", len(bare_ms), bare_ms))
    print()
    print(f"first in-process call (cold):        {first_ms:9.2f} ms")
    print(f"import followupd.explain:            {import_ms:9.2f} ms")
    print(f"in-process throughput:               {1000 / statistics.fmean(per_call):9.1f} msg/s")
    print(f"command: {' '.join(command)}")
    print("kinds seen per pass: " + ", ".join(f"{k}={v // repeat}" for k, v in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
