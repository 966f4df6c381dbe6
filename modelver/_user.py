"""Who is acting: ``MODELVER_USER``, else the operating-system user."""

from __future__ import annotations

import getpass
import os

__all__ = ["current_user"]


def current_user() -> str:
    """The author recorded on versions and alias moves."""
    user = os.environ.get("MODELVER_USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
