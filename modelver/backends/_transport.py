"""Transport helpers for fsspec-backed stores: which errors mean "unreachable",
filesystem protocol checks, and progress lines for long transfers."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from .._errors import ModelverError

__all__ = ["is_s3", "progress", "protocols", "transport_errors", "unreachable_as"]


def transport_errors() -> tuple[type[BaseException], ...]:
    """What a filesystem raises when the store cannot be reached.

    s3fs and gcsfs let some transport errors through untranslated (botocore's
    ``EndpointConnectionError`` is not an ``OSError``); they are only looked up
    when their library is already imported.
    """
    errors: list[type[BaseException]] = [OSError, TimeoutError]
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None:
        errors.append(botocore.BotoCoreError)
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None:
        errors.append(aiohttp.ClientError)
    return tuple(errors)


@contextlib.contextmanager
def unreachable_as(kind: type[OSError], what: str) -> Iterator[None]:
    """Turn transport errors into ``kind`` (modelver's own errors pass unchanged)."""
    try:
        yield
    except ModelverError:
        raise
    except transport_errors() as exc:
        raise kind(f"{what}: {type(exc).__name__}: {exc}") from exc


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
