# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. The ladder: from a tanh RNN to the LRU, trained
#
# The paper's central table climbs from a vanilla RNN to the LRU one change at a time, and
# trains every rung on the Long Range Arena. Notebooks 2-4 gave each change its reason. Here
# every rung goes into the **same deep model** and is trained on **one long-memory task**,
# so that only the recurrent layer differs:
#
# | rung (lrux name) | the change | notebook |
# |---|---|---|
# | `rnn-relu`, `rnn-tanh` | the vanilla RNN, $x_k = \sigma(A x_{k-1} + B u_k)$ | 2.1 |
# | `linear-dense` | drop the nonlinearity (Glorot $A$) | 2.2 |
# | `diag-reim` | diagonalise: complex $\lambda = a + ib$, uniform on the disk | 2.3-2.4 |
# | `diag-exp` | $\lambda = \exp(\nu + i\theta)$ | 3.1 |
# | `diag-stable-exp` | $\lambda = \exp(-e^{\nu^{\log}} + i e^{\theta^{\log}})$ | 3.1 |
# | `diag-ring` | the ring init $[0.9, 0.999]$ | 3.2 |
# | `lru` | $+\,\gamma$ normalisation: the LRU | 3.3 |
#
# **The task: delayed recall** (`lrux.data.delayed_recall`). Each example is a sequence of
# tokens: the first is a cue, one of 8 classes; every later token is the same filler token
# (one distractor id, as in the repository's learning benchmark). The model reads the whole
# sequence and must name the cue **at the last position** (`pooling="last"`), so the
# recurrence has to carry one token across the whole sequence. Chance is 1/8.
#
# **The model and the training** are lrux's own: the residual blocks of the paper (batch
# norm, recurrent layer, GELU, GLU, skip; one block of width 32, 32 states) around an embedding and a linear decoder, AdamW with the
# recurrent parameters at $\text{lr} \times 0.5$ and no weight decay, warmup and cosine decay
# (`lrux.train.init_train_state`, `lrux.train.make_train_step`: the same code as
# `examples/train_lra.py`). A run takes about a minute or two on a laptop CPU.

# %%
import json
import math
import pathlib

import course
import jax
import numpy as np
from course import SMALL
from IPython.display import Markdown, display

import lrux
import lrux.data
import lrux.train
from lrux.presets import Preset
from lrux.registry import MIXERS

SEQ = 32 if SMALL else 256  # the cue must survive SEQ - 1 steps
STEPS = 4 if SMALL else 300
BATCH = 8 if SMALL else 32
TEST = 64 if SMALL else 512
RING = {"r_min": 0.9, "r_max": 0.999}  # sCIFAR's ring, for the ring rungs
RUNGS = {name: RING if name in ("diag-ring", "lru") else {}  # the others: the uniform disk
         for name in lrux.mixer_names(family="ladder")}
if SMALL:  # the test suite: one rung per layer family
    RUNGS = {name: RUNGS[name] for name in ("rnn-tanh", "linear-dense", "lru")}

TASK = {"classes": 8, "distractors": 1}
train_split = lrux.data.delayed_recall(STEPS * BATCH, SEQ, **TASK, seed=0)
test_split = lrux.data.delayed_recall(TEST, SEQ, **TASK, seed=1, split="test")
spec = test_split.spec
print(f"{len(train_split)} training and {len(test_split)} test sequences of {SEQ} tokens; "
      f"vocabulary {spec.vocab_size}, {spec.num_classes} classes")

# %% [markdown]
# Three examples (rows) of the task: the cue at position 0 (cue ids 1-8 are the class + 1),
# then the filler token (id 9, grey). Only position 0 matters; the label is read at the last
# position.

# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_examples(n=3, width=64):
    from matplotlib.colors import ListedColormap

    width = min(width, SEQ)
    x = np.asarray(test_split.inputs[:n, :width])
    tab10 = [c for i, c in enumerate(course.plt_colors()) if i != 7]  # no grey for a cue
    cues = ListedColormap(tab10[: spec.num_classes])
    fig, ax = course.figure(1, width=11, height=2.2)
    image = ax.imshow(np.where(x <= spec.num_classes, x, np.nan), cmap=cues, vmin=0.5,
                      vmax=spec.num_classes + 0.5, aspect="auto")
    ax.imshow(np.where(x > spec.num_classes, x, np.nan), cmap="Greys", vmin=0, vmax=30,
              aspect="auto")
    for row in range(n):
        ax.annotate(f"cue: class {int(test_split.labels[row])} (token {int(x[row, 0])})",
                    (0, row), (6, row), color="k", fontsize=9, va="center",
                    arrowprops={"arrowstyle": "->", "color": "k"})
    ax.set_yticks(range(n), [f"example {i}" for i in range(n)])
    ax.set_xlabel(f"position (the first {width} of {SEQ}; grey: the filler token)")
    fig.colorbar(image, ax=ax, label="cue token id", ticks=range(1, spec.num_classes + 1))
    return fig


_ = draw_examples()

# %% [markdown]
# ## Training every rung
#
# One call per rung: a `Preset` (every knob of the run), lrux's initial state and jitted train
# step, a loop over batches, and lrux's evaluation on the held-out sequences.

# %%
mesh = lrux.train.make_mesh(jax.devices()[:1])
eval_step = lrux.train.make_eval_step(mesh)


def train_rung(name, mixer_options, *, seed=0):
    preset = Preset(task="delayed_recall", model=name, name="notebook", depth=1, d_model=32,
                    d_state=32, pooling="last", batch_size=BATCH, steps=STEPS,
                    lr=3e-3, lr_factor=0.5, weight_decay=0.05, mixer_options=mixer_options)
    setup = lrux.train.init_train_state(preset, spec, mesh, seed=seed)
    step = lrux.train.make_train_step(setup.tx, mesh)
    batches = lrux.train.ShardedIterator(train_split, BATCH, 1, seed=seed)
    state, losses = setup.state, []
    for _ in range(STEPS):
        state, metrics = step(state, lrux.train.global_batch(next(batches), mesh))
        losses.append(float(metrics.loss))
    test = lrux.train.evaluate(state.model, state.bn_state, test_split, batch_size=TEST,
                               mesh=mesh, eval_step=eval_step, seed=0)
    return {"accuracy": test["accuracy"], "losses": losses}


results = {}
for name, options in RUNGS.items():
    results[name] = train_rung(name, options)
    print(f"{name:16s} test accuracy {results[name]['accuracy']:.3f}   "
          f"final train loss {np.mean(results[name]['losses'][-20:]):.3f}")

# %% [markdown]
# ## Results
#
# Left: test accuracy of each rung (chance 1/8 dashed); right: the training loss, with the
# same colour for a rung in both panels, and distinct line styles so that rungs stuck at the
# same loss stay visible.

# %% jupyter={"source_hidden": true}
# the figure: plotting code (click to expand)
def draw_results():
    fig, (a, b) = course.figure(2, widths=[1, 1.3], width=13, height=4.6)
    fig.subplots_adjust(bottom=0.26)  # room for the rotated rung names
    names = list(results)
    accs = [results[n]["accuracy"] for n in names]
    bars = a.bar(range(len(names)), accs, color=[course.COLORS[n] for n in names])
    a.bar_label(bars, [f"{v:.2f}" for v in accs], fontsize=8)
    a.axhline(1 / spec.num_classes, color="k", ls="--", lw=1, label="chance (1/8)")
    a.set_xticks(range(len(names)), names, rotation=30, ha="right")
    a.set_ylim(0, 1.1)
    a.set_ylabel("test accuracy")
    a.set_title(f"delayed recall over {SEQ} tokens, {STEPS} steps of batch {BATCH}",
                fontsize=10)
    a.legend(loc="upper left", fontsize=8)
    window = max(1, min(10, STEPS // 5))
    for n in names:
        loss = np.convolve(results[n]["losses"], np.ones(window) / window, mode="valid")
        b.plot(np.arange(window, window + len(loss)), loss, lw=1.5, **course.label(n))
    b.axhline(math.log(spec.num_classes), color="k", lw=0.8, ls=":", label="chance: log 8")
    b.set_yscale("log")
    b.set_xlabel("training step")
    b.set_ylabel(f"training loss (mean of {window} steps)")
    b.legend(fontsize=7, ncol=2, loc="best")
    return fig


_ = draw_results()

# %% [markdown]
# The table below is computed from this run. Next to it: a reference run of this notebook at
# full size (`reference/05_the_ladder.json`, written by `python notebooks/time_notebooks.py
# 05`; the same code, one seed, so a rung near a threshold can differ from yours), and the
# paper's accuracies on three LRA tasks (from its ablation table; "fail" is the paper's
# word for a run that did not learn).

# %%
PAPER = {  # the paper's ablation table: sCIFAR, ListOps, Pathfinder, PathX (test accuracy %)
    "rnn-relu": ("69.7", "37.6", "chance", "chance"),
    "rnn-tanh": ("69.9", "43.9", "chance", "chance"),
    "linear-dense": ("72.2", "50.4", "fail", "fail"),
    "diag-reim": ("86.5", "58.8", "fail", "fail"),
    "diag-exp": ("85.4", "60.5", "65.4", "fail"),
    "diag-stable-exp": ("87.2", "59.4", "93.5", "fail"),
    "diag-ring": ("88.1", "59.4", "94.4", "fail"),
    "lru": ("89.0", "60.2", "95.1", "94.2"),
}
reference_path = pathlib.Path("reference/05_the_ladder.json")
reference = json.loads(reference_path.read_text()) if reference_path.exists() else {}
ref_acc = reference.get("accuracy", {})
rows = ["| rung | change | this run | reference run | paper: sCIFAR | ListOps | Pathfinder | PathX |",
        "|---|---|---|---|---|---|---|---|"]
for name in RUNGS:
    ref = f"{ref_acc[name]:.3f}" if name in ref_acc else "-"
    rows.append(f"| `{name}` | {MIXERS[name].description} | {results[name]['accuracy']:.3f} | "
                f"{ref} | " + " | ".join(PAPER[name]) + " |")
note = (f"Reference run: {reference['date']}, sequence length {reference['seq']}, "
        f"{reference['steps']} steps, {reference['wall_s']:.0f} s at load "
        f"{reference['load'][0]:.1f}." if reference else "No reference run next to this notebook.")
display(Markdown("\n".join(rows) + "\n\n" + note))

chance = 1 / spec.num_classes
at_chance = [n for n in results if results[n]["accuracy"] < chance + 0.1]
solved = [n for n in results if results[n]["accuracy"] > 0.9]
print("in this run, near chance:", ", ".join(at_chance) or "none",
      "\n             above 90%:  ", ", ".join(solved) or "none")

# %% [markdown]
# **How to read it.** The paper's columns do not all look alike. On sCIFAR and ListOps every
# rung learns something and each change adds a few points; on the long-range Pathfinder and
# PathX the early rungs do not learn at all, and PathX is solved only by the full LRU. Delayed
# recall over a few hundred tokens is a pure long-memory task, so expect it to look like the
# long-range columns: the nonlinear RNNs near chance (their gradient does not reach back, 2.1),
# the rungs whose eigenvalues can sit near the circle able to solve it. What to look for in
# your run, and what a run this small cannot show:
#
# - The line printed above says which rungs stayed near chance and which solved the task in
#   *this* run; compare it with the reference column (a different machine can flip a rung
#   that is near a threshold: one seed, a few hundred steps).
# - The disk-initialised rungs (`diag-reim`, `diag-exp`, `diag-stable-exp`) start with only a
#   few modes near the circle (notebook 2.3). Whether those few suffice over this length
#   depends on the draw, and on how fast Adam can move them (notebook 3.1): in the stable
#   exponential, a step changes $\log(1 - \lvert\lambda\rvert)$ by about the learning rate, so
#   moving a mode from the middle of the disk to $1 - \lvert\lambda\rvert = 10^{-3}$ takes
#   hundreds of steps. The ring init starts them there.
# - `linear-dense` starts from a Glorot matrix, whose few eigenvalues outside the circle
#   (notebook 2.3) blow its state up over a few hundred steps: its loss can be far above
#   chance while its most likely class is often right (compare its loss curve with its bar).
# - The top rungs all reach the ceiling on a task this easy, so $\gamma$'s benefit (a stable
#   forward pass when the ring is close to the circle, notebook 3.3) is not visible here; the
#   paper needs PathX (16,384 steps) to show it.
#
# ### Exercise 7: the radius a 1,024-step memory needs
#
# A mode forgets an impulse like $\lvert\lambda\rvert^k$. Find the smallest
# $\lvert\lambda\rvert$ for which an impulse keeps 1% of its amplitude after $k = 1024$ steps,
# and predict: which of the rings $[0.9, 0.99]$, $[0.99, 0.999]$, $[0.999, 0.9999]$ can solve
# delayed recall over 1,024 tokens? The learning benchmark of the repository trained exactly
# this (`benchmarks/learning.py`, the `signal` experiment, 3 seeds); its results are printed
# below your check.

# %%
memory_radius_yours = None  # your answer
course.check_memory_radius(memory_radius_yours)

# %% tags=["solution"] jupyter={"source_hidden": true}
memory_radius_solution = course.solution("memory_radius")
if memory_radius_solution:
    course.check_memory_radius(memory_radius_solution())

# %%
benchmark = pathlib.Path("../benchmarks/results/learning.json")
signal_runs = (json.loads(benchmark.read_text()).get("signal", {}).get("runs", [])
               if benchmark.exists() else [])
by_ring = {}
for run in signal_runs:
    if run.get("seq_len") == 1024 and abs(run.get("max_phase", 0) - 2 * math.pi) < 1e-6:
        by_ring.setdefault((run["mixer"], run["r_min"], run["r_max"]), []).append(run["test_acc"])
for (mixer, r_min, r_max), accs in sorted(by_ring.items()):
    print(f"{mixer:10s} ring [{r_min}, {r_max}]: test accuracy "
          + ", ".join(f"{a:.3f}" for a in accs) + f"   (chance 0.125, {len(accs)} seeds)")
if not by_ring:
    print(f"(no signal runs over 1,024 tokens in {benchmark})")

# %% [markdown]
# ## Explore
#
# - Make `diag-stable-exp` learn: train it with a larger `lr_factor` (the recurrent learning
#   rate), or with the ring init (that is `diag-ring`). Which one fixes it, and why (3.1)?
# - Make the task longer (`SEQ = 1024`) and train `lru` with the rings of Exercise 7.
# - Replace a rung by any layer of the zoo (`lrux.mixer_names()`: `gru`, `lstm`, `s4d`, `s5`,
#   `rglru`) and place it on the ladder.

# %%
REFERENCE = {  # what `python notebooks/time_notebooks.py 05` saves as the reference run
    "seq": SEQ, "steps": STEPS, "batch": BATCH, "test": TEST, "task": TASK,
    "accuracy": {name: r["accuracy"] for name, r in results.items()},
    "final_train_loss": {name: float(np.mean(r["losses"][-20:])) for name, r in results.items()},
}
