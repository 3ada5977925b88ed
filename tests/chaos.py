"""A chaos run: a daemon SIGKILLed at random moments while mail keeps arriving.

Shared by tests/test_chaos.py (a modest size) and benchmarks/chaos.py (the full run).
The same scenario is processed once cleanly into one Dovecot account and once under
chaos into another; the two Drafts folders must then hold the same drafts.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from followupd.faults import ENV as KILL_AFTER_APPEND
from tests.mail import INVITATION_ICS, NEWSLETTER, REJECTION, crlf
from tests.stores import Followupd, Store

EXTRA = "  quiet_hours: 00:00-00:00\n"  # drafts may be made whatever the hour the test runs
MARKER = "fault injection: SIGKILL between APPEND"


def scenario(apps: int, per_app: int) -> list[bytes]:
    """`apps` applications with `per_app` messages each: an invitation with a calendar, for
    every third a rejection in the thread, and newsletters; one application after another,
    so drafts fall due all through a chaos run."""
    rounds: list[list[bytes]] = []
    for i in range(apps):
        name, slug = f"Firm{i:02d}", f"firm{i:02d}"
        day = 3 + i % 15
        invite = (
            INVITATION_ICS.replace("Acme", name)
            .replace("acme", slug)
            .replace("<inv-1@", f"<inv-{i}@")
            .replace("20261105T14", f"202611{day:02d}T14")
            .replace("20261105T15", f"202611{day:02d}T15")
            .replace(
                "The interview is on Thursday 5 November from 14:00 to 15:00 (CET), over video.\n",
                "",
            )
        )
        mine = [crlf(invite)]
        if i % 3 == 0:
            mine.append(
                crlf(
                    REJECTION.replace("Acme", name)
                    .replace("acme", slug)
                    .replace("inv-1@", f"inv-{i}@")
                    .replace("<rej-1@", f"<rej-{i}@")
                    .replace("10 Nov 2026", f"{day + 5:02d} Nov 2026")
                )
            )
        n = 0
        while len(mine) < per_app:
            mine.append(
                crlf(
                    NEWSLETTER.replace("<cw-45@", f"<cw-{i}-{n}@").replace(
                        "10 interview tips", f"{n + 10} interview tips"
                    )
                )
            )
            n += 1
        rounds.append(mine)
    return [m for mine in rounds for m in mine]


def draft_summary(store: Store) -> Counter[tuple[str, str, str, str]]:
    """What a person would see in Drafts: rule, recipients, subject, the message it answers."""
    return Counter(
        (
            str(m["X-Followupd-Rule"]),
            str(m["To"] or ""),
            str(m["Subject"]),
            str(m["In-Reply-To"]),
        )
        for _flags, m in store.drafts()
    )


@dataclass
class ChaosReport:
    messages: int = 0
    kills: int = 0
    kills_after_append: int = 0
    starts: int = 0
    seconds: float = 0.0
    logs: list[str] = field(default_factory=list)


def run_with_kills(
    run: Followupd,
    store: Store,
    messages: list[bytes],
    kills: int,
    seed: int,
    max_life: float = 4.0,
) -> ChaosReport:
    """Deliver the messages in batches while starting the daemon and SIGKILLing it `kills`
    times: at a random moment, or (about a third of the starts) right after an APPEND."""
    rng = random.Random(seed)
    report = ChaosReport(messages=len(messages))
    batch = max(1, -(-len(messages) // kills))
    pending = list(messages)
    started = time.monotonic()
    while report.kills < kills:
        for raw in pending[:batch]:
            store.deliver(raw)
        del pending[:batch]
        env = dict(run.env)
        if rng.random() < 0.35:
            env[KILL_AFTER_APPEND] = str(rng.randint(1, 3))
        log = run.log.with_name(f"chaos-{report.starts}.log")
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*run.command("run")], stdout=out, stderr=subprocess.STDOUT, env=env
            )
        report.starts += 1
        # A start armed to kill itself after an APPEND gets time to reach it.
        life = rng.uniform(0.2, max_life) * (3 if KILL_AFTER_APPEND in env else 1)
        try:
            proc.wait(timeout=life)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        text = log.read_text(errors="replace")
        if proc.returncode != -signal.SIGKILL:
            raise AssertionError(f"daemon exited with {proc.returncode}:\n{text}")
        report.kills += 1
        if MARKER in text:
            report.kills_after_append += 1
        if "Traceback" in text:
            raise AssertionError(f"daemon crashed on its own:\n{text}")
        log.unlink()
    for raw in pending:
        store.deliver(raw)
    report.seconds = time.monotonic() - started
    return report


def finish(run: Followupd) -> None:
    """One undisturbed pass, as the next start after the last kill would do."""
    run("run", "--once")


def status_summary(run: Followupd) -> tuple[Counter[str], int, int]:
    """(done actions by state, pending 'drafting' actions, applications) from `status --json`."""
    data = run.status(datetime.now(UTC).isoformat())
    states = Counter(a["state"] for a in data["done"])
    drafting = sum(1 for a in data["actions"] if a["state"] == "drafting")
    return states, drafting, len(data["applications"])


def setup(base: Path, store: Store) -> Followupd:
    base.mkdir(parents=True, exist_ok=True)
    return Followupd(base, store, extra=EXTRA)
