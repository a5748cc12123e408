"""Process-group set-up for multi-process (DDP) training, and the few collectives the engine uses.

Under ``torchrun`` the environment holds ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; every
process then trains on ``1 / WORLD_SIZE`` of each global batch and DistributedDataParallel
averages the gradients, so one step equals a single-process step on the whole batch (except for
BatchNorm, whose batch statistics are per process unless SyncBatchNorm is used). Without those
variables (or with ``WORLD_SIZE=1``) everything here is a no-op and the engine runs in one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist

from ..devices import DEFAULT_DEVICE, DEVICE_CHOICES
from ..errors import ConfigError


@dataclass
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size`` processes, on ``device``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialized_here: bool = False  # this module created the process group (and destroys it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that logs and writes files."""
        return self.rank == 0

    def close(self) -> None:
        if self.initialized_here and tdist.is_initialized():
            tdist.destroy_process_group()


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:LOCAL_RANK`` if CUDA is available, else ``cpu``; otherwise the named
    device (``cpu``, ``cuda``, ``cuda:N``), checked to exist."""
    if device == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() \
            else torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"--device {device!r} is not a device name ({DEVICE_CHOICES})") \
            from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: CUDA is not available on this machine")
        if dev.index is None:
            dev = torch.device(f"cuda:{local_rank}")
        if dev.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: only {torch.cuda.device_count()} CUDA "
                              f"device(s) present")
    return dev


def init_distributed(device: str = DEFAULT_DEVICE) -> DistInfo:
    """Join the process group described by the environment (torchrun), or describe a single
    process. Uses NCCL on CUDA and Gloo on the CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=resolve_device(device))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    created = False
    if not tdist.is_initialized():
        tdist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo",
                                 rank=rank, world_size=world)
        created = True
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev,
                    initialized_here=created)


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``t`` over processes in place (no-op in one process); returns ``t``."""
    if info.enabled:
        tdist.all_reduce(t, op=tdist.ReduceOp.SUM)
    return t


def broadcast_buffers(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every process.

    DDP broadcasts buffers at the start of each training forward, so after the last step of an
    epoch each process holds statistics updated by its own shard; evaluation and checkpoints must
    all use the same ones.
    """
    if info.enabled:
        for b in module.buffers():
            tdist.broadcast(b, src=0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        tdist.barrier()
