"""The exception tree. Every error modelver raises derives from ``ModelverError``.

::

    ModelverError (Exception)
    ├── InvalidName (ValueError)        a model name, alias, version or reference is malformed
    ├── NotFound (LookupError)          no such model, version, alias, run or blob
    ├── VersionExists (FileExistsError) the version is already registered; versions are immutable
    ├── IntegrityError (ValueError)     a digest, format or hash-chain check failed
    ├── Protected (PermissionError)     retention refused: the version is aliased or held
    ├── Conflict (RuntimeError)         a compare-and-swap lost (``expect=`` no longer true)
    ├── UnsafeFormat (PermissionError)  ``safe=True`` refused a format that runs code when loaded
    ├── StoreError (OSError)            the store cannot be opened or written as asked
    ├── CaptureError (RuntimeError)     recording failed under ``strict=True``
    └── NotReproducible (RuntimeError)  ``reproduce`` lacks the code, data or params as they were

Messages say what to do next.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CaptureError",
    "Conflict",
    "IntegrityError",
    "InvalidName",
    "ModelverError",
    "NotFound",
    "NotReproducible",
    "Protected",
    "StoreError",
    "UnsafeFormat",
    "VersionExists",
]


class ModelverError(Exception):
    """Base class of every error raised by modelver."""


class InvalidName(ModelverError, ValueError):
    """A name, alias, version or reference is malformed."""


class NotFound(ModelverError, LookupError):
    """A model, version, alias, run or blob does not exist.

    ``suggestions`` lists the nearest existing names or references, if any.
    """

    def __init__(self, message: str, suggestions: Iterable[str] = ()) -> None:
        self.suggestions = list(suggestions)
        if self.suggestions:
            message = f"{message} (did you mean: {', '.join(self.suggestions)}?)"
        super().__init__(message)


class VersionExists(ModelverError, FileExistsError):
    """The version is already registered; a version can never be overwritten."""


class IntegrityError(ModelverError, ValueError):
    """A stored artifact or record does not match its digest or its hash chain."""


class Protected(ModelverError, PermissionError):
    """Retention refused to delete a version an alias points to or a hold protects."""


class Conflict(ModelverError, RuntimeError):
    """A compare-and-swap failed: the state changed since the caller read it."""


class UnsafeFormat(ModelverError, PermissionError):
    """``safe=True`` refused to deserialize a format that can run code (pickle)."""


class StoreError(ModelverError, OSError):
    """The store cannot be opened, or cannot be written safely."""


class CaptureError(ModelverError, RuntimeError):
    """Recording a run failed and ``strict=True`` asked for an error instead of a warning."""


class NotReproducible(ModelverError, RuntimeError):
    """A version cannot be rebuilt: its code, data or parameters are not available as
    they were (the message says which), or the training function failed."""


class EnvironmentWarning(UserWarning):
    """A model is loaded where a package its format needs has another major.minor version
    than the one it was registered with (``ModelVersion.requirements``)."""
