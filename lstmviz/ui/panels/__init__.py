"""Dock panels: one file per panel, each a `Panel` subclass (see base.py)."""
