"""The data layer: a read :class:`~mans.skeleton.Sequence` becomes arrays the models take.

- :mod:`~mans.data.transforms` / :mod:`~mans.data.transforms2d`: body selection and view
  normalisation (prepare time), the ``(C, S, S)`` image (load time);
- :mod:`~mans.data.streams`: joint / bone / motion / bone-motion input streams;
- :mod:`~mans.data.augment`: training-time augmentation of ``(C, T, J)`` arrays;
- :mod:`~mans.data.spec`: :class:`~mans.data.spec.DataSpec`, the data settings a model was
  trained with (a checkpoint's ``data`` entry; torch-free);
- :mod:`~mans.data.store`: the prepared store's on-disk format, reader and dataset;
- :mod:`~mans.data.prepare`: a raw folder -> a store.

Nothing here imports the models, the engine or inference (tests/test_layering.py).
"""
