"""Deterministic zip archives: the same members give the same bytes.

Some savers write zip files that differ between two saves of one model (member
times, member order, ids in names). :func:`rewrite` writes an archive again with its
members sorted by name, a fixed time and fixed permissions, after an optional edit of
each member's name and bytes.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["rewrite"]

_EPOCH = (1980, 1, 1, 0, 0, 0)


def rewrite(path: Path, edit: Callable[[str, bytes], tuple[str, bytes]] | None = None,
            *, order: Callable[[list[str]], list[str]] = sorted) -> None:
    """Rewrite the zip at ``path`` in place, deterministically."""
    with zipfile.ZipFile(path) as src:
        members = [(info.filename, info.compress_type, src.read(info))
                   for info in src.infolist() if not info.is_dir()]
    edited = {}
    for name, compress, data in members:
        new_name, new_data = edit(name, data) if edit is not None else (name, data)
        edited[new_name] = (compress, new_data)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as out:
        for name in order(list(edited)):
            compress, data = edited[name]
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = compress
            info.external_attr = 0o644 << 16
            info.create_system = 3
            out.writestr(info, data)
    os.replace(tmp, path)
