"""Semantic versions on top of PEP 440, and version references.

modelver versions are ``MAJOR.MINOR.PATCH`` with an optional pre-release. They are
parsed and ordered by :mod:`packaging` (PEP 440), not by the SemVer spec: the SemVer
pre-release ``1.3.0-rc.1`` is accepted and stored in its PEP 440 form ``1.3.0rc1``.
Local/build metadata (``+...``) is refused because it does not order.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from ._errors import InvalidName

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

__all__ = ["FIRST_VERSION", "Bump", "bump", "is_version", "parse_specifier", "parse_version",
           "sort_key"]

Bump = Literal["major", "minor", "patch"]
FIRST_VERSION = "0.1.0"
MAX_PART = 10**10 - 1  # each number of a version has at most 10 digits
_PHASES = {"a": "a", "b": "b", "rc": "c"}  # a release sorts after all of them ("~")
_SEMVER_PRE = re.compile(r"^(\d+\.\d+\.\d+)-(alpha|a|beta|b|rc|c)[.-]?(\d+)$", re.ASCII)


def parse_version(text: object) -> Version:
    """Parse a version string into a :class:`packaging.version.Version`, or raise."""
    from packaging.version import InvalidVersion, Version  # not needed to resolve an alias

    if not isinstance(text, str) or len(text) > 64:
        raise InvalidName(f"invalid version {text!r}: expected MAJOR.MINOR.PATCH like '1.2.0'")
    m = _SEMVER_PRE.match(text)
    candidate = f"{m[1]}{m[2]}{m[3]}" if m else text
    try:
        v = Version(candidate)
    except InvalidVersion:
        raise InvalidName(
            f"invalid version {text!r}: expected MAJOR.MINOR.PATCH with an optional "
            "pre-release, like '1.2.0' or '1.3.0rc1'"
        ) from None
    if v.local is not None:
        raise InvalidName(f"invalid version {text!r}: build metadata ('+...') is not allowed")
    if len(v.release) != 3 or v.epoch or v.post is not None or v.dev is not None:
        raise InvalidName(
            f"invalid version {text!r}: use exactly three parts MAJOR.MINOR.PATCH "
            "(optionally with a pre-release such as rc1)"
        )
    if any(part > MAX_PART for part in (*v.release, v.pre[1] if v.pre else 0)):
        raise InvalidName(f"invalid version {text!r}: each number may have at most 10 digits")
    return v


def sort_key(version: str | Version) -> str:
    """A short text that sorts like the PEP 440 precedence of ``version``.

    ``1.2.0a1 < 1.2.0b1 < 1.2.0rc2 < 1.2.0rc10 < 1.2.0 < 1.10.0``: each number is
    written after one character that gives its count of digits (``"0"`` + count, so
    ``":"`` for ten), which makes longer numbers sort higher; a release (``"~"``) sorts
    after every pre-release of itself (``a``, ``b``, ``c`` then the number).
    ``1.2.0`` is ``"111210~"``.
    """
    v = parse_version(version) if isinstance(version, str) else version
    pre = _PHASES[v.pre[0]] + _counted(v.pre[1]) if v.pre else "~"
    return "".join(_counted(part) for part in v.release) + pre


def _counted(number: int) -> str:
    digits = str(number)
    return chr(ord("0") + len(digits)) + digits


def normalize(text: str) -> str:
    """The stored (normalized PEP 440) form of a version string."""
    return str(parse_version(text))


def is_version(text: str) -> bool:
    """Whether ``text`` parses as a modelver version."""
    try:
        parse_version(text)
    except InvalidName:
        return False
    return True


def parse_specifier(text: str) -> SpecifierSet | None:
    """A specifier set such as ``>=1.2,<2``, or None when ``text`` is not one."""
    if not text or text[0] not in "<>=!~":
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # only when one is used

    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise InvalidName(
            f"invalid version specifier {text!r}: use e.g. '>=1.2,<2' or '~=1.3'"
        ) from None


def bump(previous: str | None, part: Bump) -> str:
    """The next version after ``previous`` when bumping ``part``; the first is 0.1.0."""
    if previous is None:
        return FIRST_VERSION
    major, minor, patch = parse_version(previous).release
    if parse_version(previous).pre is not None:
        # 1.3.0rc1 -> the release it previews, 1.3.0, whatever part changed.
        return f"{major}.{minor}.{patch}"
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"
