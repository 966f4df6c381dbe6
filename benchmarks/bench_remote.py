"""Remote store costs against moto's S3 server on loopback: round trips and time.

    .venv/bin/python benchmarks/bench_remote.py [--versions 10000] [--repeat 50]
                                                [--load-mb 8] [--no-checkpoints]

Starts moto's server in a child process on 127.0.0.1 (a free port), so the server's
CPU does not share this process's interpreter, and measures:

* a registration (first in a process, then steady state), an alias and ``latest``
  resolution, an exact resolution, and a load from the local cache and from S3;
* how long a new reader (empty index and cache) takes to catch up on a store of
  ``--versions`` versions, with checkpoints (and, with ``--no-checkpoints``, without).

S3 calls are counted by wrapping s3fs's ``_call_s3``, the one place every request goes
through. The large store is built by writing sealed log entries and their checkpoints
straight to the bucket, many at a time (the same files concurrent registers would
write). Times are medians; loopback has no network latency, so on real S3 add about
one round trip (10-50 ms) per counted call.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import modelver
from modelver._log import Draft, seal
from modelver._records import AliasEvent, ModelVersion, utcnow
from modelver._serde import unstructure
from modelver.backends import remote

SERVER = textwrap.dedent("""
    import logging, sys
    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.stop()
""")

FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "NO_PROXY": "127.0.0.1"}


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in a child process; yields its endpoint URL."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, **FAKE_AWS})
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


class Counter:
    """Counts S3 API calls made through one s3fs filesystem."""

    def __init__(self, fs: Any) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        real = fs._call_s3

        async def counted(method: str, *args: Any, **kwargs: Any) -> Any:
            self.calls[method] += 1
            return await real(method, *args, **kwargs)

        fs._call_s3 = counted

    def measure(self, fn: Callable[[], object], repeat: int) -> tuple[float, float, str]:
        """(median seconds, S3 calls per call, which calls) over ``repeat`` calls."""
        self.calls.clear()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        kinds = ", ".join(f"{k} {v / repeat:g}" for k, v in sorted(self.calls.items()))
        return statistics.median(times), sum(self.calls.values()) / repeat, kinds or "-"


def open_store(uri: str, options: dict[str, Any], cache: str) -> tuple[modelver.Store, Counter]:
    """A store with its own cache folder (a machine of its own) and a fresh s3fs client."""
    os.environ["MODELVER_CACHE"] = cache
    store = modelver.open(uri, storage_options={**options, "skip_instance_cache": True})
    return store, Counter(store.backend.fs)  # type: ignore[attr-defined]


def build_log(fs: Any, root: str, name: str, versions: int, digest: str, size: int) -> None:
    """Write ``versions`` sealed version entries, an alias move, and the checkpoints."""
    now = utcnow()
    texts: list[str] = []
    prev = None
    for i in range(versions):
        mv = ModelVersion(name=name, version=f"{i // 10000}.{i // 100 % 100}.{i % 100}",
                          digest=digest, format="pickle", size=size, created_at=now,
                          created_by="bench")
        entry = seal(name, i + 1, prev, Draft("version", {"version": unstructure(mv)}), "bench")
        texts.append(entry.text)
        prev = entry.hash
    event = AliasEvent(name=name, alias="prod", from_version=None, to_version="0.0.0", at=now,
                       by="bench")
    texts.append(seal(name, versions + 1, prev, Draft("alias", {"event": unstructure(event)}),
                      "bench").text)
    files = {f"{root}/log/{name}/{seq:012d}.json": t.encode()
             for seq, t in enumerate(texts, start=1)}
    every = remote.CHECKPOINT_EVERY
    for last in range(every, len(texts) + 1, every):
        files[f"{root}/checkpoints/{name}/{last:012d}.jsonl"] = "".join(
            t + "\n" for t in texts[last - every:last]).encode()
    items = list(files.items())
    for start in range(0, len(items), 2000):
        fs.pipe(dict(items[start:start + 2000]))


def row(label: str, result: tuple[float, float, str]) -> None:
    seconds, calls, kinds = result
    print(f"| {label} | {seconds * 1000:.1f} ms | {calls:g} | {kinds} |")


def main() -> None:
    """Start the server, measure, print a table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, default=10_000,
                        help="versions in the store a new reader catches up on")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--load-mb", type=int, default=8, help="size of the large model")
    parser.add_argument("--no-checkpoints", action="store_true",
                        help="also time the catch-up when checkpoints are ignored (slow)")
    args = parser.parse_args()
    os.environ.update(FAKE_AWS)
    import s3fs

    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        options = {"endpoint_url": endpoint, "key": "testing", "secret": "testing",
                   "client_kwargs": {"region_name": "us-east-1"}}
        admin = s3fs.S3FileSystem(**options, skip_instance_cache=True)
        admin.call_s3("create_bucket", Bucket="bench")
        uri = "s3://bench/store"
        print(f"moto on {endpoint}; s3fs {s3fs.__version__}; {os.cpu_count()} CPUs\n")
        print("| operation | median time | S3 calls | calls by kind |")
        print("| --- | --- | --- | --- |")

        store, counter = open_store(uri, options, f"{tmp}/writer")
        i = iter(range(10**9))
        row("first register in a process (makes the S3 client, probes exclusive create)",
            counter.measure(lambda: store.register("fraud", {"i": next(i)}), 1))
        row("register (small model)",
            counter.measure(lambda: store.register("fraud", {"i": next(i)}), args.repeat))
        mv = store.register("fraud", {"i": -1})
        store.promote("fraud", mv.version)
        big = os.urandom(args.load_mb << 20)
        big_mv = store.register("big", big)

        reader, rcounter = open_store(uri, options, f"{tmp}/reader")
        reader.versions()  # caught up on every model
        row("resolve alias 'prod' (index up to date)",
            rcounter.measure(lambda: reader.resolve("fraud", "prod"), args.repeat))
        row("resolve 'latest'", rcounter.measure(lambda: reader.resolve("fraud"), args.repeat))
        row("resolve exact version", rcounter.measure(
            lambda: reader.resolve("fraud", mv.version), args.repeat))

        def uncached(version: str, name: str = "fraud") -> Callable[[], object]:
            def load() -> object:
                digest = reader.resolve(name, version).digest
                reader.backend.discard_cached(digest)  # type: ignore[attr-defined]
                reader._cache = None
                return reader.load(name, version)
            return load

        def cached(version: str, name: str = "fraud") -> Callable[[], object]:
            def load() -> object:
                reader._cache = None  # skip the in-process object cache, keep the blob
                return reader.load(name, version)
            return load

        row("load exact version, not cached", rcounter.measure(uncached(mv.version),
                                                                args.repeat))
        row("load exact version, cached", rcounter.measure(cached(mv.version), args.repeat))
        row("load 'prod', cached", rcounter.measure(cached("prod"), args.repeat))
        n = max(3, args.repeat // 10)
        row(f"load {args.load_mb} MB model, not cached",
            rcounter.measure(uncached(big_mv.version, "big"), n))
        row(f"load {args.load_mb} MB model, cached",
            rcounter.measure(cached(big_mv.version, "big"), n))

        t = time.perf_counter()
        blob_digest, size = store.backend.put_bytes(b"shared artifact")
        build_log(admin, "bench/store", "huge", args.versions, blob_digest, size)
        built = time.perf_counter() - t
        print(f"\nbuilt a log of {args.versions} versions of 'huge' in {built:.1f} s")

        last = args.versions - 1
        latest = f"{last // 10000}.{last // 100 % 100}.{last % 100}"

        def catch_up(label: str) -> None:
            new, c = open_store(uri, options, f"{tmp}/new-{time.perf_counter_ns()}")
            t = time.perf_counter()
            got = new.resolve("huge", "latest")
            took = time.perf_counter() - t
            assert got.version == latest, got.version
            print(f"| new reader catches up on {args.versions} versions{label} | {took:.2f} s | "
                  f"{sum(c.calls.values())} | "
                  + ", ".join(f"{k} {v}" for k, v in sorted(c.calls.items())) + " |")
            new.close()

        print("\n| catch-up | time | S3 calls | calls by kind |\n| --- | --- | --- | --- |")
        catch_up(" (checkpoints)")
        catch_up(" (checkpoints, again)")
        if args.no_checkpoints:
            real = remote.RemoteBackend._checkpoint_entries
            remote.RemoteBackend._checkpoint_entries = (  # type: ignore[method-assign]
                lambda self, name, seq: iter(()))
            try:
                catch_up(" (no checkpoints)")
            finally:
                remote.RemoteBackend._checkpoint_entries = real  # type: ignore[method-assign]
        store.close()
        reader.close()


if __name__ == "__main__":
    main()
