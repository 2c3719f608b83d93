"""Where a ListOps model stands: per-class accuracy, and loss and accuracy by expression depth
and by top-level operator, against two rules that read no more than the label prior and
the first operator.

    python benchmarks/listops_diagnose.py RUN_DIR [--step N] [--split test] [--out JSON]

The model is the run's best checkpoint (or `--step`), loaded with `lrux.train.load_model`
and evaluated in inference mode. The rules are fitted on the training split: "majority"
always answers its most frequent label; "top operator" answers the most frequent label
among training expressions with the same outermost operator (MIN, MAX, MED, SM). A model
above the second rule uses more of the expression than its first token.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lrux.data.listops import OPERATORS, TOKEN_IDS  # noqa: E402

OPERATOR_IDS = [TOKEN_IDS[o] for o in OPERATORS]
CLOSE_ID = TOKEN_IDS["]"]


def depths(inputs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The deepest operator nesting of each expression (a lone value has depth 0)."""
    opens = np.isin(inputs, OPERATOR_IDS).astype(np.int32)
    closes = (inputs == CLOSE_ID).astype(np.int32)
    level = np.cumsum(opens - closes, axis=1)
    mask = np.arange(inputs.shape[1])[None] < lengths[:, None]
    return np.max(np.where(mask, level, 0), axis=1)


def top_operator(inputs: np.ndarray) -> np.ndarray:
    """The index (into OPERATORS) of each expression's outermost operator, -1 for none."""
    first = inputs[:, 0]
    return np.array([OPERATOR_IDS.index(t) if t in OPERATOR_IDS else -1 for t in first])


def predict(run_dir: str, split, step: int | None, batch: int = 64):
    """(logits, labels) of every example of `split` under the run's model."""
    import jax

    from lrux.data import bucket_length
    from lrux.models import batched_apply
    from lrux.train import load_model

    model, bn_state = load_model(run_dir, step=step) if step else load_model(run_dir)
    apply = jax.jit(lambda x, n: batched_apply(model, bn_state, x, n, key=None,
                                               inference=True)[0])
    out = []
    x_all, n_all = np.asarray(split.inputs), np.asarray(split.lengths)
    for i in range(0, len(n_all), batch):
        n = n_all[i:i + batch]
        length = bucket_length(int(n.max()), x_all.shape[1], 256)
        out.append(np.asarray(apply(x_all[i:i + batch, :length].astype(np.int32),
                                    n.astype(np.int32))))
    return np.concatenate(out), np.asarray(split.labels)


def _rate(hit: np.ndarray) -> float | None:
    return float(hit.mean()) if hit.size else None


def diagnose(run_dir: str, split_name: str = "test", step: int | None = None) -> dict:
    from lrux.data import load_split

    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    data_dir = config["data_dir"]
    train = load_split("listops", "train", data_dir, progress=False)
    split = load_split("listops", split_name, data_dir, progress=False)
    logits, labels = predict(run_dir, split, step)
    shifted = logits - logits.max(1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    loss = -logp[np.arange(len(labels)), labels]
    pred = logits.argmax(1)
    hit = pred == labels
    x, n = np.asarray(split.inputs), np.asarray(split.lengths)
    depth, op = depths(x, n), top_operator(x)
    train_labels, train_op = np.asarray(train.labels), top_operator(np.asarray(train.inputs))
    majority = int(np.bincount(train_labels, minlength=10).argmax())
    by_op_rule = {k: int(np.bincount(train_labels[train_op == k], minlength=10).argmax())
                  for k in range(len(OPERATORS)) if np.any(train_op == k)}
    rule = np.array([by_op_rule.get(k, majority) for k in op])
    return {
        "run_dir": run_dir, "split": split_name, "examples": int(len(labels)),
        "accuracy": float(hit.mean()), "loss": float(loss.mean()),
        "rules": {"majority": _rate(labels == majority),
                  "top_operator": _rate(labels == rule)},
        "per_class": {str(c): {"count": int(np.sum(labels == c)),
                               "recall": _rate(hit[labels == c]),
                               "predicted": int(np.sum(pred == c))} for c in range(10)},
        "by_depth": {str(d): {"count": int(np.sum(depth == d)),
                              "accuracy": _rate(hit[depth == d]),
                              "loss": float(loss[depth == d].mean())}
                     for d in np.unique(depth)},
        "by_top_operator": {OPERATORS[k]: {"count": int(np.sum(op == k)),
                                           "accuracy": _rate(hit[op == k]),
                                           "rule_accuracy": _rate((labels == rule)[op == k]),
                                           "loss": float(loss[op == k].mean())}
                            for k in range(len(OPERATORS)) if np.any(op == k)},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--step", type=int)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--out")
    args = p.parse_args(argv)
    res = diagnose(args.run_dir, args.split, args.step)
    print(f"{args.split}: accuracy {res['accuracy']:.3f}, loss {res['loss']:.3f}; rules: "
          f"majority {res['rules']['majority']:.3f}, top operator "
          f"{res['rules']['top_operator']:.3f}")
    for name, table in (("top operator", res["by_top_operator"]), ("depth", res["by_depth"])):
        for key, row in table.items():
            extra = (f", rule {row['rule_accuracy']:.3f}" if "rule_accuracy" in row else "")
            print(f"  {name} {key}: n={row['count']}, accuracy {row['accuracy']:.3f}, loss "
                  f"{row['loss']:.3f}{extra}")
    print("  per class (recall / predicted): " + ", ".join(
        f"{c}: {r['recall'] or 0:.2f}/{r['predicted']}" for c, r in res["per_class"].items()))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
