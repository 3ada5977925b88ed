"""Templates → RFC 5322 drafts: threaded, deterministic Message-ID, UTF-8 safe, injection-proof."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from datetime import datetime
from email.headerregistry import Address as EmailAddress
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from followupd.errors import Problem, UserInputError
from followupd.model import Address
from followupd.records import Action, Event
from followupd.ruleset import RuleSet

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> SandboxedEnvironment:
    # Sandboxed and strict: a template can't reach Python internals, and a misspelt variable is
    # an error instead of a silent blank in a draft that a recruiter will read.
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
    )


def render_text(ruleset: RuleSet, template: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """Render a template; returns (subject, body). Values from mail are data, never templates."""
    env = _environment(ruleset.templates_dir)
    try:
        text = env.get_template(template).render(**context)
    except TemplateError as exc:
        raise UserInputError([_template_problem(ruleset, template, exc)]) from None
    head, _, body = text.partition("\n")
    if not head.lower().startswith("subject:"):
        raise UserInputError(
            [Problem(str(ruleset.templates_dir / template), 1, 'must start with "Subject: ..."')]
        )
    return head.split(":", 1)[1].strip(), body.lstrip("\n")


def clean_header(value: str) -> str:
    """One line, no control characters: CR/LF from mail can't smuggle in headers."""
    return _CONTROL.sub(" ", value).strip()


def _mailbox(a: Address) -> EmailAddress:
    name = clean_header(a.name)
    local, _, domain = clean_header(a.email).rpartition("@")
    return EmailAddress(display_name=name, username=local, domain=domain)


def compose_draft(
    ruleset: RuleSet,
    action: Action,
    event: Event,
    me: Address,
    signature: str,
    now: datetime,
) -> bytes:
    """Build the draft for an action, threaded under the message it answers."""
    context = {**action.context, "me": {"name": me.name, "email": me.email, "signature": signature}}
    subject, body = render_text(ruleset, action.template, context)
    note = action.context.get("to_note") or ""
    if note:
        body = f"[{note}]\n\n{body}"
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _mailbox(me)
    if action.to:
        msg["To"] = [_mailbox(a) for a in action.to]
    if action.cc:
        msg["Cc"] = [_mailbox(a) for a in action.cc]
    msg["Subject"] = clean_header(subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{action.message_id}>"
    if action.context.get("thread", True):
        # A note to a third party (a referee) must not reply in the company's thread.
        msg["In-Reply-To"] = f"<{clean_header(event.message_id)}>"
        refs = [*event.references, event.message_id]
        msg["References"] = " ".join(f"<{clean_header(r)}>" for r in refs[-20:])
    msg["X-Followupd-Rule"] = action.rule
    msg.set_content(body, charset="utf-8")
    return msg.as_bytes()


def sample_context() -> dict[str, Any]:
    """Every variable a template may use, filled with plausible values (for `check`)."""
    interview = {
        "when": "Tue 3 Mar 14:00–15:00 CET",
        "date": "2026-03-03",
        "day_phrase": "on Tuesday",
        "start": "2026-03-03T14:00:00+01:00",
        "end": "2026-03-03T15:00:00+01:00",
        "location": "https://meet.example/abc",
        "final": False,
    }
    return {
        "company": "Acme",
        "role": "Data Engineer",
        "recipient": {"name": "Anna Schmidt", "first_name": "Anna", "email": "anna@acme.example"},
        "interview": interview,
        "last_interview": interview,
        "interviewer_names": ["Anna Schmidt"],
        "original_subject": "Interview invitation",
        "promised_reply_by": "2026-03-13",
        "to_note": "",
        "nth": 1,
        "me": {"name": "Jane Doe", "email": "jane@example.com", "signature": ""},
    }


def check_templates(ruleset: RuleSet) -> list[Problem]:
    """Render every template the rules use against the sample context; collect all problems."""
    problems: list[Problem] = []
    for name in sorted({r.template for r in ruleset.rules}):
        try:
            render_text(ruleset, name, sample_context())
        except UserInputError as exc:
            problems.extend(exc.problems)
    return problems


def _template_problem(ruleset: RuleSet, template: str, exc: TemplateError) -> Problem:
    path = ruleset.templates_dir / template
    if isinstance(exc, TemplateSyntaxError):
        return Problem(str(path), exc.lineno, f"template syntax: {exc.message}")
    return Problem(str(path), _template_line(path, sys.exc_info()[2]), f"template: {exc}")


def _template_line(path: Path, tb: TracebackType | None) -> int | None:
    # Jinja rewrites tracebacks so that a frame points into the template file itself.
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
