"""mans: Memory Attention Networks for skeleton-based action recognition.

The path of one sample: a raw file is read by a reader in :mod:`mans.formats` into a
:class:`mans.skeleton.Sequence` (joints ``(T, M, V, 3)``), normalised by :mod:`mans.transforms`,
stored by :mod:`mans.prepare` / :mod:`mans.store`, and classified by :mod:`mans.models`.
"""

__version__ = "0.1.0"
