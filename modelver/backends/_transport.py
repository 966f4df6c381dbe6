"""Transport helpers for fsspec-backed stores: which errors mean "unreachable",
filesystem protocol checks, and progress lines for long transfers."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from .._errors import ModelverError, StoreError

__all__ = ["S3FS_RETRIES", "S3_CLIENT_DEFAULTS", "is_s3", "limit_s3fs_retries",
           "misconfiguration", "progress", "protocols", "transport_errors", "unreachable_as",
           "unreachable_reason", "with_s3_defaults"]


def transport_errors() -> tuple[type[BaseException], ...]:
    """What a filesystem raises when the store cannot be reached.

    s3fs, gcsfs and adlfs let some transport errors through untranslated (botocore's
    ``EndpointConnectionError``, gcsfs's ``HttpError`` and azure-core's
    ``ServiceRequestError`` are not ``OSError``); they are only looked up when their
    library is already imported.
    """
    errors: list[type[BaseException]] = [OSError, TimeoutError]
    for module, name in (("botocore.exceptions", "BotoCoreError"), ("aiohttp", "ClientError"),
                         ("gcsfs.retry", "HttpError"),
                         ("google.auth.exceptions", "GoogleAuthError"),
                         ("azure.core.exceptions", "AzureError")):
        kind = getattr(sys.modules.get(module), name, None)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            errors.append(kind)
    return tuple(errors)


@contextlib.contextmanager
def unreachable_as(kind: type[OSError], what: str) -> Iterator[None]:
    """Turn transport errors into ``kind``, one line saying what went wrong.

    A store that refuses these credentials, or credentials that cannot be found, is a
    misconfiguration, not an outage: that is a ``StoreError`` whatever ``kind`` is, so
    a read does not quietly fall back to this machine's replica. modelver's own errors
    pass unchanged.
    """
    try:
        yield
    except ModelverError:
        raise
    except transport_errors() as exc:
        problem = misconfiguration(exc)
        if problem is not None:
            raise StoreError(f"{what.replace('cannot reach', 'cannot use', 1)}: {problem}"
                             ) from exc
        raise kind(f"{what}: {unreachable_reason(exc)}") from exc


_NO_CREDENTIALS = ("no AWS credentials found: set AWS_PROFILE (a profile in ~/.aws/config), "
                   "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass "
                   "storage_options={'key': ..., 'secret': ...}")
_DENIED = {
    "AccessDenied": "access denied: these credentials may not use this bucket or prefix "
                    "(check the IAM policy and the bucket policy)",
    "AllAccessDisabled": "access to this bucket is disabled",
    "InvalidAccessKeyId": "the endpoint does not know this access key (InvalidAccessKeyId): "
                          "check AWS_ACCESS_KEY_ID, AWS_PROFILE and the endpoint",
    "SignatureDoesNotMatch": "the secret key does not match the access key "
                             "(SignatureDoesNotMatch): check AWS_SECRET_ACCESS_KEY",
    "ExpiredToken": "the session token has expired (ExpiredToken): refresh the credentials",
    "InvalidToken": "the session token is not valid (InvalidToken): refresh the credentials",
    "TokenRefreshRequired": "the session token must be refreshed",
}


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it was raised from, innermost last (no cycles)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def misconfiguration(exc: BaseException) -> str | None:
    """What is wrong with the credentials or permissions behind ``exc``, in one line,
    or None when ``exc`` is not about them."""
    for cause in _causes(exc):
        kind = type(cause).__name__
        if kind in ("NoCredentialsError", "PartialCredentialsError"):
            return _NO_CREDENTIALS
        if kind in ("ProfileNotFound", "CredentialRetrievalError", "InvalidConfigError"):
            return f"{cause} (check AWS_PROFILE or storage_options['profile'])"
        if kind in ("DefaultCredentialsError", "RefreshError"):  # google-auth
            return (f"no usable Google credentials ({_first_line(cause)}): set "
                    "GOOGLE_APPLICATION_CREDENTIALS or pass storage_options={'token': ...}")
        if kind in ("ClientAuthenticationError", "CredentialUnavailableError"):  # azure
            return (f"Azure refused these credentials ({_first_line(cause)}): check the "
                    "connection string, account key, SAS token or identity")
        response = getattr(cause, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            if code in _DENIED:
                return _DENIED[code]
    if any(isinstance(cause, PermissionError) for cause in _causes(exc)):
        return f"access denied: {_first_line(exc)}"
    return None


_UNREACHABLE = {  # botocore's error class -> what happened to the endpoint
    "ConnectTimeoutError": "timed out connecting to {}",
    "EndpointConnectionError": "could not connect to {}",
    "ReadTimeoutError": "{} did not answer in time",
    "ConnectionClosedError": "{} closed the connection without answering",
}


def unreachable_reason(exc: BaseException) -> str:
    """Why a store could not be reached, in a few words (no traceback, no URL query)."""
    for cause in _causes(exc):
        template = _UNREACHABLE.get(type(cause).__name__)
        if template is not None:
            kwargs = getattr(cause, "kwargs", None)
            endpoint = kwargs.get("endpoint_url") if isinstance(kwargs, dict) else None
            return template.format(str(endpoint).split("?", 1)[0] if endpoint
                                   else "the endpoint")
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# Fail over to the replica in seconds, not minutes: botocore's defaults (60 s connect
# timeout, 5 attempts) and s3fs's own retries make an unreachable endpoint cost a minute
# or more per call. A setting the user passed in ``config_kwargs`` always wins.
S3_CLIENT_DEFAULTS: dict[str, Any] = {
    "connect_timeout": 1,
    "retries": {"max_attempts": 2, "mode": "standard"},
}


# s3fs retries a dropped connection itself, around botocore's own attempts.
S3FS_RETRIES = 2


def with_s3_defaults(uri: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` for s3fs with a short connect timeout and few retries by default."""
    if uri.split("://", 1)[0] not in ("s3", "s3a"):
        return options
    config = dict(options.get("config_kwargs") or {})
    for key, value in S3_CLIENT_DEFAULTS.items():
        config.setdefault(key, value)
    return {**options, "config_kwargs": config}


def limit_s3fs_retries(fs: Any) -> None:
    """Fewer of s3fs's own retries on this filesystem (an instance attribute, so other
    s3fs filesystems of the process keep theirs)."""
    if is_s3(fs) and getattr(fs, "retries", 0) > S3FS_RETRIES:
        fs.retries = S3FS_RETRIES


def protocols(fs: Any) -> set[str]:
    proto = fs.protocol
    return set(proto if isinstance(proto, (tuple, list)) else (proto,))


def is_s3(fs: Any) -> bool:
    return bool({"s3", "s3a"} & protocols(fs))


@contextlib.contextmanager
def progress(label: str) -> Iterator[Any]:
    """An fsspec callback that draws a progress line for transfers over two seconds."""
    from fsspec.callbacks import Callback

    from .._progress import Progress

    progress = Progress(label)

    class _Line(Callback):  # type: ignore[misc]
        def call(self, *args: Any, **kwargs: Any) -> None:
            progress.total = self.size
            step = (self.value or 0) - progress.done
            if step > 0:
                progress.update(step)

    try:
        yield _Line()
    finally:
        progress.close()
