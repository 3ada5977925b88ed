"""YAML loading that remembers where every key came from, for `file:line` errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from followupd.errors import Problem, UserInputError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class YamlDocument:
    """Parsed YAML data plus the line of each key path (1-based)."""

    file: str
    data: Any
    lines: dict[Loc, int]

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of the deepest known prefix of `loc`."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        return Problem(self.file, self.line_of(loc), message, format_loc(loc))


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*loc, key), lines)
            # The key's own line is more useful than the value's for "key X: ..." errors.
            lines[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*loc, i), lines)


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse YAML text; syntax errors become a UserInputError naming file and line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise UserInputError([Problem(file, line, f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise UserInputError([Problem(file, None, f"invalid YAML: {exc}")]) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return YamlDocument(file=file, data=data, lines=lines)


def load_yaml(path: Path) -> YamlDocument:
    """Read and parse a YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserInputError([Problem(str(path), None, f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise UserInputError([Problem(str(path), None, "not UTF-8 text")]) from None
    return parse_yaml(text, str(path))


def validation_problems(doc: YamlDocument, exc: ValidationError, prefix: Loc = ()) -> list[Problem]:
    """Turn every pydantic error into a Problem with the line of its key."""
    problems = []
    for err in exc.errors():
        loc = (*prefix, *(p for p in err["loc"] if not _is_union_tag(p)))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        problems.append(doc.problem(loc, msg))
    return problems


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the union member's name into loc ("function-after[...]", model names).
    return isinstance(part, str) and ("[" in part or part[:1].isupper())


def validate(doc: YamlDocument, model: type[M], data: Any, prefix: Loc = ()) -> M:
    """Validate `data` (a part of doc) against a pydantic model, errors located in doc."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UserInputError(validation_problems(doc, exc, prefix)) from None
