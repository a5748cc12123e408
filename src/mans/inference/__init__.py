"""Inference on trained models: raw files, arrays, long recordings and live frames.

- :mod:`~mans.inference.records`: the torch-free half (what both predictors share: the model's
  input pipeline, :mod:`mans.data.pipeline`; logits -> record -> text);
- :mod:`~mans.inference.predict`: a ``.pt`` checkpoint on PyTorch (``mans predict``);
- :mod:`~mans.inference.onnx_predict`: an exported model on onnxruntime (no torch);
- :mod:`~mans.inference.export`: ``mans export --onnx``;
- :mod:`~mans.inference.api`: ``mans.load`` and the :class:`Classifier`;
- :mod:`~mans.inference.timeline`: window-by-window timelines of long recordings;
- :mod:`~mans.inference.live`: live recognition from a stream of frames (``mans stream``).
"""
