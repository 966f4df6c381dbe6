"""Put-if-absent on fsspec filesystems: the one primitive the remote log needs.

=============  ==================================================================
filesystem     how an exclusive create is made atomic
=============  ==================================================================
S3 (s3fs)      ``If-None-Match: *`` conditional PUT (``pipe_file(mode="create")``)
GCS (gcsfs)    ``ifGenerationMatch=0`` on the upload (``pipe_file(mode="create")``: gcsfs
               sends it on simple and resumable uploads and turns 412 into
               ``FileExistsError``)
Azure (adlfs)  ``If-None-Match: *`` on the put (``pipe_file(mode="create")`` is
               ``upload_blob(overwrite=False)``; 409/412 become ``FileExistsError``)
local folder   a temporary file published with ``os.link`` (fails if the name exists)
memory://      a process-wide lock around check-then-write
=============  ==================================================================

fsspec's generic ``mode="create"`` is check-then-write on most filesystems, so two
writers can both "win"; any filesystem not listed is refused for writing. A listed
object store is still probed before its first write (``RemoteBackend``): a second
exclusive create of one key must fail. Emulators and gateways that drop the
precondition, and gcsfs's experimental path for zonal (Rapid) buckets, which
overwrites whatever the mode, are found that way and opened read-only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from typing import Any

from .._errors import StoreError

__all__ = ["create_exclusive", "supports_exclusive"]

_MEMORY_LOCK = threading.Lock()


# Object stores whose ``pipe_file(path, data, mode="create")`` sends a server-side
# precondition (see the table above).
_CONDITIONAL_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})


def _protocols(fs: Any) -> set[str]:
    proto = fs.protocol
    return set(proto if isinstance(proto, (tuple, list)) else (proto,))


def supports_exclusive(fs: Any) -> bool:
    """Whether modelver knows an atomic exclusive create for this filesystem."""
    return bool(_protocols(fs) & (_CONDITIONAL_PUT | {"file", "local", "memory"}))


def create_exclusive(fs: Any, path: str, data: bytes) -> bool:
    """Write ``data`` at ``path`` only if nothing is there; False if something was."""
    protocols = _protocols(fs)
    if protocols & {"file", "local"}:
        return _create_local(path, data)
    if "memory" in protocols:
        with _MEMORY_LOCK:
            if fs.exists(path):
                return False
            fs.pipe_file(path, data)
            return True
    if protocols & _CONDITIONAL_PUT:
        try:
            fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            return False
        except OSError as exc:
            # Some S3 implementations answer 412 without naming the condition.
            if exc.errno == errno.EINVAL and "recondition" in str(exc):
                return False
            raise
        return True
    raise StoreError(f"{sorted(protocols)} offers no atomic exclusive create, so concurrent "
                     "writers could overwrite each other; this store is read-only here")


def _create_local(path: str, data: bytes) -> bool:
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
