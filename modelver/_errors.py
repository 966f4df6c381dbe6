"""The exception tree. Every error modelver raises derives from ``ModelverError``.

::

    ModelverError (Exception)
    ├── InvalidName (ValueError)        a model name, alias, version or reference is malformed
    │   (QueryError: a search expression or order is malformed or names an unknown key)
    ├── NotFound (LookupError)          no such model, version, alias, run or blob
    ├── VersionExists (FileExistsError) the version is already registered; versions are immutable
    ├── IntegrityError (ValueError)     a digest, format or hash-chain check failed
    ├── SchemaMismatch (ValueError)     an input does not match a version's signature
    ├── Protected (PermissionError)     retention refused (aliased or held), or a protected
    │                                   alias lacks the approvals a move needs
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
    "QueryError",
    "SchemaMismatch",
    "StoreError",
    "UnsafeFormat",
    "VersionExists",
]


class ModelverError(Exception):
    """Base class of every error raised by modelver."""


class InvalidName(ModelverError, ValueError):
    """A name, alias, version or reference is malformed."""


class QueryError(InvalidName):
    """A search expression (``where``) or order (``order_by``) cannot be read, or names a
    field or key the store does not have.

    The message shows the expression with a caret under the bad token; ``position`` is
    that token's offset in ``expression``, and ``suggestions`` the nearest known fields
    or keys, if any.
    """

    def __init__(self, message: str, expression: str = "", position: int | None = None,
                 length: int = 1, suggestions: Iterable[str] = ()) -> None:
        self.expression = expression
        self.position = position
        self.suggestions = list(suggestions)
        if self.suggestions:
            message = f"{message} (did you mean: {', '.join(self.suggestions)}?)"
        if position is not None:  # the expression (a window of a long one), a caret below
            start = max(0, position - 40) if len(expression) > 100 else 0
            shown = "".join(c if c.isprintable() else " " for c in expression[start:start + 100])
            marks = "^" * max(1, min(length, len(shown) - (position - start)))
            message = f"{message}\n  {shown}\n  {' ' * (position - start)}{marks}"
        super().__init__(message)


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


class SchemaMismatch(ModelverError, ValueError):
    """An input does not match a version's input signature (``Signature.check``).

    ``problems`` lists each missing or extra column, dtype mismatch or wrong shape.
    """

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        self.problems = list(problems)
        super().__init__(message)


class Protected(ModelverError, PermissionError):
    """Retention refused to delete a version an alias points to or a hold protects, or a
    protected alias cannot move yet: the message says which approvals are missing."""


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
