"""Phrase books, one YAML file per language (en.yaml, de.yaml ...); see en.yaml for the format.

This package holds data only; `followupd.phrasebook` loads it.
"""
