"""The default rules and templates, installed as followupd.default_rules."""
