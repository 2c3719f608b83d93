"""Metrics writers: where `lrux.train.run(..., writers=[...])` sends each metrics record.

`metrics.jsonl` (written by `lrux.train.metrics.MetricsLog`) stays the source of truth; a
writer receives the same records, one dict at a time:

- `write(record)`: `{"step": int, "split": "train" | "val" | "test", "loss": float,
  "accuracy": float, ...}` (train records add `lr`, `steps_per_sec`; val/test add `count`).
  The test record comes last, at the step of the best validation checkpoint, which is
  earlier than the last step.
- `write_config(config)` (optional): the run's `config.json` (the preset, seed, data, split
  sizes, devices), once before the first record of a run and again on each `--resume`.
- `close()`: after the last record (also when the run stops early).

`TensorBoardWriter` (tensorboardX, `pip install -e '.[tensorboard]'`) and `WandbWriter`
(wandb, `pip install -e '.[wandb]'`) implement all three.
"""

import json
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

# the scalar tags the hyperparameter views compare runs by
HPARAM_METRICS = ("val/accuracy", "test/accuracy", "test/loss")


@runtime_checkable
class MetricsWriter(Protocol):
    """What `lrux.train.run(..., writers=...)` accepts (`write_config` is optional)."""

    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def scalars(record: Mapping[str, Any]) -> dict[str, float]:
    """`{"SPLIT/KEY": value}` for the record's numbers (all but `step` and `split`; the flag
    `interrupted` as 1.0)."""
    split = record.get("split", "train")
    return {f"{split}/{key}": float(value) for key, value in record.items()
            if key not in ("step", "split") and isinstance(value, int | float)}


def flat_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts flattened to `{"preset.lr": 0.004, "preset.data.load.max_length": ...}`;
    numbers, strings and booleans kept, lists as their JSON text, None dropped."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_config(value, name + "."))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
        elif value is not None:
            out[name] = json.dumps(value, default=str)
    return out


class TensorBoardWriter:
    """Scalars `SPLIT/KEY` (loss, accuracy, lr, steps_per_sec, count) at each record's step,
    the run's config as text (`config`) and its preset as hyperparameters (the HPARAMS tab,
    against `val/accuracy`, `test/accuracy`, `test/loss`), written with tensorboardX."""

    def __init__(self, logdir: str):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            raise ImportError("TensorBoardWriter needs tensorboardX: pip install -e "
                              "'.[tensorboard]' in a checkout of lrux (or pip install "
                              "tensorboardX)") from e
        self.writer = SummaryWriter(logdir)
        self._session_started = False

    def write_config(self, config: dict[str, Any]) -> None:
        from tensorboardX.summary import hparams

        text = json.dumps(config, indent=2, sort_keys=True, default=str)
        self.writer.add_text("config", "\n".join("    " + line for line in text.splitlines()))
        experiment, start, self._end = hparams(flat_config(config),
                                               dict.fromkeys(HPARAM_METRICS, 0.0))
        self._add_summaries(experiment, start)
        self._session_started = True
        self.writer.flush()

    def _add_summaries(self, *summaries: Any) -> None:
        file_writer = self.writer.file_writer
        if file_writer is None:
            raise RuntimeError("TensorBoardWriter: the writer is already closed")
        for summary in summaries:
            file_writer.add_summary(summary)

    def write(self, record: dict[str, Any]) -> None:
        step = int(record.get("step", 0))
        for tag, value in scalars(record).items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        if self._session_started:
            self._add_summaries(self._end)
        self.writer.close()


class WandbWriter:
    """Logs each record to a Weights & Biases run (`wandb.init(**init_kwargs)`, started at
    the run's config, which becomes the wandb run's config).

    wandb drops a `log` whose step is below the last one, and lrux writes the test record at
    the best step, after the last step. So records are logged without wandb's `step=`: each
    carries its training step as the metric `step`, the x-axis of every `SPLIT/*` chart
    (`define_metric`), which never goes backwards for wandb; the test record also goes into
    the run summary (`test/accuracy`, `test/loss`, `test/count`, `test/step`), where the
    runs table shows it. Offline: `WANDB_MODE=offline` or `WandbWriter(mode="offline")`.
    """

    def __init__(self, **init_kwargs: Any):
        try:
            import wandb
        except ImportError as e:
            raise ImportError("WandbWriter needs wandb: pip install -e '.[wandb]' in a "
                              "checkout of lrux (or pip install wandb)") from e
        self._wandb = wandb
        self.init_kwargs = init_kwargs
        self.run: Any = None

    def _start(self, config: dict[str, Any] | None) -> Any:
        if self.run is None:
            self.run = self._wandb.init(config=config, **self.init_kwargs)
            self.run.define_metric("step")
            for split in ("train", "val", "test"):
                self.run.define_metric(f"{split}/*", step_metric="step")
        elif config is not None:
            self.run.config.update(config, allow_val_change=True)
        return self.run

    def write_config(self, config: dict[str, Any]) -> None:
        self._start(config)

    def write(self, record: dict[str, Any]) -> None:
        run = self._start(None)
        step = int(record.get("step", 0))
        values = scalars(record)
        run.log({"step": step, **values})
        if record.get("split") == "test":
            run.summary.update({**values, "test/step": step})

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
