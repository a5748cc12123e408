"""How many CPU threads torch may use: the CPUs this process may run on, not the machine's.

On a shared machine (a container limited by CPU affinity or a cgroup CPU quota, or a user who
pinned the job with ``taskset``) more compute threads than usable CPUs make every parallel
region wait for a descheduled thread; :func:`available_cpus` counts what this process may use and
:func:`configure_threads` applies it (or the user's ``--threads N``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from .errors import ConfigError

_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "QUOTA PERIOD" or "max PERIOD"


def _cgroup_quota(path: Path = _CGROUP_CPU_MAX) -> int | None:
    """CPUs allowed by a cgroup v2 CPU quota (rounded up), or None when there is no quota."""
    try:
        quota, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask (``os.sched_getaffinity``), capped by a
    cgroup v2 CPU quota when there is one; ``os.cpu_count()`` where affinity is unsupported."""
    if hasattr(os, "sched_getaffinity"):
        n = len(os.sched_getaffinity(0))
    else:  # macOS, Windows
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(n, quota) if quota else n)


def default_threads() -> int:
    """The thread count used without ``--threads``: ``OMP_NUM_THREADS`` when the user set it
    (a positive integer), else :func:`available_cpus`."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    return available_cpus()


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count to ``threads`` (None: :func:`default_threads`) and
    return it. Raises ConfigError for ``threads < 1``."""
    import torch

    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    n = int(threads) if threads is not None else default_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
