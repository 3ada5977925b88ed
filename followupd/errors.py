"""One exception hierarchy; the CLI maps each family to an exit code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class FollowupdError(Exception):
    """Base of every error followupd raises on purpose; shown without a traceback."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One problem in an input file, located as precisely as we can."""

    file: str
    line: int | None
    message: str
    path: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        what = f"{self.path}: {self.message}" if self.path else self.message
        return f"{where}: {what}"


class UserInputError(FollowupdError):
    """Bad config, rules, templates or input files: exit code 2."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(file="", line=None, message=problems)]
        self.problems = list(problems)
        super().__init__("\n".join(str(p).lstrip(": ") for p in self.problems))


class MailboxError(FollowupdError, ConnectionError):
    """The mailbox could not be reached or refused an operation."""


class StateError(FollowupdError):
    """The state database is unusable (corrupt, or written by a newer version)."""
