"""The learning suite: small experiments that echo the LRU paper, with lrux's own training.

Experiments (`experiments.py`), each trained by `init_train_state` + `make_train_step`:

- `ladder`: every rung of the registry's ablation ladder plus S4D, S5 and RG-LRU, on
  generated short ListOps and on delayed recall (`lrux.data.delayed_recall` where present).
- `signal`: accuracy on delayed recall as the ring moves to r_max -> 1, with gamma (the
  LRU) and without (`diag-ring`), and max_phase 2 pi vs pi/10 at the longest ring.
- `pathfinder`: the LRU's bidirectional Pathfinder-32 model for a fixed wall-clock budget.

The medium tier (`medium.py`) trains the LRU paper presets, scaled down, on full-length
ListOps and Pathfinder-32 through `lrux.train.run` (checkpoints, resume, metrics.jsonl).

Files: config (tiers), tasks (data), trainer (one model's training), experiments, medium,
results (JSON merge), report (markdown), plots (figures), commands (one invocation),
__main__ (flags). Every run records its config, seed, wall time, loss curve and held-out
accuracy in `benchmarks/results/learning*.json`.
"""

from .cli import cli, main, parse

__all__ = ["cli", "main", "parse"]
