"""Helpers shared by the benchmark scripts: the machine, how busy it was, timing, percentiles."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, or platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines() -> list[str]:
    """nproc, CPU model and Python version, for the head of a benchmark's output."""
    return [
        f"machine: nproc={os.cpu_count()}  cpu={cpu_model()}",
        f"python:  {platform.python_implementation()} {platform.python_version()}"
        f" ({sys.executable})",
    ]


def print_machine(busy: Busyness | None = None) -> None:
    """Print `machine_lines`, and how busy the machine was if `busy` watched the run."""
    for text in machine_lines():
        print(text)
    if busy is not None:
        print(busy.line())


def cpu_steal() -> tuple[int, int]:
    """(steal, total) jiffies over all CPUs since boot, from /proc/stat; (0, 0) elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0, 0
    values = [int(v) for v in fields[:8]]
    return (values[7] if len(values) > 7 else 0), sum(values)


class Busyness:
    """Load average at start and end, and the share of CPU time stolen by the hypervisor."""

    def __init__(self) -> None:
        self.load_start = _load()
        self.steal_start = cpu_steal()

    def line(self) -> str:
        """One line describing how busy the machine was between creation and now."""
        steal, total = cpu_steal()
        steal0, total0 = self.steal_start
        pct = 100 * (steal - steal0) / (total - total0) if total > total0 else 0.0
        return (
            f"load:    1-min load average {self.load_start} at start, {_load()} at end;"
            f" CPU steal during the run {pct:.0f}%"
        )


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile of values (nearest rank)."""
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


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

    def command(self, argv: list[str], env: dict[str, str], timeout: float = 300.0) -> str:
        """Run argv as a subprocess, recording wall time and the child's user+sys CPU time.

        Returns its standard output; raises RuntimeError when it exits non-zero.
        """
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall0 = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, env=env, check=False, timeout=timeout)
        self.wall.append((time.perf_counter() - wall0) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.cpu.append(used * 1000)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
        return done.stdout.decode("utf-8", "replace")

    def row(self, label: str) -> str:
        """One table line: label, n, wall mean/median/p95/max, CPU mean (ms)."""
        w = self.wall
        return (
            f"{label:<46} {len(w):>4} {statistics.fmean(w):>8.1f} {statistics.median(w):>8.1f}"
            f" {percentile(w, 95):>8.1f} {max(w):>8.1f} {statistics.fmean(self.cpu):>8.1f}"
        )


def process_cpu(pid: int) -> float:
    """CPU seconds a process and the children it has reaped used so far (/proc/PID/stat).

    For Dovecot's master this counts every finished IMAP session's process, so the
    difference across a measurement is what the server spent on it (the login and the
    session ended by then; a few long-lived helpers such as the log process are left out).
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), here counted from the state.
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid: int | str = "self") -> int:
    """VmHWM of a process in KiB: its own peak RSS; 0 when it is gone.

    Not ru_maxrss: Linux carries that over from the parent through fork and exec, so a
    child started by a big benchmark process would report the parent's size.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class ChildPeaks(threading.Thread):
    """Watches this process's children and keeps the highest peak RSS (VmHWM) of each.

    A child's VmHWM is gone once it exits, so it is read every `interval` seconds; a peak
    reached in the last interval before a child exits can be missed.
    """

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            for pid in _children(os.getpid()):
                self.peaks[pid] = max(self.peaks.get(pid, 0), peak_rss_kib(pid))

    def stop(self) -> int:
        """Stop watching; the highest peak RSS of any child, KiB (0: no child seen)."""
        self._stop_event.set()
        self.join()
        return max(self.peaks.values(), default=0)


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found
