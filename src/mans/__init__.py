"""mans: Memory Attention Networks for skeleton-based action recognition.

The path of one sample: a raw file is read by a reader in :mod:`mans.formats` into a
:class:`mans.skeleton.Sequence` (joints ``(T, M, V, 3)``), made into the model's input by the one
input pipeline, :mod:`mans.data.pipeline` (bodies, view, frames, stream, tensor layout; its
prepare-time half stored by :mod:`mans.data.prepare` / :mod:`mans.data.store`), and classified by
:mod:`mans.models`.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # mans.load is mans.inference.api.load, imported on first use so that `import mans` stays
    # light: mans.load("run/best.pt").predict(x)
    if name == "load":
        from .inference.api import load

        return load
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
