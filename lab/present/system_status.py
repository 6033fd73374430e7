"""What the machine offers, read without importing torch: CPU cores, memory, GPUs, disk, jobs.

The Home tab shows this. GPUs come from `nvidia-smi` when it exists, else from /proc/driver/nvidia
(the driver's own listing); nothing here loads CUDA, so the app starts in seconds.
"""
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from lab import config
from lab.present.i18n import t


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (containers limit it)
    except AttributeError:
        return os.cpu_count() or 1


def memory_mb() -> dict:
    """Total and available memory in MiB, from /proc/meminfo (zeros where it is missing)."""
    values = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("MemTotal", "MemAvailable"):
                values[name] = int(rest.split()[0]) // 1024  # kB -> MiB
    except (OSError, ValueError, IndexError):
        pass
    return {"total": values.get("MemTotal", 0), "available": values.get("MemAvailable", 0)}


@lru_cache(maxsize=1)
def gpus() -> tuple:
    """A tuple of {"name", "memory_mb"} per NVIDIA GPU; hardware does not change while the app runs."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=5).stdout
            found = []
            for line in out.splitlines():
                name, _, memory = line.rpartition(",")
                if name.strip():
                    found.append({"name": name.strip(), "memory_mb": int(float(memory.strip() or 0))})
            if found:
                return tuple(found)
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    found = []
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        try:
            model = next((line.split(":", 1)[1].strip() for line in info.read_text().splitlines()
                          if line.startswith("Model:")), "NVIDIA GPU")
        except OSError:
            continue
        found.append({"name": model, "memory_mb": None})
    return tuple(found)


def disk_free_gb(path: Path) -> float:
    try:
        return round(shutil.disk_usage(path).free / 1024**3, 1)
    except OSError:
        return 0.0


def system_status() -> dict:
    home = config.lab_home()
    return {
        "cpus": cpu_count(),
        "memory": memory_mb(),
        "gpus": list(gpus()),
        # on a shared server the data folder's path is nobody's business (it names where runs live)
        "lab_home": t("system.data_folder", "en") if config.space_mode() else str(home),
        "disk_free_gb": disk_free_gb(home),
        "max_jobs": config.max_jobs(),
        "worker_threads": config.worker_threads(),
        "torch_in_app": "torch" in sys.modules,  # should stay False: jobs import it, the app does not
    }


def status_markdown(lang: str, status: dict | None = None) -> str:
    """The system status as a short markdown list in the chosen language."""
    status = status or system_status()
    memory = status["memory"]
    if status["gpus"]:
        gpu_text = "; ".join(g["name"] + (f" ({g['memory_mb'] / 1024:.0f} GiB)" if g.get("memory_mb") else "")
                             for g in status["gpus"])
    else:
        gpu_text = t("system.no_gpu", lang)
    lines = [
        t("system.cpus", lang, cpus=status["cpus"]),
        t("system.memory", lang, available=f"{memory['available'] / 1024:.1f}", total=f"{memory['total'] / 1024:.1f}"),
        t("system.gpus", lang, gpus=gpu_text),
        t("system.jobs", lang, max_jobs=status["max_jobs"], threads=status["worker_threads"]),
        t("system.disk", lang, free=status["disk_free_gb"], path=status["lab_home"]),
    ]
    return "\n".join(f"- {line}" for line in lines)
