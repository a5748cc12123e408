"""The compute device a model runs on when none is named, defined once for the Python API, the
engine and the CLI (torch-free, so that the CLI can name it without importing torch).

``auto`` is the first CUDA device when there is one, else the CPU;
:func:`mans.engine.distributed.resolve_device` turns a name into a ``torch.device``.
"""

DEFAULT_DEVICE = "auto"
DEVICE_CHOICES = "cpu, cuda, cuda:N or auto"  # what a device name may be (help texts, errors)
