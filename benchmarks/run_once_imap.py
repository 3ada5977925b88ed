"""How long one `followupd run --once` takes over a 1,000-message INBOX on a local Dovecot.

Starts a throwaway Dovecot (tests/dovecot.py), seeds user jane's INBOX with --messages
messages over one IMAP connection: about 2 % job mail (the job samples in tests/samples,
labelled in labels.yaml, copied with fresh Message-IDs), each negative sample once, and the
rest ordinary mail generated here (newsletters, notifications, personal mail; plain text and
HTML; 2 KB to about 200 KB, a few with base64 attachments up to 1 MB). Then times:

a. `followupd run --once --now 2026-12-01T09:00 --config CFG` as a subprocess on a fresh
   state directory (the first scan), with what it ended with (`followupd status --json`);
b. the same command again (a second pass; nothing new);
c. a naive baseline in this process: imapclient, EXAMINE INBOX, FETCH RFC822 in batches,
   `mailparser.parse_from_bytes` on each message;
d. a bare batched header fetch (BODY.PEEK[HEADER.FIELDS (...)]) over the same mailbox.

With --profile, the first scan is also run in this process under cProfile on another fresh
state directory and the top functions are printed.

Run: `python benchmarks/run_once_imap.py [--messages 1000] [--profile]`.
Never asserts on time; prints a table. Dovecot is stopped and removed even on error.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from _common import Busyness, Timings, print_machine

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.dovecot import Dovecot, remove, start_dovecot  # noqa: E402

SAMPLES = REPO / "tests" / "samples"
NOW = "2026-12-01T09:00"
USER = "jane"
PASSWORD_ENV = "FUPD_BENCH_PASSWORD"
BATCH = 200
HEADER_FIELDS = b"BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID CONTENT-TYPE)]"
ZONE = ZoneInfo("Europe/Berlin")
KB = 1024

# The person every benchmark's config describes, and where its state goes.
ME_YAML = """\
me:
  name: Jane Doe
  email: jane@example.com
  timezone: Europe/Berlin
  country: DE
state_dir: {state}
"""
CONFIG_YAML = (
    ME_YAML
    + """\
accounts:
  - name: work
    imap:
      host: {host}
      port: {port}
      username: {user}
      password_env: {password_env}
      tls: none
      allow_plaintext_on_loopback: true
"""
)

# -- generating the mailbox ----------------------------------------------------------------

_WORDS_TEXT = """
the a of and to in is that for on with as was at by from this have not are be or we you
it they our your their will can all more about new one time year week day people garden
weekend recipe coffee bicycle train station museum concert ticket holiday beach photos
family kids school birthday dinner lunch kitchen cake soup bread market city river
mountain hiking weather rain sunny autumn winter snow football match season release
version update build library server cloud storage backup account password security
invoice payment receipt order parcel delivery tracking package warehouse discount sale
price shop store basket checkout member points reward newsletter issue article story
podcast episode video review book chapter author reading club film festival theatre
gallery painting music album band guitar piano lesson course neighbour street flat
landlord repair heating window door key bike lock insurance doctor appointment pharmacy
dentist gym yoga running marathon swimming pool
"""
WORDS = tuple(_WORDS_TEXT.split())

NEWSLETTERS = (
    ("The Weekly Digest", "news@digest.example", "Your weekly digest: {topic}"),
    ("City Museum", "newsletter@museum.example", "This month at the museum: {topic}"),
    ("Green Thumb Gardening", "hello@greenthumb.example", "{topic}: what to plant now"),
    ("ShopRite Online", "deals@shoprite.example", "Weekend sale: {topic} up to 40% off"),
    ("Tech Briefing", "briefing@techbrief.example", "Tech briefing: {topic}"),
    ("Running Club", "club@runners.example", "Club news: {topic}"),
)
NOTIFIERS = (
    ("GitHub", "notifications@github.example", "[octo/widgets] {topic} (#{n})"),
    ("Parcel Service", "tracking@parcels.example", "Your parcel {n} is on its way"),
    ("Bank of Example", "no-reply@bank.example", "Your statement for account ending {n}"),
    ("Cloud Storage", "no-reply@cloudbox.example", "{n} files were backed up this week"),
    ("Calendar", "calendar@family.example", "Reminder: {topic} on Saturday"),
    ("Energy Co", "billing@energy.example", "Your invoice {n} is ready"),
)
FRIENDS = (
    ("Anna Schmidt", "anna.s@mailbox.example"),
    ("Tom Becker", "tom.becker@posteo.example"),
    ("Mum", "mum@family.example"),
    ("Lukas", "lukas.k@gmx.example"),
    ("Priya", "priya.r@fastmail.example"),
    ("Sam Ortiz", "sam@example.org"),
    ("Neighbourhood Group", "street-group@lists.example"),
)
PERSONAL_SUBJECTS = (
    "weekend plans",
    "photos from the trip",
    "dinner on Friday?",
    "the bike",
    "birthday present for Dad",
    "flat viewing",
    "book club: next title",
    "recipe you asked for",
    "are you coming to the concert",
    "heating repair",
)


def sentences(rng: random.Random, count: int) -> list[str]:
    """A pool of random, harmless sentences."""
    out = []
    for _ in range(count):
        words = rng.choices(WORDS, k=rng.randint(6, 18))
        out.append(" ".join(words).capitalize() + rng.choice(".!?..."))
    return out


@dataclass
class Mail:
    """A generated message: headers, a text body, maybe HTML and one attachment."""

    when: datetime
    headers: list[tuple[str, str]]
    text: str
    html: str | None = None
    attachment: tuple[str, str, bytes] | None = None  # (content type, file name, payload)

    def raw(self) -> bytes:
        """RFC 5322 bytes with CRLF line ends (7bit text parts, a base64 attachment)."""
        head = "".join(f"{name}: {value}\n" for name, value in self.headers)
        head += f"Date: {format_datetime(self.when)}\nMIME-Version: 1.0\n"
        text = "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n"
        body = text + self.text + "\n"
        if self.html is not None:
            html = "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n"
            body = _multipart("alternative", [body, html + self.html + "\n"])
        if self.attachment is not None:
            ctype, filename, payload = self.attachment
            part = (
                f'Content-Type: {ctype}; name="{filename}"\n'
                f'Content-Disposition: attachment; filename="{filename}"\n'
                "Content-Transfer-Encoding: base64\n\n"
                + base64.encodebytes(payload).decode("ascii")
            )
            body = _multipart("mixed", [body, part])
        return (head + body).replace("\n", "\r\n").encode("utf-8")


def _multipart(subtype: str, parts: list[str]) -> str:
    """A multipart entity (its own Content-Type header, then the parts) as text."""
    boundary = f"=_bench_{subtype}_{len(parts)}_{sum(map(len, parts)):x}"
    inner = "".join(f"--{boundary}\n{part}\n" for part in parts)
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"\n\n{inner}--{boundary}--\n'


@dataclass
class Generator:
    """Ordinary (non-job) mail of realistic shapes and sizes, deterministic for a seed."""

    rng: random.Random
    pool: list[str]
    start: datetime
    span: timedelta
    serial: int = 0

    def _text(self, size: int) -> str:
        parts: list[str] = []
        total = 0
        while total < size:
            # One sentence a line: a text part must keep its lines under 998 octets.
            para = "\n".join(self.rng.choices(self.pool, k=self.rng.randint(2, 6)))
            parts.append(para)
            total += len(para) + 2
        return "\n\n".join(parts)

    def _html(self, size: int, title: str) -> str:
        rows: list[str] = []
        total = 0
        while total < size:
            para = " ".join(self.rng.choices(self.pool, k=self.rng.randint(2, 5)))
            row = (
                '<tr><td style="padding:12px 24px;font-family:Arial,sans-serif;font-size:15px;'
                f'color:#333333;line-height:1.5">\n<h3 style="margin:0 0 8px">{para[:40]}</h3>'
                f'\n<p style="margin:0">{para}</p>\n<p><a href="https://links.example/'
                f'{self.rng.getrandbits(48):x}?utm_source=newsletter" style="color:#0b5fff">'
                "Read more</a></p></td></tr>"
            )
            rows.append(row)
            total += len(row)
        return (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
            f'{title}</title></head>\n<body style="margin:0;background:#f4f4f4">\n'
            '<table role="presentation" width="100%" cellpadding="0" cellspacing="0">\n'
            + "\n".join(rows)
            + "\n</table></body></html>"
        )

    def size(self, low: int, high: int) -> int:
        """Log-uniform between low and high bytes."""
        return int(low * (high / low) ** self.rng.random())

    def _base(self, sender: tuple[str, str], subject: str) -> Mail:
        self.serial += 1
        when = (self.start + self.span * self.rng.random()).astimezone(ZONE)
        domain = sender[1].split("@", 1)[1]
        headers = [
            ("From", f"{sender[0]} <{sender[1]}>"),
            ("To", "Jane Doe <jane@example.com>"),
            ("Subject", subject),
            ("Message-ID", f"<bench.{self.serial}.{self.rng.getrandbits(32):08x}@{domain}>"),
        ]
        return Mail(when, headers, "")

    def newsletter(self) -> Mail:
        """HTML with a plain-text alternative, list headers; 8 KB to about 200 KB."""
        name, addr, pattern = self.rng.choice(NEWSLETTERS)
        subject = pattern.format(topic=self.rng.choice(WORDS).capitalize())
        mail = self._base((name, addr), subject)
        mail.headers += [
            ("List-Id", f"<{addr.replace('@', '.')}>"),
            ("List-Unsubscribe", f"<mailto:unsubscribe@{addr.split('@')[1]}>"),
            ("Precedence", "bulk"),
        ]
        size = self.size(8 * KB, 200 * KB)
        mail.text = self._text(size // 3)
        mail.html = self._html(size * 2 // 3, subject)
        return mail

    def notification(self) -> Mail:
        """A short automatic notice, text or text+HTML; 2 KB to 20 KB."""
        name, addr, pattern = self.rng.choice(NOTIFIERS)
        n = self.rng.randint(10, 9999)
        subject = pattern.format(topic=self.rng.choice(WORDS), n=n)
        mail = self._base((name, addr), subject)
        if self.rng.random() < 0.5:
            mail.headers.append(("Auto-Submitted", "auto-generated"))
        size = self.size(2 * KB, 20 * KB)
        mail.text = self._text(size // 2)
        if self.rng.random() < 0.6:
            mail.html = self._html(size // 2, subject)
        return mail

    def personal(self) -> Mail:
        """Plain text from a friend, sometimes a reply with a quote; 2 KB to 30 KB."""
        friend = self.rng.choice(FRIENDS)
        subject = self.rng.choice(PERSONAL_SUBJECTS)
        reply = self.rng.random() < 0.4
        mail = self._base(friend, ("Re: " if reply else "") + subject)
        body = f"Hi Jane,\n\n{self._text(self.size(2 * KB, 30 * KB))}\n\n{friend[0]}\n"
        if reply:
            parent = f"<jane.{self.rng.getrandbits(40):x}@example.com>"
            mail.headers += [("In-Reply-To", parent), ("References", parent)]
            quoted = "\n".join("> " + line for line in self._text(1500).splitlines())
            body += f"\nOn Monday, Jane Doe wrote:\n{quoted}\n"
        mail.text = body
        return mail

    def with_attachment(self, size: int) -> Mail:
        """A personal mail with a base64 PDF or JPEG attachment of `size` bytes."""
        mail = self.personal()
        ctype, ext = self.rng.choice((("application/pdf", "pdf"), ("image/jpeg", "jpg")))
        mail.attachment = (ctype, f"file{self.serial}.{ext}", self.rng.randbytes(size))
        return mail

    def any(self) -> Mail:
        """One ordinary message: 40 % newsletters, 30 % notifications, 30 % personal."""
        roll = self.rng.random()
        if roll < 0.4:
            return self.newsletter()
        if roll < 0.7:
            return self.notification()
        return self.personal()


def sample_sets() -> tuple[list[Path], list[Path]]:
    """(job samples, negative samples) by their labels in tests/samples/labels.yaml."""
    labels = yaml.safe_load((SAMPLES / "labels.yaml").read_text())
    job, other = [], []
    for path in sorted(SAMPLES.glob("*.eml")):
        kind = (labels.get(path.name) or {}).get("kind", "other")
        (other if kind == "other" else job).append(path)
    return job, other


_ID = re.compile(rb"<([^<>\s]+@[^<>\s]+)>")
_ID_HEADER = re.compile(rb"^(message-id|in-reply-to|references):(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


def renamed(raw: bytes, round_no: int) -> bytes:
    """raw with every id in Message-ID/In-Reply-To/References made unique to round_no.

    The same mapping for every sample of one round keeps their threads together.
    """

    def one_header(match: re.Match[bytes]) -> bytes:
        value = _ID.sub(lambda m: b"<bench%d." % round_no + m.group(1) + b">", match.group(2))
        return match.group(1) + b":" + value

    return _ID_HEADER.sub(one_header, raw)


def crlf(raw: bytes) -> bytes:
    """Line endings as IMAP wants them."""
    return re.sub(rb"\r?\n", b"\r\n", raw)


def date_of(raw: bytes) -> datetime:
    """The Date header of raw, or the benchmark's --now."""
    match = re.search(rb"^date:(.*)$", raw, re.I | re.M)
    if match:
        try:
            return parsedate_to_datetime(match.group(1).decode().strip())
        except (TypeError, ValueError):
            pass
    return datetime.fromisoformat(NOW).replace(tzinfo=ZONE)


@dataclass
class Seeded:
    """What was put into the INBOX."""

    messages: list[tuple[datetime, bytes]]
    job: int
    negatives: int
    generated: int
    attachments: int

    @property
    def total_bytes(self) -> int:
        return sum(len(raw) for _when, raw in self.messages)


def build_mailbox(count: int, seed: int) -> Seeded:
    """count messages, sorted by date: job-sample copies, negatives, generated mail."""
    rng = random.Random(seed)
    job_samples, negative_samples = sample_sets()
    job_count = max(1, round(count * 0.02))
    out: list[tuple[datetime, bytes]] = []
    for i in range(job_count):
        path = job_samples[i % len(job_samples)]
        raw = crlf(renamed(path.read_bytes(), i // len(job_samples)))
        out.append((date_of(raw), raw))
    negatives = negative_samples[: max(0, min(len(negative_samples), count - job_count))]
    for path in negatives:
        raw = crlf(renamed(path.read_bytes(), 0))
        out.append((date_of(raw), raw))
    gen = Generator(
        rng=rng,
        pool=sentences(rng, 3000),
        start=datetime(2026, 10, 1, 8, 0, tzinfo=ZONE),
        span=timedelta(days=61),
    )
    generated = count - len(out)
    # A few big attachments: about 1 in 60 messages, 100 KB to 1 MB, one of exactly 1 MB.
    attach_at = set(rng.sample(range(generated), k=min(generated, max(1, generated // 60))))
    first_attachment = min(attach_at) if attach_at else -1
    for i in range(generated):
        if i in attach_at:
            size = 1024 * KB if i == first_attachment else gen.size(100 * KB, 1024 * KB)
            mail = gen.with_attachment(size)
        else:
            mail = gen.any()
        out.append((mail.when, mail.raw()))
    out.sort(key=lambda item: item[0])
    return Seeded(out, job_count, len(negatives), generated, len(attach_at))


def seed_inbox(server: Dovecot, seeded: Seeded) -> None:
    """APPEND every message over one connection, oldest first, 80 % of them \\Seen."""
    rng = random.Random(0)
    with server.client(USER) as client:
        for when, raw in seeded.messages:
            flags = (b"\\Seen",) if rng.random() < 0.8 else ()
            client.append("INBOX", raw, flags=flags, msg_time=when)


def du(path: Path) -> int:
    """Bytes of the files below path."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- the measurements ----------------------------------------------------------------------


def followupd_command() -> list[str]:
    """The installed console script beside this interpreter, else `python -m followupd`."""
    beside = Path(sys.executable).parent / "followupd"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "followupd"]


def write_config(path: Path, server: Dovecot, state: Path) -> Path:
    """A config for jane's account on the test Dovecot, with its state in `state`."""
    path.write_text(
        CONFIG_YAML.format(
            state=state,
            host=server.host,
            port=server.port,
            user=USER,
            password_env=PASSWORD_ENV,
        )
    )
    return path


def count_folder(server: Dovecot, folder: str) -> int:
    """How many messages `folder` of jane holds."""
    with server.client(USER) as client:
        return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])


@dataclass
class PassResult:
    """One `run --once` and what the state said afterwards."""

    timing: Timings
    happenings: Counter[str]
    applications: int
    pending: int
    drafted: int
    drafts_folder: int


def run_pass(command: list[str], config: Path, env: dict[str, str], server: Dovecot) -> PassResult:
    """`followupd run --once --now NOW`, then `followupd status --json`."""
    timing = Timings()
    out = timing.command([*command, "run", "--once", "--now", NOW, "--config", str(config)], env)
    happenings = Counter(line.split(None, 1)[0] for line in out.splitlines() if line.strip())
    status = json.loads(
        subprocess.run(
            [*command, "status", "--json", "--now", NOW, "--config", str(config)],
            capture_output=True,
            env=env,
            check=True,
            timeout=120,
        ).stdout
    )
    drafted = sum(1 for a in status["done"] if a["state"] == "drafted")
    return PassResult(
        timing,
        happenings,
        len(status["applications"]),
        len(status["actions"]),
        drafted,
        count_folder(server, "Drafts"),
    )


def batches(items: list[int], size: int) -> Iterator[list[int]]:
    """items in consecutive chunks of size."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class Baseline:
    """Wall seconds of a plain fetch (+ parse) loop, split into its parts."""

    total: float
    fetch: float
    parse: float
    messages: int
    fetched_bytes: int


def naive_baseline(server: Dovecot, item: bytes, parse: bool) -> Baseline:
    """Log in, EXAMINE INBOX, FETCH `item` in batches of BATCH; parse each if asked."""
    from imapclient import IMAPClient

    parser: Callable[[bytes], Any] | None = None
    if parse:
        import mailparser

        logging.getLogger("mailparser").setLevel(logging.ERROR)
        parser = mailparser.parse_from_bytes
    start = time.perf_counter()
    fetch_s = parse_s = 0.0
    fetched = messages = 0
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=60)
    try:
        client.login(USER, server.users[USER])
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        for chunk in batches(uids, BATCH):
            t0 = time.perf_counter()
            data = client.fetch(chunk, [item])
            fetch_s += time.perf_counter() - t0
            for value in data.values():
                raw = next(v for k, v in value.items() if k != b"SEQ")
                fetched += len(raw)
                messages += 1
                if parser is not None:
                    t0 = time.perf_counter()
                    parser(bytes(raw))
                    parse_s += time.perf_counter() - t0
    finally:
        client.logout()
    return Baseline(time.perf_counter() - start, fetch_s, parse_s, messages, fetched)


def profile_first_scan(config_path: Path, top: int) -> str:
    """The first scan in this process under cProfile; the top functions by own and total time."""
    from followupd.accounts import close_all, open_mailboxes
    from followupd.clock import parse_now
    from followupd.setup import load_checked, open_engine

    config, ruleset = load_checked(config_path)
    engine = open_engine(config, ruleset)
    mailboxes = open_mailboxes(config)
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        engine.run_once(mailboxes, parse_now(NOW, config.me.zone))
        profiler.disable()
    finally:
        close_all(mailboxes)
        engine.tracker.close()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return text.getvalue()


# -- output --------------------------------------------------------------------------------


def line(label: str, seconds: float, messages: int, extra: str = "") -> str:
    """One table row: label, wall seconds, messages/s, ms/message, extra."""
    rate = messages / seconds if seconds > 0 else float("inf")
    per = 1000 * seconds / messages if messages else 0.0
    return f"{label:<44} {seconds:>8.2f} {rate:>9.1f} {per:>8.2f}  {extra}"


def main(argv: list[str] | None = None) -> int:
    """Seed a Dovecot, run the four measurements, print the table, stop Dovecot."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages in the INBOX")
    parser.add_argument("--seed", type=int, default=1, help="random seed for generated mail")
    parser.add_argument("--profile", action="store_true", help="also cProfile the first scan")
    parser.add_argument("--top", type=int, default=25, help="functions shown with --profile")
    args = parser.parse_args(argv)

    busy = Busyness()
    t0 = time.perf_counter()
    seeded = build_mailbox(args.messages, args.seed)
    build_s = time.perf_counter() - t0

    server = start_dovecot()
    tmp = Path(tempfile.mkdtemp(prefix="fud-bench-imap-"))
    try:
        t0 = time.perf_counter()
        seed_inbox(server, seeded)
        seed_s = time.perf_counter() - t0
        on_disk = du(server.root / "mail" / USER)

        command = followupd_command()
        env = {**os.environ, PASSWORD_ENV: server.users[USER]}
        env.pop("FOLLOWUPD_CONFIG", None)
        config = write_config(tmp / "config.yaml", server, tmp / "state")
        first = run_pass(command, config, env, server)
        second = run_pass(command, config, env, server)
        full = naive_baseline(server, b"RFC822", parse=True)
        headers = naive_baseline(server, HEADER_FIELDS, parse=False)
        profile = ""
        if args.profile:
            os.environ[PASSWORD_ENV] = server.users[USER]
            profiled = write_config(tmp / "profiled.yaml", server, tmp / "state-profiled")
            profile = profile_first_scan(profiled, args.top)
    finally:
        remove(server)
        shutil.rmtree(tmp, ignore_errors=True)

    n = len(seeded.messages)
    print_machine(busy)
    print(f"command: {' '.join(command)} run --once --now {NOW} --config CFG")
    print(
        f"mailbox: {n} messages in INBOX: {seeded.job} job mail (copies of the job samples),"
        f" {seeded.negatives} negative samples, {seeded.generated} generated"
        f" ({seeded.attachments} with a base64 attachment)"
    )
    print(
        f"         {seeded.total_bytes / 1e6:.1f} MB as appended"
        f" (mean {seeded.total_bytes / n / KB:.1f} KiB, largest"
        f" {max(len(r) for _w, r in seeded.messages) / KB:.0f} KiB);"
        f" {on_disk / 1e6:.1f} MB on disk in Dovecot's Maildir"
    )
    print(f"seeding: built in {build_s:.1f} s, appended in {seed_s:.1f} s over one connection")
    print()
    header = f"{'what':<44} {'wall s':>8} {'msgs/s':>9} {'ms/msg':>8}  notes"
    print(header)
    print("-" * (len(header) + 30))
    for label, result in (
        ("a. run --once, first scan", first),
        ("b. run --once, second pass", second),
    ):
        print(
            line(label, result.timing.wall[0] / 1000, n, f"cpu {result.timing.cpu[0] / 1000:.1f} s")
        )
    print(
        line(
            "c. naive: FETCH RFC822 + mailparser",
            full.total,
            full.messages,
            f"fetch {full.fetch:.2f} s, parse {full.parse:.2f} s,"
            f" {full.fetched_bytes / 1e6:.1f} MB",
        )
    )
    print(
        line(
            "d. bare FETCH BODY.PEEK[HEADER.FIELDS (...)]",
            headers.total,
            headers.messages,
            f"fetch {headers.fetch:.2f} s, {headers.fetched_bytes / 1e6:.2f} MB",
        )
    )
    print()
    for label, result in (("first scan", first), ("second pass", second)):
        what = ", ".join(f"{k} {v}" for k, v in sorted(result.happenings.items())) or "nothing"
        print(
            f"after the {label}: {result.applications} applications,"
            f" {result.pending} actions pending, {result.drafted} drafted"
            f" ({result.drafts_folder} in Drafts); printed: {what}"
        )
    if profile:
        print()
        print("cProfile of the first scan, in process (fresh state):")
        print(profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
