"""GCS and Azure Blob stores: the exclusive create each relies on, and the probe that
refuses a server which ignores it.

gcsfs sends ``ifGenerationMatch=0`` and adlfs ``If-None-Match: *`` for
``pipe_file(mode="create")``; fake-gcs-server and Azurite (on loopback, see
``conftest_cloud``) honour both. A proxy that drops the precondition stands in for a
server that does not: the store must find that out before its first write and refuse.
The backend contract suite and many concurrent writers on both services are in
``test_backend_contract.py`` and ``test_remote.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import fsspec
import pytest
from conftest_cloud import Azurite, CloudPlace, FakeGCS, PreconditionDroppingProxy
from test_remote import race_exclusive_create

import modelver
from modelver import ModelverError, StoreError
from modelver.backends import _exclusive

SERVICES = ["gcs", "azure"]


def _filesystem(place: CloudPlace) -> tuple[Any, str]:
    fs, root = fsspec.core.url_to_fs(place.uri, **place.options)
    return fs, root


@pytest.mark.parametrize("service", SERVICES)
def test_a_second_exclusive_create_of_one_key_fails(
        service: str, request: pytest.FixtureRequest) -> None:
    fs, root = _filesystem(request.getfixturevalue(service))
    path = f"{root}/log/m/000000000001.json"
    assert _exclusive.supports_exclusive(fs)
    assert _exclusive.create_exclusive(fs, path, b"first")
    assert not _exclusive.create_exclusive(fs, path, b"second")
    assert fs.cat_file(path) == b"first"  # never overwritten


@pytest.mark.parametrize("service", SERVICES)
def test_exclusive_create_lets_exactly_one_of_many_threads_win_on_the_emulator(
        service: str, request: pytest.FixtureRequest) -> None:
    fs, root = _filesystem(request.getfixturevalue(service))
    for key in range(5):
        path = f"{root}/race/k{key}.json"
        wins = race_exclusive_create(fs, path, 12)
        assert len(wins) == 1
        assert fs.cat_file(path) == f"writer {wins[0]}".encode()


# -- a server that ignores the precondition ---------------------------------------------


@pytest.fixture
def fake_gcs_ignoring_preconditions(fake_gcs: FakeGCS) -> Iterator[PreconditionDroppingProxy]:
    proxy = PreconditionDroppingProxy(fake_gcs.port)
    yield proxy
    proxy.stop()


@pytest.fixture
def azurite_ignoring_preconditions(azurite: Azurite) -> Iterator[PreconditionDroppingProxy]:
    proxy = PreconditionDroppingProxy(azurite.port)
    yield proxy
    proxy.stop()


def _ignoring(service: str, request: pytest.FixtureRequest,
              place: CloudPlace) -> dict[str, Any]:
    """``storage_options`` reaching ``place``'s bucket through a proxy that drops the
    exclusive-create precondition."""
    if service == "gcs":
        proxy = request.getfixturevalue("fake_gcs_ignoring_preconditions")
        server: FakeGCS = request.getfixturevalue("fake_gcs")
        return server.options(proxy.endpoint)
    proxy = request.getfixturevalue("azurite_ignoring_preconditions")
    azurite: Azurite = request.getfixturevalue("azurite")
    # Shared-key signatures cover If-None-Match; an account SAS covers no header.
    return {"connection_string": azurite.sas_connection_string(proxy.port)}


@pytest.mark.parametrize("service", SERVICES)
def test_the_proxy_really_lets_a_second_exclusive_create_through(
        service: str, request: pytest.FixtureRequest) -> None:
    place = request.getfixturevalue(service)
    fs, root = fsspec.core.url_to_fs(place.uri, skip_instance_cache=True,
                                     **_ignoring(service, request, place))
    path = f"{root}/k.json"
    assert _exclusive.create_exclusive(fs, path, b"first")
    assert _exclusive.create_exclusive(fs, path, b"second")  # the server ignored it
    assert fs.cat_file(path) == b"second"


@pytest.mark.parametrize(("service", "precondition"),
                         [("gcs", "ifGenerationMatch=0"), ("azure", "If-None-Match: *")])
def test_a_server_that_ignores_the_precondition_is_read_only(
        service: str, precondition: str, request: pytest.FixtureRequest) -> None:
    place = request.getfixturevalue(service)
    writer = modelver.open(place.uri, storage_options=place.options)
    mv = writer.register("fraud", {"i": 0})
    writer.promote("fraud", mv.version)
    reader = modelver.open(place.uri, storage_options=_ignoring(service, request, place))
    assert reader.load("fraud", "prod") == {"i": 0}  # reading works
    with pytest.raises(StoreError, match="a second exclusive create of one key succeeded"
                       ) as raised:
        reader.register("fraud", {"i": 1})
    assert isinstance(raised.value, ModelverError)
    assert precondition in str(raised.value)
    with pytest.raises(StoreError, match="cannot be written safely"):
        reader.promote("fraud", mv.version, "staging")
    # nothing was written: no blob, no entry, and the probe's key is gone
    assert sorted(reader.backend.blob_digests()) == sorted([mv.digest, *mv.blobs])
    fresh = modelver.open(place.uri, storage_options=place.options)
    assert [v.version for v in fresh.versions("fraud")] == [mv.version]
    assert fresh.verify().ok
    fs, root = _filesystem(place)
    fs.invalidate_cache()
    assert fs.find(f"{root}/probe") == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_new_store_is_created_by_its_first_write(
        service: str, request: pytest.FixtureRequest) -> None:
    place = request.getfixturevalue(service)
    uri = f"{place.uri}-{uuid.uuid4().hex[:8]}"
    with pytest.raises(modelver.NotFound, match="no store at"):
        modelver.open(uri, storage_options=place.options).versions("fraud")
    store = modelver.open(uri, storage_options=place.options)
    store.register("fraud", b"weights")
    assert modelver.open(uri, storage_options=place.options).load("fraud") == b"weights"
