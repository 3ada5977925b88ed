"""A draft to an address the application never heard from says so at the top (plain data)."""

from __future__ import annotations

from followupd.model import Address, Kind
from followupd.planner import plan_application
from followupd.records import Event
from followupd.ruleset import load_rules
from tests.builders import ANNA, CAL, ME, TOM, app, event

RULES = load_rules(None).rules
EVIL = Address("Acme Careers", "jobs@acme-careers.example")


def _rejection_note(*events: Event) -> tuple[tuple[str, ...], str]:
    plan = plan_application(app(*events), RULES, CAL, ME)
    (reply,) = [a for a in plan.actions if a.rule == "rejection-reply"]
    return tuple(a.email for a in reply.to), str(reply.context["to_note"])


def _invitation() -> Event:
    return event(
        1,
        Kind.INVITATION,
        "2026-11-02 10:00",
        interview=("2026-11-05 14:00", "2026-11-05 15:00"),
        interviewers=(ANNA, TOM),
    )


def test_reply_to_pointing_to_another_domain_is_flagged() -> None:
    rejection = event(2, Kind.REJECTION, "2026-11-10 11:00", reply_to=(EVIL,))
    to, note = _rejection_note(_invitation(), rejection)
    assert to == ("jobs@acme-careers.example",)
    assert note.startswith("Check the address before sending: jobs@acme-careers.example")
    assert "(acme.example)" in note


def test_sender_from_a_look_alike_domain_is_flagged() -> None:
    rejection = event(2, Kind.REJECTION, "2026-11-10 11:00", sender=EVIL)
    _to, note = _rejection_note(_invitation(), rejection)
    assert "jobs@acme-careers.example is not among" in note


def test_the_known_company_domain_is_not_flagged() -> None:
    rejection = event(2, Kind.REJECTION, "2026-11-10 11:00", sender=TOM)
    to, note = _rejection_note(_invitation(), rejection)
    assert to == ("tom@acme.example",)
    assert note == ""


def test_a_first_message_has_nothing_to_compare_with() -> None:
    rejection = event(2, Kind.REJECTION, "2026-11-10 11:00", sender=EVIL)
    _to, note = _rejection_note(rejection)
    assert note == ""
