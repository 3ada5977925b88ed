"""Where followupd keeps its files: the XDG base directories, created private (0700)."""

from __future__ import annotations

import os
from pathlib import Path

APP = "followupd"


def config_home() -> Path:
    """$XDG_CONFIG_HOME/followupd (default ~/.config/followupd)."""
    return _base("XDG_CONFIG_HOME", ".config") / APP


def state_home() -> Path:
    """$XDG_STATE_HOME/followupd (default ~/.local/state/followupd)."""
    return _base("XDG_STATE_HOME", ".local/state") / APP


def config_base() -> Path:
    """$XDG_CONFIG_HOME (default ~/.config), where systemd looks for user units too."""
    return _base("XDG_CONFIG_HOME", ".config")


def _base(variable: str, default: str) -> Path:
    value = os.environ.get(variable, "")
    # The spec says a relative value is invalid and must be ignored.
    if value and Path(value).is_absolute():
        return Path(value)
    return Path.home() / default


def private_dir(path: Path) -> Path:
    """Create the folder 0700 (it will hold secrets); an existing folder is left as it is,
    since it may be shared on purpose."""
    if not path.is_dir():
        path.mkdir(parents=True, mode=0o700)
        path.chmod(0o700)  # mkdir's mode is filtered through the umask
    return path
