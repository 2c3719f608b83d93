"""What one suite run trains: sizes, budgets and the mixers of each experiment, per tier.

Tiers: `tiny` (the test suite, seconds), `quick` (< 5 min), `full` (the CPU suite,
~35 min on a quiet 2-core CPU) and `medium` (`MediumConfig`: the LRU at depth 4 on
full-length ListOps and Pathfinder-32 through `lrux.train.run`, one ~90-minute run).
"""

import dataclasses
import math
from typing import Any

EXPERIMENTS = ("ladder", "signal", "pathfinder")
LADDER_TASKS = ("listops", "recall")
# The comparison layers trained next to the ablation ladder (the experiment's choice, not a
# registry fact: S4 is left out for its cost on CPU; GRU / LSTM are not in the paper's ladder).
COMPARISON = ("s4d", "s5", "rglru")
# The ring of the LRU-family rungs on delayed recall: the long-range tasks' Table 9 ring
# (Pathfinder / sCIFAR), since recall needs |lambda| near 1. ListOps uses its own Table 9 ring.
RECALL_RING = (0.9, 0.999)


def ladder_mixers() -> tuple[str, ...]:
    """The ablation ladder in registry order (`mixer_names(family="ladder")`), then COMPARISON."""
    from lrux.registry import MIXERS, mixer_names

    return tuple(mixer_names(family="ladder")) + tuple(m for m in COMPARISON if m in MIXERS)


def table9_ring(task: str) -> tuple[float, float, float]:
    """(r_min, r_max, max_phase) of Table 9 for `task` (read from the LRU paper preset)."""
    from lrux.presets import get_preset

    opts = get_preset(task, "lru", "paper").mixer_options
    return opts["r_min"], opts["r_max"], opts["max_phase"]


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and budgets of one suite run (see `full_config` / `quick_config`).

    `mixers=None` means `ladder_mixers()` (the registry's ladder, then COMPARISON)."""

    seeds: tuple[int, ...] = (0, 1, 2)
    mixers: tuple[str, ...] | None = None
    ladder_tasks: tuple[str, ...] = LADDER_TASKS
    depth: int = 2
    d_model: int = 32
    d_state: int = 64
    lr: float = 3e-3
    lr_factor: float = 0.5
    weight_decay: float = 0.05
    # ListOps (short expressions); the ring rungs use Table 9's ListOps ring
    listops_train: int = 4000
    listops_eval: int = 500
    listops_min: int = 50
    listops_max: int = 200
    listops_steps: int = 400
    listops_batch: int = 32
    # delayed recall
    length: int = 1024
    recall_classes: int = 8
    recall_distractors: int = 1
    recall_steps: int = 300
    recall_batch: int = 16
    recall_eval: int = 512
    ring: tuple[float, float] = RECALL_RING  # ring of the ring rungs on delayed recall
    # signal propagation
    signal_rings: tuple[tuple[float, float], ...] = (
        (0.9, 0.99), (0.99, 0.999), (0.999, 0.9999)
    )
    # max_phase values other than 2 pi at the last ring (2 pi is the ring sweep's LRU run)
    signal_phases: tuple[float, ...] = (math.pi / 10,)
    signal_seeds: tuple[int, ...] = (0, 1, 2)
    # Pathfinder-32
    pf_images: int = 4000
    pf_seconds: float = 420.0
    pf_batch: int = 32
    pf_eval_every: int = 50
    pf_eval: int = 400
    pf_lr: float = 3e-3
    log_every: int = 10

    def ladder(self) -> tuple[str, ...]:
        return self.mixers if self.mixers is not None else ladder_mixers()

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "mixers": list(self.ladder())}


def full_config() -> Config:
    return Config()


def quick_config() -> Config:
    return Config(
        seeds=(0,),
        mixers=("rnn-tanh", "linear-dense", "diag-reim", "diag-ring", "lru", "s4d", "s5"),
        listops_train=1000, listops_eval=200, listops_steps=60,
        length=256, recall_steps=60, recall_eval=256,
        signal_rings=((0.9, 0.99), (0.99, 0.999)), signal_phases=(math.pi / 10,),
        signal_seeds=(0,),
        pf_images=400, pf_seconds=30.0, pf_eval_every=20, pf_eval=100,
    )


def tiny_config() -> Config:
    """For the test suite: a few steps at toy sizes (seconds)."""
    return Config(
        seeds=(0,), mixers=("lru",), depth=1, d_model=8, d_state=8,
        listops_train=64, listops_eval=32, listops_min=10, listops_max=40, listops_steps=3,
        listops_batch=8, length=32, recall_steps=3, recall_batch=8, recall_eval=16,
        ring=(0.9, 0.99), signal_rings=((0.9, 0.99),), signal_phases=(), signal_seeds=(0,),
        pf_images=24, pf_seconds=1e-3, pf_batch=4, pf_eval_every=2, pf_eval=8, log_every=1,
    )


TIERS = {"full": full_config, "quick": quick_config, "tiny": tiny_config}


# ----------------------------------------------------------------------------- medium tier

MEDIUM_TASKS = ("listops", "pathfinder")
# The LRU's test accuracies (paper.md section 4, Table 1 row "LRU").
PAPER_TEST_ACC = {"listops": 60.2, "pathfinder": 95.1}


@dataclasses.dataclass(frozen=True)
class MediumConfig:
    """The medium tier: `get_preset(task, "lru", "paper")` with the fields of `scaled(task)`
    replaced, trained by `lrux.train.run` (checkpoints, resume, metrics.jsonl).

    Kept from Table 9: lr, lr_factor, weight decay, dropout, warmup fraction, the ring,
    batch norm / pre-norm / GLU, bidirectional Pathfinder, full-length sequences.
    Scaled (CPU budget): depth, d_model, d_state, steps, Pathfinder's batch, data sizes,
    evaluation cadence (a curve, instead of once per epoch)."""

    tasks: tuple[str, ...] = MEDIUM_TASKS
    seed: int = 0
    depth: int = 4
    d_model: int = 64
    d_state: int = 64
    log_every: int = 10
    checkpoint_every: str = "10min"
    workers: int = 2
    # ListOps: the generator's default lengths (500 < tokens < 2000) unless set
    listops_steps: int = 450
    listops_batch: int = 32
    listops_train: int = 16_000  # steps x batch: every training expression seen once
    listops_val: int = 256
    listops_test: int = 1000
    listops_eval_every: int = 50
    listops_lengths: tuple[int, int] | None = None  # (min, max); None: 500, 2000
    listops_pad: int | None = None  # load max_length; None: 2048
    # Pathfinder-32 (80/10/10 split of pf_images)
    pf_steps: int = 450
    pf_batch: int = 32
    pf_images: int = 8000
    pf_difficulty: int = 14
    pf_eval_every: int = 75

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def data_name(self, task: str) -> str:
        """The folder (under --data-dir) of this tier's generated data for `task`."""
        if task == "listops":
            lo, hi = self.listops_lengths or ("", "")
            return (f"medium_listops_{self.listops_train}_{self.listops_val}_"
                    f"{self.listops_test}{f'_{lo}_{hi}' if lo != '' else ''}")
        return f"medium_pathfinder32_d{self.pf_difficulty}_{self.pf_images}"

    def scaled(self, task: str) -> dict[str, Any]:
        """The preset fields this tier replaces in the paper preset of `task`."""
        common = dict(depth=self.depth, d_model=self.d_model, d_state=self.d_state,
                      log_every=self.log_every, checkpoint_every=self.checkpoint_every,
                      require_full_data=False)
        if task == "listops":
            gen = dict(train=self.listops_train, val=self.listops_val,
                       test=self.listops_test, workers=self.workers, progress=False)
            if self.listops_lengths is not None:
                gen.update(min_length=self.listops_lengths[0],
                           max_length=self.listops_lengths[1])
            load = dict(progress=False)
            if self.listops_pad is not None:
                load["max_length"] = self.listops_pad
            return {**common, "steps": self.listops_steps, "batch_size": self.listops_batch,
                    "eval_every": self.listops_eval_every,
                    "data": {"generate": gen, "load": load}}
        if task == "pathfinder":
            gen = dict(size=32, difficulty=self.pf_difficulty, num=self.pf_images,
                       workers=self.workers, progress=False)
            load = dict(difficulty=self.pf_difficulty, workers=self.workers, progress=False)
            return {**common, "steps": self.pf_steps, "batch_size": self.pf_batch,
                    "eval_every": self.pf_eval_every,
                    "data": {"generate": gen, "load": load}}
        from lrux.errors import ConfigError

        raise ConfigError(f"medium tier: unknown task {task!r}; expected one of "
                         f"{', '.join(MEDIUM_TASKS)}")

    def preset(self, task: str):
        """The paper preset of the LRU on `task` with `scaled(task)` applied."""
        from lrux.presets import apply_overrides, get_preset

        return apply_overrides(get_preset(task, "lru", "paper"), self.scaled(task))


def medium_config() -> MediumConfig:
    return MediumConfig()


def medium_tiny_config() -> MediumConfig:
    """For the test suite: toy sizes and short ListOps (seconds per task)."""
    return MediumConfig(
        depth=1, d_model=8, d_state=8, log_every=1, checkpoint_every="", workers=1,
        listops_steps=4, listops_batch=4, listops_train=24, listops_val=8, listops_test=8,
        listops_eval_every=2, listops_lengths=(10, 40), listops_pad=48,
        pf_steps=4, pf_batch=4, pf_images=40, pf_eval_every=2,
    )


# ----------------------------------------------------------------------------- GPU runs

@dataclasses.dataclass(frozen=True)
class GpuConfig:
    """`benchmarks/gpu_learning.sh`: the LRU paper presets (Table 9 unchanged: depth 6,
    widths, batch, lr, ring, bidirectional Pathfinder) for `budget_s` seconds of training
    each, with the step count (and so the cosine schedule) set from a timed calibration.

    Changed from the paper preset: steps (from the budget), evaluation every 1/`evals` of
    the run instead of once per epoch, checkpoints only at evaluations, and Pathfinder on
    `pf_images` generated images (80% train: half the release's 160k) to keep generation
    inside the 10-minute budget."""

    name: str = "gpu"  # the data folders are DATA_DIR/<name>_<task>
    budget_s: float = 160.0
    evals: int = 8
    seed: int = 0
    listops: dict[str, Any] = dataclasses.field(default_factory=dict)  # generate_listops
    pf_images: int = 100_000
    model: dict[str, Any] = dataclasses.field(default_factory=dict)  # extra preset fields

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def generate(self, task: str, workers: int) -> dict[str, Any]:
        """The generator's keyword arguments for `task` (preset `data.generate`)."""
        if task == "listops":
            return {**self.listops, "workers": workers, "progress": False}
        return dict(size=32, difficulty=14, num=self.pf_images, workers=workers,
                    progress=False)

    def load(self, task: str, workers: int) -> dict[str, Any]:
        if task == "listops":
            hi = self.listops.get("max_length")
            return {"progress": False, **({"max_length": hi + 8} if hi else {})}
        return {"difficulty": 14, "workers": workers, "progress": False}

    def preset(self, task: str, steps: int, workers: int):
        """The LRU paper preset of `task` trained for `steps` steps."""
        from lrux.presets import apply_overrides, get_preset

        every = max(1, steps // self.evals)
        return apply_overrides(get_preset(task, "lru", "paper"), {
            **self.model, "steps": steps, "eval_every": every,
            "log_every": max(1, min(100, steps // 50)), "checkpoint_every": "",
            "require_full_data": False,
            "data": {"generate": self.generate(task, workers), "load": self.load(task, workers)},
        })


def gpu_config() -> GpuConfig:
    return GpuConfig()


def gpu_tiny_config(budget_s: float = 5.0) -> GpuConfig:
    """The script's CPU check: toy model and data, a few seconds of training per task."""
    return GpuConfig(
        name="gpu_tiny", budget_s=budget_s, evals=2, pf_images=40,
        listops=dict(train=64, val=16, test=16, min_length=10, max_length=40),
        model=dict(depth=1, d_model=8, d_state=8, batch_size=4),
    )
