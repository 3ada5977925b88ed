"""The systemd user unit, shipped so that `followupd init` can install it."""
