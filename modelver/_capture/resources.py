"""What a run used: wall and CPU time, peak RSS and peak GPU memory.

Peak RSS comes from the kernel's high-water mark (``VmHWM``), reset at start by
writing ``5`` to ``/proc/self/clear_refs`` where allowed; elsewhere from
``getrusage``, which gives the peak of the whole process so far. Peak GPU memory is
sampled by a background thread only when NVML reports GPUs.

Caveats, all because these counters belong to the process, not to a run: CPU time
counts every thread; when runs overlap, only the first to start resets the RSS
high-water mark, so an inner or concurrent run reports the peak since then (an upper
bound of its own).
"""

from __future__ import annotations

import os
import sys
import threading
import time

from modelver._capture.gpu import STATUS_OK, NvmlSession, capture_gpus
from modelver._records import Resources

__all__ = ["ResourceMonitor"]

CLEAR_REFS_FILE = "/proc/self/clear_refs"
STATUS_FILE = "/proc/self/status"

_active_lock = threading.Lock()
_active = 0  # monitors started and not yet stopped, in this process


def _reset_peak_rss() -> None:
    """Reset the kernel's RSS high-water mark of this process, where permitted."""
    try:
        with open(CLEAR_REFS_FILE, "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_rss() -> int | None:
    """Peak resident memory of this process in bytes."""
    try:
        with open(STATUS_FILE, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # the kernel writes kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # KiB on Linux and BSD, bytes on macOS.
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


class _GpuSampler(threading.Thread):
    """Polls the GPU memory of one process until stopped, keeping the maximum."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(name="modelver-gpu-sampler", daemon=True)
        self._pid = pid
        self._interval = interval
        self._stop_event = threading.Event()
        self.peak: int | None = None

    def _sample(self, session: NvmlSession) -> None:
        used = session.process_memory(self._pid)
        if used is not None and (self.peak is None or used > self.peak):
            self.peak = used

    def run(self) -> None:
        with NvmlSession() as session:
            if not session.available:
                return
            self._sample(session)
            while not self._stop_event.wait(self._interval):
                self._sample(session)
            self._sample(session)  # the last moment of the run counts too

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class ResourceMonitor:
    """Measures one run: call :meth:`start`, then :meth:`stop` for its :class:`Resources`.

    One monitor per run; monitors may overlap across threads or nest. ``gpu_interval``
    is the seconds between GPU memory samples.
    """

    def __init__(self, *, gpu_interval: float = 0.2) -> None:
        self.gpu_interval = gpu_interval
        """Seconds between samples of the process's GPU memory."""
        self._wall0: float | None = None
        self._cpu0 = 0.0
        self._sampler: _GpuSampler | None = None

    @property
    def running(self) -> bool:
        """Whether :meth:`start` was called and :meth:`stop` not yet."""
        return self._wall0 is not None

    def start(self) -> None:
        """Begin measuring; costs a few microseconds on a machine without GPUs."""
        global _active
        if self._wall0 is not None:
            raise RuntimeError("ResourceMonitor.start() called twice; call stop() first")
        with _active_lock:
            if _active == 0:
                _reset_peak_rss()
            _active += 1
        if capture_gpus()[1] == STATUS_OK:
            self._sampler = _GpuSampler(os.getpid(), self.gpu_interval)
            self._sampler.start()
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()

    def stop(self) -> Resources:
        """Stop measuring (and the GPU sampler, if any) and return what the run used."""
        global _active
        if self._wall0 is None:
            raise RuntimeError("ResourceMonitor.stop() called before start()")
        wall = time.perf_counter() - self._wall0
        cpu = time.process_time() - self._cpu0
        peak_gpu = None
        if self._sampler is not None:
            self._sampler.stop()
            peak_gpu = self._sampler.peak
            self._sampler = None
        peak_rss = _peak_rss()
        self._wall0 = None
        with _active_lock:
            _active = max(0, _active - 1)
        return Resources(wall_s=wall, cpu_s=cpu, peak_rss=peak_rss, peak_gpu_memory=peak_gpu)
