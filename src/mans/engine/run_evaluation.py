"""Evaluation inside a training run (part of :class:`mans.engine.train._Trainer`): the monitored
split after every epoch, and the selected checkpoint once on the test split at the end, with the
run's outputs (``metrics.json``, confusion matrix, report).
"""

from __future__ import annotations

import numpy as np

from ..data.dataset import SkeletonDataset
from ..errors import MansError
from .attention import AttentionSums, attention_summary
from .checkpoint import Checkpoint
from .data import eval_loader
from .distributed import barrier
from .evaluate import evaluate_model, final_metrics, write_eval_outputs
from .selection import best_name, label_test_selected, selection_name


class RunEvaluation:
    """The evaluations of a run (see module docstring)."""

    def _evaluate(self, idx: np.ndarray, desc: str) -> dict:
        """The metrics of the samples ``idx`` (the monitored split, or the test split), of the
        network that is evaluated and saved (the EMA average when on, mirrored when asked)."""
        return evaluate_model(self.eval_model, self._eval_loader(idx), self.device,
                              num_classes=self.model_config.num_classes,
                              amp_dtype=self.amp_dtype, dist=self.dist, progress=self.progress,
                              desc=desc)

    def _attention(self) -> dict | None:
        """:func:`~mans.engine.attention.attention_summary` of the test split's per-sample
        attention curves (one extra, un-mirrored pass of the evaluated network on this process
        alone, kept apart from the metrics' pass so that those stay as they were); None
        without a TARM attention."""
        c = self.model_config
        if not (c.use_tarm and c.attention):
            return None
        net = self.ema.module if self.ema else self.model
        ds = SkeletonDataset(self.store, self.test_idx, self.pipeline)
        sums = AttentionSums(c.num_classes, self.store.lengths[self.test_idx], self.pipeline.rows)
        evaluate_model(net, eval_loader(ds, batch_size=self.batch, rank=0, world=1,
                                        num_workers=0, pin_memory=False),
                       self.device, num_classes=c.num_classes, amp_dtype=self.amp_dtype,
                       attention=sums)
        stats = sums.result()
        return None if stats is None else attention_summary(stats)

    def _final(self, writer) -> dict:
        """Evaluate the selected checkpoint once on the test split; write the outputs."""
        label = selection_name(self.sel)
        if self.sel != "last":
            if self.best_epoch is None:
                raise MansError("no checkpoint was selected (the monitored accuracy was never "
                                "computed)")
            barrier(self.dist)
            state = Checkpoint.load(self.out / best_name(self.sel), map_location=self.device)
            (self.ema.module if self.ema else self.model).load_state_dict(state.state_dict)
        result = self._evaluate(self.test_idx, "test")
        metrics = final_metrics(result, self.store.class_names, selection=label)
        metrics.update({
            "dataset": self.store.dataset, "protocol": self.protocol, "model": self.model_name,
            "epochs": self.epoch, "selected_epoch": self.best_epoch,
            "n_train": int(len(self.train_idx)), "n_val": int(len(self.val_idx)),
            "n_test": int(len(self.test_idx)), "validation_rule": self.val_rule,
            "seed": self.cfg.train.seed,
            "checkpoint": best_name(self.sel) if self.sel != "last" else "last.pt",
        })
        if self.sel == "val":
            metrics["val_top1"] = self.best_metric
        if self.sel == "test":
            metrics = label_test_selected(metrics)
        if self.dist.is_main:
            attention = self._attention()
            if attention is not None:
                metrics["attention"] = attention
            metrics = write_eval_outputs(metrics, result["cm"], self.store.class_names, self.out,
                                         title=f"{self.model_name}, {self.store.dataset} "
                                               f"{self.protocol} test split",
                                         selection=label)
            if writer is not None:
                for k in ("top1", "top5", "mean_class_acc"):
                    key = k if self.sel != "test" else f"test_selected_{k}"
                    writer.add_scalar(f"final/{key}", metrics[key], self.epoch)
            from .report import write_report  # report.html, MODEL_CARD.md (engine/report.py)

            try:  # the run is finished and saved: a failed figure must not fail it
                self._log(f"report: {write_report(self.out)['html']}")
            except Exception as e:  # noqa: BLE001
                self._log(f"warning: the run report could not be written ({e}); "
                          f"`mans report {self.out}` tries again")
        self._log(f"test ({label}, epoch {self.best_epoch}): "
                  + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                              if k.endswith(("top1", "top5", "mean_class_acc"))
                              and isinstance(v, float)))
        return metrics
