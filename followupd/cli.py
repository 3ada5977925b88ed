"""Command line: run, check, explain, status, demo. Exit codes: 0 ok, 1 failure, 2 bad input."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from followupd.errors import FollowupdError, UserInputError

log = logging.getLogger("followupd")

P = ParamSpec("P")
R = TypeVar("R")

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Config file (default: $FOLLOWUPD_CONFIG or ~/.config/followupd/config.yaml).",
)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Known failures become one clear message and an exit code; tracebacks only at -vv."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except FollowupdError as exc:
            log.debug("failure", exc_info=True)
            for line in str(exc).splitlines():
                click.echo(f"followupd: {line}" if not _located(line) else line, err=True)
            sys.exit(exc.exit_code)

    return wrapper


def _located(line: str) -> bool:
    head = line.split(":", 2)
    return len(head) >= 2 and head[1].strip().isdigit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="followupd")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Watch a mailbox for interview mail and put well-timed drafts into Drafts."""
    from followupd.logsetup import setup_logging  # noqa: PLC0415

    setup_logging(verbose)


@cli.command()
@config_option
@click.option("--once", is_flag=True, help="One pass: sync, plan, make what is due; then exit.")
@click.option("--now", "now_text", metavar="ISO8601", help="Pretend it is this time (with --once).")
@handle_errors
def run(config_path: Path | None, once: bool, now_text: str | None) -> None:
    """Run the daemon (or a single pass with --once)."""
    from followupd.clock import FixedClock, SystemClock, parse_now  # noqa: PLC0415
    from followupd.setup import load_checked, open_engine  # noqa: PLC0415

    config, ruleset = load_checked(config_path)
    if now_text is not None and not once:
        raise UserInputError("--now only makes sense with --once")
    engine = open_engine(config, ruleset)
    from followupd.logsetup import under_journald  # noqa: PLC0415
    from followupd.progress import BarProgress  # noqa: PLC0415

    if sys.stderr.isatty() and not under_journald(sys.stderr):
        engine.progress = BarProgress
    if once:
        from followupd.accounts import close_all, open_mailboxes  # noqa: PLC0415

        try:
            now = parse_now(now_text, config.me.zone) if now_text else SystemClock().now()
        except ValueError as exc:
            raise UserInputError(str(exc)) from None
        clock = FixedClock(now)
        mailboxes = open_mailboxes(config)
        try:
            report = engine.run_once(mailboxes, clock.now())
        finally:
            close_all(mailboxes)
            engine.tracker.close()
        for h in report.happenings:
            click.echo(f"{h.what:<10} {h.text}")
        return
    from followupd.daemon import Daemon  # noqa: PLC0415
    from followupd.logsetup import setup_logging  # noqa: PLC0415

    # A service logs what it does by default (INFO); one-off commands only what is wrong.
    setup_logging(click.get_current_context().find_root().params["verbose"], daemon=True)
    daemon = Daemon(config, engine, SystemClock())
    daemon.install_signal_handlers()
    daemon.run()


@cli.command()
@config_option
@handle_errors
def check(config_path: Path | None) -> None:
    """Validate config, rules and templates; print every problem as file:line: message."""
    from followupd.setup import load_checked  # noqa: PLC0415

    config, ruleset = load_checked(config_path)
    click.echo(
        f"ok: {config.source}: {len(config.accounts)} account(s);"
        f" {ruleset.source}: {len(ruleset.rules)} rule(s)"
    )


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.argument("message", type=click.Path(path_type=Path, dir_okay=False))
@handle_errors
def explain(config_path: Path | None, as_json: bool, message: Path) -> None:
    """Show what followupd makes of one message, and which drafts the rules would plan."""
    from followupd.explain import explain_message, render_explanation  # noqa: PLC0415

    result = explain_message(message, config_path)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        render_explanation(result)


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--now", "now_text", metavar="ISO8601", help="Judge stages as of this time.")
@handle_errors
def status(config_path: Path | None, as_json: bool, now_text: str | None) -> None:
    """Applications, their stage, and every pending action with its due time."""
    from followupd.clock import parse_now  # noqa: PLC0415
    from followupd.config import load_config  # noqa: PLC0415
    from followupd.status import status_data  # noqa: PLC0415
    from followupd.status_table import render_status  # noqa: PLC0415

    now = None
    if now_text is not None:
        try:
            now = parse_now(now_text, load_config(config_path).me.zone)
        except ValueError as exc:
            raise UserInputError(str(exc)) from None
    data = status_data(config_path, now)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        render_status(data)


@cli.command()
@click.option("--keep", type=click.Path(path_type=Path, file_okay=False), help="Keep files here.")
@handle_errors
def demo(keep: Path | None) -> None:
    """Run the whole pipeline on a bundled sample Maildir with a simulated clock."""
    from followupd.demo import run_demo  # noqa: PLC0415

    run_demo(keep)


@cli.command()
@config_option
@click.option("--now", "now_text", metavar="ISO8601", help="Write it as of this time.")
@click.option("--send", is_flag=True, help="Send it to yourself (needs the notify: section).")
@handle_errors
def digest(config_path: Path | None, now_text: str | None, send: bool) -> None:
    """The weekly pipeline digest: print it, or send it to your own address."""
    from followupd.clock import SystemClock, parse_now  # noqa: PLC0415
    from followupd.notify import digest_message, send_to_self  # noqa: PLC0415
    from followupd.pipeline import calendar_for  # noqa: PLC0415
    from followupd.setup import load_checked, open_engine  # noqa: PLC0415

    config, ruleset = load_checked(config_path)
    if send and config.notify is None:
        raise UserInputError(f"{config.source}: --send needs a notify: section in the config")
    try:
        now = parse_now(now_text, config.me.zone) if now_text else SystemClock().now()
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    engine = open_engine(config, ruleset)
    try:
        msg = digest_message(config, engine.tracker, now, calendar_for(config))
        if send:
            assert config.notify is not None
            send_to_self(config.notify, config, msg)
            click.echo(f"sent to {config.me.email}: {msg['Subject']}")
        else:
            click.echo(f"Subject: {msg['Subject']}\n")
            click.echo(msg.get_content(), nl=False)
    finally:
        engine.tracker.close()


@cli.command()
@config_option
@click.option("--name", help="Your name, as drafts are signed.")
@click.option("--email", help="Your email address.")
@click.option("--timezone", help="IANA time zone (default: this machine's).")
@click.option("--account-name", default="main", show_default=True, help="A short account name.")
@click.option("--imap-host", help="IMAP server (guessed for Gmail, Outlook, Fastmail).")
@click.option(
    "--imap-port", type=int, default=993, show_default=True, help="993 TLS, 143 STARTTLS."
)
@click.option("--username", help="IMAP user name (default: the email address).")
@click.option("--password-command", help="Command that prints the password.")
@click.option("--keyring-service", help="Keyring service holding the password.")
@click.option("--oauth2-token-command", help="Command that prints an OAuth2 access token.")
@click.option("--password-env", help="Environment variable holding the password.")
@click.option("--ca-file", type=click.Path(path_type=Path, dir_okay=False), help="Extra CA.")
@click.option("--maildir", type=click.Path(path_type=Path), help="A local Maildir instead of IMAP.")
@click.option("--force", is_flag=True, help="Replace an existing config file.")
@click.option("--no-check", is_flag=True, help="Do not try to sign in.")
@click.option("--no-unit", is_flag=True, help="Do not install the systemd user unit.")
@click.option(
    "--interactive/--no-interactive",
    default=None,
    help="Ask for what the flags leave open (default: when run in a terminal).",
)
@handle_errors
def init(config_path: Path | None, **flags: Any) -> None:
    """Write a starter config, check the sign-in, find the folders, install the service."""
    from followupd.config import default_config_path  # noqa: PLC0415
    from followupd.init import (  # noqa: PLC0415
        SECRET_FLAGS,
        SERVICE_COMMANDS,
        Answers,
        ask_missing,
        check_account,
        install_unit,
        missing,
        write_config,
    )

    answers = Answers(
        name=flags["name"],
        email=flags["email"],
        timezone=flags["timezone"],
        account=flags["account_name"],
        host=flags["imap_host"],
        port=flags["imap_port"],
        username=flags["username"],
        secret={k: flags[k] for k in SECRET_FLAGS if flags[k]},
        maildir=flags["maildir"],
        extra={"ca_file": str(flags["ca_file"])} if flags["ca_file"] else {},
    )
    if len(answers.secret) > 1:
        raise UserInputError("give only one of --" + ", --".join(answers.secret).replace("_", "-"))
    interactive = flags["interactive"]
    if interactive is None:
        interactive = sys.stdin.isatty()
    if interactive:
        ask_missing(answers, lambda text, default: click.prompt(text, default=default))
    elif need := missing(answers):
        raise UserInputError(f"init needs {', '.join(need)} (or run it in a terminal to be asked)")
    path = config_path or default_config_path()
    config = write_config(path, answers, flags["force"])
    click.echo(f"wrote {path}")
    if not flags["no_check"]:
        try:
            for line in check_account(config):
                click.echo(line)
        except FollowupdError as exc:
            raise FollowupdError(f"{exc}\nfix {path} and run `followupd check`") from None
    if not flags["no_unit"]:
        click.echo(f"installed {install_unit(path, default_config_path())}")
        click.echo("Start it now and at every login:")
        click.echo(SERVICE_COMMANDS)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="followupd")
