"""`followupd demo`: the whole pipeline on a bundled Maildir, with a simulated clock.

Messages are delivered into a scratch Maildir at the time their Date header says, and the
clock jumps from one arrival or due action to the next, so three weeks pass in a second.
"""

from __future__ import annotations

import email
import email.policy
import importlib.resources
import shutil
import tempfile
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from followupd.config import Account, Config, Me
from followupd.mailbox.maildir import MaildirMailbox
from followupd.ruleset import load_rules
from followupd.setup import open_engine

STYLE = {
    "recognised": "cyan",
    "planned": "yellow",
    "moved": "yellow",
    "cancelled": "magenta",
    "drafted": "green",
    "skipped": "red",
    "failed": "red",
    "sent": "blue",
}


def wide_console() -> Console:
    """A console that never wraps a timeline line; piped output gets a wide page, not 80."""
    console = Console(soft_wrap=True)
    return console if console.is_terminal else Console(soft_wrap=True, width=160)


def _bundled_messages() -> list[tuple[datetime, str, bytes]]:
    folder = importlib.resources.files("followupd.demo_maildir") / "new"
    out = []
    for item in folder.iterdir():
        if item.name.startswith(("_", ".")) or not item.is_file():
            continue
        raw = item.read_bytes()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        out.append((parsedate_to_datetime(str(msg["Date"])), item.name, raw))
    return sorted(out)


def run_demo(keep: Path | None = None, console: Console | None = None) -> Path:
    """Play the sample job search; returns the folder with its Maildir and state."""
    console = console or wide_console()
    work = keep or Path(tempfile.mkdtemp(prefix="followupd-demo-"))
    maildir = work / "Maildir"
    if maildir.exists():
        shutil.rmtree(maildir)
    shutil.rmtree(work / "state", ignore_errors=True)
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    config = Config(
        me=Me(name="Jane Doe", email="jane@example.com", timezone="Europe/Berlin", country="DE"),
        state_dir=work / "state",
        accounts=[Account(name="demo", maildir=maildir)],
    )
    engine = open_engine(config, load_rules(None))
    mailbox = MaildirMailbox("demo", maildir)
    staged = _bundled_messages()
    zone = config.me.zone
    end = staged[-1][0] + timedelta(days=7)
    console.print(
        f"[bold]followupd demo[/bold]: {len(staged)} messages for Jane Doe (Europe/Berlin),"
        f" played from {staged[0][0]:%a %d %b} to {end:%a %d %b %Y}\n"
    )
    while True:
        upcoming = [d for d in (staged[0][0] if staged else None, engine.tracker.next_due()) if d]
        if not upcoming or min(upcoming) > end:
            break
        now = min(upcoming)
        while staged and staged[0][0] <= now:
            _, name, raw = staged.pop(0)
            (maildir / "new" / name).write_bytes(raw)
        report = engine.run_once({"demo": mailbox}, now)
        for h in report.happenings:
            stamp = max(h.at, now) if h.what != "recognised" else h.at
            colour = STYLE.get(h.what, "white")
            console.print(
                f"{stamp.astimezone(zone):%a %d %b %H:%M}  [{colour}]{h.what:<10}[/{colour}] ",
                end="",
            )
            console.print(h.text, markup=False, highlight=False)
    _show_drafts(console, mailbox, maildir)
    engine.tracker.close()
    console.print(f"\nFiles are in {work} (Maildir and state); nothing was sent.")
    return work


def _show_drafts(console: Console, mailbox: MaildirMailbox, maildir: Path) -> None:
    drafts = sorted(p for p in maildir.glob(".Drafts/cur/*"))
    table = Table("To", "Subject", title=f"\n{len(drafts)} drafts waiting in Drafts")
    for path in drafts:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        table.add_row(str(msg["To"] or "(empty)"), str(msg["Subject"]))
    console.print(table)
