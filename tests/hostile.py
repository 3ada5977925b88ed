"""Hostile and broken messages, generated from a random source (hypothesis or a seed).

Each generator returns raw bytes that a mail server could deliver: binary junk, headers
that are huge, endless or carry CR/LF and encoded-word tricks, charsets that are unknown or
lie, multiparts nested hundreds deep or with broken boundaries, damaged calendar parts,
transfer encodings that do not decode. None of them names Acme, so a scenario test can tell
their effects from those of the one good invitation it mixes in.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable

HEAD = (
    "From: Recruiter <jobs@hostile.example>\r\nTo: jane@example.com\r\n"
    "Date: Tue, 03 Nov 2026 09:00:00 +0100\r\n"
)


def _mid(rng: random.Random) -> str:
    return f"Message-ID: <h{rng.getrandbits(48):x}@hostile.example>\r\n"


def binary_junk(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randint(1, 5000))


def huge_header(rng: random.Random) -> bytes:
    subject = "Interview " * rng.randint(1000, 30000)
    return (HEAD + _mid(rng) + f"Subject: {subject}\r\n\r\nbody\r\n").encode()


def endless_headers(rng: random.Random) -> bytes:
    lines = "".join(
        f"X-Filler-{i}: {'x' * rng.randint(0, 80)}\r\n" for i in range(rng.randint(1000, 20000))
    )
    folded = "Subject: interview" + "\r\n invitation" * rng.randint(100, 5000) + "\r\n"
    return (HEAD + _mid(rng) + lines + folded + "\r\nbody\r\n").encode()


def injection(rng: random.Random) -> bytes:
    tricks = [
        "Subject: Interview\r\nBcc: evil@attacker.example\r\n",
        "Subject: =?utf-8?q?Interview=0D=0ABcc:_evil@attacker.example?=\r\n",
        "Subject: =?utf-8?b?"
        + base64.b64encode(b"Hi\r\nTo: evil@attacker.example").decode()
        + "?=\r\n",
        "From: =?utf-8?q?Anna=0D=0ABcc:_evil@attacker.example?= <anna@hostile.example>\r\n",
        'From: "Anna\r\nCc: evil@attacker.example" <anna@hostile.example>\r\n',
        "Subject: {{ 7 * 7 }} {% for x in range(9999999) %}{% endfor %} {{ config }}\r\n",
    ]
    return (
        HEAD + _mid(rng) + rng.choice(tricks) + "\r\nWe invite you to an interview.\r\n"
    ).encode()


def unknown_charset(rng: random.Random) -> bytes:
    charset = rng.choice(["x-klingon", "utf-99", "", "unicode-1-1-utf-7", "ébène", "cp65001"])
    head = HEAD + _mid(rng) + f"Subject: =?{charset}?q?Interview?=\r\n"
    head += f'Content-Type: text/plain; charset="{charset}"\r\n\r\n'
    return head.encode() + rng.randbytes(rng.randint(0, 3000))


def lying_charset(rng: random.Random) -> bytes:
    claimed = rng.choice(["utf-8", "us-ascii", "utf-16", "iso-2022-jp", "shift_jis", "utf-32"])
    body = rng.choice(
        [
            "Entretien prévu à 14h, réponse souhaitée".encode("latin-1"),
            "面接のご案内".encode("euc-jp"),
            b"\xff\xfe\xfd" * rng.randint(1, 2000),
            b"\x1b$B" + rng.randbytes(200),
        ]
    )
    head = HEAD + _mid(rng) + "Subject: Interview\r\n"
    head += (
        f"Content-Type: text/plain; charset={claimed}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + body


def nested(rng: random.Random) -> bytes:
    depth = rng.randint(50, 600)
    parts = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth)
    )
    tail = "Content-Type: text/plain\r\n\r\ninterview\r\n"
    if rng.random() < 0.5:
        tail += "".join(f"--b{i}--\r\n" for i in reversed(range(depth)))
    return (HEAD + _mid(rng) + "Subject: nested\r\n" + parts + tail).encode()


def broken_boundary(rng: random.Random) -> bytes:
    variant = rng.choice(
        [
            'Content-Type: multipart/mixed; boundary="never-used"\r\n\r\nno parts here\r\n',
            'Content-Type: multipart/mixed; boundary="\r\n\r\n--\r\nx\r\n',
            "Content-Type: multipart/alternative\r\n\r\n--\r\n\r\n--\r\n",
            'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n' * 500,
            'Content-Type: multipart/mixed; boundary="' + "b" * 5000 + '"\r\n\r\n--b\r\n',
        ]
    )
    return (HEAD + _mid(rng) + "Subject: Interview invitation\r\n" + variant).encode()


_ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
METHOD:REQUEST\r
BEGIN:VEVENT\r
UID:hostile-{n}@hostile.example\r
DTSTART;TZID=Europe/Berlin:20261105T140000\r
DTEND;TZID=Europe/Berlin:20261105T150000\r
SUMMARY:Interview\r
ORGANIZER;CN=R:mailto:jobs@hostile.example\r
END:VEVENT\r
END:VCALENDAR\r
"""


def broken_ics(rng: random.Random) -> bytes:
    ics = _ICS.format(n=rng.getrandbits(32))
    lines = ics.split("\r\n")
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(lines))
        lines[at] = rng.choice(
            [
                "",
                "DTSTART;TZID=Mars/Olympus:20261305T250000",
                "DTSTART:not-a-date",
                "DTEND;VALUE=DATE:0000",
                "BEGIN:VEVENT",
                "END:VCALENDAR",
                "RRULE:FREQ=SECONDLY;COUNT=999999999",
                "DURATION:P99999999W",
                lines[at][: rng.randint(0, len(lines[at]))],
                rng.randbytes(40).decode("latin-1"),
            ]
        )
    if rng.random() < 0.2:
        lines = lines[:4] + ["BEGIN:VEVENT", "UID:x", "END:VEVENT"] * 3000 + lines[4:]
    ics = "\r\n".join(lines)
    return (
        HEAD + _mid(rng) + "Subject: Invitation: Interview\r\n"
        'Content-Type: multipart/mixed; boundary="z"\r\n\r\n--z\r\n'
        "Content-Type: text/plain\r\n\r\nSee the invitation.\r\n--z\r\n"
        "Content-Type: text/calendar; method=REQUEST\r\n\r\n" + ics + "\r\n--z--\r\n"
    ).encode("utf-8", "surrogateescape")


def bad_encoding(rng: random.Random) -> bytes:
    cte = rng.choice(["base64", "quoted-printable", "x-uuencode", "7bit", "binary", "gzip"])
    body = rng.choice([b"!!!not base64!!!" * 50, b"=ZZ=\r\n=" * 100, rng.randbytes(2000)])
    head = HEAD + _mid(rng) + "Subject: Interview\r\n"
    head += f"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
    return head.encode() + body


def nul_and_controls(rng: random.Random) -> bytes:
    junk = bytes(rng.choice([0, 1, 7, 8, 11, 12, 27, 127]) for _ in range(200))
    return HEAD.encode() + _mid(rng).encode() + b"Subject: a\x00b\x1bc\r\n\r\n" + junk


GENERATORS: dict[str, Callable[[random.Random], bytes]] = {
    "binary junk": binary_junk,
    "huge header": huge_header,
    "endless headers": endless_headers,
    "header injection": injection,
    "unknown charset": unknown_charset,
    "lying charset": lying_charset,
    "nested multipart": nested,
    "broken boundary": broken_boundary,
    "broken ics": broken_ics,
    "bad transfer encoding": bad_encoding,
    "NUL and control bytes": nul_and_controls,
}


def enormous(size: int = 40 * 1024 * 1024) -> bytes:
    """A message far bigger than anything followupd will read whole."""
    head = (HEAD + "Message-ID: <enormous@hostile.example>\r\nSubject: big\r\n\r\n").encode()
    return head + b"interview " * (size // 10)


def corpus(count: int, seed: int) -> list[tuple[str, bytes]]:
    """`count` hostile messages, the generators taken in turn, reproducible from `seed`."""
    rng = random.Random(seed)
    names = list(GENERATORS)
    return [(names[i % len(names)], GENERATORS[names[i % len(names)]](rng)) for i in range(count)]
