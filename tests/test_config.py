from pathlib import Path

import pytest

from followupd.config import load_config
from followupd.errors import UserInputError

GOOD = """\
me:
  name: Jane Doe
  email: jane@example.com
  timezone: Europe/Berlin
  working_hours: "09:00-18:00"
state_dir: state
accounts:
  - name: work
    imap:
      host: imap.example.com
      username: jane@example.com
      password_command: "echo s3cret"
  - name: local
    maildir: ~/Mail/personal
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(UserInputError) as info:
        load_config(write(tmp_path, text))
    return [str(p) for p in info.value.problems]


def test_good_config_loads_with_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    imap = config.accounts[0].imap
    assert imap is not None and imap.port == 993 and imap.tls_mode == "implicit"
    assert imap.secret() == "s3cret"
    assert config.state_path == tmp_path / "state"
    assert config.me.addresses == {"jane@example.com"}


def test_every_problem_is_reported_with_file_line_and_key(tmp_path: Path) -> None:
    text = GOOD.replace("Europe/Berlin", "Mars/Olympus").replace("host:", "hots:")
    text = text.replace('"09:00-18:00"', '"18:00-09:00"')
    found = problems(tmp_path, text)
    path = tmp_path / "config.yaml"
    assert f"{path}:4: me.timezone: unknown time zone 'Mars/Olympus'" in found[0]
    assert f"{path}:5: me.working_hours: the working day must start before it ends" in found
    assert f"{path}:9: accounts[0].imap.host: Field required" in found
    assert f"{path}:10: accounts[0].imap.hots: unknown key" in found


def test_account_needs_exactly_one_backend(tmp_path: Path) -> None:
    text = (
        GOOD + "  - name: both\n    maildir: x\n    imap: {host: h, username: u, password_env: X}\n"
    )
    (found,) = problems(tmp_path, text)
    assert "accounts[2]: an account needs exactly one of imap or maildir" in found
    assert found.startswith(f"{tmp_path / 'config.yaml'}:15:")


def test_plaintext_imap_is_refused_off_loopback(tmp_path: Path) -> None:
    text = GOOD.replace(
        "      username: jane",
        "      tls: none\n      allow_plaintext_on_loopback: true\n      username: jane",
    )
    (found,) = problems(tmp_path, text)
    assert "tls: none is allowed only for a loopback host" in found


def test_password_env_and_failing_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(
        write(tmp_path, GOOD.replace('password_command: "echo s3cret"', "password_env: FUPD_PW"))
    )
    imap = config.accounts[0].imap
    assert imap is not None
    monkeypatch.setenv("FUPD_PW", "from-env")
    assert imap.secret() == "from-env"
    failing = load_config(write(tmp_path, GOOD.replace("echo s3cret", "exit 3"))).accounts[0].imap
    assert failing is not None
    with pytest.raises(Exception, match="exit code 3") as info:
        failing.secret()
    assert "s3cret" not in str(info.value)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, GOOD.replace("  name: Jane Doe", "  name: [Jane"))
    assert found.startswith(f"{tmp_path / 'config.yaml'}:") and "invalid YAML" in found


def test_missing_config_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_idle_renewal_must_come_before_servers_drop_idle(tmp_path: Path) -> None:
    text = GOOD.replace(
        '      password_command: "echo s3cret"', "      password_env: X\n      idle_renew: 1800"
    )
    (found,) = problems(tmp_path, text)
    assert "accounts[0].imap.idle_renew: Input should be less than or equal to 1740" in found
    config = load_config(write(tmp_path, GOOD))
    imap = config.accounts[0].imap
    assert imap is not None and imap.idle_renew == 1500
