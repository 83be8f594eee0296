"""Where the shipped YAML lives: ``advisor/data`` in an installed wheel (pyproject maps the
repository's ``rules/`` there), else ``rules/`` at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_root() -> Path:
    packaged = _PACKAGE / "data"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "rules"


def catalog_dir() -> Path:
    return data_root() / "catalogs"


def policy_dir() -> Path:
    return data_root() / "policy"


def catalog_files() -> list[Path]:
    """Every file the catalogs are read from (the YAML and the models' config.json files)."""
    directory = catalog_dir()
    return sorted(directory.glob("*.yaml")) + sorted((directory / "configs").glob("*.json"))
