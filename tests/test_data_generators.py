"""ListOps and Pathfinder generators: format, labels from independent evaluators, bounds,
determinism, label balance and the absence of a linear shortcut."""

import os

import numpy as np
import pytest
from PIL import Image

import lrux.data as D

# ----------------------------------------------------------------------------- ListOps


def parse_pairs(tokens, pos=0):
    """Parse the release's pair grammar: X := leaf | '(' X X ')'. Returns (node, next pos)."""
    tok = tokens[pos]
    if tok == "(":
        left, pos = parse_pairs(tokens, pos + 1)
        right, pos = parse_pairs(tokens, pos)
        assert tokens[pos] == ")", f"expected ')' at {pos}"
        return (left, right), pos + 1
    assert tok != ")"
    return tok, pos + 1


def flatten(node):
    if isinstance(node, str):
        return [node]
    return flatten(node[0]) + flatten(node[1])


def oracle_value(tokens):
    """Evaluate prefix tokens '[OP a b ... ]' recursively (independent of lrux)."""
    def ev(i):
        tok = tokens[i]
        if tok.isdigit():
            return int(tok), i + 1
        assert tok in ("[MIN", "[MAX", "[MED", "[SM"), tok
        args, i = [], i + 1
        while tokens[i] != "]":
            v, i = ev(i)
            args.append(v)
        assert len(args) >= 2
        if tok == "[MIN":
            r = min(args)
        elif tok == "[MAX":
            r = max(args)
        elif tok == "[SM":
            r = sum(args) % 10
        else:
            a = sorted(args)
            m = len(a) // 2
            r = a[m] if len(a) % 2 else int((a[m - 1] + a[m]) / 2)
        return r, i + 1
    v, end = ev(0)
    assert end == len(tokens)
    return v


def read_release_tsv(path):
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.split(b"\r\n")
    assert lines[0] == b"Source\tTarget" and lines[-1] == b""
    return [tuple(ln.decode().split("\t")) for ln in lines[1:-1]]


@pytest.fixture(scope="module")
def small_listops(tmp_path_factory):
    out = tmp_path_factory.mktemp("listops")
    D.generate_listops(out, train=150, val=20, test=20, seed=5, min_length=20,
                       max_length=100, workers=1, progress=False)
    return out


def test_listops_format_labels_and_bounds(small_listops):
    seen = set()
    for split, n in (("train", 150), ("val", 20), ("test", 20)):
        rows = read_release_tsv(small_listops / "listops-1000" / f"basic_{split}.tsv")
        assert len(rows) == n
        for src, target in rows:
            tokens = src.split()
            tree, end = parse_pairs(tokens)
            assert end == len(tokens) and isinstance(tree, tuple)
            flat = flatten(tree)
            assert flat[-1] == "]" and flat[0].startswith("[")
            assert 20 < len(flat) < 100
            assert int(target) == oracle_value(flat)
            seen.add(src)
    assert len(seen) == 190  # deduplicated across splits


def test_listops_deterministic_and_worker_independent(small_listops, tmp_path):
    D.generate_listops(tmp_path / "a", train=150, val=20, test=20, seed=5, min_length=20,
                       max_length=100, workers=2, progress=False)
    D.generate_listops(tmp_path / "b", train=150, val=20, test=20, seed=6, min_length=20,
                       max_length=100, workers=1, progress=False)
    for split in ("train", "val", "test"):
        name = f"listops-1000/basic_{split}.tsv"
        ref = (small_listops / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() == ref
        assert (tmp_path / "b" / name).read_bytes() != ref


def test_listops_default_lengths_and_loader(tmp_path):
    D.generate_listops(tmp_path, train=12, val=2, test=2, seed=0, workers=1, progress=False)
    rows = read_release_tsv(tmp_path / "listops-1000" / "basic_train.tsv")
    for src, target in rows:
        flat = [t for t in src.split() if t not in "()"]
        assert 500 < len(flat) < 2000 and int(target) == oracle_value(flat)
    s = D.load_split("listops", "train", tmp_path, progress=False)
    assert len(s) == 12
    for i, (src, _) in enumerate(rows):
        n = sum(t not in "()" for t in src.split())
        assert s.lengths[i] == n and s.inputs[i, n - 1] == 15 and s.inputs[i, n] == 0


def test_listops_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="min_length"):
        D.generate_listops(tmp_path, min_length=100, max_length=50)
    with pytest.raises(ValueError, match="train="):
        D.generate_listops(tmp_path, train=-1)


# ----------------------------------------------------------------------------- Pathfinder

NUM = 360
PER_FOLDER = 150


@pytest.fixture(scope="module")
def small_pathfinder(tmp_path_factory):
    out = tmp_path_factory.mktemp("pf")
    sub = D.generate_pathfinder(out, 32, 14, NUM, seed=3, workers=2, per_folder=PER_FOLDER,
                                progress=False)
    meta = {}
    for k in range(3):
        with open(os.path.join(sub, "metadata", f"{k}.npy")) as f:
            meta[k] = [ln.split() for ln in f.read().splitlines()]
    return out, sub, meta


def test_pathfinder_layout_and_format(small_pathfinder):
    out, sub, meta = small_pathfinder
    assert sub == os.path.join(out, "pathfinder32", "curv_contour_length_14")
    assert sorted(os.listdir(os.path.join(sub, "metadata"))) == ["0.npy", "1.npy", "2.npy"]
    assert [len(meta[k]) for k in range(3)] == [150, 150, 60]
    for k, lines in meta.items():
        for i, f in enumerate(lines):
            assert len(f) == 11
            assert f[:3] == [f"imgs/{k}", f"sample_{i}.png", str(i)] and f[3] in ("0", "1")
            assert f[5] == "14" and f[6] == "4"  # contour length, distractor length
            if i % 50 == 0:
                with Image.open(os.path.join(sub, f[0], f[1])) as im:
                    assert im.format == "PNG" and im.mode == "L" and im.size == (32, 32)
                    a = np.asarray(im)
                assert a.max() == 255 and 0.02 < (a > 0).mean() < 0.6  # markers + paddles


def test_pathfinder_label_balance(small_pathfinder):
    _, _, meta = small_pathfinder
    labels = np.array([int(f[3]) for lines in meta.values() for f in lines])
    # Binomial(360, 0.5): sd = 9.5; 4 sd bound
    assert abs(labels.sum() - NUM / 2) < 4 * np.sqrt(NUM / 4)


def test_pathfinder_deterministic_by_seed(small_pathfinder, tmp_path):
    _, sub, _ = small_pathfinder
    same = D.generate_pathfinder(tmp_path / "a", 32, 14, 6, seed=3, workers=1,
                                 per_folder=PER_FOLDER, progress=False)
    other = D.generate_pathfinder(tmp_path / "b", 32, 14, 6, seed=4, workers=1,
                                  per_folder=PER_FOLDER, progress=False)
    differ = 0
    for i in range(6):
        rel = os.path.join("imgs", "0", f"sample_{i}.png")
        ref = np.asarray(Image.open(os.path.join(sub, rel)))
        np.testing.assert_array_equal(np.asarray(Image.open(os.path.join(same, rel))), ref)
        differ += not np.array_equal(np.asarray(Image.open(os.path.join(other, rel))), ref)
    assert differ >= 5


def _logreg_cv_accuracy(X, y, lam=1e-2, folds=5):
    """5-fold accuracy of L2 logistic regression (scipy L-BFGS) on standardised features."""
    from scipy.optimize import minimize

    idx = np.random.default_rng(0).permutation(len(y))
    correct = 0
    for k in range(folds):
        te = idx[k::folds]
        tr = np.setdiff1d(idx, te)
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-6
        A = np.c_[(X[tr] - mu) / sd, np.ones(len(tr))]
        B = np.c_[(X[te] - mu) / sd, np.ones(len(te))]

        def f(w, A=A, t=y[tr]):
            z = A @ w
            p = 1 / (1 + np.exp(-z))
            loss = np.mean(np.logaddexp(0, z) - t * z) + lam * w[:-1] @ w[:-1]
            g = A.T @ (p - t) / len(t)
            g[:-1] += 2 * lam * w[:-1]
            return loss, g

        w = minimize(f, np.zeros(A.shape[1]), jac=True, method="L-BFGS-B",
                     options={"maxiter": 300}).x
        correct += np.sum((B @ w > 0) == y[te])
    return correct / len(y)


def test_pathfinder_has_no_linear_shortcut(small_pathfinder):
    out, _, _ = small_pathfinder
    splits = [D.load_split("pathfinder", k, out, progress=False, workers=1)
              for k in ("train", "val", "test")]
    X = np.concatenate([s.inputs[..., 0] for s in splits]).astype(np.float64) / 255
    y = np.concatenate([s.labels for s in splits]).astype(np.float64)
    assert [len(s) for s in splits] == [288, 36, 36]
    acc = _logreg_cv_accuracy(X, y)
    # chance is 0.5; with 360 held-out predictions sd ~ 0.026
    assert acc < 0.62, acc
    # pixel statistics do not tell the label either
    stats = np.c_[X.sum(1), (X > 0.9).sum(1), (X > 0).sum(1)]
    assert _logreg_cv_accuracy(stats, y, lam=1e-4) < 0.62
    # the same probe does find a planted shortcut (a faint 16-pixel strip for label 1)
    leaky = X.copy()
    leaky[:, :16] += 0.3 * y[:, None]
    assert _logreg_cv_accuracy(leaky, y) > 0.9


def test_pathx_image_and_bad_arguments(tmp_path):
    sub = D.generate_pathfinder(tmp_path, 128, 14, 2, seed=0, workers=1, progress=False)
    assert sub.endswith(os.path.join("pathfinder128", "curv_contour_length_14"))
    with Image.open(os.path.join(sub, "imgs", "0", "sample_1.png")) as im:
        assert im.size == (128, 128) and im.mode == "L"
    assert D.data_present("pathx", tmp_path)
    with pytest.raises(ValueError, match="size="):
        D.generate_pathfinder(tmp_path, 48, 14, 2)
    with pytest.raises(ValueError, match="difficulty="):
        D.generate_pathfinder(tmp_path, 32, 10, 2)


def test_cli_generate_and_inspect(tmp_path, capsys):
    from lrux.data.__main__ import main

    assert main(["generate", "listops", "--out", str(tmp_path), "--train", "8", "--val", "2",
                 "--test", "2", "--min-length", "10", "--max-length", "40",
                 "--workers", "1"]) == 0
    assert main(["inspect", "listops", "--data-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "listops train: n=8" in text and "listops test: n=2" in text
    assert main(["inspect", "text", "--data-dir", str(tmp_path)]) == 2
    assert "aclImdb" in capsys.readouterr().err
