"""YAML rules: what to draft, for which event, to whom, and when. Validated at load time."""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from followupd.errors import Problem, UserInputError
from followupd.timing import Offset, parse_offset
from followupd.yamlsource import YamlDocument, load_yaml, validate

Trigger = Literal[
    "interview",
    "silence",
    "invitation",
    "confirmation",
    "reschedule",
    "cancellation",
    "rejection",
    "offer",
    "assessment",
    "references_requested",
]
Anchor = Literal["message", "interview_start", "interview_end", "last_contact", "promised_reply_by"]
Recipient = Literal["interviewers", "sender", "organiser", "contact", "me", "references"]
Canceller = Literal[
    "invitation",
    "confirmation",
    "reschedule",
    "cancellation",
    "rejection",
    "offer",
    "assessment",
    "reply",
    "sent",
]

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Due(_Strict):
    """When the draft should appear, relative to an anchor in the application's history."""

    anchor: Anchor = "message"
    after: str = "0m"
    at: str | None = None  # a local time of day ("09:30") on the day reached by `after`
    working_hours: bool = True
    within: str | None = None  # the latest acceptable moment, relative to the anchor
    # The wait before the second draft of a rule (or group) that allows two: longer than `after`.
    again_after: str | None = None

    @field_validator("after", "within", "again_after")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_offset(value)
        return value

    @field_validator("at")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None and not _CLOCK.match(value):
            raise ValueError('expected a local time like "09:30"')
        return value

    @property
    def offset(self) -> Offset:
        return parse_offset(self.after)

    @property
    def again(self) -> Offset | None:
        return parse_offset(self.again_after) if self.again_after else None

    @property
    def limit(self) -> Offset | None:
        return parse_offset(self.within) if self.within else None

    @property
    def clock(self) -> time | None:
        if self.at is None:
            return None
        h, m = self.at.split(":")
        return time(int(h), int(m))


class Conditions(_Strict):
    """Optional conditions; all given ones must hold for the rule to apply."""

    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    active: bool | None = None  # no rejection or offer in the application yet
    had_interview: bool | None = None  # an interview ended before the anchor
    promised_reply: bool | None = None  # the company named a date to reply by
    has_interviewers: bool | None = None
    final_round: bool | None = None  # the interview round was called a final one


class Rule(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    event: Trigger
    when: Conditions = Conditions()
    template: str
    to: Recipient
    cc: list[Recipient] = []
    one_per_recipient: bool = False
    due: Due = Due()
    cancel_on: list[Canceller] = []
    max_per_application: int | None = Field(default=None, ge=1)
    # Rules in one group share max_per_application (both follow-up rules draw on one budget).
    group: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    thread: bool = True  # reply in the triggering message's thread (not for third parties)
    enabled: bool = True

    @model_validator(mode="after")
    def _anchor_fits(self) -> Rule:
        if self.due.anchor.startswith("interview_") and self.event != "interview":
            raise ValueError(f"due.anchor {self.due.anchor} needs event: interview")
        if self.due.anchor in {"last_contact", "promised_reply_by"} and self.event != "silence":
            raise ValueError(f"due.anchor {self.due.anchor} needs event: silence")
        return self

    @model_validator(mode="after")
    def _no_chasing(self) -> Rule:
        # Two follow-ups is polite persistence; a third is chasing, whatever the rules say.
        if self.event == "silence" and (self.max_per_application or 1) > 2:
            raise ValueError("max_per_application is at most 2 for silence rules")
        if (self.max_per_application or 1) > 1 and self.event == "silence":
            again, first = self.due.again, self.due.offset
            if again is None:
                raise ValueError("a second follow-up needs due.again_after (a longer wait)")
            if not _longer(again, first):
                raise ValueError(f"due.again_after ({again}) must be longer than due.after")
        return self

    @property
    def budget(self) -> str:
        """The name drafts are counted under for max_per_application."""
        return self.group or self.name


def _longer(a: Offset, b: Offset) -> bool:
    """Compare two waits, counting a business day as a day (good enough to order them)."""
    return a.delta + timedelta(days=a.business_days) > b.delta + timedelta(days=b.business_days)


class RuleFile(_Strict):
    rules: list[Rule]


@dataclass(frozen=True)
class RuleSet:
    """The rules in force and the folder their templates come from."""

    rules: tuple[Rule, ...]
    templates_dir: Path
    source: str

    def get(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


def bundled_rules_dir() -> Path:
    """The default rules shipped with the package."""
    return Path(str(importlib.resources.files("followupd.default_rules")))


def load_rules(rules_dir: Path | None = None) -> RuleSet:
    """Load every *.yaml in the rules folder (the bundled defaults when None)."""
    folder = rules_dir or bundled_rules_dir()
    if not folder.is_dir():
        raise UserInputError([Problem(str(folder), None, "rules folder not found")])
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise UserInputError([Problem(str(folder), None, "no *.yaml rule files in this folder")])
    problems: list[Problem] = []
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path in files:
        try:
            doc = load_yaml(path)
            parsed = validate(doc, RuleFile, doc.data if doc.data is not None else {})
        except UserInputError as exc:
            problems.extend(exc.problems)
            continue
        for i, rule in enumerate(parsed.rules):
            where = f"{path}:{doc.line_of(('rules', i))}"
            if rule.name in seen:
                first = seen[rule.name]
                problems.append(
                    doc.problem(("rules", i, "name"), f"duplicate name (first: {first})")
                )
            seen[rule.name] = where
            problems.extend(_template_problems(doc, i, rule, folder))
            rules.append(rule)
    if problems:
        raise UserInputError(problems)
    return RuleSet(rules=tuple(rules), templates_dir=folder / "templates", source=str(folder))


def _template_problems(doc: YamlDocument, index: int, rule: Rule, folder: Path) -> list[Problem]:
    path = folder / "templates" / rule.template
    if not path.is_file():
        return [doc.problem(("rules", index, "template"), f"no such template: {path}")]
    return []
