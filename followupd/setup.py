"""Load and check everything a command needs: config, rules, templates, state."""

from __future__ import annotations

import logging
from pathlib import Path

from followupd.compose import check_templates
from followupd.config import Config, load_config, readable_by_others
from followupd.errors import Problem, UserInputError
from followupd.pipeline import Engine
from followupd.ruleset import RuleSet, load_rules
from followupd.tracker import Tracker

log = logging.getLogger(__name__)

STATE_FILE = "state.sqlite3"


def load_checked(config_path: Path | None) -> tuple[Config, RuleSet]:
    """Config, rules and templates, or one UserInputError listing every problem found."""
    config = load_config(config_path)
    problems: list[Problem] = []
    ruleset: RuleSet | None = None
    try:
        ruleset = load_rules(config.rules_path)
    except UserInputError as exc:
        problems.extend(exc.problems)
    if ruleset is not None:
        problems.extend(check_templates(ruleset))
    if problems:
        raise UserInputError(problems)
    assert ruleset is not None
    _warn_plain_passwords(config)
    return config, ruleset


def _warn_plain_passwords(config: Config) -> None:
    plain = [a.name for a in config.accounts if a.imap is not None and a.imap.password]
    if plain and config.source is not None:
        log.warning(
            "%s: account %s keeps its password in the config; prefer password_command",
            config.source,
            ", ".join(plain),
        )
        if readable_by_others(config.source):
            log.warning("%s holds a password and others can read it: chmod 600", config.source)


def open_engine(config: Config, ruleset: RuleSet) -> Engine:
    return Engine(config, ruleset, Tracker(config.state_path / STATE_FILE))
