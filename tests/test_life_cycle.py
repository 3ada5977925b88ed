"""The planner's life-cycle rules on plain data: budgets, cycles, zones, references, reasons."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followupd.compose import compose_draft
from followupd.errors import UserInputError
from followupd.model import Address, Interview, Kind, ParsedMessage
from followupd.planner import Person, plan_application
from followupd.records import Action
from followupd.ruleset import Rule, load_rules
from followupd.signals import FINAL_ROUND, REFERENCES_REQUESTED, signals_of
from tests.builders import ANNA, CAL, ME, TOM, app, at, event, reply

RULESET = load_rules(None)
RULES = RULESET.rules
SAM = Address("Sam Ortiz", "sam@example.org")
KIM = Address("Kim Park", "kim@example.net")
ME_WITH_REFS = Person(ME.name, ME.email, (SAM, KIM))

INVITE = event(
    1,
    Kind.INVITATION,
    "2026-11-02 10:00",
    interview=("2026-11-05 14:00", "2026-11-05 15:00"),
    uid="iv-1",
    interviewers=(ANNA, TOM),
)


def plan(application, existing=None, rules=RULES, me=ME):  # type: ignore[no-untyped-def]
    return plan_application(application, rules, CAL, me, existing)


def only(actions: list[Action], rule: str) -> list[Action]:
    return [a for a in actions if a.rule == rule]


def made(action: Action, state: str = "drafted") -> dict[str, Action]:
    return {action.key: replace(action, state=state)}


def two_follow_ups() -> tuple[Rule, ...]:
    return tuple(
        r.model_copy(update={"max_per_application": 2}) if r.name == "follow-up-silence" else r
        for r in RULES
    )


def test_a_confirmation_moves_the_silence_follow_up_instead_of_replacing_it() -> None:
    (before,) = only(plan(app(INVITE)).actions, "follow-up-silence")
    confirm = event(
        2,
        Kind.CONFIRMATION,
        "2026-11-03 11:00",
        interview=("2026-11-05 14:00", "2026-11-05 15:00"),
        uid="iv-1",
    )
    moved = event(
        3,
        Kind.RESCHEDULE,
        "2026-11-04 11:00",
        interview=("2026-11-06 10:00", "2026-11-06 11:00"),
        uid="iv-1",
    )
    (confirmed,) = only(plan(app(INVITE, confirm)).actions, "follow-up-silence")
    (after,) = only(plan(app(INVITE, confirm, moved)).actions, "follow-up-silence")
    assert before.key == confirmed.key == after.key
    assert confirmed.due == before.due == at("2026-11-12 09:30")
    assert after.due == at("2026-11-13 09:30")  # five business days after Fri 6 Nov


def test_second_follow_up_only_after_the_first_was_sent_and_a_longer_wait() -> None:
    rules = two_follow_ups()
    (first,) = only(plan(app(INVITE), rules=rules).actions, "follow-up-silence")
    # Drafted but never sent: the person chose not to chase; nothing more.
    assert only(plan(app(INVITE), made(first), rules=rules).actions, "follow-up-silence") == [
        replace(first, state="planned")
    ]
    sent = event(2, Kind.OTHER, "2026-11-12 10:00", direction="out", sender=Address("", ME.email))
    history = made(first, "sent")
    (second,) = only(plan(app(INVITE, sent), history, rules=rules).actions, "follow-up-silence")
    assert second.key != first.key
    assert second.due == at("2026-11-26 09:30")  # ten business days, not five
    assert second.context["nth"] == 2
    assert "follow-up number 2" in second.reason
    # After the second is sent too, silence gives no third, however long it lasts.
    sent_again = event(
        3, Kind.OTHER, "2026-11-26 10:00", direction="out", sender=Address("", ME.email)
    )
    history |= made(second, "sent")
    later = plan(app(INVITE, sent, sent_again), history, rules=rules)
    assert only(later.actions, "follow-up-silence") == []
    assert any("already 2 made" in why for why in later.dropped.values())


def test_the_default_is_one_follow_up() -> None:
    (first,) = only(plan(app(INVITE)).actions, "follow-up-silence")
    sent = event(2, Kind.OTHER, "2026-11-12 10:00", direction="out", sender=Address("", ME.email))
    assert only(plan(app(INVITE, sent), made(first, "sent")).actions, "follow-up-silence") == []


def _rules_file(tmp_path: Path, extra: str) -> Path:
    folder = tmp_path / "rules"
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "f.j2").write_text("Subject: x\n\nx\n")
    (folder / "r.yaml").write_text(
        "rules:\n  - name: nag\n    event: silence\n    to: contact\n    template: f.j2\n" + extra
    )
    return folder


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    max_per_application: 3\n", "at most 2 for silence rules"),
        ("    max_per_application: 2\n", "needs due.again_after"),
        (
            "    max_per_application: 2\n    due: {after: 5 business days, again_after: 3d}\n",
            "must be longer",
        ),
    ],
)
def test_never_more_than_two_follow_ups(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(UserInputError) as err:
        load_rules(_rules_file(tmp_path, extra))
    assert message in str(err.value)
    assert "r.yaml:2" in str(err.value)


def test_both_follow_up_rules_share_one_budget() -> None:
    promised = reply(2, "2026-11-05 16:40", promised_reply_by=date(2026, 11, 19))
    (first,) = only(plan(app(INVITE, promised)).actions, "follow-up-promised")
    sent = event(3, Kind.OTHER, "2026-11-20 10:00", direction="out", sender=Address("", ME.email))
    result = plan(app(INVITE, promised, sent), made(first, "sent"))
    # The promise is spent; the silence rule would apply now, but the one follow-up is used.
    assert only(result.actions, "follow-up-silence") == []
    assert only(result.actions, "follow-up-promised") == []
    assert any("follow-up-silence: already 1 made" in why for why in result.dropped.values())


def test_a_new_interview_round_starts_a_new_follow_up_cycle() -> None:
    (first,) = only(plan(app(INVITE)).actions, "follow-up-silence")
    second_round = event(
        2,
        Kind.INVITATION,
        "2026-11-09 10:00",
        interview=("2026-11-16 10:00", "2026-11-16 11:00"),
        uid="iv-2",
        interviewers=(TOM,),
    )
    result = plan(app(INVITE, second_round), made(first))
    (follow,) = only(result.actions, "follow-up-silence")
    assert follow.key != first.key
    assert follow.due == at("2026-11-23 09:30")
    assert "no reply since the interview on Mon 16 Nov" in follow.reason
    thanks = only(result.actions, "thank-you")
    assert [(a.to, a.due) for a in thanks] == [
        ((ANNA,), at("2026-11-05 17:00")),
        ((TOM,), at("2026-11-05 17:00")),
        ((TOM,), at("2026-11-16 13:00")),
    ]


def test_follow_up_lands_in_the_recipients_working_hours_too() -> None:
    ny = ZoneInfo("America/New_York")
    invite = replace(
        INVITE,
        interview=Interview(
            at("2026-11-05 16:00"), at("2026-11-05 17:00"), "America/New_York", uid="iv-ny"
        ),
    )
    result = plan(app(invite))
    (follow,) = only(result.actions, "follow-up-silence")
    # 09:30 in Berlin is 03:30 in New York; 09:00 there is 15:00 here.
    assert follow.due == at("2026-11-12 15:00")
    assert follow.due.astimezone(ny).hour == 9
    assert "their working hours (America/New_York)" in follow.reason
    # A note to oneself does not care about the company's zone.
    (debrief,) = only(result.actions, "debrief")
    assert debrief.due == at("2026-11-05 17:15")


def test_public_holidays_push_the_promised_follow_up() -> None:
    promised = reply(2, "2026-12-10 16:40", promised_reply_by=date(2026, 12, 24))
    (follow,) = only(plan(app(INVITE, promised)).actions, "follow-up-promised")
    assert follow.due == at("2026-12-28 09:30")  # 25 and 26 Dec are holidays in Germany


def test_reason_names_the_promise_in_their_words() -> None:
    promised = replace(
        reply(2, "2026-11-05 16:40", promised_reply_by=date(2026, 11, 19)),
        evidence=('promised reply: "within two weeks"',),
    )
    (follow,) = only(plan(app(INVITE, promised)).actions, "follow-up-promised")
    assert follow.reason == (
        "follow-up-promised to Anna Schmidt planned for Fri 20 Nov 09:30: no reply since their"
        " message on Thu 5 Nov; they promised a reply 'within two weeks' (by Thu 19 Nov)"
    )


def test_references_heads_up_when_references_are_requested() -> None:
    ask = replace(reply(2, "2026-11-06 10:00"), kind=Kind.OTHER, signals=(REFERENCES_REQUESTED,))
    result = plan(app(INVITE, ask), me=ME_WITH_REFS)
    heads = only(result.actions, "references-heads-up")
    assert [(a.to, a.due) for a in heads] == [
        ((SAM,), at("2026-11-06 11:00")),
        ((KIM,), at("2026-11-06 11:00")),
    ]
    assert heads[0].context["thread"] is False
    # Without references in the config there is nobody to warn.
    assert only(plan(app(INVITE, ask)).actions, "references-heads-up") == []
    assert any("no references" in why for why in plan(app(INVITE, ask)).dropped.values())


def test_references_heads_up_is_not_threaded_under_the_company_mail() -> None:
    ask = replace(reply(2, "2026-11-06 10:00"), signals=(REFERENCES_REQUESTED,))
    application = app(INVITE, ask)
    action = only(plan(application, me=ME_WITH_REFS).actions, "references-heads-up")[0]
    raw = compose_draft(
        RULESET, action, ask, Address(ME.name, ME.email), "", at("2026-11-06 11:00")
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["To"] == "Sam Ortiz <sam@example.org>"
    assert msg["In-Reply-To"] is None and msg["References"] is None
    assert msg["Subject"] == "Heads-up: you may get a reference call from Acme"
    assert msg.get_content().startswith("Dear Sam,")


def test_a_final_round_warns_the_references_once() -> None:
    final = replace(INVITE, signals=(FINAL_ROUND,))
    heads = only(plan(app(final), me=ME_WITH_REFS).actions, "references-final-round")
    assert [a.to for a in heads] == [(SAM,), (KIM,)]
    assert heads[0].due == at("2026-11-02 11:00")
    assert "final interview Thu 5 Nov" in heads[0].reason
    # Already warned because references were asked for: one heads-up per application.
    ask = replace(reply(2, "2026-10-30 10:00"), signals=(REFERENCES_REQUESTED,))
    asked = only(plan(app(ask), me=ME_WITH_REFS).actions, "references-heads-up")
    history = {a.key: replace(a, state="drafted") for a in asked}
    again = plan(app(ask, final), history, me=ME_WITH_REFS)
    assert only(again.actions, "references-final-round") == []
    # Not a final round: no heads-up.
    assert only(plan(app(INVITE), me=ME_WITH_REFS).actions, "references-final-round") == []


def _msg(subject: str, text: str) -> ParsedMessage:
    return ParsedMessage(
        message_id="x@y",
        subject=subject,
        date=None,
        sender=None,
        reply_to=(),
        to=(),
        cc=(),
        in_reply_to=None,
        references=(),
        headers={},
        text=text,
    )


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        ("Next steps", "Could you send us the names of two references?", (REFERENCES_REQUESTED,)),
        ("Next steps", "We will now run a reference check.", (REFERENCES_REQUESTED,)),
        ("Final round interview", "See you on Monday.", (FINAL_ROUND,)),
        ("Einladung", "Wir laden Sie zur letzten Runde ein.", (FINAL_ROUND,)),
        ("Next steps", "No references are needed at this stage.", ()),
        ("Your application", "Please quote the reference number 1234 in your reply.", ()),
        ("Interview", "We would like to invite you to a first interview.", ()),
    ],
)
def test_signals_in_words(subject: str, text: str, expected: tuple[str, ...]) -> None:
    assert signals_of(_msg(subject, text)) == expected


def test_offer_reply_asks_for_the_written_offer_and_a_decision_date() -> None:
    offer = replace(event(5, Kind.OFFER, "2026-11-18 11:00"), subject="Offer: Data Engineer")
    application = app(INVITE, offer)
    (action,) = only(plan(application).actions, "offer-reply")
    assert action.to == (ANNA,)
    assert action.due == at("2026-11-18 12:00")
    raw = compose_draft(RULESET, action, offer, Address(ME.name, ME.email), "", action.due)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_content()
    assert msg["Subject"] == "Re: Offer: Data Engineer"
    assert msg["In-Reply-To"] == "<m5@acme.example>"
    assert "written offer" in body and "by when would you need my answer" in body
    # An offer also ends the follow-up and thank-you plans.
    assert only(plan(application).actions, "follow-up-silence") == []


def test_quiet_hours_hold_a_note_that_ignores_working_hours() -> None:
    late = event(
        1,
        Kind.INVITATION,
        "2026-11-02 10:00",
        interview=("2026-11-05 20:30", "2026-11-05 21:00"),
        interviewers=(ANNA,),
    )
    (debrief,) = only(plan(app(late)).actions, "debrief")
    assert debrief.due == at("2026-11-06 08:00")  # 21:15 is quiet; the morning instead


def test_a_follow_up_made_by_an_older_version_still_counts() -> None:
    (follow,) = only(plan(app(INVITE)).actions, "follow-up-silence")
    old_context = {k: v for k, v in follow.context.items() if k not in ("cycle", "occasion", "nth")}
    made_before = replace(
        follow, key="1:follow-up-silence:silence:m2@acme.example", context=old_context
    )
    later = plan(app(INVITE), {made_before.key: replace(made_before, state="drafted")})
    assert only(later.actions, "follow-up-silence") == []


def test_without_known_interviewers_the_thank_you_goes_to_the_organiser() -> None:
    robot = Address("Acme Careers", "no-reply@acme-jobs.example")
    invite = replace(INVITE, interviewers=(), sender=robot, organiser=ANNA)
    (thanks,) = only(plan(app(invite)).actions, "thank-you")
    assert thanks.to == (ANNA,)
    assert thanks.context["recipient"]["first_name"] == "Anna"
    # Nobody usable at all: To stays empty and the draft will say why.
    alone = replace(invite, organiser=robot)
    (blank,) = only(plan(app(alone)).actions, "thank-you")
    assert blank.to == ()
    assert "no-reply@acme-jobs.example" in blank.context["to_note"]
