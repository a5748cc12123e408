"""mans: Memory Attention Networks for skeleton-based action recognition.

The path of one sample: a raw file is read by a reader in :mod:`mans.formats` into a
:class:`mans.skeleton.Sequence` (joints ``(T, M, V, 3)``), normalised by :mod:`mans.data.transforms`,
stored by :mod:`mans.data.prepare` / :mod:`mans.data.store`, and classified by :mod:`mans.models`.
"""

__version__ = "0.1.0"


def load(checkpoint, device: str = "cpu"):
    """Load a trained checkpoint as a classifier: ``mans.load("run/best.pt").predict(x)``
    (see :mod:`mans.inference.api`; imported on first use so that ``import mans`` stays light)."""
    from .inference.api import load as _load

    return _load(checkpoint, device)
