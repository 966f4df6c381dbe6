"""Deterministic zip archives: the same members give the same bytes.

Some savers write zip files that differ between two saves of one model (member
times, member order, ids in names). :func:`rewrite` writes an archive again with its
members sorted by name, a fixed time and fixed permissions, each member renamed by
``rename`` and the small members named in ``edit`` replaced by what it returns.

The other members' bytes are copied as they are, still compressed, with their CRC
taken from the archive: nothing is decompressed, re-checksummed or held in memory, so
rewriting costs one copy of the file. ``zipfile`` has no public call for that; the copy
writes each member's local header with :meth:`zipfile.ZipInfo.FileHeader` and registers
the member the way ``ZipFile.write`` does.
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

__all__ = ["rewrite"]

_EPOCH = (1980, 1, 1, 0, 0, 0)
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a member's fixed-size local header


def rewrite(path: Path, *, rename: Callable[[str], str] = lambda n: n,
            edit: Mapping[str, Callable[[bytes], bytes]] | None = None) -> None:
    """Rewrite the zip at ``path`` in place, deterministically."""
    edit = edit or {}
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(path) as src, open(path, "rb") as raw, \
            zipfile.ZipFile(tmp, "w") as out:
        members = {rename(i.filename): i for i in src.infolist() if not i.is_dir()}
        for name in sorted(members):
            old = members[name]
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = old.compress_type
            info.external_attr = 0o644 << 16
            info.create_system = 3
            if old.filename in edit:
                out.writestr(info, edit[old.filename](src.read(old)))
            else:
                _copy_member(raw, old, out, info)
    os.replace(tmp, path)


def _copy_member(raw: BinaryIO, old: zipfile.ZipInfo, out: zipfile.ZipFile,
                 info: zipfile.ZipInfo) -> None:
    """Copy one member's stored bytes under ``info``'s name, time and permissions."""
    info.CRC, info.compress_size, info.file_size = old.CRC, old.compress_size, old.file_size
    zip64 = max(old.file_size, old.compress_size) >= zipfile.ZIP64_LIMIT
    fp = out.fp
    if fp is None:  # pragma: no cover - the archive is open for writing
        raise zipfile.BadZipFile("the archive being written is closed")
    info.header_offset = fp.tell()
    fp.write(info.FileHeader(zip64))
    raw.seek(old.header_offset)
    header = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    raw.seek(header[-2] + header[-1], os.SEEK_CUR)  # past the name and the extra field
    left = old.compress_size
    while left:
        chunk = raw.read(min(left, 1 << 20))
        if not chunk:
            raise zipfile.BadZipFile(f"{old.filename!r} is cut short")
        fp.write(chunk)
        left -= len(chunk)
    out.filelist.append(info)
    out.NameToInfo[info.filename] = info
    out.start_dir = fp.tell()
    out._didModify = True  # type: ignore[attr-defined]  # write the central directory
