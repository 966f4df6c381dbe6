"""GPUs through NVML (``pynvml``, from the ``nvidia-ml-py`` distribution).

No GPU, no driver and no NVML library are normal cases: they give an empty list and
a status string, never an exception. On Linux the driver's version file is checked
first (a few microseconds) so machines without an NVIDIA driver never load NVML.

Statuses: ``"ok"``, ``"no GPU"``, ``"no NVML library"`` or ``"NVML error: <message>"``.

:class:`NvmlSession` keeps NVML initialised so a sampler can poll the memory a
process uses cheaply; :func:`process_gpu_memory` is the one-shot form.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from types import TracebackType
from typing import Any

from modelver._records import GpuInfo

__all__ = [
    "DRIVER_VERSION_FILE",
    "STATUS_NO_GPU",
    "STATUS_NO_LIBRARY",
    "STATUS_OK",
    "NvmlSession",
    "capture_gpus",
    "process_gpu_memory",
]

DRIVER_VERSION_FILE = "/proc/driver/nvidia/version"
"""Present on Linux exactly when the NVIDIA kernel driver is loaded."""

STATUS_OK = "ok"
"""NVML answered; the list holds every GPU it reported (possibly none)."""
STATUS_NO_GPU = "no GPU"
"""No NVIDIA driver on this machine."""
STATUS_NO_LIBRARY = "no NVML library"
"""``pynvml`` or the ``libnvidia-ml`` shared library cannot be loaded."""

_LINUX = sys.platform.startswith("linux")
_lock = threading.Lock()
_cached: tuple[list[GpuInfo], str] | None = None


def _reset_cache() -> None:
    """Forget the GPUs found in this process (for tests)."""
    global _cached
    with _lock:
        _cached = None


def _driver_present() -> bool:
    # Elsewhere there is no cheap check: let NVML say.
    return not _LINUX or os.path.exists(DRIVER_VERSION_FILE)


def _text(value: Any) -> str:
    """Old bindings return bytes where new ones return str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _error_status(nvml: Any, exc: BaseException) -> str:
    not_found = getattr(nvml, "NVMLError_LibraryNotFound", None)
    if isinstance(not_found, type) and isinstance(exc, not_found):
        return STATUS_NO_LIBRARY
    return f"NVML error: {exc}"


def _cuda_version(value: Any) -> str | None:
    """NVML gives the CUDA driver version as an int: 12040 is 12.4."""
    if not isinstance(value, int) or value <= 0:
        return None
    return f"{value // 1000}.{value % 1000 // 10}"


def _open_nvml() -> tuple[Any, str]:
    """Import and initialise NVML: (module, "ok"), or (None, why not)."""
    if not _driver_present():
        return None, STATUS_NO_GPU
    try:
        import pynvml
    except ImportError:
        return None, STATUS_NO_LIBRARY
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return None, _error_status(pynvml, exc)
    return pynvml, STATUS_OK


def _optional(nvml: Any, fn: Any, *args: Any) -> Any:
    """Call an NVML query that some devices or drivers do not support: None then."""
    try:
        return fn(*args)
    except nvml.NVMLError:
        return None


def _query_gpus(nvml: Any) -> tuple[list[GpuInfo], str]:
    driver = _optional(nvml, nvml.nvmlSystemGetDriverVersion)
    cuda = _optional(nvml, nvml.nvmlSystemGetCudaDriverVersion)
    driver_version = None if driver is None else _text(driver)
    cuda_version = _cuda_version(cuda)
    gpus: list[GpuInfo] = []
    status = STATUS_OK
    try:
        count = int(nvml.nvmlDeviceGetCount())
    except nvml.NVMLError as exc:
        return [], _error_status(nvml, exc)
    for index in range(count):
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            uuid = _text(nvml.nvmlDeviceGetUUID(handle))
            name = _text(nvml.nvmlDeviceGetName(handle))
        except nvml.NVMLError as exc:
            # Keep the GPUs that did answer, and say that one did not.
            status = _error_status(nvml, exc)
            continue
        memory = _optional(nvml, nvml.nvmlDeviceGetMemoryInfo, handle)
        capability = _optional(nvml, nvml.nvmlDeviceGetCudaComputeCapability, handle)
        gpus.append(
            GpuInfo(
                uuid=uuid,
                name=name,
                index=index,
                memory_total=None if memory is None else int(memory.total),
                driver_version=driver_version,
                cuda_version=cuda_version,
                compute_capability=(
                    None if capability is None else f"{capability[0]}.{capability[1]}"
                ),
            )
        )
    return gpus, status


def _shutdown(nvml: Any) -> None:
    with contextlib.suppress(nvml.NVMLError):
        nvml.nvmlShutdown()


def capture_gpus() -> tuple[list[GpuInfo], str]:
    """The GPUs NVML reports, sorted by NVML index, and a status string.

    The status is ``"ok"``, ``"no GPU"`` (no NVIDIA driver), ``"no NVML library"`` or
    ``"NVML error: <message>"``. Found once per process; each call returns a new list.
    """
    global _cached
    with _lock:
        if _cached is None:
            nvml, status = _open_nvml()
            if nvml is None:
                _cached = ([], status)
            else:
                try:
                    _cached = _query_gpus(nvml)
                finally:
                    _shutdown(nvml)
        gpus, status = _cached
    return list(gpus), status


class NvmlSession:
    """NVML held open for repeated cheap queries; use it as a context manager.

    ``with NvmlSession() as nvml: nvml.process_memory(pid)``. When NVML cannot be
    used, :attr:`status` says why and every query returns None.
    """

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []
        self.status: str = STATUS_NO_GPU
        """Why NVML is or is not usable, as for :func:`capture_gpus`."""

    @property
    def available(self) -> bool:
        """Whether NVML is open and answered."""
        return self._nvml is not None

    def open(self) -> bool:
        """Initialise NVML and find the devices; returns :attr:`available`."""
        if self._nvml is not None:
            return True
        nvml, self.status = _open_nvml()
        if nvml is None:
            return False
        try:
            count = int(nvml.nvmlDeviceGetCount())
            self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except nvml.NVMLError as exc:
            self.status = _error_status(nvml, exc)
            _shutdown(nvml)
            return False
        self._nvml = nvml
        return True

    def close(self) -> None:
        """Release NVML; the session may be opened again."""
        nvml, self._nvml, self._handles = self._nvml, None, []
        if nvml is not None:
            _shutdown(nvml)

    def process_memory(self, pid: int) -> int | None:
        """Bytes of GPU memory used by process ``pid``, summed over all devices.

        None when NVML is not available or no device could report its processes;
        0 when the process holds no GPU memory.
        """
        nvml = self._nvml
        if nvml is None:
            return None
        total = 0
        answered = False
        for handle in self._handles:
            procs = _optional(nvml, nvml.nvmlDeviceGetComputeRunningProcesses, handle)
            if procs is None:
                continue
            answered = True
            for proc in procs:
                used = getattr(proc, "usedGpuMemory", None)
                # usedGpuMemory is None where the driver cannot attribute memory.
                if getattr(proc, "pid", None) == pid and isinstance(used, int):
                    total += used
        return total if answered else None

    def __enter__(self) -> NvmlSession:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def process_gpu_memory(pid: int) -> int | None:
    """Bytes of GPU memory process ``pid`` uses over all devices; None without NVML.

    Opens and closes NVML on each call: to poll, hold an :class:`NvmlSession`.
    """
    with NvmlSession() as session:
        return session.process_memory(pid)
