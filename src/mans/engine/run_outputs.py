"""What a training run writes as it goes (part of :class:`mans.engine.train._Trainer`):
``metrics.csv`` (one row per epoch), TensorBoard events, and the progress lines (terminal and
``train.log``).
"""

from __future__ import annotations

import csv
import os
import time

from tqdm import tqdm

CSV_FIELDS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss",
              "test_acc", "time")


class RunOutputs:
    """The running outputs of a run (see module docstring)."""

    def _write_csv(self) -> None:
        fields = [f for f in CSV_FIELDS if any(f in r for r in self.history)]
        tmp = self.out / "metrics.csv.tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            for r in self.history:
                w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                            for k, v in r.items() if k in fields})
        os.replace(tmp, self.out / "metrics.csv")

    def _writer(self):
        if not self.dist.is_main:
            return None
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a crashed run logged after its last checkpoint.
        return SummaryWriter(str(self.out / "tb"), purge_step=self.epoch + 1)

    def _log(self, msg: str) -> None:
        """A progress line: on the terminal unless quiet, and always appended to
        ``RUN/train.log`` (rank 0), so a quiet run still leaves its per-epoch record."""
        if self.progress:
            tqdm.write(msg)
        if self.dist.is_main and self.out.is_dir():
            with open(self.out / "train.log", "a", encoding="utf-8") as f:
                f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}\n")
