"""Mailbox backends behind one interface (see `base.Mailbox`)."""
