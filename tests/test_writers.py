"""Metrics writers (lrux/train/writers.py): what a run hands TensorBoard and wandb, read back
with readers that are not lrux's (the TFRecord framing and tensorboardX's protobufs for the
event file; `wandb leet inspect`, wandb's own reader of its run log, for wandb).

wandb drops a `log` whose step goes backwards, and lrux writes the test record at the best
step after the last one: every record must still arrive, and the test numbers must be in
the run summary.
"""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lrux import data as lra
from lrux.presets import apply_overrides, get_preset
from lrux.train import TensorBoardWriter, read_metrics, run
from lrux.train import metrics as metrics_module
from lrux.train import writers as writers_module

# records as the loop writes them: the test record (step 2, the best) after the last step 4
RECORDS = [
    {"step": 1, "split": "train", "loss": 2.0, "accuracy": 0.25, "lr": 1e-3, "steps_per_sec": 5.0},
    {"step": 2, "split": "train", "loss": 1.5, "accuracy": 0.5, "lr": 2e-3, "steps_per_sec": 5.0},
    {"step": 2, "split": "val", "loss": 1.25, "accuracy": 0.625, "count": 16},
    {"step": 4, "split": "train", "loss": 1.0, "accuracy": 0.75, "lr": 1e-3, "steps_per_sec": 5.0},
    {"step": 4, "split": "val", "loss": 1.5, "accuracy": 0.5, "count": 16},
    {"step": 2, "split": "test", "loss": 1.125, "accuracy": 0.6875, "count": 16},
]
CONFIG = {"preset": {"task": "listops", "lr": 0.004, "depth": 2, "mixer": {"r_min": 0.9},
                     "data": {"load": {"max_length": 128}}, "eval_batch_size": None},
          "seed": 3, "split_sizes": {"train": 64, "val": 16, "test": 16}}


def test_old_imports_still_work():
    from lrux.train import MetricsWriter, WandbWriter
    from lrux.train.metrics import MetricsWriter as M
    from lrux.train.metrics import TensorBoardWriter as T

    assert T is TensorBoardWriter is writers_module.TensorBoardWriter
    assert M is MetricsWriter is metrics_module.MetricsWriter
    assert WandbWriter is writers_module.WandbWriter


def test_flat_config_keeps_every_scalar_under_its_path():
    flat = writers_module.flat_config(CONFIG)
    assert flat == {"preset.task": "listops", "preset.lr": 0.004, "preset.depth": 2,
                    "preset.mixer.r_min": 0.9, "preset.data.load.max_length": 128, "seed": 3,
                    "split_sizes.train": 64, "split_sizes.val": 16, "split_sizes.test": 16}


# --- TensorBoard: the event file read back without tensorboard or lrux ---------------------
def f32(value) -> float:
    """A number as an event file stores it (simple_value is a float32)."""
    return float(np.float32(value))


def tfrecords(path: Path):
    """The payloads of a TFRecord file: u64 length, u32 crc, data, u32 crc."""
    blob, i = path.read_bytes(), 0
    while i < len(blob):
        (n,) = struct.unpack("<Q", blob[i:i + 8])
        yield blob[i + 12:i + 12 + n]
        i += 12 + n + 4


def tensorboard_events(logdir: Path):
    from tensorboardX.proto.event_pb2 import Event

    [path] = list(logdir.glob("events.out.tfevents.*"))
    return [Event.FromString(b) for b in tfrecords(path)]


def tensorboard_contents(logdir: Path):
    """{tag: [(step, value)]} of the scalars, the text summaries, and the hparams plugin's
    session-start hyperparameters."""
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    scalars, texts, hparams, experiment = {}, {}, {}, None
    for event in tensorboard_events(logdir):
        for v in event.summary.value:
            plugin = v.metadata.plugin_data.plugin_name
            if plugin == "hparams":
                data = HParamsPluginData.FromString(v.metadata.plugin_data.content)
                if data.HasField("session_start_info"):
                    for k, hv in data.session_start_info.hparams.items():
                        hparams[k] = hv.WhichOneof("kind") and getattr(hv, hv.WhichOneof("kind"))
                if data.HasField("experiment"):
                    experiment = [m.name.tag for m in data.experiment.metric_infos]
            elif plugin == "text":
                texts[v.tag] = b"".join(v.tensor.string_val).decode()
            elif v.HasField("simple_value"):
                scalars.setdefault(v.tag, []).append((event.step, v.simple_value))
    return scalars, texts, hparams, experiment


def test_tensorboard_writer_writes_scalars_config_and_hparams(tmp_path):
    pytest.importorskip("tensorboardX")
    w = TensorBoardWriter(str(tmp_path / "tb"))
    w.write_config(CONFIG)
    for r in RECORDS:
        w.write(r)
    w.close()
    scalars, texts, hparams, experiment = tensorboard_contents(tmp_path / "tb")
    expected = {}
    for r in RECORDS:
        for k, v in r.items():
            if k not in ("step", "split"):
                expected.setdefault(f"{r['split']}/{k}", []).append((r["step"], f32(v)))
    assert scalars == expected
    assert json.loads("\n".join(line[4:] for line in texts["config/text_summary"].split("\n"))
                      ) == CONFIG
    assert hparams == pytest.approx(writers_module.flat_config(CONFIG))
    assert experiment == ["val/accuracy", "test/accuracy", "test/loss"]


# --- wandb, offline, read back by wandb's own inspector --------------------------------------
def wandb_log(run_dir: Path) -> tuple[list[dict], dict]:
    """(history rows, the --summary object) of an offline run, by `wandb leet inspect`."""
    [log] = list(run_dir.glob("wandb/offline-run-*/run-*.wandb"))
    wandb_cli = [sys.executable, "-c", "import sys; from wandb.cli.cli import cli; sys.exit(cli())"]
    rows = subprocess.run([*wandb_cli, "leet", "inspect", "--json", str(log)], check=True,
                          capture_output=True, text=True, timeout=120).stdout
    history = [r["history"]["item"] for r in map(json.loads, rows.splitlines())
               if r.get("type") == "history"]
    summary = subprocess.run([*wandb_cli, "leet", "inspect", "--summary", "--json", str(log)],
                             check=True, capture_output=True, text=True, timeout=120).stdout
    return history, json.loads(summary)


def _metrics(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


@pytest.fixture
def offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    return tmp_path


def test_wandb_writer_keeps_the_test_record_written_after_the_last_step(offline):
    from lrux.train import WandbWriter

    w = WandbWriter(project="lrux-test", dir=str(offline))
    w.write_config(CONFIG)
    for r in RECORDS:
        w.write(r)
    w.close()
    history, report = wandb_log(offline)
    assert [_metrics(row) for row in history] == [
        {"step": r["step"], **{f"{r['split']}/{k}": v for k, v in r.items()
                               if k not in ("step", "split")}} for r in RECORDS]
    steps = [row["_step"] for row in history]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # what wandb requires
    summary = report["summary"]
    assert summary["test/accuracy"] == 0.6875 and summary["test/loss"] == 1.125
    assert summary["test/step"] == 2 and summary["test/count"] == 16
    assert report["config"] == json.loads(json.dumps(CONFIG))
    assert report["state"] == "finished"


# --- a real run hands both writers its config and every record --------------------------------
@pytest.fixture(scope="module")
def listops_dir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("writers") / "listops")
    lra.generate_listops(d, train=64, val=16, test=16, min_length=20, max_length=60,
                         workers=1, progress=False)
    return d


@pytest.mark.slow
def test_a_run_hands_its_config_and_every_record_to_both_writers(offline, listops_dir):
    pytest.importorskip("tensorboardX")
    from lrux.train import WandbWriter

    preset = apply_overrides(get_preset("listops", "lru", "smoke"),
                             {"steps": 4, "eval_every": 2, "log_every": 1})
    out, tb = offline / "run", offline / "tb"
    # a list, as the README writes it
    writers = [TensorBoardWriter(str(tb)), WandbWriter(project="lrux-test", dir=str(offline))]
    summary = run(preset, data_dir=listops_dir, out_dir=str(out), writers=writers,
                  progress=False)
    config = json.loads((out / "config.json").read_text())
    records = read_metrics(str(out))
    assert records[-1]["split"] == "test" and records[-1]["step"] == summary["best_step"]

    scalars, texts, hparams, _ = tensorboard_contents(tb)
    for r in records:
        for k, v in r.items():
            if k not in ("step", "split"):
                assert (r["step"], f32(v)) in scalars[f"{r['split']}/{k}"]
    assert hparams["preset.lr"] == pytest.approx(preset.lr)
    assert hparams["preset.mixer_options.r_max"] == pytest.approx(preset.mixer_options["r_max"])
    assert json.loads("\n".join(line[4:] for line in texts["config/text_summary"].split("\n"))
                      ) == config

    history, report = wandb_log(offline)
    assert [(row["step"], sorted(k for k in _metrics(row) if k != "step")) for row in history] \
        == [(r["step"], sorted(f"{r['split']}/{k}" for k in r if k not in ("step", "split")))
            for r in records]
    assert report["summary"]["test/accuracy"] == pytest.approx(summary["test_accuracy_at_best"])
    assert report["summary"]["test/step"] == summary["best_step"]
    flat = writers_module.flat_config  # wandb keeps no empty dict (param_groups: {})
    assert flat(report["config"]) == flat(config)
    assert os.path.isdir(out / "checkpoints")
