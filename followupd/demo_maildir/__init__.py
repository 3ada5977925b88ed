"""A sample Maildir for `followupd demo`: one person's job search over three weeks."""
