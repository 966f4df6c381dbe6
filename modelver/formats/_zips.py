"""Deterministic zip archives: the same members give the same bytes.

Some savers write zip files that differ between two saves of one model (member
times, member order, ids in names). :func:`rewrite` writes an archive again with its
members sorted by name, a fixed time and fixed permissions, each member renamed by
``rename`` and the small members named in ``edit`` replaced by what it returns. Members
are streamed, so a large archive is never held in memory.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["rewrite"]

_EPOCH = (1980, 1, 1, 0, 0, 0)


def rewrite(path: Path, *, rename: Callable[[str], str] = lambda n: n,
            edit: Mapping[str, Callable[[bytes], bytes]] | None = None) -> None:
    """Rewrite the zip at ``path`` in place, deterministically."""
    edit = edit or {}
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as out:
        members = {rename(i.filename): i for i in src.infolist() if not i.is_dir()}
        for name in sorted(members):
            old = members[name]
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = old.compress_type
            info.external_attr = 0o644 << 16
            info.create_system = 3
            if old.filename in edit:
                out.writestr(info, edit[old.filename](src.read(old)))
                continue
            info.file_size = old.file_size
            with src.open(old) as r, out.open(info, "w", force_zip64=old.file_size >= 2**31
                                              ) as w:
                shutil.copyfileobj(r, w, 1 << 20)
    os.replace(tmp, path)
