"""The samples of a prepared store as model inputs: a map-style dataset for
:class:`torch.utils.data.DataLoader` (training and evaluation).

Each sample is a stored ``(C, T, J)`` sequence (:meth:`mans.data.store.PreparedStore.sequence`)
turned into the model input by the run's :class:`~mans.data.pipeline.InputPipeline`
(:meth:`~mans.data.pipeline.InputPipeline.sample`): the same steps, with the same settings, that
``mans predict`` applies to a raw file after reading and preparing it.

Importing this module does not import torch; :meth:`SkeletonDataset.__getitem__` imports it
when it builds a sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from .pipeline import InputPipeline
from .store import PreparedStore

if TYPE_CHECKING:
    import torch


class SkeletonDataset:
    """Samples of a store as ``(model input tensor, label int)``.

    Args:
        store: an open :class:`~mans.data.store.PreparedStore`.
        indices: store indices of the samples (e.g. ``store.split("xsub", "train")``).
        pipeline: the model's input pipeline (``InputPipeline.for_store(store, size, ...)`` or
            ``InputPipeline(checkpoint.data)``); its augmentation is applied when ``train``.
        seed: base seed of a training sample's RNG.
        train: training samples: augmented (the pipeline's ``augment``), each from its own RNG.

    The RNG of a training sample is ``np.random.default_rng((seed, epoch, store_index))``: the
    same sample gets the same augmentation in the same epoch whatever the worker, batch order or
    number of workers, and a new one after :meth:`set_epoch`. With a DataLoader, call
    ``set_epoch`` before iterating (workers receive a copy of the dataset when the iterator
    starts, so use ``persistent_workers=False`` or the epoch will not reach them).
    """

    def __init__(self, store: PreparedStore, indices, pipeline: InputPipeline, *,
                 seed: int = 0, train: bool = False):
        self.store = store
        self.pipeline = pipeline
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= len(store)):
            raise ConfigError(f"sample indices outside 0..{len(store) - 1}")
        self.seed = int(seed)
        self.train = bool(train)
        self.epoch = 0

    @property
    def size(self) -> int:
        """``S``: the model's rows."""
        return self.pipeline.size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    @property
    def labels(self) -> np.ndarray:
        """``(len(self),)`` int64 labels, in dataset order (for samplers and class counts)."""
        return self.store.labels[self.indices]

    def __getitem__(self, k: int) -> tuple["torch.Tensor", int]:
        import torch  # here, not at module level: see the module docstring

        i = int(self.indices[k])
        rng = np.random.default_rng((self.seed, self.epoch, i)) if self.train else None
        x, _ = self.pipeline.sample(self.store.sequence(i), rng)  # (C, S, S) or (C, S, J)
        return torch.from_numpy(x), int(self.store.labels[i])
