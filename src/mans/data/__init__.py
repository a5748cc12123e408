"""The data layer: a read :class:`~mans.skeleton.Sequence` becomes the tensor a model takes.

- :mod:`~mans.data.pipeline`: :class:`~mans.data.pipeline.InputPipeline`, the one way from a raw
  file (or a stored sample) to the model input; it calls, in this order, the steps of
- :mod:`~mans.data.bodies`, :mod:`~mans.data.views` / :mod:`~mans.data.views2d`: body selection
  and view normalisation (prepare time: what a store holds);
- :mod:`~mans.data.normalise`: ``data.centre`` (before augmentation), ``data.normalise`` (after);
- :mod:`~mans.data.augment`: training-time augmentation of ``(C, T, J)`` arrays;
- :mod:`~mans.data.frames`: the frames each of the model's rows holds (``data.frames``);
- :mod:`~mans.data.streams`: joint / bone / motion / bone-motion input streams;
- :mod:`~mans.data.layout`: the tensor the model declares, ``(C, S, S)`` or ``(C, S, J)``;
- :mod:`~mans.data.spec`: :class:`~mans.data.spec.DataSpec` and
  :class:`~mans.data.spec.PrepConfig`, the data settings a model was trained with (a
  checkpoint's ``data`` entry; torch-free) and their allowed values, from which a pipeline is
  built;
- :mod:`~mans.data.store`: the prepared store's on-disk format and reader;
  :mod:`~mans.data.dataset`: its samples as model inputs (a DataLoader dataset);
- :mod:`~mans.data.prepare`: a raw folder -> a store.

Nothing here imports the models, the engine or inference (tests/test_layering.py).
"""
