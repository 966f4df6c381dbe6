"""The machine: CPU model, architecture, cores, frequency, memory and GPUs.

Fast paths first: ``/proc/cpuinfo`` and ``/sys`` for the CPU, psutil for cores and
memory (well under a millisecond together). Only when they find no CPU model
(macOS, Windows, some ARM boards) is py-cpuinfo asked; it takes over a second, so
its answer is kept on disk per machine boot, in ``$MODELVER_CACHE`` or
``~/.cache/modelver``. The result is cached per process. Any fact may be None.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import tempfile
import threading
from typing import Any

import attrs

from modelver._capture.gpu import capture_gpus
from modelver._records import Hardware

__all__ = ["cache_dir", "capture_hardware"]

PROC_CPUINFO = "/proc/cpuinfo"
MAX_FREQ_FILE = "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"

_lock = threading.Lock()
_cached: Hardware | None = None


def _reset_cache() -> None:
    """Forget the hardware found in this process (for tests)."""
    global _cached
    with _lock:
        _cached = None


def cache_dir() -> str:
    """The folder for per-machine caches: ``$MODELVER_CACHE``, else ``~/.cache/modelver``."""
    return os.environ.get("MODELVER_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "modelver"
    )


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _proc_cpuinfo() -> dict[str, str]:
    """The first processor's block of ``/proc/cpuinfo`` (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open(PROC_CPUINFO, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    if fields:
                        break  # every later block repeats the first, for another CPU
                    continue
                key, sep, value = line.partition(":")
                if sep:
                    fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def _max_freq_mhz() -> float | None:
    text = _read_text(MAX_FREQ_FILE)  # in kHz
    try:
        return int(text.strip()) / 1000.0 if text else None
    except ValueError:
        return None


def _fast_cpu() -> tuple[str | None, float | None]:
    """CPU model and frequency (MHz) from ``/proc`` and ``/sys``; None where absent."""
    info = _proc_cpuinfo()
    model = info.get("model name") or None
    freq = _max_freq_mhz()
    if freq is None:
        try:
            freq = float(info["cpu MHz"])
        except (KeyError, ValueError):
            freq = None
    return model, freq


def _boot_id() -> str | None:
    """An id of this boot of this machine: the kernel's boot id, else the boot time."""
    text = _read_text(BOOT_ID_FILE)
    if text and text.strip():
        boot = text.strip()
    else:
        try:
            import psutil

            boot = str(int(psutil.boot_time()))
        except Exception:  # no psutil, or it cannot tell on this platform
            return None
    return re.sub(r"[^A-Za-z0-9-]", "", boot) or None


def _write_json_atomically(path: str, data: Any) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".cpuinfo-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _cpuinfo() -> dict[str, Any]:
    """py-cpuinfo's answer, kept on disk per boot; empty when it cannot tell."""
    boot = _boot_id()
    path = os.path.join(cache_dir(), f"cpuinfo-{boot}.json") if boot else None
    if path is not None:
        text = _read_text(path)
        if text is not None:
            try:
                cached = json.loads(text)
            except ValueError:
                cached = None
            if isinstance(cached, dict):
                return cached
    try:
        import cpuinfo

        info = cpuinfo.get_cpu_info()
    except Exception:  # py-cpuinfo missing, or failing on an unusual platform
        return {}
    if not isinstance(info, dict):
        return {}
    if path is not None:
        # A read-only home or values JSON cannot hold: go on without the disk cache.
        with contextlib.suppress(OSError, TypeError, ValueError):
            _write_json_atomically(path, info)
    return info


def _cpuinfo_freq_mhz(info: dict[str, Any]) -> float | None:
    for key in ("hz_advertised", "hz_actual"):
        value = info.get(key)
        # py-cpuinfo gives (hz, 0); JSON turns it into a list.
        if (
            isinstance(value, (list, tuple))
            and value
            and isinstance(value[0], (int, float))
            and value[0] > 0
        ):
            return float(value[0]) / 1e6
    return None


def _cores_and_memory() -> tuple[int | None, int | None, int | None]:
    """Physical cores, logical cores and total memory in bytes."""
    try:
        import psutil
    except ImportError:
        psutil = None
    physical = logical = memory = None
    if psutil is not None:
        # psutil raises its own errors on odd platforms; each fact may be missing.
        with contextlib.suppress(Exception):
            physical = psutil.cpu_count(logical=False)
            logical = psutil.cpu_count(logical=True)
            memory = int(psutil.virtual_memory().total)
    if logical is None:
        logical = os.cpu_count()
    if memory is None:
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            memory = None
    return physical, logical, memory


def _detect() -> Hardware:
    model, freq = _fast_cpu()
    physical, logical, memory = _cores_and_memory()
    arch = platform.machine() or None
    if model is None:
        info = _cpuinfo()
        model = info.get("brand_raw") or None
        if freq is None:
            freq = _cpuinfo_freq_mhz(info)
        if logical is None and isinstance(info.get("count"), int):
            logical = info["count"]
        if arch is None and info.get("arch_string_raw"):
            arch = str(info["arch_string_raw"])
    gpus, status = capture_gpus()
    return Hardware(
        cpu=model,
        arch=arch,
        cores_physical=physical,
        cores_logical=logical,
        cpu_freq_mhz=freq,
        memory_total=memory,
        gpus=gpus,
        gpu_status=status,
    )


def capture_hardware() -> Hardware:
    """CPU, memory and GPUs of this machine; found once per process.

    ``cuda_visible_devices`` is read from the environment at each call.
    """
    global _cached
    with _lock:
        if _cached is None:
            _cached = _detect()
        base = _cached
    return attrs.evolve(
        base,
        gpus=list(base.gpus),
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
    )
