"""S3 misconfiguration is reported as what it is, once, in one line, and fast.

Against moto's server on 127.0.0.1: missing credentials, an unknown profile, an access
key the endpoint does not know, credentials without permission (moto with its IAM
checks switched on), a wrong bucket, an endpoint that refuses connections, one that
never completes a connection, and one that hangs up. The environment variables users
expect (``AWS_PROFILE``, ``AWS_ENDPOINT_URL``) are exercised in a second process, as
the CLI sees them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest_s3 import MotoS3, S3Place

import modelver
from modelver import StaleWarning, StoreError
from modelver.backends._transport import S3_CLIENT_DEFAULTS

_CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN",
                    "AWS_SESSION_TOKEN", "AWS_PROFILE")


def _written(s3: S3Place) -> S3Place:
    """The bucket holds a store with one version, and this machine has read it."""
    modelver.open(s3.uri, storage_options=s3.options).register("fraud", {"v": 1})
    return s3


def _cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The CLI in a new process (fsspec caches filesystems per process and arguments,
    so a changed environment is only seen by a new one)."""
    return subprocess.run([sys.executable, "-m", "modelver", *argv], capture_output=True,
                          text=True, env=env, timeout=120)


def _env_without_credentials(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_VARS}
    return {**env, **more}


def test_missing_credentials_are_one_clear_error_not_a_stale_read(
        s3: S3Place, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: "cannot reach … (ConnectionError)" and a stale answer from the replica.
    _written(s3)
    for var in _CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
    options = {"endpoint_url": s3.server.endpoint}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no StaleWarning: this is not an outage
        with pytest.raises(StoreError, match="no AWS credentials found: set AWS_PROFILE"):
            modelver.open(s3.uri, storage_options=options).load("fraud", "latest")
    result = _cli("ls", "--store", s3.uri,
                  env=_env_without_credentials(AWS_ENDPOINT_URL=s3.server.endpoint))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
    assert result.stderr.startswith(f"modelver: error: cannot use '{s3.uri}': no AWS "
                                    "credentials found")


def test_an_unknown_profile_names_the_profile(s3: S3Place, tmp_path: Path) -> None:
    _written(s3)
    result = _cli("ls", "--store", s3.uri, env=_env_without_credentials(
        AWS_ENDPOINT_URL=s3.server.endpoint, AWS_PROFILE="ml-tema"))
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "The config profile (ml-tema) could not be found" in result.stderr
    assert "check AWS_PROFILE" in result.stderr


def test_aws_profile_and_aws_endpoint_url_are_honoured(s3: S3Place, tmp_path: Path) -> None:
    # As docs/team-setup.md says: a profile in the AWS config files, an endpoint in
    # AWS_ENDPOINT_URL, and nothing but the store's URL on the command line.
    _written(s3)
    config = tmp_path / "aws-config"
    config.write_text("[profile ml-team]\nregion = us-east-1\n")
    credentials = tmp_path / "aws-credentials"
    credentials.write_text("[ml-team]\naws_access_key_id = testing\n"
                           "aws_secret_access_key = testing\n")
    env = _env_without_credentials(AWS_ENDPOINT_URL=s3.server.endpoint,
                                   AWS_PROFILE="ml-team", AWS_CONFIG_FILE=str(config),
                                   AWS_SHARED_CREDENTIALS_FILE=str(credentials))
    result = _cli("ls", "--store", s3.uri, env=env)
    assert result.returncode == 0, result.stderr
    assert "fraud" in result.stdout and "0.1.0" in result.stdout
    code = ("import modelver, sys; s = modelver.open(sys.argv[1]); "
            "s.register('churn', b'c'); print(s.load('churn'))")
    child = subprocess.run([sys.executable, "-c", code, s3.uri], capture_output=True,
                           text=True, env=env, timeout=120)
    assert child.returncode == 0 and child.stdout.strip() == "b'c'", child.stderr


def test_a_wrong_bucket_is_no_store(s3: S3Place) -> None:
    with pytest.raises(modelver.NotFound, match="no store at 's3://no-such-bucket-mv/x'"):
        modelver.open("s3://no-such-bucket-mv/x", storage_options=s3.options).versions()


@pytest.fixture
def iam_enforcing(private_moto_s3: MotoS3) -> Iterator[tuple[S3Place, dict[str, str]]]:
    """A store written before moto starts checking credentials, and the keys of an IAM
    user with no permissions."""
    import boto3

    place = _written(S3Place(private_moto_s3))
    iam = boto3.client("iam", endpoint_url=private_moto_s3.endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    iam.create_user(UserName="intern")
    key = iam.create_access_key(UserName="intern")["AccessKey"]
    _moto_auth(private_moto_s3, "0")  # from now on every request is authenticated
    try:
        yield place, {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        _moto_auth(private_moto_s3, "inf")  # moto's settings are process-wide


def _moto_auth(server: MotoS3, count: str) -> None:
    """Make moto check credentials after ``count`` more requests ("inf": never)."""
    import http.client

    host, port = server.endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/moto-api/reset-auth", body=count,
                     headers={"Content-Type": "text/plain"})
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_refused_credentials_say_why(iam_enforcing: tuple[S3Place, dict[str, str]]) -> None:
    place, intern = iam_enforcing
    endpoint = place.options["endpoint_url"]
    with pytest.raises(StoreError, match="does not know this access key"):
        modelver.open(place.uri, storage_options=place.options).versions()
    denied = {"endpoint_url": endpoint, **intern}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(StoreError, match="access denied: these credentials may not use"):
            modelver.open(place.uri, storage_options=denied).load("fraud", "latest")
    wrong_secret = {"endpoint_url": endpoint, "key": intern["key"], "secret": "x" * 40}
    with pytest.raises(StoreError, match="secret key does not match"):
        modelver.open(place.uri, storage_options=wrong_secret).versions()


class _HangUp:
    """A TCP server on loopback that accepts every connection and closes it at once,
    counting them."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_an_unreachable_endpoint_warns_once_and_is_not_retried_on_every_call(
        s3: S3Place, monkeypatch: pytest.MonkeyPatch) -> None:
    _written(s3)
    server = _HangUp()
    try:
        options = {**s3.options, "endpoint_url": f"http://127.0.0.1:{server.port}"}
        store = modelver.open(s3.uri, storage_options=options)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(5):
                assert store.load("fraud", "latest") == {"v": 1}
        stale = [w for w in caught if issubclass(w.category, StaleWarning)]
        assert len(stale) == 1, [str(w.message) for w in caught]
        message = str(stale[0].message)
        assert message.startswith(f"cannot reach '{s3.uri}': ")
        assert "\n" not in message and "using what this machine last saw" in message
        first = server.accepted
        assert first > 0
        # The four later loads answered from the replica without trying again...
        assert server.accepted == first
        # ...until the retry interval has passed.
        monkeypatch.setattr(modelver._chain, "RETRY_AFTER_S", 0.0)
        store.load("fraud", "latest")
        assert server.accepted > first
    finally:
        server.close()


def test_the_cli_shows_a_stale_read_as_one_warning_line(s3: S3Place) -> None:
    _written(s3)
    server = _HangUp()
    try:
        env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.port}"}
        # The child has its own cache: first let it read the store once.
        env["MODELVER_CACHE"] = str(Path(os.environ["MODELVER_CACHE"]) / "cli")
        good = _cli("ls", "--store", s3.uri, env={**env,
                                                  "AWS_ENDPOINT_URL": s3.server.endpoint})
        assert good.returncode == 0, good.stderr
        result = _cli("ls", "--store", s3.uri, env=env)
        assert result.returncode == 0 and "fraud" in result.stdout
        assert result.stderr.splitlines() == [
            line for line in result.stderr.splitlines()
            if line.startswith("modelver: warning: cannot reach")]
        assert len(result.stderr.splitlines()) == 1
    finally:
        server.close()


def test_a_black_holed_endpoint_falls_back_after_a_short_connect_timeout(
        s3: S3Place) -> None:
    _written(s3)
    # A listening socket whose accept queue is full: the kernel drops new SYNs, as a
    # firewall or a host that went away does, so connecting waits for the timeout.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    queued = []
    for _ in range(3):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(hole.getsockname())
        queued.append(client)
    try:
        options = {**s3.options, "endpoint_url": f"http://127.0.0.1:{hole.getsockname()[1]}"}
        store = modelver.open(s3.uri, storage_options=options)
        config: dict[str, Any] = store.backend.fs.config_kwargs  # type: ignore[attr-defined]
        assert config["connect_timeout"] == S3_CLIENT_DEFAULTS["connect_timeout"]
        start = time.perf_counter()
        with pytest.warns(StaleWarning, match="timed out connecting to http://127.0.0.1"):
            assert store.load("fraud", "latest") == {"v": 1}
        print(f"fell back to the replica after {time.perf_counter() - start:.1f} s")
    finally:
        for sock in (*queued, hole):
            sock.close()


def test_client_settings_the_user_passes_win_over_the_defaults(s3: S3Place) -> None:
    options = {**s3.options, "config_kwargs": {"connect_timeout": 7}}
    store = modelver.open(s3.uri, storage_options=options)
    config: dict[str, Any] = store.backend.fs.config_kwargs  # type: ignore[attr-defined]
    assert config["connect_timeout"] == 7
    assert config["retries"] == S3_CLIENT_DEFAULTS["retries"]
