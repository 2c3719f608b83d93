"""The training recipe, field by field: lrux's presets against the paper, S5's run scripts
and s4's LRA configs.

    python benchmarks/recipe_table.py            # print the markdown tables
    python benchmarks/recipe_table.py --write    # replace them in docs/results.md

The source columns are transcriptions (paper.md section 3; lindermanlab/S5
bin/run_experiments/run_lra_*.sh; state-spaces/s4 configs/experiment/lra/s4-*.yaml as read
in shared/docs/reviews/recipe-audit.md); the lrux columns are computed from
`lrux.presets.get_preset`, so the tables cannot drift from the code. `tests/test_presets.py`
asserts that every compared field agrees.
"""

import argparse
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from lrux.presets import TASKS, TRAIN_SIZE, get_preset  # noqa: E402

PI = math.pi
# paper.md section 3 (Table 9, rings from Table 8): depth, H, N, steps, batch, lr factor, wd,
# dropout, (r_min, r_max), max phase, base lr; Pathfinder / PathX bidirectional, PathX half GLU
PAPER = {
    "image": (6, 512, 384, 180_000, 50, 0.25, 0.05, 0.1, (0.9, 0.999), 2 * PI, 0.0045),
    "listops": (6, 128, 256, 80_000, 32, 0.5, 0.05, 0.0, (0.0, 0.99), 2 * PI, 0.003),
    "text": (6, 256, 192, 50_000, 32, 0.1, 0.05, 0.1, (0.5, 0.9), 2 * PI, 0.004),
    "retrieval": (6, 128, 256, 100_000, 64, 0.5, 0.05, 0.1, (0.5, 0.9), 2 * PI, 0.002),
    "pathfinder": (6, 192, 256, 500_000, 64, 0.25, 0.05, 0.0, (0.9, 0.999), 2 * PI, 0.0045),
    "pathx": (6, 128, 256, 250_000, 32, 0.25, 0.05, 0.0, (0.999, 0.9999), PI / 10, 0.0018),
}
# S5 run scripts: n_layers, d_model, ssm_size_base, blocks, bsz, epochs, ssm_lr_base,
# lr_factor, weight_decay, p_dropout, C_init, activation_fn, opt_config (+ dt_global),
# warmup_end (epochs), bn_momentum
S5 = {
    "listops": (8, 128, 16, 8, 50, 40, 0.001, 3, 0.04, 0.0, "lecun_normal", "half_glu2",
                "BfastandCdecay", 1, 0.95),
    "text": (6, 256, 192, 12, 50, 35, 0.001, 4, 0.07, 0.1, "lecun_normal", "half_glu2",
             "standard + dt_global", 0, 0.95),
    "retrieval": (6, 128, 256, 16, 32, 20, 0.001, 2, 0.05, 0.0, "trunc_standard_normal",
                  "half_glu1", "standard + dt_global", 1, 0.95),
    "image": (6, 512, 384, 3, 50, 250, 0.001, 4.5, 0.07, 0.1, "lecun_normal", "half_glu1",
              "BfastandCdecay", 1, 0.95),
    "pathfinder": (6, 192, 256, 8, 64, 200, 0.0009, 5, 0.03, 0.05, "trunc_standard_normal",
                   "half_glu1", "standard", 1, 0.9),
    "pathx": (6, 128, 256, 16, 32, 75, 0.0006, 3, 0.06, 0.0, "complex_normal", "half_glu1",
              "BandCdecay", 1, 0.9),
}
S5_GROUPS = {
    "standard": {}, "standard + dt_global": {"log_dt": "decay"},
    "BfastandCdecay": {"B_re": "decay", "B_im": "decay"},
    "BandCdecay": {"B_re": "recurrent_decay", "B_im": "recurrent_decay"},
}
GLU_NAMES = {"half_glu1": "half", "half_glu2": "half2"}
# s4 LRA configs (S4D era): n_layers, d_model, N, dropout, lr, batch, epochs, wd, prenorm;
# bidirectional everywhere, full GLU, tied dropout, no wd on norms/biases/embedding;
# PathX dt_min 1e-4
S4 = {
    "listops": (8, 128, 64, 0.0, 0.01, 50, 40, 0.05, False),
    "text": (6, 256, 64, 0.0, 0.01, 16, 32, 0.05, True),
    "retrieval": (6, 256, 64, 0.0, 0.01, 64, 20, 0.05, True),
    "image": (6, 512, 64, 0.1, 0.01, 50, 200, 0.05, False),
    "pathfinder": (6, 256, 64, 0.0, 0.004, 64, 200, 0.05, True),
    "pathx": (6, 256, 64, 0.0, 0.0005, 16, 50, 0.05, True),
}


def lru_rows(task: str) -> list[tuple[str, object, object]]:
    """(field, source value, lrux value) for the LRU paper preset of `task`."""
    d, h, n, steps, bs, factor, wd, drop, ring, phase, lr = PAPER[task]
    p = get_preset(task, "lru", "paper")
    o = p.mixer_options
    return [
        ("depth", d, p.depth), ("d_model", h, p.d_model), ("d_state", n, p.d_state),
        ("steps", steps, p.steps), ("batch", bs, p.batch_size), ("lr", lr, p.lr),
        ("lr_factor", factor, p.lr_factor), ("weight_decay", wd, p.weight_decay),
        ("dropout", drop, p.dropout), ("ring", ring, (o["r_min"], o["r_max"])),
        ("max_phase", round(phase, 6), round(o["max_phase"], 6)),
        ("bidirectional", task in ("pathfinder", "pathx"), p.bidirectional),
        ("glu", "half" if task == "pathx" else "full", p.glu),
        ("warmup_frac", 0.1, p.warmup_frac), ("min_lr", 1e-7, p.min_lr),
    ]


def s5_rows(task: str) -> list[tuple[str, object, object]]:
    (layers, h, P, blocks, bs, epochs, ssm_lr, factor, wd, drop, c_init, act, opt, warm,
     bn) = S5[task]
    p = get_preset(task, "s5", "paper")
    steps = epochs * TRAIN_SIZE[task] // bs
    return [
        ("depth", layers, p.depth), ("d_model", h, p.d_model), ("d_state (P)", P, p.d_state),
        ("blocks (J)", blocks, p.mixer_options["blocks"]), ("batch", bs, p.batch_size),
        ("steps (epochs x train / batch)", steps, p.steps),
        ("global lr (ssm_lr x lr_factor)", round(ssm_lr * factor, 8), round(p.lr, 8)),
        ("ssm lr", ssm_lr, round(p.lr * p.lr_factor, 8)), ("weight_decay", wd, p.weight_decay),
        ("dropout", drop, p.dropout), ("C_init", c_init, p.mixer_options["c_init"]),
        ("activation", GLU_NAMES[act], p.glu),
        ("opt_config -> param_groups", S5_GROUPS[opt], p.param_groups),
        ("warmup (epochs)", warm, round(p.warmup_frac * p.steps / (TRAIN_SIZE[task] // bs), 6)),
        ("bn_momentum", bn, p.bn_momentum), ("bidirectional", "S5's own", p.combine == "shared"
                                              and p.bidirectional and "S5's own"),
        ("evaluation", "every epoch", "every epoch" if p.eval_every == 0 else p.eval_every),
    ]


def s4d_rows(task: str) -> list[tuple[str, object, object]]:
    depth, h, n, drop, lr, bs, epochs, wd, prenorm = S4[task]
    p = get_preset(task, "s4d", "paper")
    return [
        ("depth", depth, p.depth), ("d_model", h, p.d_model), ("N", n, p.d_state),
        ("dropout", drop, p.dropout), ("lr", lr, p.lr), ("batch", bs, p.batch_size),
        ("steps", epochs * TRAIN_SIZE[task] // bs, p.steps), ("weight_decay", wd, p.weight_decay),
        ("prenorm", prenorm, p.prenorm), ("bidirectional", True, p.bidirectional),
        ("glu", "full", p.glu), ("tied dropout", True, p.dropout_tied),
        ("no wd on norms / biases / embedding", True, not p.decay_norm_bias),
        ("dt_min", 0.0001 if task == "pathx" else 0.001,
         p.mixer_options.get("dt_min", 0.001)),
        ("A, B, dt lr", min(lr, 0.001), round(p.lr * p.lr_factor, 8)),
    ]


TABLES = {
    "LRU (Table 9 of the paper)": lru_rows,
    "S5 (the S5 authors' run scripts)": s5_rows,
    "S4D (s4's LRA configs, S4D era)": s4d_rows,
}


def mismatches() -> list[str]:
    """Every compared field where lrux differs from its source."""
    out = []
    for name, rows in TABLES.items():
        for task in TASKS:
            out += [f"{name} {task} {f}: {a!r} vs {b!r}" for f, a, b in rows(task) if a != b]
    return out


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {g}" for k, g in v.items()) or "standard"
    return str(v)


def markdown() -> str:
    parts = []
    for name, rows in TABLES.items():
        fields = [f for f, _, _ in rows(TASKS[0])]
        parts.append(f"#### {name}\n\nEach cell: source / lrux (**bold** where they differ).\n")
        parts.append("| field | " + " | ".join(TASKS) + " |")
        parts.append("|---|" + "---|" * len(TASKS))
        cells = {t: rows(t) for t in TASKS}
        for i, f in enumerate(fields):
            row = []
            for t in TASKS:
                _, a, b = cells[t][i]
                text = _fmt(a) if a == b else f"**{_fmt(a)} / {_fmt(b)}**"
                row.append(text)
            parts.append(f"| {f} | " + " | ".join(row) + " |")
        parts.append("")
    return "\n".join(parts)


BEGIN, END = "<!-- recipe-table:begin -->", "<!-- recipe-table:end -->"


def write(path: str) -> None:
    text = open(path).read()
    block = f"{BEGIN}\n{markdown()}\n{END}"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text,
                      flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="update docs/results.md in place")
    args = ap.parse_args()
    if args.write:
        write(os.path.join(ROOT, "docs", "results.md"))
    else:
        print(markdown())
    bad = mismatches()
    for m in bad:
        print("differs:", m, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
