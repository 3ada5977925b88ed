"""recognise: every sample against its labels, plus focused cases for each rule."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from followupd import phrasebook
from followupd.model import Address, Kind, ParsedMessage, Recognition
from followupd.parse import parse_message
from followupd.phrasebook import PhraseBookError, load_phrasebook
from followupd.recognise import recognise

SAMPLES = Path(__file__).parent / "samples"
LABELS: dict[str, dict[str, Any]] = yaml.safe_load((SAMPLES / "labels.yaml").read_text())
BERLIN = ZoneInfo("Europe/Berlin")
ME = {"jane@example.com"}


def recognise_raw(raw: bytes, *, tz: ZoneInfo = BERLIN) -> Recognition:
    return recognise(parse_message(raw, default_tz=tz), me_addresses=ME, tz=tz)


def recognise_sample(name: str) -> Recognition:
    return recognise_raw((SAMPLES / name).read_bytes())


def mail(
    body: str,
    *,
    subject: str = "Hello",
    sender: str = "Sam Ray <sam@initech.example>",
    date_header: str = "Wed, 18 Nov 2026 10:00:00 +0100",
    headers: str = "",
    to: str = "Jane Doe <jane@example.com>",
) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Date: {date_header}",
        "Message-ID: <t1@test.example>",
        f"Subject: {subject}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if headers:
        lines.append(headers.strip("\n"))
    return ("\n".join(lines) + "\n\n" + body).encode("utf-8")


def interviewer_keys(result: Recognition) -> list[str]:
    return [a.email or a.name for a in result.interviewers]


# ---------------------------------------------------------------- samples against labels


def test_every_sample_has_a_label() -> None:
    names = {p.name for p in SAMPLES.glob("*.eml")}
    assert names == set(LABELS)
    assert len(names) >= 20


@pytest.mark.parametrize("name", sorted(LABELS))
def test_sample_matches_label(name: str) -> None:
    label = LABELS[name]
    result = recognise_sample(name)
    assert result.kind == Kind(label["kind"]), result.evidence
    assert result.automatic is label["automatic"]
    for key in ("company", "role", "job_id"):
        if key in label:
            assert getattr(result, key) == label[key], key
    expected = label["interview"]
    if expected is None:
        assert result.interview is None
    else:
        assert result.interview is not None
        assert result.interview.start.isoformat() == expected["start"]
        assert result.interview.end.isoformat() == expected["end"]
        assert result.interview.timezone == expected["timezone"]
    assert interviewer_keys(result) == label["interviewers"]
    promised = label["promised_reply_by"]
    assert result.promised_reply_by == (date.fromisoformat(promised) if promised else None)


@pytest.mark.parametrize("name", sorted(LABELS))
def test_sample_confidence_and_evidence(name: str) -> None:
    result = recognise_sample(name)
    assert 0.0 <= result.confidence <= 1.0
    assert result.evidence
    # Every sample is unambiguous, so every verdict should be a confident one.
    assert result.confidence >= (0.8 if result.kind != Kind.OTHER else 0.7)


def test_evidence_reads_like_the_contract() -> None:
    invite = recognise_sample("01_invite_google_acme.eml")
    assert "calendar: METHOD:REQUEST, STATUS:CONFIRMED, 3 attendees" in invite.evidence
    rejection = recognise_sample("10_rejection_plain_hooli.eml")
    assert 'body: "keep your cv on file"' in rejection.evidence
    assert 'subject: "update on your application"' in rejection.evidence


def test_recognition_is_deterministic() -> None:
    raw = (SAMPLES / "03_invite_text_initech.eml").read_bytes()
    assert recognise_raw(raw) == recognise_raw(raw)


def test_calendar_facts_carried_into_interview() -> None:
    result = recognise_sample("06_reschedule_ics_acme.eml")
    assert result.interview is not None
    assert result.interview.uid == "7kq2v9b1m3acme0interview24@google.com"
    assert result.interview.sequence == 1
    assert result.interview.location == "https://meet.google.com/qzx-hfwn-kpa"
    assert result.organiser == Address("Maria Lopez", "maria.lopez@acme.example")


def test_contacts_exclude_no_reply_and_me() -> None:
    result = recognise_sample("09_rejection_greenhouse_vandelay.eml")
    assert result.contacts == (Address("Kevin Otto", "kevin.otto@vandelay.example"),)


# ---------------------------------------------------------------- quoted history


def test_reply_quoting_an_old_rejection_is_not_a_rejection() -> None:
    result = recognise_sample("22_recruiter_reply_quoting_rejection.eml")
    assert result.kind == Kind.INVITATION
    assert not any("regret" in e or "move forward with other" in e for e in result.evidence)


@pytest.mark.parametrize(
    "quote_intro",
    [
        "On Wed, 2 Dec 2026 at 19:30, Hooli People <people@hooli.example> wrote:",
        "On Wed, 2 Dec 2026 at 19:30, Hooli People <\npeople@hooli.example> wrote:",
        "-----Original Message-----\nFrom: Hooli People\nSent: Wednesday, December 2, 2026",
        "From: Hooli People <people@hooli.example>\nSent: Wednesday, December 2, 2026 19:30",
    ],
)
def test_quoted_history_is_ignored(quote_intro: str) -> None:
    body = (
        "Hi Jane,\n\nthanks, noted - I have passed your question on to the team.\n\nSam\n\n"
        f"{quote_intro}\n"
        "Unfortunately we regret to inform you that we have decided not to move forward.\n"
        "We wish you the best of luck.\n"
    )
    result = recognise_raw(mail(body, subject="Re: Our conversation"))
    assert result.kind != Kind.REJECTION
    assert result.promised_reply_by is None


def test_angle_quoted_lines_are_ignored() -> None:
    body = (
        "Sounds good, speak soon.\n\n> We regret to inform you that the position has been filled.\n"
    )
    assert recognise_raw(mail(body, subject="Re: Hi")).kind == Kind.OTHER


# ---------------------------------------------------------------- times


def test_windows_tzid_interview() -> None:
    result = recognise_sample("02_invite_outlook_globex.eml")
    assert result.interview is not None and result.interview.timezone == "Europe/Berlin"


def _calendar_mail(dtstart: str, dtend: str = "") -> bytes:
    ics = "\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "METHOD:REQUEST",
            "BEGIN:VEVENT",
            "UID:float-1@test",
            "SUMMARY:Interview with Initech",
            f"DTSTART{dtstart}",
            *([f"DTEND{dtend}"] if dtend else []),
            "ATTENDEE;CN=Jane Doe:mailto:jane@example.com",
            "ATTENDEE;CN=Sam Ray:mailto:sam@initech.example",
            "ATTENDEE;CN=Board Room:mailto:c_123@resource.calendar.google.com",
            "END:VEVENT",
            "END:VCALENDAR",
        ]
    )
    body = (
        "--b1\nContent-Type: text/plain\n\nPlease find the interview invitation attached.\n\n"
        f"--b1\nContent-Type: text/calendar; method=REQUEST\n\n{ics}\n\n--b1--\n"
    )
    return mail(body, subject="Interview invitation").replace(
        b"Content-Type: text/plain; charset=utf-8", b'Content-Type: multipart/mixed; boundary="b1"'
    )


def test_floating_calendar_time_is_in_the_persons_zone() -> None:
    result = recognise_raw(_calendar_mail(":20261203T090000", ":20261203T100000"))
    assert result.kind == Kind.INVITATION
    assert result.interview is not None
    assert result.interview.start.isoformat() == "2026-12-03T09:00:00+01:00"
    assert result.interview.timezone == "Europe/Berlin"
    # Jane is the person; the Google resource is a room.
    assert result.interviewers == (Address("Sam Ray", "sam@initech.example"),)


def test_all_day_calendar_event() -> None:
    result = recognise_raw(_calendar_mail(";VALUE=DATE:20261207", ";VALUE=DATE:20261208"))
    assert result.interview is not None
    assert result.interview.start.isoformat() == "2026-12-07T00:00:00+01:00"
    assert result.interview.end.isoformat() == "2026-12-08T00:00:00+01:00"


def test_calendar_without_end_gets_an_hour() -> None:
    result = recognise_raw(_calendar_mail(";TZID=Europe/Berlin:20261203T090000"))
    assert result.interview is not None
    assert result.interview.end.isoformat() == "2026-12-03T10:00:00+01:00"


@pytest.mark.parametrize(
    ("sentence", "start", "zone"),
    [
        ("on Thursday 3 December at 2:30pm CET", "2026-12-03T14:30:00+01:00", "Europe/Berlin"),
        ("on 12 November 2027 at 14:00", "2027-11-12T14:00:00+01:00", "Europe/Berlin"),
        ("on December 3rd at 9:00 EST", "2026-12-03T09:00:00-05:00", "-05:00"),
        ("on 3 December at 10:00 GMT", "2026-12-03T10:00:00+00:00", "+00:00"),
        ("on Dec 3, 10:00-11:00 (Europe/London)", "2026-12-03T10:00:00+00:00", "Europe/London"),
        ("at 3pm on Friday", "2026-11-20T15:00:00+01:00", "Europe/Berlin"),
        ("on 3 December at 10:00 PST", "2026-12-03T10:00:00-08:00", "-08:00"),
        ("on 3 December at 16:00 UTC", "2026-12-03T16:00:00+00:00", "+00:00"),
    ],
)
def test_text_times(sentence: str, start: str, zone: str) -> None:
    body = f"Hi Jane,\n\nwe would like to invite you to an interview {sentence}.\n\nSam"
    result = recognise_raw(mail(body))
    assert result.kind == Kind.INVITATION
    assert result.interview is not None
    assert result.interview.start.isoformat() == start
    assert result.interview.timezone == zone


def test_text_range_sets_the_end() -> None:
    body = "We would like to invite you to an interview on 3 December, 2:00-3:30pm."
    result = recognise_raw(mail(body))
    assert result.interview is not None
    assert result.interview.start.isoformat() == "2026-12-03T14:00:00+01:00"
    assert result.interview.end.isoformat() == "2026-12-03T15:30:00+01:00"


def test_tomorrow_is_resolved_against_the_date_header() -> None:
    body = "Would you be available for an interview tomorrow at 10?"
    sunday = recognise_raw(mail(body, date_header="Sun, 6 Dec 2026 20:00:00 +0100"))
    assert sunday.interview is not None
    assert sunday.interview.start.isoformat() == "2026-12-07T10:00:00+01:00"
    # 23:30 UTC on Sunday is already Monday in Berlin, so "tomorrow" is Tuesday.
    late = recognise_raw(mail(body, date_header="Sun, 6 Dec 2026 23:30:00 +0000"))
    assert late.interview is not None
    assert late.interview.start.isoformat() == "2026-12-08T10:00:00+01:00"


def test_year_is_the_next_such_date() -> None:
    body = "We would like to invite you to an interview on 5 January at 10:00."
    result = recognise_raw(mail(body, date_header="Sun, 20 Dec 2026 09:00:00 +0100"))
    assert result.interview is not None
    assert result.interview.start.isoformat() == "2027-01-05T10:00:00+01:00"


def test_no_date_header_means_no_text_time() -> None:
    raw = mail("We would like to invite you to an interview tomorrow at 10am.")
    raw = raw.replace(b"Date: Wed, 18 Nov 2026 10:00:00 +0100\n", b"")
    result = recognise_raw(raw)
    assert result.kind == Kind.INVITATION
    assert result.interview is None


# ---------------------------------------------------------------- promised reply


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("We will get back to you within two weeks.", "2026-12-02"),
        ("You should hear from us within 5 business days.", "2026-11-25"),
        ("We'll be in touch within three working days.", "2026-11-23"),
        ("We'll be in touch by the end of next week.", "2026-11-27"),
        ("We hope to update you in the next few days.", "2026-11-23"),
        ("I'll let you know by Friday.", "2026-11-20"),
        ("We expect to have a decision by the end of this week.", "2026-11-20"),
        ("We'll come back to you early next week.", "2026-11-24"),
        ("We aim to reach a decision by 4 December.", "2026-12-04"),
        ("We will get back to you within 1-2 weeks.", "2026-12-02"),
        ("You can expect to hear from us within a week.", "2026-11-25"),
        ("Please complete the exercise within 5 days.", None),
        ("Please reply by Friday.", None),
        ("Let us know by Monday whether you accept.", None),
    ],
)
def test_promised_reply(sentence: str, expected: str | None) -> None:
    body = f"Dear Jane,\n\nthank you for your time today. {sentence}\n\nBest regards,\nSam"
    result = recognise_raw(mail(body))  # Wednesday 18 November 2026
    assert result.promised_reply_by == (date.fromisoformat(expected) if expected else None)


# ---------------------------------------------------------------- automatic mail


def test_out_of_office_sample_is_automatic() -> None:
    result = recognise_sample("17_out_of_office_globex.eml")
    assert (result.kind, result.automatic) == (Kind.OTHER, True)
    assert "header: Auto-Submitted: auto-replied" in result.evidence


@pytest.mark.parametrize(
    ("subject", "headers"),
    [
        ("Out of Office: Re: Interview invitation", ""),
        ("Re: Interview invitation", "X-Autoreply: yes"),
        ("Re: Interview invitation", "Auto-Submitted: auto-replied (vacation)"),
        ("Automatic reply: Interview invitation", ""),
    ],
)
def test_out_of_office_is_never_counted(subject: str, headers: str) -> None:
    body = (
        "I am out of the office until 7 December. Your message about the invitation to "
        "an interview on 3 December at 10:00 will be answered when I return.\n\n"
        "> We would like to invite you to an interview on 3 December at 10:00."
    )
    result = recognise_raw(mail(body, subject=subject, headers=headers))
    assert (result.kind, result.automatic) == (Kind.OTHER, True)
    assert result.interview is None


def test_bounce_quoting_an_interview_is_automatic() -> None:
    result = recognise_sample("18_dsn_bounce.eml")
    assert (result.kind, result.automatic, result.interview) == (Kind.OTHER, True, None)


def test_cold_outreach_is_other_but_not_automatic() -> None:
    result = recognise_sample("19_cold_outreach_agency.eml")
    assert (result.kind, result.automatic) == (Kind.OTHER, False)


def test_plain_personal_mail_is_confidently_other() -> None:
    result = recognise_raw(mail("Dinner on Saturday? Bring the board game.", subject="Dinner"))
    assert result.kind == Kind.OTHER
    assert result.confidence >= 0.8
    assert not result.automatic


# ---------------------------------------------------------------- company, role, job id


@pytest.mark.parametrize(
    ("display", "email", "company"),
    [
        ("Acme Recruiting via Greenhouse", "no-reply@greenhouse.io", "Acme"),
        ("Acme Talent Team", "jobs@acme.example", "Acme"),
        ("The Hooli Hiring Team", "hiring@hooli.example", "Hooli"),
        ("Globex Talent Acquisition", "ta@globex.example", "Globex"),
        ("Vandelay Industries via Lever", "no-reply@hire.lever.co", "Vandelay Industries"),
        ("Sam Ray", "sam@initech.example", "Initech"),
        ("Sam Ray", "sam.ray@gmail.com", None),
    ],
)
def test_company_from_sender(display: str, email: str, company: str | None) -> None:
    body = "Thank you for your time. We would like to invite you to a second interview."
    result = recognise_raw(mail(body, sender=f"{display} <{email}>"))
    assert result.company == company


def test_company_from_subject_and_body() -> None:
    subject_case = recognise_raw(
        mail(
            "Please see below.", subject="Interview: Senior Engineer at Acme", sender="x@gmail.com"
        )
    )
    assert (subject_case.company, subject_case.role) == ("Acme", "Senior Engineer")
    body_case = recognise_raw(
        mail(
            "I'm part of Umbrella's engineering team and would like to invite you to an interview"
            " for the Staff Data Scientist role.",
            sender="Lee <lee@gmail.com>",
        )
    )
    assert (body_case.company, body_case.role) == ("Umbrella", "Staff Data Scientist")


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("We'd like to invite you to interview for the Head of Data position.", "Head of Data"),
        (
            "Thanks for your application for Site Reliability Engineer at Acme.",
            "Site Reliability Engineer",
        ),
        (
            "We are pleased to offer you the role of Engineering Manager at Acme.",
            "Engineering Manager",
        ),
        ("We would like you to join us as a Senior QA Engineer in Berlin.", "Senior QA Engineer"),
        ("We would like to invite you to an interview next week.", None),
    ],
)
def test_role_patterns(text: str, role: str | None) -> None:
    assert recognise_raw(mail(text)).role == role


@pytest.mark.parametrize(
    ("text", "job_id"),
    [
        ("Job ID: R-1234", "R-1234"),
        ("Req #12345", "12345"),
        ("Requisition ID 4567 (Berlin)", "4567"),
        ("This is required for the interview.", None),
    ],
)
def test_job_id(text: str, job_id: str | None) -> None:
    assert (
        recognise_raw(mail(f"We would like to invite you to an interview. {text}")).job_id == job_id
    )


def test_interviewer_names_match_known_addresses() -> None:
    body = (
        "We would like to invite you to an interview on 3 December at 10:00. "
        "You will meet Anna Schmidt (Engineering Manager), Tom Lee and Jane Doe."
    )
    raw = mail(body, to="Jane Doe <jane@example.com>, Anna Schmidt <anna@initech.example>")
    result = recognise_raw(raw)
    assert result.interviewers == (
        Address("Anna Schmidt", "anna@initech.example"),
        Address("Tom Lee", ""),
    )


# ---------------------------------------------------------------- phrase books


def test_phrasebook_is_cached_and_languages_are_checked() -> None:
    assert load_phrasebook() is load_phrasebook()
    assert load_phrasebook(["en"]).languages == ("en",)
    with pytest.raises(PhraseBookError):
        load_phrasebook(["xx"])


def test_the_format_is_documented_in_en_yaml() -> None:
    text = (Path(phrasebook.__file__).parent / "phrases" / "en.yaml").read_text()
    assert text.startswith("#") and "de.yaml" in text.split("kinds:")[0]


def test_a_new_language_is_just_a_yaml_file(monkeypatch: pytest.MonkeyPatch) -> None:
    files = phrasebook._files()
    dutch = """
kinds:
  rejection:
    body:
      5: ['helaas (?:moeten|moet) (?:wij|we|ik) (?:u|je) (?:laten weten|mededelen)']
reply_context:
  - 'wij laten (?:u|je) weten'
promised_reply:
  - {pattern: 'binnen (?P<n>{NUMBER}) weken', offset: '{n} weeks'}
numbers:
  twee: 2
"""
    monkeypatch.setattr(phrasebook, "_files", lambda: {**files, "nl.yaml": dutch})
    phrasebook._load.cache_clear()
    try:
        book = load_phrasebook()
        assert book.languages == (*sorted(n[:-5] for n in files), "nl")
        body = (
            "Beste Jane,\n\nhelaas moeten wij u laten weten dat we voor een andere kandidaat "
            "hebben gekozen. Over een andere vacature: wij laten u weten binnen twee "
            "weken.\n\nMet vriendelijke groet"
        )
        msg: ParsedMessage = parse_message(mail(body), default_tz=BERLIN)
        result = recognise(msg, me_addresses=ME, tz=BERLIN, phrases=book)
        assert result.kind == Kind.REJECTION
        assert result.promised_reply_by == date(2026, 12, 2)
    finally:
        phrasebook._load.cache_clear()


def test_bad_phrase_file_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        phrasebook,
        "_files",
        lambda: {"en.yaml": "kinds:\n  rejection:\n    body:\n      5: ['(unclosed']\n"},
    )
    phrasebook._load.cache_clear()
    try:
        with pytest.raises(PhraseBookError, match=r"kinds\.rejection\.body"):
            load_phrasebook()
    finally:
        phrasebook._load.cache_clear()
