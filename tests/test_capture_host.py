"""Host capture: environment, hardware, GPUs through NVML, and resource use.

No test relies on a real GPU: NVML is a fake ``pynvml`` module and the driver file a
temporary one.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelver._capture import environment, gpu, hardware, resources
from modelver._capture.environment import canonical_name, capture_environment, packages
from modelver._capture.gpu import NvmlSession, capture_gpus, process_gpu_memory
from modelver._capture.hardware import capture_hardware
from modelver._capture.resources import ResourceMonitor

FAKE_UUID = "GPU-5f1c2e3a-0000-1111-2222-333344445555"
FAKE_MEMORY = 40 * 1024**3
FAKE_PROCESS_MEMORY = 1_234_567_890


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    for module in (environment, gpu, hardware):
        module._reset_cache()
    yield
    for module in (environment, gpu, hardware):
        module._reset_cache()


@pytest.fixture
def no_driver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(gpu, "_LINUX", True)
    monkeypatch.setattr(gpu, "DRIVER_VERSION_FILE", str(tmp_path / "no-such-driver"))


@pytest.fixture
def driver_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "nvidia-version"
    path.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15\n")
    monkeypatch.setattr(gpu, "_LINUX", True)
    monkeypatch.setattr(gpu, "DRIVER_VERSION_FILE", str(path))
    return path


def make_fake_nvml(init_error: str | None = None) -> Any:
    """A stand-in for ``pynvml`` with one A100, as old bindings answer (bytes names).

    ``init_error`` names the fake's exception class that ``nvmlInit`` raises.
    """
    fake: Any = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    class NVMLError_LibraryNotFound(NVMLError):  # pynvml's spelling
        pass

    fake.NVMLError = NVMLError
    fake.NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    fake.calls = []

    def nvml_init() -> None:
        fake.calls.append("init")
        if init_error is not None:
            raise getattr(fake, init_error)("Driver Not Loaded")

    fake.nvmlInit = nvml_init
    fake.nvmlShutdown = lambda: fake.calls.append("shutdown")
    fake.nvmlDeviceGetCount = lambda: 1
    fake.nvmlDeviceGetHandleByIndex = lambda index: ("handle", index)
    fake.nvmlDeviceGetName = lambda handle: b"NVIDIA A100-SXM4-40GB"
    fake.nvmlDeviceGetUUID = lambda handle: FAKE_UUID
    fake.nvmlDeviceGetMemoryInfo = lambda handle: types.SimpleNamespace(
        total=FAKE_MEMORY, used=0, free=FAKE_MEMORY
    )
    fake.nvmlSystemGetDriverVersion = lambda: b"550.54.15"
    fake.nvmlSystemGetCudaDriverVersion = lambda: 12040
    fake.nvmlDeviceGetCudaComputeCapability = lambda handle: (8, 0)
    fake.nvmlDeviceGetComputeRunningProcesses = lambda handle: [
        types.SimpleNamespace(pid=os.getpid(), usedGpuMemory=FAKE_PROCESS_MEMORY),
        types.SimpleNamespace(pid=os.getpid() + 1, usedGpuMemory=999),
    ]
    return fake


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch, driver_file: Path) -> Any:
    fake = make_fake_nvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    return fake


# environment


def test_environment_finds_installed_distributions_with_their_versions() -> None:
    found = packages()
    assert found["attrs"] == importlib.metadata.version("attrs")
    assert found["py-cpuinfo"] == importlib.metadata.version("py-cpuinfo")


def test_environment_records_interpreter_and_platform() -> None:
    env = capture_environment()
    assert env.python == ".".join(map(str, sys.version_info[:3]))
    assert env.implementation
    assert env.platform
    assert env.executable == sys.executable


def test_package_names_are_normalized_as_pep_503_says() -> None:
    assert canonical_name("Foo_Bar.baz--Qux") == "foo-bar-baz-qux"
    assert all(name == canonical_name(name) for name in packages())


def test_packages_hash_is_stable_within_and_across_scans() -> None:
    first = capture_environment().packages_hash
    assert capture_environment().packages_hash == first
    environment._reset_cache()
    assert capture_environment().packages_hash == first
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64


def test_packages_hash_changes_when_the_packages_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = capture_environment().packages_hash
    real_scan = environment._scan
    monkeypatch.setattr(environment, "_scan", lambda paths: {**real_scan(paths), "zzz": "1.0"})
    environment._reset_cache()
    assert capture_environment().packages_hash != before


def test_returned_packages_cannot_alter_the_cache() -> None:
    packages()["attrs"] = "0.0.0"
    capture_environment().packages["attrs"] = "0.0.0"
    assert packages()["attrs"] == importlib.metadata.version("attrs")


def test_only_allow_listed_environment_variables_are_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELVER_TEST_SECRET", "hunter2")
    monkeypatch.setenv("MODELVER_TEST_ALLOWED", "yes")
    env = capture_environment(allow_env=["MODELVER_TEST_ALLOWED", "MODELVER_TEST_UNSET"])
    assert env.variables == {"MODELVER_TEST_ALLOWED": "yes"}
    assert "hunter2" not in json.dumps(env.variables)
    assert capture_environment().variables == {}


def test_allow_listed_variables_are_read_fresh_on_each_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = "MODELVER_TEST_ALLOWED"
    monkeypatch.setenv(name, "one")
    assert capture_environment([name]).variables == {name: "one"}
    monkeypatch.setenv(name, "two")
    assert capture_environment([name]).variables == {name: "two"}


def test_a_single_allow_listed_name_may_be_given_as_a_string(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELVER_TEST_ALLOWED", "yes")
    assert capture_environment("MODELVER_TEST_ALLOWED").variables == {
        "MODELVER_TEST_ALLOWED": "yes"
    }


# hardware


@pytest.fixture
def cpuinfo_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A fake py-cpuinfo that counts its calls."""
    calls: list[int] = []
    fake: Any = types.ModuleType("cpuinfo")

    def get_cpu_info() -> dict[str, Any]:
        calls.append(1)
        return {"brand_raw": "Apple M2", "hz_advertised": (3_490_000_000, 0), "count": 8}

    fake.get_cpu_info = get_cpu_info
    monkeypatch.setitem(sys.modules, "cpuinfo", fake)
    return calls


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs Linux /proc")
@pytest.mark.usefixtures("no_driver")
def test_hardware_reads_cpu_model_and_memory_without_py_cpuinfo_on_linux(
    cpuinfo_calls: list[int],
) -> None:
    hw = capture_hardware()
    assert cpuinfo_calls == []
    assert hw.cpu
    assert hw.arch
    assert hw.memory_total is not None and hw.memory_total > 0
    assert hw.cores_logical is not None and hw.cores_logical > 0


@pytest.mark.usefixtures("no_driver")
def test_hardware_without_a_gpu_driver_records_no_gpus() -> None:
    hw = capture_hardware()
    assert hw.gpus == []
    assert hw.gpu_status == "no GPU"


@pytest.mark.usefixtures("no_driver")
def test_hardware_records_cuda_visible_devices_at_each_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert capture_hardware().cuda_visible_devices == "0,1"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert capture_hardware().cuda_visible_devices is None


@pytest.mark.usefixtures("no_driver")
def test_cpuinfo_fallback_is_used_and_cached_on_disk_per_boot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cpuinfo_calls: list[int]
) -> None:
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hardware, "_fast_cpu", lambda: (None, None))
    monkeypatch.setattr(hardware, "_boot_id", lambda: "boot-1234")

    hw = capture_hardware()
    assert (hw.cpu, hw.cpu_freq_mhz) == ("Apple M2", 3490.0)
    cached = json.loads((tmp_path / "cache" / "cpuinfo-boot-1234.json").read_text())
    assert cached["brand_raw"] == "Apple M2"

    hardware._reset_cache()  # as a new process on the same boot
    assert capture_hardware().cpu == "Apple M2"
    assert cpuinfo_calls == [1]


@pytest.mark.usefixtures("no_driver")
def test_hardware_facts_are_none_when_nothing_can_tell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path))
    monkeypatch.setattr(hardware, "_fast_cpu", lambda: (None, None))
    monkeypatch.setitem(sys.modules, "cpuinfo", None)  # import fails
    hw = capture_hardware()
    assert hw.cpu is None and hw.cpu_freq_mhz is None


# GPUs


@pytest.mark.usefixtures("fake_nvml")
def test_fake_nvml_gpu_is_recorded_with_every_fact() -> None:
    gpus, status = capture_gpus()
    assert status == "ok"
    [info] = gpus
    assert info.uuid == FAKE_UUID
    assert info.name == "NVIDIA A100-SXM4-40GB"
    assert info.index == 0
    assert info.memory_total == FAKE_MEMORY
    assert info.driver_version == "550.54.15"
    assert info.cuda_version == "12.4"
    assert info.compute_capability == "8.0"


def test_nvml_is_shut_down_after_capture(fake_nvml: Any) -> None:
    capture_gpus()
    assert fake_nvml.calls == ["init", "shutdown"]


@pytest.mark.usefixtures("fake_nvml")
def test_hardware_includes_the_gpus() -> None:
    hw = capture_hardware()
    assert hw.gpu_status == "ok"
    assert [g.uuid for g in hw.gpus] == [FAKE_UUID]


@pytest.mark.usefixtures("no_driver")
def test_missing_driver_file_means_no_gpu_without_loading_nvml(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = make_fake_nvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert capture_gpus() == ([], "no GPU")
    assert fake.calls == []


@pytest.mark.usefixtures("driver_file")
def test_missing_pynvml_means_no_nvml_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    assert capture_gpus() == ([], "no NVML library")


@pytest.mark.usefixtures("driver_file")
def test_missing_nvml_shared_library_means_no_nvml_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = make_fake_nvml(init_error="NVMLError_LibraryNotFound")
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert capture_gpus() == ([], "no NVML library")


@pytest.mark.usefixtures("driver_file")
def test_nvml_error_on_init_is_reported_in_the_status(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = make_fake_nvml(init_error="NVMLError")
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    gpus, status = capture_gpus()
    assert gpus == []
    assert status.startswith("NVML error")
    assert "Driver Not Loaded" in status


@pytest.mark.usefixtures("fake_nvml")
def test_process_gpu_memory_sums_only_this_process() -> None:
    assert process_gpu_memory(os.getpid()) == FAKE_PROCESS_MEMORY


@pytest.mark.usefixtures("no_driver")
def test_process_gpu_memory_is_none_without_nvml() -> None:
    assert process_gpu_memory(os.getpid()) is None


def test_nvml_session_stays_open_between_queries(fake_nvml: Any) -> None:
    with NvmlSession() as session:
        assert session.available
        session.process_memory(os.getpid())
        session.process_memory(os.getpid())
        assert fake_nvml.calls == ["init"]
    assert fake_nvml.calls == ["init", "shutdown"]


# resources


@pytest.mark.usefixtures("no_driver")
def test_resource_monitor_wall_time_covers_the_run() -> None:
    monitor = ResourceMonitor()
    monitor.start()
    time.sleep(0.05)
    assert monitor.stop().wall_s >= 0.05


@pytest.mark.usefixtures("no_driver")
def test_resource_monitor_counts_cpu_time_of_busy_work() -> None:
    monitor = ResourceMonitor()
    monitor.start()
    deadline = time.perf_counter() + 0.05
    while time.perf_counter() < deadline:
        sum(range(1000))
    assert monitor.stop().cpu_s > 0


@pytest.mark.usefixtures("no_driver")
def test_resource_monitor_peak_rss_includes_a_large_allocation() -> None:
    monitor = ResourceMonitor()
    monitor.start()
    block = bytearray(64 * 1024 * 1024)  # zero-filled, so every page is touched
    used = monitor.stop()
    del block
    assert used.peak_rss is not None and used.peak_rss > 50 * 1024 * 1024


@pytest.mark.usefixtures("no_driver")
def test_resource_monitor_starts_no_thread_without_gpus() -> None:
    monitor = ResourceMonitor()
    monitor.start()
    assert monitor._sampler is None
    assert monitor.stop().peak_gpu_memory is None


@pytest.mark.usefixtures("fake_nvml")
def test_resource_monitor_samples_peak_gpu_memory_of_this_process() -> None:
    monitor = ResourceMonitor(gpu_interval=0.01)
    monitor.start()
    time.sleep(0.03)
    used = monitor.stop()
    assert used.peak_gpu_memory == FAKE_PROCESS_MEMORY
    assert monitor._sampler is None


@pytest.mark.usefixtures("no_driver")
def test_nested_monitors_reset_peak_rss_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    resets: list[int] = []
    monkeypatch.setattr(resources, "_reset_peak_rss", lambda: resets.append(1))
    outer, inner = ResourceMonitor(), ResourceMonitor()
    outer.start()
    inner.start()
    inner.stop()
    outer.stop()
    assert resets == [1]


@pytest.mark.usefixtures("no_driver")
def test_resource_monitor_refuses_stop_before_start() -> None:
    with pytest.raises(RuntimeError, match="before start"):
        ResourceMonitor().stop()
