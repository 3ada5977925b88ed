"""parse_message: headers, addresses, text, calendar parts, and robustness on bad input."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followupd.model import Address, ParsedMessage
from followupd.parse import MAX_TEXT_CHARS, MalformedMessage, decode_words, parse_message
from followupd.recognise import recognise

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_FILES = sorted(SAMPLES.glob("*.eml"))
BERLIN = ZoneInfo("Europe/Berlin")
ME = {"jane@example.com"}


def sample(name: str) -> ParsedMessage:
    return parse_message((SAMPLES / name).read_bytes(), default_tz=BERLIN)


def mail(
    body: str = "Hello.",
    *,
    subject: str = "Hello",
    headers: str = "",
    content_type: str = "text/plain; charset=utf-8",
    date: str | None = "Wed, 18 Nov 2026 10:00:00 +0100",
    message_id: str | None = "<m1@test.example>",
) -> bytes:
    lines = ["From: Sam Ray <sam@initech.example>", "To: Jane Doe <jane@example.com>"]
    if date is not None:
        lines.append(f"Date: {date}")
    if message_id is not None:
        lines.append(f"Message-ID: {message_id}")
    lines += [f"Subject: {subject}", "MIME-Version: 1.0", f"Content-Type: {content_type}"]
    if headers:
        lines.append(headers.strip("\n"))
    return ("\n".join(lines) + "\n\n" + body).encode("utf-8")


def with_calendar(
    ics: str, *, part_headers: str = "Content-Type: text/calendar; charset=utf-8"
) -> bytes:
    body = (
        "--b1\nContent-Type: text/plain; charset=utf-8\n\nSee the invitation.\n\n"
        f"--b1\n{part_headers}\n\n{ics.strip()}\n\n--b1--\n"
    )
    return mail(body, content_type='multipart/mixed; boundary="b1"')


def vevent(*lines: str, method: str | None = "REQUEST") -> str:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"]
    if method:
        head.append(f"METHOD:{method}")
    event = ["BEGIN:VEVENT", "UID:evt-1@test", "SUMMARY:Interview", *lines, "END:VEVENT"]
    return "\n".join([*head, *event, "END:VCALENDAR"])


# ---------------------------------------------------------------- samples


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_sample_parses(path: Path) -> None:
    msg = parse_message(path.read_bytes(), default_tz=BERLIN)
    assert msg.message_id and "<" not in msg.message_id and ">" not in msg.message_id
    assert msg.date is not None and msg.date.utcoffset() is not None
    assert msg.sender is not None and "@" in msg.sender.email
    assert msg.subject and "\n" not in msg.subject
    assert msg.text.strip()
    assert all("<" not in ref for ref in msg.references)
    for event in msg.calendar:
        assert event.start is None or event.start.utcoffset() is not None


def test_google_invite_calendar_parts_are_merged() -> None:
    msg = sample("01_invite_google_acme.eml")
    # The inline text/calendar and invite.ics carry the same event: kept once.
    assert len(msg.calendar) == 1
    event = msg.calendar[0]
    assert event.method == "REQUEST"
    assert event.uid == "7kq2v9b1m3acme0interview24@google.com"
    assert event.sequence == 0
    assert event.summary == "Acme - Technical interview (Senior Backend Engineer)"
    assert event.start == datetime(2026, 11, 24, 14, 0, tzinfo=BERLIN)
    assert event.end == datetime(2026, 11, 24, 15, 0, tzinfo=BERLIN)
    assert event.timezone == "Europe/Berlin"
    assert event.organizer == Address("Maria Lopez", "maria.lopez@acme.example")
    # The CUTYPE=RESOURCE meeting room is not a person.
    assert [a.email for a in event.attendees] == [
        "maria.lopez@acme.example",
        "jane@example.com",
        "tom.becker@acme.example",
    ]
    assert "Senior Backend Engineer role" in event.description
    assert event.status == "CONFIRMED"
    assert not event.all_day


def test_outlook_windows_tzid_is_mapped_to_iana() -> None:
    msg = sample("02_invite_outlook_globex.eml")
    (event,) = msg.calendar
    assert event.timezone == "Europe/Berlin"
    assert event.start is not None and event.start.isoformat() == "2026-12-01T10:00:00+01:00"
    assert event.end is not None and event.end.isoformat() == "2026-12-01T11:30:00+01:00"
    assert {a.name for a in event.attendees} == {"Jane Doe", "Lukas Weber", "Priya Nair"}
    assert event.location.startswith("Globex HQ Room 4.12")
    assert msg.cc == (
        Address("Lukas Weber", "lukas.weber@globex.example"),
        Address("Priya Nair", "priya.nair@globex.example"),
    )


def test_cancel_method_and_status() -> None:
    (event,) = sample("08_cancel_ics_initech.eml").calendar
    assert (event.method, event.status, event.sequence) == ("CANCEL", "CANCELLED", 2)


def test_html_only_body_is_converted_to_text() -> None:
    msg = sample("23_confirmation_html_hooli.eml")
    assert "Your interview is confirmed for Monday, November 30, 10:00" in msg.text
    assert "<p>" not in msg.text and "<b>" not in msg.text and "**" not in msg.text


def test_html_only_inline() -> None:
    html = "<html><body><p>Hello <b>Jane</b>,</p><blockquote>old</blockquote></body></html>"
    msg = parse_message(mail(html, content_type="text/html; charset=utf-8"), default_tz=BERLIN)
    assert "Hello Jane," in msg.text
    assert "> old" in msg.text


def test_rfc2047_subject_is_decoded() -> None:
    assert sample("23_confirmation_html_hooli.eml").subject == (
        "Interview confirmed \u2013 Product Designer at Hooli"
    )


def test_rfc2047_display_name_is_decoded() -> None:
    raw = mail().replace(
        b"From: Sam Ray <sam@initech.example>",
        b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@initech.example>",
    )
    msg = parse_message(raw, default_tz=BERLIN)
    assert msg.sender == Address("J\u00fcrgen M\u00fcller", "jm@initech.example")


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_raw_8bit_subject_is_read(encoding: str) -> None:
    raw = mail(subject="Interview best\u00e4tigt").replace(b"charset=utf-8", b"charset=x")
    raw = raw.decode("utf-8").encode(encoding)
    assert parse_message(raw, default_tz=BERLIN).subject == "Interview best\u00e4tigt"


def test_thread_ids_without_angle_brackets() -> None:
    msg = sample("05_confirmation_umbrella.eml")
    assert msg.message_id == "5c1e0f27.umbrella05@mail.umbrella.example"
    assert msg.in_reply_to == "jane-20261104-1802@example.com"
    assert msg.references == (
        "umbrella-20261103-0930@mail.umbrella.example",
        "jane-20261104-1802@example.com",
    )


def test_missing_message_id_is_synthesised_stably() -> None:
    raw = mail(message_id=None)
    first = parse_message(raw, default_tz=BERLIN)
    second = parse_message(raw, default_tz=BERLIN)
    other = parse_message(mail("Different body.", message_id=None), default_tz=BERLIN)
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@followupd.invalid")
    assert len(first.message_id.split("@")[0]) == 32
    assert other.message_id != first.message_id
    assert any("Message-ID" in d for d in first.defects)


def test_date_header_variants() -> None:
    msg = parse_message(mail(), default_tz=BERLIN)
    assert msg.date == datetime(2026, 11, 18, 9, 0, tzinfo=ZoneInfo("UTC"))
    assert msg.date is not None and msg.date.utcoffset() == timedelta(hours=1)

    missing = parse_message(mail(date=None), default_tz=BERLIN)
    assert missing.date is None and any("Date" in d for d in missing.defects)

    garbage = parse_message(mail(date="sometime next week"), default_tz=BERLIN)
    assert garbage.date is None and any("Date" in d for d in garbage.defects)

    loose = parse_message(mail(date="2026-11-18 10:00:00 +0100"), default_tz=BERLIN)
    assert loose.date is not None and loose.date.isoformat() == "2026-11-18T10:00:00+01:00"
    assert any("not RFC 5322" in d for d in loose.defects)


def test_triage_headers_only_and_lower_cased() -> None:
    ooo = sample("17_out_of_office_globex.eml")
    assert ooo.headers["auto-submitted"] == "auto-replied"
    assert "subject" not in ooo.headers and "x-auto-response-suppress" not in ooo.headers
    news = sample("15_newsletter_interview_tips.eml")
    assert news.headers["precedence"] == "bulk"
    assert "list-id" in news.headers and "list-unsubscribe" in news.headers
    dsn = sample("18_dsn_bounce.eml")
    assert dsn.headers["content-type"].startswith("multipart/report")
    assert dsn.headers["return-path"] == "<>"


def test_floating_time_uses_default_zone() -> None:
    msg = parse_message(
        with_calendar(vevent("DTSTART:20261203T150000", "DTEND:20261203T160000")),
        default_tz=ZoneInfo("America/New_York"),
    )
    (event,) = msg.calendar
    assert event.start is not None and event.start.isoformat() == "2026-12-03T15:00:00-05:00"
    assert event.timezone == "America/New_York"


def test_utc_time() -> None:
    msg = parse_message(with_calendar(vevent("DTSTART:20261203T140000Z")), default_tz=BERLIN)
    (event,) = msg.calendar
    assert event.timezone == "UTC"
    assert event.start is not None and event.start.astimezone(BERLIN).hour == 15
    assert event.end is None


def test_all_day_event() -> None:
    ics = vevent("DTSTART;VALUE=DATE:20261207", "DTEND;VALUE=DATE:20261208")
    (event,) = parse_message(with_calendar(ics), default_tz=BERLIN).calendar
    assert event.all_day
    assert event.start == datetime(2026, 12, 7, 0, 0, tzinfo=BERLIN)
    assert event.end == datetime(2026, 12, 8, 0, 0, tzinfo=BERLIN)


def test_duration_when_no_dtend() -> None:
    ics = vevent("DTSTART;TZID=Europe/London:20261203T100000", "DURATION:PT45M")
    (event,) = parse_message(with_calendar(ics), default_tz=BERLIN).calendar
    assert event.timezone == "Europe/London"
    assert event.end is not None and event.end.isoformat() == "2026-12-03T10:45:00+00:00"


def test_unknown_tzid_falls_back_with_a_defect() -> None:
    ics = vevent("DTSTART;TZID=Mars Standard Time:20261203T100000")
    msg = parse_message(with_calendar(ics), default_tz=BERLIN)
    (event,) = msg.calendar
    assert event.start == datetime(2026, 12, 3, 10, 0, tzinfo=BERLIN)
    assert any("Mars Standard Time" in d for d in msg.defects)


@pytest.mark.filterwarnings("ignore:.*globally unique TZID")
def test_mozilla_style_tzid() -> None:
    ics = vevent("DTSTART;TZID=/mozilla.org/20050126_1/Europe/Paris:20261203T100000")
    (event,) = parse_message(with_calendar(ics), default_tz=BERLIN).calendar
    assert event.timezone == "Europe/Paris"


def test_method_from_content_type_and_octet_stream_ics_attachment() -> None:
    ics = vevent("DTSTART:20261203T100000Z", method=None)
    encoded = base64.b64encode(ics.encode()).decode()
    part = (
        'Content-Type: application/octet-stream; name="meeting.ics"; method=PUBLISH\n'
        'Content-Disposition: attachment; filename="meeting.ics"\n'
        "Content-Transfer-Encoding: base64"
    )
    body = f"--b1\nContent-Type: text/plain\n\nAttached.\n\n--b1\n{part}\n\n{encoded}\n--b1--\n"
    msg = parse_message(
        mail(body, content_type='multipart/mixed; boundary="b1"'), default_tz=BERLIN
    )
    (event,) = msg.calendar
    assert event.method == "PUBLISH"


def test_organizer_and_attendees_strip_mailto() -> None:
    ics = vevent(
        "DTSTART:20261203T100000Z",
        'ORGANIZER;CN="Anna Schmidt":MAILTO:anna@globex.example',
        "ATTENDEE;CN=Tom Lee:mailto:tom@globex.example",
        "ATTENDEE:mailto:jane@example.com",
        "ATTENDEE;CUTYPE=ROOM;CN=Room 1:mailto:room1@globex.example",
    )
    (event,) = parse_message(with_calendar(ics), default_tz=BERLIN).calendar
    assert event.organizer == Address("Anna Schmidt", "anna@globex.example")
    assert event.attendees == (
        Address("Tom Lee", "tom@globex.example"),
        Address("", "jane@example.com"),
    )


def test_broken_calendar_is_a_defect_not_an_error() -> None:
    msg = parse_message(with_calendar("BEGIN:VCALENDAR\nthis is not ical\n"), default_tz=BERLIN)
    assert msg.calendar == ()
    assert any("calendar" in d for d in msg.defects)
    assert "See the invitation." in msg.text


def test_huge_body_is_bounded() -> None:
    msg = parse_message(mail("interview " * 400_000), default_tz=BERLIN)
    assert len(msg.text) <= MAX_TEXT_CHARS
    assert any("truncated" in d for d in msg.defects)


# ---------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \r\n\r\n  ", "empty"),
        (b"\x00\xff\xfe random binary \x01\x02", "headers"),
        (b"just a line of text\nand another\n", "headers"),
        (b"X-Nothing: here\n\nbody", "headers"),
    ],
)
def test_not_a_message_raises_malformed(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_message(raw, default_tz=BERLIN)
    assert reason in info.value.reason
    assert isinstance(info.value, ValueError)


def test_non_bytes_raise_malformed() -> None:
    with pytest.raises(MalformedMessage):
        parse_message("From: a@b.example\n\nhi", default_tz=BERLIN)  # type: ignore[arg-type]


def test_partial_message_returns_defects() -> None:
    raw = (
        b"From: <<<broken\nSubject: =?bogus?x?zzz?=\nDate: Tomorrow-ish\n"
        b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nhello"
    )
    msg = parse_message(raw, default_tz=BERLIN)
    assert msg.defects
    assert msg.date is None
    assert "hello" in msg.text


def test_deeply_nested_multipart_does_not_escape() -> None:
    depth = 2000
    head = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth)
    )
    raw = ("From: a@b.example\nSubject: deep\n" + head + "Content-Type: text/plain\n\nx\n").encode()
    try:
        msg = parse_message(raw, default_tz=BERLIN)
    except MalformedMessage:
        return
    assert isinstance(msg, ParsedMessage)


def _parse_and_recognise(raw: bytes) -> None:
    try:
        msg = parse_message(raw, default_tz=BERLIN)
    except MalformedMessage as exc:
        assert exc.reason
        return
    result = recognise(msg, me_addresses=ME, tz=BERLIN)
    assert 0.0 <= result.confidence <= 1.0


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise_anything_else(raw: bytes) -> None:
    _parse_and_recognise(raw)


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.sampled_from(SAMPLE_FILES),
    st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 3), st.binary(min_size=1, max_size=8)),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_samples_never_raise_anything_else(
    path: Path, edits: list[tuple[float, int, bytes]]
) -> None:
    data = bytearray(path.read_bytes())
    for where, op, chunk in edits:
        at = int(where * len(data))
        if op == 0:
            data[at:at] = chunk  # insert
        elif op == 1:
            del data[at : at + len(chunk) * 16]  # delete a stretch
        elif op == 2:
            data[at : at + len(chunk)] = chunk  # overwrite
        else:
            del data[at:]  # truncate
    _parse_and_recognise(bytes(data))


@pytest.mark.parametrize(
    "value", ["=?\u00e9b\u00e8ne?Q?caf=C3=A9?=", "=?utf-8?B?not base64!?=", "=?x-unknown?Q?a?="]
)
def test_broken_encoded_words_are_kept_as_written(value: str) -> None:
    assert decode_words(value) == value


def test_a_subject_naming_a_charset_that_is_not_ascii_is_read_as_written() -> None:
    raw = (
        b"From: a@example.org\r\nSubject: =?\xc3\xa9b\xc3\xa8ne?Q?caf=C3=A9?= hello\r\n"
        b"Message-ID: <odd.charset@example.org>\r\n\r\nbody\r\n"
    )
    msg = parse_message(raw, default_tz=BERLIN)
    assert msg.subject == "=?\u00e9b\u00e8ne?Q?caf=C3=A9?= hello"
