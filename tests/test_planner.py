from datetime import date

from followupd.model import Address, Kind
from followupd.planner import draft_message_id, first_name, is_no_reply, plan_application
from followupd.records import Action
from followupd.ruleset import load_rules
from tests.builders import ANNA, CAL, ME, TOM, app, at, event, reply

RULES = load_rules(None).rules


def plan(application, existing=None):  # type: ignore[no-untyped-def]
    return plan_application(application, RULES, CAL, ME, existing)


def by_rule(actions: list[Action], rule: str) -> list[Action]:
    return [a for a in actions if a.rule == rule]


INVITE = event(
    1,
    Kind.INVITATION,
    "2026-11-02 10:00",
    interview=("2026-11-05 14:00", "2026-11-05 15:00"),
    uid="iv-1",
    interviewers=(ANNA, TOM),
)


def test_one_thank_you_per_interviewer_two_hours_after_the_interview() -> None:
    thanks = by_rule(plan(app(INVITE)).actions, "thank-you")
    assert [a.to for a in thanks] == [(ANNA,), (TOM,)]
    assert {a.due for a in thanks} == {at("2026-11-05 17:00")}
    assert thanks[0].context["recipient"]["first_name"] == "Anna"
    assert "interview Thu 5 Nov 14:00–15:00 CET" in thanks[0].reason


def test_thank_you_after_a_late_interview_stays_inside_24_hours() -> None:
    late = event(
        1,
        Kind.INVITATION,
        "2026-11-02 10:00",
        interview=("2026-11-06 17:00", "2026-11-06 18:00"),
        interviewers=(ANNA,),
    )
    (thanks,) = by_rule(plan(app(late)).actions, "thank-you")
    # Friday 20:00 is outside working hours, and Monday 09:00 would be more than a day later.
    assert at("2026-11-06 18:00") < thanks.due <= at("2026-11-07 18:00")
    assert not CAL.is_quiet(thanks.due)


def test_debrief_is_a_note_to_myself_right_after_the_interview() -> None:
    (debrief,) = by_rule(plan(app(INVITE)).actions, "debrief")
    assert debrief.to == (Address("Jane Doe", "jane@example.com"),)
    assert debrief.due == at("2026-11-05 15:15")


def test_reschedule_moves_the_thank_you_and_keeps_its_key() -> None:
    before = {a.key: a for a in by_rule(plan(app(INVITE)).actions, "thank-you")}
    moved = event(
        2,
        Kind.RESCHEDULE,
        "2026-11-03 09:00",
        interview=("2026-11-06 10:00", "2026-11-06 11:00"),
        uid="iv-1",
    )
    after = {a.key: a for a in by_rule(plan(app(INVITE, moved)).actions, "thank-you")}
    assert before.keys() == after.keys()
    assert {a.due for a in after.values()} == {at("2026-11-06 13:00")}
    assert all("(rescheduled)" in a.reason for a in after.values())


def test_cancellation_drops_thank_you_and_debrief() -> None:
    cancel = event(
        2,
        Kind.CANCELLATION,
        "2026-11-04 09:00",
        uid="iv-1",
        interview=("2026-11-05 14:00", "2026-11-05 15:00"),
    )
    actions = plan(app(INVITE, cancel)).actions
    assert by_rule(actions, "thank-you") == []
    assert by_rule(actions, "debrief") == []


def test_follow_up_the_business_day_after_the_promised_date() -> None:
    after = reply(2, "2026-11-05 16:40", promised_reply_by=date(2026, 11, 19))
    (follow,) = by_rule(plan(app(INVITE, after)).actions, "follow-up-promised")
    assert follow.due == at("2026-11-20 09:30")
    assert follow.to == (ANNA,)
    assert by_rule(plan(app(INVITE, after)).actions, "follow-up-silence") == []


def test_follow_up_after_five_business_days_of_silence() -> None:
    (follow,) = by_rule(plan(app(INVITE)).actions, "follow-up-silence")
    assert follow.due == at("2026-11-12 09:30")  # Thu 5 Nov + 5 business days


def test_company_reply_cancels_the_pending_follow_up() -> None:
    first = by_rule(plan(app(INVITE)).actions, "follow-up-silence")[0]
    answered = reply(2, "2026-11-10 12:00")
    later = by_rule(plan(app(INVITE, answered)).actions, "follow-up-silence")
    assert first.key not in {a.key for a in later}
    assert [a.due for a in later] == [at("2026-11-17 09:30")]


def test_out_of_office_is_not_a_reply() -> None:
    ooo = reply(2, "2026-11-10 12:00", automatic=True)
    (follow,) = by_rule(plan(app(INVITE, ooo)).actions, "follow-up-silence")
    assert follow.due == at("2026-11-12 09:30")


def test_rejection_cancels_follow_ups_and_plans_a_reply_next_business_morning() -> None:
    reject = event(3, Kind.REJECTION, "2026-11-13 16:10")  # a Friday afternoon
    result = plan(app(INVITE, reject))
    assert by_rule(result.actions, "follow-up-silence") == []
    (answer,) = by_rule(result.actions, "rejection-reply")
    assert answer.due == at("2026-11-16 09:30")
    assert answer.to == (ANNA,)


def test_rejection_before_the_thank_you_is_due_cancels_it() -> None:
    reject = event(3, Kind.REJECTION, "2026-11-05 15:30")
    result = plan(app(INVITE, reject))
    assert by_rule(result.actions, "thank-you") == []
    assert any("rejection" in why for why in result.dropped.values())


def test_never_addressed_to_a_no_reply_address() -> None:
    robot = Address("Initech via Greenhouse", "no-reply@greenhouse.example")
    reject = event(3, Kind.REJECTION, "2026-11-13 16:10", sender=robot)
    (answer,) = by_rule(plan(app(reject, company="Initech")).actions, "rejection-reply")
    assert answer.to == ()
    assert "no-reply@greenhouse.example" in answer.context["to_note"]


def test_follow_up_limit_counts_made_drafts() -> None:
    (follow,) = by_rule(plan(app(INVITE)).actions, "follow-up-silence")
    made = {follow.key: Action(**{**follow.__dict__, "state": "drafted"})}
    answered = reply(2, "2026-11-10 12:00")
    again = by_rule(plan(app(INVITE, answered), made).actions, "follow-up-silence")
    assert again == []


def test_message_ids_are_deterministic_and_distinct() -> None:
    mine = "jane@example.com"
    assert draft_message_id("1:thank-you:x", mine) == draft_message_id("1:thank-you:x", mine)
    assert draft_message_id("1:thank-you:x", mine) != draft_message_id("1:thank-you:y", mine)
    assert draft_message_id("1:thank-you:x", mine).endswith("@example.com")


def test_no_reply_and_first_names() -> None:
    assert is_no_reply("noreply@x.example") and is_no_reply("do-not-reply+abc@x.example")
    assert not is_no_reply("anna@acme.example")
    assert first_name("Schmidt, Anna") == "Anna"
    assert first_name("Dr. Anna Schmidt") == "Anna"
