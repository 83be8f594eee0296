"""Where the shipped YAML lives: inside the installed package, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def rules_root() -> Path:
    """``advisor/rules`` in an installed wheel (pyproject maps ``rules/`` there), else ``../rules``."""
    packaged = _PACKAGE / "rules"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "rules"


def catalog_dir() -> Path:
    return rules_root() / "catalogs"


def policy_dir() -> Path:
    return rules_root() / "policy"
