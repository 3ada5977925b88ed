import email
import email.policy
from dataclasses import replace
from pathlib import Path

import pytest

from followupd.compose import check_templates, compose_draft
from followupd.errors import UserInputError
from followupd.model import Address, Kind
from followupd.planner import plan_application
from followupd.ruleset import load_rules
from tests.builders import ANNA, CAL, ME, app, at, event

RULESET = load_rules(None)
JANE = Address("Jane Doe", "jane@example.com")


def _draft(rule: str, *events, **action_changes):  # type: ignore[no-untyped-def]
    application = app(*events)
    action = next(
        a for a in plan_application(application, RULESET.rules, CAL, ME).actions if a.rule == rule
    )
    action = replace(action, **action_changes)
    target = next(e for e in application.events if e.id == action.event_id)
    raw = compose_draft(RULESET, action, target, JANE, "", at("2026-11-05 17:00"))
    return action, email.message_from_bytes(raw, policy=email.policy.default)


INVITE = event(
    1,
    Kind.INVITATION,
    "2026-11-02 10:00",
    interview=("2026-11-05 14:00", "2026-11-05 15:00"),
    interviewers=(ANNA,),
)


def test_thank_you_draft_is_threaded_addressed_and_names_the_role() -> None:
    action, msg = _draft("thank-you", INVITE)
    assert msg["To"] == "Anna Schmidt <anna@acme.example>"
    assert msg["From"] == "Jane Doe <jane@example.com>"
    assert msg["Subject"] == "Thank you – Data Engineer at Acme"
    assert msg["Message-ID"] == f"<{action.message_id}>"
    assert msg["In-Reply-To"] == "<m1@acme.example>"
    assert msg["References"] == "<m1@acme.example>"
    body = msg.get_content()
    assert body.startswith("Dear Anna,")
    assert "Data Engineer" in body and "on Thursday" in body
    assert "{{" not in body


def test_same_action_gives_the_same_message_id() -> None:
    first, _ = _draft("thank-you", INVITE)
    second, _ = _draft("thank-you", INVITE)
    assert first.message_id == second.message_id


def test_header_injection_from_mail_is_neutralised() -> None:
    evil = Address("Eve\r\nBcc: spy@evil.example", "anna@acme.example")
    _, msg = _draft("thank-you", INVITE, to=(evil,))
    assert msg["Bcc"] is None
    assert len(msg.get_all("To")) == 1
    assert msg["To"].addresses[0].addr_spec == "anna@acme.example"


def test_template_syntax_in_mail_is_data_not_code() -> None:
    reject = replace(
        event(2, Kind.REJECTION, "2026-11-13 16:10"),
        subject="{{ me.email }} {% for x in range(3) %}x{% endfor %}",
    )
    _, msg = _draft("rejection-reply", INVITE, reject)
    assert msg["Subject"] == "Re: {{ me.email }} {% for x in range(3) %}x{% endfor %}"


def test_utf8_names_and_subjects_survive() -> None:
    jose = Address("José Müller", "jose@acme.example")
    _, msg = _draft("thank-you", replace(INVITE, interviewers=(jose,)))
    assert msg["To"] == "José Müller <jose@acme.example>"
    assert msg.get_content().startswith("Dear José,")


def test_empty_to_says_why_at_the_top() -> None:
    robot = Address("Acme via Greenhouse", "no-reply@greenhouse.example")
    reject = event(2, Kind.REJECTION, "2026-11-13 16:10", sender=robot)
    _, msg = _draft("rejection-reply", reject)
    assert msg["To"] is None
    assert msg.get_content().startswith("[followupd left To empty")


def test_bundled_templates_pass_check() -> None:
    assert check_templates(RULESET) == []


def test_unknown_variable_is_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.j2").write_text("Subject: hi\n\nDear {{ recipent.name }},\n")
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - name: x\n    event: offer\n    to: sender\n    template: t.j2\n"
    )
    problems = check_templates(load_rules(tmp_path))
    assert len(problems) == 1
    assert str(problems[0]) == f"{tmp_path}/templates/t.j2:3: template: 'recipent' is undefined"


def test_template_syntax_error_is_located(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.j2").write_text("Subject: hi\n\n{% if x %}\nno end\n")
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - name: x\n    event: offer\n    to: sender\n    template: t.j2\n"
    )
    (problem,) = check_templates(load_rules(tmp_path))
    assert problem.file.endswith("t.j2") and problem.line == 3


def test_rules_errors_name_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "r.yaml").write_text(
        "rules:\n"
        "  - name: x\n"
        "    event: interviw\n"
        "    to: sender\n"
        "    template: missing.j2\n"
        "    due: {after: 2 fortnights}\n"
    )
    with pytest.raises(UserInputError) as info:
        load_rules(tmp_path)
    text = str(info.value)
    assert f"{tmp_path}/r.yaml:3: rules[0].event:" in text
    assert f"{tmp_path}/r.yaml:6: rules[0].due.after:" in text
