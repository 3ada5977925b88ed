"""The command-line contracts of DESIGN.md, run as a user would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "samples"
KINDS = {
    "invitation",
    "confirmation",
    "reschedule",
    "cancellation",
    "rejection",
    "offer",
    "assessment",
    "other",
}


def followupd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "followupd", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "Maildir").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(
        "me:\n  name: Jane Doe\n  email: jane@example.com\n  timezone: Europe/Berlin\n"
        f"state_dir: {tmp_path / 'state'}\n"
        f"accounts:\n  - name: local\n    maildir: {tmp_path / 'Maildir'}\n"
    )
    return path


def test_check_passes_on_a_good_config(config: Path) -> None:
    done = followupd("check", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "8 rule(s)" in done.stdout


def test_check_reports_every_problem_with_file_and_line(config: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    (rules / "templates").mkdir(parents=True)
    (rules / "templates" / "t.j2").write_text("Subject: x\n\nHi {{ recipient.nme }}\n")
    (rules / "r.yaml").write_text(
        "rules:\n"
        "  - name: a\n    event: offer\n    to: sender\n    template: t.j2\n"
        "  - name: b\n    event: offr\n    to: sender\n    template: t.j2\n"
    )
    config.write_text(
        config.read_text().replace("  timezone: Europe/Berlin", "  timezone: Nowhere/City")
        + f"rules_dir: {rules}\n"
    )
    done = followupd("check", "--config", str(config))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"{config}:4: me.timezone: unknown time zone")
    # The config error stops before rules are read: fix it, and both rule problems appear.
    config.write_text(config.read_text().replace("Nowhere/City", "Europe/Berlin"))
    done = followupd("check", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"{rules}/r.yaml:7: rules[1].event: " + _enum_msg()]
    (rules / "r.yaml").write_text(
        (rules / "r.yaml").read_text().replace("event: offr", "event: offer")
    )
    done = followupd("check", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"{rules}/templates/t.j2:3: template:")
    assert "has no attribute 'nme'" in done.stderr


def _enum_msg() -> str:
    return (
        "Input should be 'interview', 'silence', 'invitation', 'confirmation', 'reschedule',"
        " 'cancellation', 'rejection', 'offer', 'assessment' or 'references_requested'"
    )


def test_missing_config_is_exit_2_with_a_hint(tmp_path: Path) -> None:
    done = followupd("run", "--once", "--config", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2
    assert "config file not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_config_from_environment_variable(config: Path) -> None:
    done = followupd("check", env={"FOLLOWUPD_CONFIG": str(config)})
    assert done.returncode == 0 and str(config) in done.stdout


def test_bad_now_is_exit_2(config: Path) -> None:
    done = followupd("run", "--once", "--now", "next tuesday", "--config", str(config))
    assert done.returncode == 2 and "ISO 8601" in done.stderr


def test_unreachable_mailbox_is_exit_1(config: Path, tmp_path: Path) -> None:
    config.write_text(config.read_text().replace(str(tmp_path / "Maildir"), "/nonexistent/md"))
    done = followupd("run", "--once", "--config", str(config))
    assert done.returncode == 1
    assert "/nonexistent/md" in done.stderr and "Traceback" not in done.stderr


def test_explain_json_has_the_contract_fields(config: Path) -> None:
    done = followupd(
        "explain", "--json", "--config", str(config), str(SAMPLES / "01_invite_google_acme.eml")
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["kind"] == "invitation"
    assert 0.0 <= data["confidence"] <= 1.0
    assert data["evidence"] and all(isinstance(e, str) for e in data["evidence"])
    assert data["company"] == "Acme"
    assert data["interview"] == {
        "start": "2026-11-24T14:00:00+01:00",
        "end": "2026-11-24T15:00:00+01:00",
        "timezone": "Europe/Berlin",
    }
    assert {p["email"] for p in data["interviewers"]} == {
        "maria.lopez@acme.example",
        "tom.becker@acme.example",
    }
    assert data["promised_reply_by"] is None
    rules = {a["rule"] for a in data["actions"]}
    assert {"thank-you", "debrief"} <= rules
    for action in data["actions"]:
        assert set(action) >= {"rule", "template", "to", "due"}


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.eml")), ids=lambda p: p.name)
def test_explain_works_without_any_config(sample: Path, tmp_path: Path) -> None:
    done = followupd(
        "explain",
        "--json",
        str(sample),
        env={"XDG_CONFIG_HOME": str(tmp_path), "FOLLOWUPD_CONFIG": ""},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] in KINDS


def test_explain_of_a_missing_file_is_exit_2(tmp_path: Path) -> None:
    done = followupd("explain", str(tmp_path / "nope.eml"))
    assert done.returncode == 2 and "nope.eml" in done.stderr


def test_help_lists_the_commands() -> None:
    done = followupd("--help")
    assert done.returncode == 0
    for command in ("run", "check", "explain", "status", "demo"):
        assert f"  {command} " in done.stdout


def test_status_before_any_run_says_what_to_do(config: Path) -> None:
    done = followupd("status", "--config", str(config))
    assert done.returncode == 2 and "run `followupd run` first" in done.stderr


def test_demo_shows_a_timeline_and_drafts(tmp_path: Path) -> None:
    done = followupd("demo", "--keep", str(tmp_path / "demo"))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for word in ("recognised", "planned", "moved", "cancelled", "drafted"):
        assert word in out
    drafts = list((tmp_path / "demo" / "Maildir" / ".Drafts" / "cur").iterdir())
    assert len(drafts) >= 6 and all(p.name.endswith(":2,D") for p in drafts)
