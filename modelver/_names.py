"""Validation of model names and alias names, and safe paths derived from them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from ._errors import InvalidName

__all__ = ["check_alias", "check_name", "closest", "safe_join"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)
_ALIAS = re.compile(r"[a-z][a-z0-9_-]{0,62}", re.ASCII)
RESERVED_ALIASES = frozenset({"latest"})


def check_name(name: object) -> str:
    """Return the canonical (lowercase) form of a model name, or raise ``InvalidName``.

    Names are 1-128 ASCII letters, digits and ``._-``, starting with a letter or digit,
    with no ``..``. Names differing only in case are the same name.
    """
    if not isinstance(name, str):
        raise InvalidName(f"a model name must be a string, not {type(name).__name__}")
    if not _NAME.fullmatch(name) or ".." in name:
        shown = name if len(name) <= 40 else name[:37] + "..."
        raise InvalidName(
            f"invalid model name {shown!r}: use 1-128 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..' (for example 'fraud-detector')"
        )
    return name.lower()


def check_alias(alias: object) -> str:
    """Return a valid alias name or raise ``InvalidName``.

    Aliases are lowercase ``[a-z][a-z0-9_-]{0,62}``, not ``latest`` and not a version.
    """
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or alias in RESERVED_ALIASES:
        raise InvalidName(
            f"invalid alias {alias!r}: use a lowercase letter then up to 62 of a-z, 0-9, '_' "
            "or '-' (for example 'prod'); 'latest' is reserved"
        )
    return alias


def safe_join(root: str, *parts: str) -> str:
    """Join ``parts`` under ``root`` and refuse any result that escapes ``root``."""
    base = os.path.realpath(root)
    path = os.path.realpath(os.path.join(base, *parts))
    if os.path.commonpath([base, path]) != base:
        raise InvalidName(f"path {os.path.join(*parts)!r} escapes the store root {root!r}")
    return path


def closest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates nearest to ``word``, for "did you mean" suggestions."""
    import difflib  # only for an error message

    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.5)
