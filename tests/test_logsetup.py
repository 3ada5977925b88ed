"""Log lines as a person and journald read them; secrets never shown; private XDG folders."""

from __future__ import annotations

import io
import logging
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from followupd.logsetup import REDACTED, remember_secret, setup_logging
from followupd.xdg import config_home, private_dir, state_home


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_terminal_lines_have_time_and_level(root_logger: logging.Logger) -> None:
    out = io.StringIO()
    setup_logging(0, daemon=True, stream=out)
    logging.getLogger("followupd.pipeline").info("drafted: thank-you to Ada")
    logging.getLogger("followupd.pipeline").debug("not shown at INFO")
    line = out.getvalue().strip()
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO followupd.pipeline: drafted", line)
    assert "not shown" not in out.getvalue()


def test_under_journald_lines_carry_syslog_priority_and_no_time(
    root_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tempfile.TemporaryFile("w+") as out:
        st = Path(f"/proc/self/fd/{out.fileno()}").stat()
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        setup_logging(0, daemon=True, stream=out)
        log = logging.getLogger("followupd.daemon")
        log.warning("mailbox problem")
        try:
            raise OSError("boom")
        except OSError:
            log.exception("pass failed")
        out.seek(0)
        lines = out.read().splitlines()
    assert lines[0] == "<4>followupd.daemon: mailbox problem"
    assert lines[1] == "<3>followupd.daemon: pass failed"
    # Each traceback line is its own journal entry and keeps the error priority.
    assert all(line.startswith("<3>") for line in lines[1:]) and len(lines) > 3


def test_journal_stream_of_another_file_is_ignored(
    root_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")  # stderr was redirected elsewhere
    out = io.StringIO()
    setup_logging(0, daemon=True, stream=out)
    logging.getLogger("x").info("hello")
    assert not out.getvalue().startswith("<")


def test_known_secrets_never_reach_the_log(root_logger: logging.Logger) -> None:
    out = io.StringIO()
    setup_logging(2, stream=out)
    remember_secret("hunter2-very-secret")
    log = logging.getLogger("followupd.mailbox.imap")
    log.debug("LOGIN jane %s", "hunter2-very-secret")
    try:
        raise ValueError("bad token hunter2-very-secret")
    except ValueError:
        log.exception("login failed")
    text = out.getvalue()
    assert "hunter2" not in text
    assert text.count(REDACTED) == 3  # the message, the source line and the exception line


def test_level_from_environment(
    root_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOLLOWUPD_LOG", "debug")
    setup_logging(0, stream=io.StringIO())
    assert root_logger.level == logging.DEBUG


def test_xdg_paths_and_private_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_STATE_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_home() == tmp_path / "cfg" / "followupd"
    assert state_home() == tmp_path / "home" / ".local" / "state" / "followupd"
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    assert private_dir(shared).stat().st_mode & 0o777 == 0o755  # not ours to tighten
    made = private_dir(config_home())
    assert made.is_dir() and made.stat().st_mode & 0o777 == 0o700
