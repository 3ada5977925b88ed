"""The screen that decides, from headers and the top of the text, what a scan reads in full."""

from __future__ import annotations

import base64
import quopri

from followupd.phrasebook import load_phrasebook
from followupd.prefilter import (
    Screen,
    Verdict,
    header_fields,
    message_id,
    probe_text,
    thread_ids,
)

TRACKED = {"parent@acme.example"}
DRAFTS = {"draft.1@example.com"}


def screen(direction: str = "in") -> Screen:
    return Screen(
        load_phrasebook(),
        direction,
        threaded=lambda ids: any(i in TRACKED for i in ids),
        ours=lambda mid: mid in DRAFTS,
    )


def fields(text: str) -> dict[str, str]:
    return header_fields(text.replace("\n", "\r\n").encode())


def test_header_fields_unfold_and_keep_the_first() -> None:
    got = fields(
        "Subject: a long\n subject line\nMessage-ID:\n <x.1@acme.example>\n"
        "Subject: second\nReferences: <a@b> <c@d>\n\n"
    )
    assert got["subject"] == "a long subject line"
    assert message_id(got) == "x.1@acme.example"
    assert thread_ids(got) == ["a@b", "c@d"]


def test_verdicts_from_headers() -> None:
    s = screen()
    plain = "From: Sam <sam@example.org>\nSubject: dinner on Friday?\n"
    assert s.judge(fields(plain), calendar=False).verdict is Verdict.PROBE
    assert s.judge(fields(plain), calendar=True).verdict is Verdict.JOB
    reply = plain + "In-Reply-To: <parent@acme.example>\n"
    assert s.judge(fields(reply), calendar=False).verdict is Verdict.JOB
    job = "From: Sam <sam@example.org>\nSubject: Interview invitation\n"
    assert s.judge(fields(job), calendar=False).verdict is Verdict.JOB
    ats = "From: Acme <no-reply@greenhouse.io>\nSubject: An update\n"
    assert s.judge(fields(ats), calendar=False).verdict is Verdict.JOB
    news = "From: News <news@digest.example>\nSubject: Weekly digest\nList-Id: <d.example>\n"
    assert s.judge(fields(news), calendar=False).verdict is Verdict.NOT
    news_job = news.replace("Weekly digest", "Your application to Acme")
    assert s.judge(fields(news_job), calendar=False).verdict is Verdict.JOB
    away = plain + "Auto-Submitted: auto-replied\n"
    assert s.judge(fields(away), calendar=False).verdict is Verdict.NOT
    generated = plain + "Auto-Submitted: auto-generated\n"  # how ATSs send rejections
    assert s.judge(fields(generated), calendar=False).verdict is Verdict.PROBE


def test_the_sender_is_read_as_written_for_bounces_and_decoded_for_job_words() -> None:
    s = screen()
    # An address only an RFC 2047 decoder sees: the ATS domain still counts, every time.
    encoded = "From: =?utf-8?q?no-reply=40greenhouse.io?=\nSubject: An update\n"
    for _ in range(2):
        assert s.judge(fields(encoded), calendar=False).verdict is Verdict.JOB
    bounce = "From: =?utf-8?q?Mail_System?= <MAILER-DAEMON@mx.example>\nSubject: failure\n"
    assert s.judge(fields(bounce), calendar=False).reason == "delivery report (mailer-daemon)"
    no_address = "From: Recruiting team\nSubject: hello\n"
    assert s.judge(fields(no_address), calendar=False).verdict is Verdict.JOB
    assert s.judge(fields("X-Other: 1\n"), calendar=False).reason == "no usual header fields"


def test_a_reply_to_job_mail_of_the_same_scan_is_job_mail() -> None:
    # Invitation and reply arrive while followupd is down: the reply's parent is not in the
    # tracker yet when the batch is screened, but it passed the screen just before.
    s = screen()
    invite = "From: Ann <ann@acme.example>\nSubject: Interview invitation\nMessage-ID: <i1@acme>\n"
    reply = "From: Ann <ann@acme.example>\nSubject: Re: hello\nIn-Reply-To: <i1@acme>\n"
    other = "From: Ann <ann@acme.example>\nSubject: Re: hello\nIn-Reply-To: <x9@acme>\n"
    assert s.judge(fields(invite), calendar=False).verdict is Verdict.JOB
    assert s.judge(fields(reply), calendar=False).verdict is Verdict.JOB
    assert s.judge(fields(other), calendar=False).verdict is Verdict.PROBE
    assert screen().judge(fields(reply), calendar=False).verdict is Verdict.PROBE


def test_sent_mail_matters_only_in_tracked_threads_or_as_our_draft() -> None:
    s = screen("out")
    sent = "From: Jane <jane@example.com>\nSubject: Interview on Tuesday\nMessage-ID: <s.1@x>\n"
    assert s.judge(fields(sent), calendar=True).verdict is Verdict.NOT
    ours = sent.replace("<s.1@x>", "<draft.1@example.com>")
    assert s.judge(fields(ours), calendar=False).verdict is Verdict.JOB
    threaded = sent + "References: <parent@acme.example>\n"
    assert s.judge(fields(threaded), calendar=False).verdict is Verdict.JOB


def test_probe_finds_a_kind_phrase_near_the_top() -> None:
    s = screen()
    head = fields("Subject: Hello\n")
    assert s.probe(head, "Hi Jane,\nwe would like to invite you to an interview next week.")
    assert not s.probe(head, "Hi Jane,\nthe photos from the trip are attached.")


def test_probe_text_undoes_transfer_encodings_and_html() -> None:
    text = "We would like to invite you to an interview \u2013 caf\u00e9 at 10:00.\n" * 3
    encoded = base64.encodebytes(text.encode("utf-8"))
    assert probe_text(encoded, "base64", "utf-8", False) == text
    # A probe cut in the middle of a line still decodes what came before.
    cut = base64.encodebytes((text * 100).encode())[:4096]
    assert probe_text(cut, "base64", "utf-8", False).startswith(text)
    assert (
        probe_text(quopri.encodestring(text.encode()), "quoted-printable", "utf-8", False) == text
    )
    html = b"<html><style>p {color: red}</style><p>Invite&nbsp;you to an <b>interview</b></p>"
    assert probe_text(html, "7bit", "utf-8", True).split() == [
        "Invite",
        "you",
        "to",
        "an",
        "interview",
    ]
    assert probe_text(b"caf\xe9", "8bit", "no-such-charset", False) == "caf\ufffd"
