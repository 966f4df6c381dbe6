"""A real S3 API on loopback: moto's server, started once per session, a bucket per test.

Registered from ``tests/conftest.py`` through ``pytest_plugins``. Nothing here talks
to anything but 127.0.0.1: credentials are fake, AWS config files are hidden and
proxies are bypassed for loopback.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}

# A stopped server must fail fast: one attempt, short timeouts.
FAST_FAIL = {"connect_timeout": 1, "read_timeout": 5, "retries": {"max_attempts": 1}}


def _make_conditional_puts_atomic() -> None:
    """moto checks ``If-None-Match: *`` and then stores the object in two steps, so two
    concurrent conditional PUTs of one key can both succeed (seen here: 1 run in ~10 of
    8 writers x 25 entries). Real S3 decides atomically; serialize moto's PUT handler so
    the tests check modelver, not moto's race."""
    import threading

    from moto.s3.responses import S3Response

    if getattr(S3Response.put_object, "_atomic", False):
        return
    lock = threading.Lock()
    unlocked = S3Response.put_object

    def put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return unlocked(self, *args, **kwargs)

    put_object._atomic = True  # type: ignore[attr-defined]
    S3Response.put_object = put_object  # type: ignore[method-assign]


class MotoS3:
    """One moto server on 127.0.0.1 (port chosen by the OS) and helpers around it."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on stderr
        _make_conditional_puts_atomic()
        # Port 0: the OS picks a free port at bind time, so two sessions never collide.
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def options(self, **config: Any) -> dict[str, Any]:
        """``storage_options`` for s3fs pointed at this server."""
        opts: dict[str, Any] = {
            "endpoint_url": self.endpoint,
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"region_name": "us-east-1"},
        }
        if config:
            opts["config_kwargs"] = config
        return opts

    def new_bucket(self) -> str:
        """Create a bucket with a fresh name and return the name."""
        import s3fs

        bucket = f"mv-{uuid.uuid4().hex[:16]}"
        fs = s3fs.S3FileSystem(**self.options(), skip_instance_cache=True)
        fs.call_s3("create_bucket", Bucket=bucket)
        return bucket

    def stop(self) -> None:
        """Shut the server down (further requests are refused)."""
        self._server.stop()


@pytest.fixture(scope="session")
def _fake_aws_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:  # restored at the end of the session
        mp.delenv("AWS_PROFILE", raising=False)
        for key, value in _FAKE_AWS_ENV.items():
            mp.setenv(key, value)
        yield


@pytest.fixture(scope="session")
def moto_s3(_fake_aws_env: None) -> Iterator[MotoS3]:
    """moto's S3 server for the whole session, stopped at the end."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
def private_moto_s3(_fake_aws_env: None) -> Iterator[MotoS3]:
    """A moto server of this test's own, which the test may stop."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    server = MotoS3()
    yield server
    server.stop()


class S3Place:
    """A fresh bucket: ``uri`` for the store, ``options`` for s3fs."""

    def __init__(self, server: MotoS3, prefix: str = "store") -> None:
        self.server = server
        self.bucket = server.new_bucket()
        self.uri = f"s3://{self.bucket}/{prefix}"
        self.options = server.options()

    def argv(self) -> list[str]:
        """The URI and options as arguments for a child process."""
        return [self.uri, json.dumps(self.options)]


@pytest.fixture
def s3(moto_s3: MotoS3) -> S3Place:
    """A fresh, empty bucket on the session's moto server."""
    return S3Place(moto_s3)
