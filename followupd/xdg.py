"""Where followupd keeps its files: the XDG base directories, created private (0700)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

APP = "followupd"

log = logging.getLogger(__name__)


def config_home() -> Path:
    """$XDG_CONFIG_HOME/followupd (default ~/.config/followupd)."""
    return _base("XDG_CONFIG_HOME", ".config") / APP


def state_home() -> Path:
    """$XDG_STATE_HOME/followupd (default ~/.local/state/followupd)."""
    return _base("XDG_STATE_HOME", ".local/state") / APP


def cache_home() -> Path:
    """$XDG_CACHE_HOME/followupd (default ~/.cache/followupd): files that can be rebuilt."""
    return _base("XDG_CACHE_HOME", ".cache") / APP


def config_base() -> Path:
    """$XDG_CONFIG_HOME (default ~/.config), where systemd looks for user units too."""
    return _base("XDG_CONFIG_HOME", ".config")


def _base(variable: str, default: str) -> Path:
    value = os.environ.get(variable, "")
    # The spec says a relative value is invalid and must be ignored.
    if value and Path(value).is_absolute():
        return Path(value)
    return Path.home() / default


def private_dir(path: Path, own_prefix: str | None = None) -> Path:
    """Create the folder 0700 (it will hold secrets or state) and return it.

    An existing folder is left as it is, since it may be shared on purpose; with
    `own_prefix`, one that holds nothing but our own files (`own_prefix*`) is ours alone, so
    one an older run left open is tightened, and a shared one is warned about instead.
    """
    try:
        path.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise
    else:
        path.chmod(0o700)  # mkdir's mode is filtered through the umask
        return path
    if own_prefix is not None:
        _tighten_if_ours(path, own_prefix)
    return path


def _tighten_if_ours(path: Path, own_prefix: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return
    if all(p.name.startswith(own_prefix) for p in path.iterdir()):
        path.chmod(mode & 0o700)
        log.info("%s: made the state directory private (was %o)", path, mode)
    else:
        log.warning(
            "%s: others can open this folder and it holds more than followupd's state;"
            " give followupd a state_dir of its own",
            path,
        )
