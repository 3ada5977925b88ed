"""The documentation says what the program does: options, config keys and error messages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from followupd.cli import cli
from followupd.config import Account, Config, ImapSettings, Me, NotifySettings
from tests.dovecot import Dovecot

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
ALL_DOCS = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _text() -> str:
    return "\n".join(p.read_text() for p in ALL_DOCS)


def _commands() -> dict[str, click.Command]:
    assert isinstance(cli, click.Group)
    return dict(cli.commands)


def test_every_option_the_docs_use_exists() -> None:
    """`followupd CMD … --flag` anywhere in the docs names a real option of CMD."""
    commands = _commands()
    found = 0
    for path in ALL_DOCS:
        for line in path.read_text().splitlines():
            for cmd, rest in re.findall(r"followupd (?:-v+ )?([a-z]+)((?: [^|`#]*)?)", line):
                if cmd not in commands:
                    continue
                flags = set(re.findall(r"(?<![\w-])(--[a-z0-9-]+)", rest))
                known = {o for p in commands[cmd].params for o in [*p.opts, *p.secondary_opts]}
                assert flags <= known, f"{path.name}: `followupd {cmd}{rest}` uses {flags - known}"
                found += 1
    assert found > 20  # the check did read the examples


@pytest.mark.parametrize("command", ["init", "run", "status", "check"])
def test_every_option_is_documented(command: str) -> None:
    text = _text()
    for param in _commands()[command].params:
        for opt in [*param.opts, *param.secondary_opts]:
            if opt.startswith("--"):
                assert opt in text, f"`followupd {command} {opt}` is not in the docs"


def test_help_says_what_the_docs_say() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "followupd", "init", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Usage: followupd init [OPTIONS]" in done.stdout
    assert "Write a starter config, check the sign-in, find the folders" in done.stdout
    assert "--oauth2-token-command TEXT" in done.stdout
    top = subprocess.run(
        [sys.executable, "-m", "followupd", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in _commands():
        assert re.search(rf"^  {name}\s", top, re.M), f"{name} missing from followupd --help"


def _keys(model: type[BaseModel]) -> set[str]:
    return {name for name, field in model.model_fields.items() if not field.exclude}


def test_every_config_key_is_in_config_md() -> None:
    text = (DOCS / "config.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_0-9]+)` \|", text, re.M))
    for model in (Me, Config, Account, ImapSettings, NotifySettings):
        missing = _keys(model) - documented
        assert not missing, f"{model.__name__} keys missing from docs/config.md: {missing}"


def _documented_messages() -> list[str]:
    text = (DOCS / "troubleshooting.md").read_text()
    section = text.split("## Error messages", 1)[1].split("\n## ", 1)[0]
    cells = re.findall(r"^\| (`+) ?(.+?) ?\1 \|", section, re.M)
    return [message for _ticks, message in cells]


GOOD_ME = "me: {name: Jane Doe, email: jane@example.com}\n"


def _config(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "FOLLOWUPD_PASSWORD"}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    done = subprocess.run(
        [sys.executable, "-m", "followupd", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stderr


@pytest.mark.imap
def test_documented_error_messages_are_the_real_ones(dovecot: Dovecot, tmp_path: Path) -> None:
    """Provoke each message troubleshooting.md lists; it must be printed word for word."""
    imap = (
        f"accounts:\n  - name: work\n    imap:\n      host: {dovecot.host}\n"
        f"      port: {dovecot.port}\n      username: jane\n"
        "      tls: none\n      allow_plaintext_on_loopback: true\n"
    )
    state = f"state_dir: {tmp_path / 'state'}\n"

    def cfg(name: str, secret: str = "", extra: str = "") -> str:
        return _config(tmp_path, name, GOOD_ME + extra + state + imap + secret)

    init_flags = ["--name", "J", "--email", "j@example.org", "--password-env", "X", "--no-check"]
    cases: list[tuple[list[str], int]] = [
        (["check", "--config", str(tmp_path / "nowhere.yaml")], 2),
        (["check", "--config", cfg("nosecret.yaml")], 2),
        (["check", "--config", cfg("typo.yaml", "      passwrd: x\n      password_env: X\n")], 2),
        (["status", "--config", cfg("status.yaml", "      password_env: X\n")], 2),
        (
            [
                "run",
                "--once",
                "--config",
                cfg("env.yaml", "      password_env: FOLLOWUPD_PASSWORD\n"),
            ],
            1,
        ),
        (["run", "--once", "--config", cfg("cmd.yaml", "      password_command: exit 2\n")], 1),
        (["run", "--once", "--config", cfg("bad.yaml", "      password_command: echo wrong\n")], 1),
        (["init", "--imap-host", "h", "--config", cfg("exists.yaml"), *init_flags], 2),
        (["init", "--name", "J", "--imap-host", "h"], 2),
        (
            [
                "run",
                "--now",
                "2026-11-10T09:00",
                "--config",
                cfg("now.yaml", "      password_env: X\n"),
            ],
            2,
        ),
    ]
    tz = _config(
        tmp_path,
        "zone.yaml",
        "me: {name: Jane Doe, email: jane@example.com, timezone: Berlin}\n"
        + state
        + imap
        + "      password_env: X\n",
    )
    cases.append((["check", "--config", tz], 2))
    output = ""
    for args, code in cases:
        got, err = _run(tmp_path, *args)
        assert got == code, (args, err)
        output += err
    for message in _documented_messages():
        assert message in output, f"docs/troubleshooting.md: {message!r} is not what followupd says"
    assert len(_documented_messages()) >= 10
