"""ListOps and Pathfinder generators: format, labels from independent evaluators, bounds,
determinism, label balance, Pathfinder's geometry (LRA's two-target design) and the
absence of a linear or contour-count shortcut."""

import os

import numpy as np
import pytest
from data_fixtures import snapshot, write_listops, write_pathfinder, write_png
from PIL import Image

import lrux.data as D
from lrux.errors import DataError

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
    with pytest.raises(DataError, match="min_length"):
        D.generate_listops(tmp_path, min_length=100, max_length=50)
    with pytest.raises(DataError, match="train="):
        D.generate_listops(tmp_path, train=-1)
    with pytest.raises(DataError, match="workers=0"):
        D.generate_listops(tmp_path, workers=0)  # not silently one worker
    assert os.listdir(tmp_path) == []


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


def _gaps(segs1, segs2) -> np.ndarray:
    """(S1, S2) smallest distances between segments, from 41 points along each (an oracle
    independent of the generator's own distance code)."""
    t = np.linspace(0.0, 1.0, 41)[None, :, None]
    p = [np.asarray([s[k] for s in segs])[:, None] for segs in (segs1, segs2) for k in (0, 1)]
    a, b = p[0] + (p[1] - p[0]) * t, p[2] + (p[3] - p[2]) * t  # (S, 41, 2)
    d = np.linalg.norm(a[:, None, :, None] - b[None, :, None, :], axis=-1)
    return d.min(axis=(2, 3))


def _geometries(size, difficulty, n):
    from lrux.data.pathfinder import draw_geometry

    return [draw_geometry(size, difficulty, np.random.default_rng([7, size, difficulty, i]))
            for i in range(n)]


@pytest.mark.parametrize("difficulty", [6, 14])
def test_pathfinder_two_full_length_targets_as_in_lra(difficulty):
    """LRA's design: two targets of `difficulty` paddles each (the old split design had
    one path of `difficulty` paddles, halved for label 0), origins seed_distance apart, the
    first inside 2 x seed_distance of every border, distractors of difficulty // 3."""
    from lrux.data.pathfinder import PARAMS

    p = PARAMS[32]
    for g in _geometries(32, difficulty, 8):
        assert [len(t) for t in g.targets] == [difficulty, difficulty]
        assert len(g.distractors) == p.distractor_budget // (difficulty // 3)
        assert all(len(d) == difficulty // 3 for d in g.distractors)
        o0, o1 = g.origins()
        snap = np.sqrt(0.5)  # paddles start on the nearest pixel centre
        assert (o0 == np.rint(o0)).all() and (o1 == np.rint(o1)).all()
        assert abs(np.linalg.norm(o0 - o1) - p.seed_distance) <= 2 * snap + 1e-9
        lo, hi = 2 * p.seed_distance - 0.75, 31 - 2 * p.seed_distance + 0.75
        for q in g.targets[0][0]:  # the first paddle, both ends
            assert (q >= lo).all() and (q <= hi).all()
        for c in g.targets + g.distractors:
            for a, b in c:
                assert abs(np.linalg.norm(b - a) - p.paddle_length) < 1e-9
            # as the release's: integer coordinates for the first paddle's start and every
            # later paddle's far end
            assert (c[0][0] == np.rint(c[0][0])).all()
            assert all((b == np.rint(b)).all() for _, b in c[1:])  # set exactly
            for (_, b), (c2, _) in zip(c, c[1:], strict=False):
                # the dash gap: one margin to the pivot (rounded up to the pixel grid: up to
                # sqrt 2 more), one margin on (the far end rounded: within sqrt 1/2)
                gap = np.linalg.norm(c2 - b)
                assert 0.0 < gap <= 2 * g.margin + np.sqrt(2) + snap + 1e-9


@pytest.mark.parametrize("size", [32, 128])
def test_pathfinder_contours_never_touch(size):
    """Distractors keep off the targets, the targets off each other and off themselves
    (but for neighbouring paddles), and nothing runs under a marker: centre lines at least
    thickness + margin apart (an ink gap of one margin); ends keep marker radius + margin."""
    from lrux.data.pathfinder import PARAMS

    p = PARAMS[size]
    for g in _geometries(size, 14, 6 if size == 32 else 2):
        near = p.thickness + g.margin
        t0, t1 = g.targets
        others = [s for d in g.distractors for s in d]
        assert _gaps(t0, t1).min() >= near
        assert _gaps(t0 + t1, others).min() >= near
        for t in (t0, t1):
            assert (np.triu(_gaps(t, t), 2) + np.tril(np.full((14, 14), np.inf), 1)).min() >= near
        keep = p.marker_radius + g.margin + p.thickness / 2 - 0.5  # - stamp rounding
        for k, end in enumerate(g.origins() + g.terminals()):
            own = g.targets[k % 2]
            rest = others + g.targets[1 - k % 2] + own[1:-1]
            assert _gaps([(end, end)], rest).min() >= keep


def test_pathfinder_markers_on_the_ends_the_label_says():
    """draw_image marks the origin of a random target and the far end of the same target
    (label 1) or of the other (label 0); the image's two brightest blobs sit there."""
    from scipy import ndimage

    from lrux.data.pathfinder import PARAMS, draw_geometry, draw_image, render

    firsts = set()
    for i in range(10):
        label = i % 2
        img, margin = draw_image(32, 14, label, np.random.default_rng(i))
        rng = np.random.default_rng(i)  # the same draws, step by step
        g = draw_geometry(32, 14, rng)
        first = int(rng.integers(0, 2))
        firsts.add(first)
        m = g.markers(label, first)
        np.testing.assert_array_equal(img, render(PARAMS[32], g, m))
        ends = [g.origins(), g.terminals()]
        assert np.array_equal(m[0], ends[0][first])
        assert np.array_equal(m[1], ends[1][first if label else 1 - first])
        lab, k = ndimage.label(img >= 250)
        centres = ndimage.center_of_mass(img >= 250, lab, range(1, k + 1))
        for c in m:  # (x, y) marker, (row, col) blob
            assert min(np.hypot(c[0] - cc[1], c[1] - cc[0]) for cc in centres) < 0.75
    assert firsts == {0, 1}


def test_pathfinder_paddles_as_bright_as_the_release_settings(small_pathfinder):
    """Paddles at the release's contrast (2 x 0.75 against markers at 1, then scaled to a
    maximum of 255): the brightest tenth of the ink off the markers is above 120 of 255
    (the old lrux images, contrast 0.75 without the scaling, had ~104)."""
    _, sub, meta = small_pathfinder
    ink = []
    for f in meta[0][:40]:
        with Image.open(os.path.join(sub, f[0], f[1])) as im:
            a = np.asarray(im).astype(int)
        assert a.max() == 255
        ink.append(a[(a > 10) & (a < 250)])
    assert np.percentile(np.concatenate(ink), 90) > 120


@pytest.mark.parametrize("size", [32, 128])
def test_pathfinder_paddles_are_sharp_dashes_on_the_pixel_grid(size):
    """As the release draws them (its paddles sit on integer pixels, each downsampled on its
    own): a horizontal paddle at size 32 is one row of ink, three pixels long, peak 0.6-0.9
    of a marker (the release's: 0.60 / 0.79 / 0.68); no paddle at any heading outshines a
    marker; and a whole image is the maximum of its paddles' patches where they sit."""
    from lrux.data.pathfinder import _ANGLES, PARAMS, Geometry, _paddle_patch, render

    p = PARAMS[size]
    k, flat = _paddle_patch(0, p)
    if size == 32:
        row = flat[k]
        assert flat.sum() - row.sum() < 0.05 * row.sum()
        assert (row > 0.5).sum() == 3 and 0.6 <= row.max() <= 0.9
    assert max(_paddle_patch(q, p)[1].max() for q in range(_ANGLES)) < 1.0
    # one paddle from (x, y) = (16, 18) heading +x, a marker far off: there the image is
    # the paddle's patch (to rounding), scaled as the marker's maximum goes to 255
    seg = (np.array([16.0, 18.0]), np.array([16.0 + p.paddle_length, 18.0]))
    img = render(p, Geometry([[seg]], [], 1.0), [np.array([3.0, 3.0])]).astype(float)
    want = np.zeros((size, size))
    want[18 - k:18 + k + 1, 16 - k:16 + k + 1] = flat
    got, want = img[10:, 10:], want[10:, 10:]
    assert img.max() == 255 and 0.5 * 255 <= got.max() < 255
    assert np.abs(got - want * got.max() / want.max()).max() <= 1.0


def test_pathfinder_no_contour_count_or_length_cue(small_pathfinder):
    """Total ink, component counts and the largest components (ink joined by 0-2 px) do
    not tell the label (the old split design: only label 1 held a contour longer than
    difficulty / 2 paddles)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_data", os.path.join(os.path.dirname(__file__), "..", "benchmarks",
                                   "bench_data.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out, _, _ = small_pathfinder
    X, y = bench.load_pathfinder_pixels(out)
    comp = bench.component_features(X, 32)
    # 360 out-of-fold predictions: chance 0.5, sd 0.026
    assert np.mean(bench.cv_predictions(comp, y, bench.logreg(1e-4)) == y) < 0.62
    assert np.mean(bench.cv_predictions(comp, y, bench.best_threshold) == y) < 0.62


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


# ----------------------------------------------------------------------------- integrity

SHORT = dict(train=30, val=4, test=4, seed=1, min_length=10, max_length=40, workers=1,
             progress=False)
PF = dict(size=32, difficulty=14, num=12, seed=2, workers=1, per_folder=4, progress=False)


def _files(root) -> dict:
    """`snapshot`, with the marker's completion time taken out."""
    import json

    out = snapshot(root)
    for k, v in out.items():
        if k.endswith("lrux_generated.json"):
            marker = json.loads(v)
            assert marker.pop("completed")
            out[k] = marker
    return out


def _user_sets(root):
    """Partial and foreign data a user might have where a generator writes."""
    lo = root / "lo" / "listops-1000"
    lo.mkdir(parents=True)
    (lo / "basic_train.tsv").write_bytes(b"Source\tTarget\r\nmy own\t1\r\n")
    (lo / "notes.txt").write_text("mine")
    pf = root / "pf" / "pathfinder32" / "curv_contour_length_14" / "imgs" / "0"
    pf.mkdir(parents=True)
    (pf / "sample_0.png").write_bytes(b"\x89PNG not really")
    px = root / "px" / "pathfinder128" / "curv_contour_length_14" / "metadata"
    px.mkdir(parents=True)
    (px / "0.npy").write_text("imgs/0 sample_0.png 0 1\n")
    return root / "lo", root / "pf", root / "px"


def test_generators_never_write_into_non_empty_folders(tmp_path):
    lo, pf, px = _user_sets(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(DataError, match=r"listops-1000 is not empty \(files lrux did not "
                                        r"write: it holds basic_train\.tsv, notes\.txt; "
                                        r"missing basic_val\.tsv, basic_test\.tsv\)"):
        D.generate_listops(lo, **SHORT)
    with pytest.raises(DataError, match=r"curv_contour_length_14 is not empty .*holds imgs; "
                                        r"missing metadata"):
        D.generate_pathfinder(pf, **PF)
    with pytest.raises(DataError, match=r"holds metadata; missing imgs"):
        D.generate_pathfinder(px, **{**PF, "size": 128, "num": 1})
    for d in (lo, pf, px):  # nor does ensure_data: it names what is missing
        task = {lo: "listops", pf: "pathfinder", px: "pathx"}[d]
        with pytest.raises(DataError, match="incomplete: .*missing"):
            D.ensure_data(task, d, generate={"workers": 1, "progress": False})
    assert snapshot(tmp_path) == before  # byte-identical, nothing added
    # a complete generated set is not regenerated over either
    D.generate_listops(tmp_path / "ok", **SHORT)
    done = snapshot(tmp_path / "ok")
    with pytest.raises(DataError, match="not empty .an lrux-generated set"):
        D.generate_listops(tmp_path / "ok", **SHORT)
    assert snapshot(tmp_path / "ok") == done
    (tmp_path / "empty" / "listops-1000").mkdir(parents=True)  # an empty folder is fine
    D.generate_listops(tmp_path / "empty", **SHORT)
    assert _files(tmp_path / "empty") == _files(tmp_path / "ok")


def test_marker_records_the_generation(tmp_path):
    import json

    paths = D.generate_listops(tmp_path, **SHORT)
    folder = os.path.dirname(paths["train"])
    marker = json.loads(open(os.path.join(folder, "lrux_generated.json")).read())
    assert marker["generator"] == "listops" and marker["seed"] == 1
    assert marker["counts"] == {"train": 30, "val": 4, "test": 4}
    assert marker["options"]["max_length"] == 40 and marker["lrux_version"]
    assert len(marker["code"]) == 16  # which generator code made the set
    assert marker["files"]["basic_train.tsv"] == os.path.getsize(paths["train"])
    assert sorted(os.listdir(tmp_path)) == ["listops-1000"]  # no partial folder left


def _run_killed(code: str, tmp_path):
    """Run `code` in a fresh interpreter that dies (os._exit) at the injected point."""
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(D.__file__)))
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=repo),
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 9, proc.stderr


def test_listops_killed_mid_write_leaves_nothing_loadable(tmp_path):
    _run_killed(f"""
import os, lrux.data as D, lrux.data.listops as L
real = L._write_split
def dying(path, items):
    real(path, items[: len(items) // 2])
    os._exit(9)  # killed half-way through writing the first split
L._write_split = dying
D.generate_listops('out', **{SHORT!r})
""", tmp_path)
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == [".listops-1000.partial"]
    status = D.data_status("listops", out)
    assert status.state == "absent" and "a generation was interrupted" in status.message
    with pytest.raises(DataError, match="a generation was interrupted there .*Finish it with "
                       "the same command: python -m lrux.data generate listops .*--train 30 "
                       ".*; or remove it: rm -r .*listops-1000.partial"):
        D.load_split("listops", "train", out, progress=False)
    D.generate_listops(out, **SHORT)  # the same arguments again: a clean restart
    D.generate_listops(tmp_path / "ref", **SHORT)
    assert _files(out) == _files(tmp_path / "ref")
    assert len(D.load_split("listops", "train", out, progress=False)) == 30


def test_pathfinder_killed_midway_resumes_to_identical_files(tmp_path, monkeypatch):
    _run_killed(f"""
import os, lrux.data as D, lrux.data.pathfinder as P
real, done = P._write_metadata, []
def dying(base, folder, parts):
    real(base, folder, parts)
    done.append(folder)
    if len(done) == 2:
        os._exit(9)  # killed after two of three folders
P._write_metadata = dying
D.generate_pathfinder('out', **{PF!r})
""", tmp_path)
    out = tmp_path / "out"
    assert not D.data_present("pathfinder", out)
    with pytest.raises(DataError, match="no complete data .*a generation was interrupted.*"
                       "--num 12 --seed 2 --per-folder 4"):
        D.load_split("pathfinder", "train", out, progress=False, workers=1)
    import lrux.data.pathfinder as P

    drawn = []
    real = P._work
    monkeypatch.setattr(P, "_work", lambda t: drawn.append(t[4]) or real(t))
    D.generate_pathfinder(out, **PF)  # resumes: only the unfinished folder is drawn
    assert drawn == [2]
    D.generate_pathfinder(tmp_path / "ref", **PF)
    got = _files(out)
    assert got == _files(tmp_path / "ref") and len(got) == 12 + 3 + 1
    assert len(D.load_split("pathfinder", "train", out, progress=False, workers=1)) == 9


def test_failed_generation_with_other_options_restarts(tmp_path, monkeypatch):
    import lrux.data.pathfinder as P

    real, calls = P._write_metadata, []

    def failing(base, folder, parts):
        calls.append(folder)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(base, folder, parts)

    monkeypatch.setattr(P, "_write_metadata", failing)
    with pytest.raises(OSError, match="No space"):
        D.generate_pathfinder(tmp_path, **PF)
    monkeypatch.setattr(P, "_write_metadata", real)
    assert not D.data_present("pathfinder", tmp_path)
    with pytest.warns(D.DataWarning, match="had other options.*starting again"):
        D.generate_pathfinder(tmp_path, **{**PF, "seed": 5})
    sub = tmp_path / "pathfinder32" / "curv_contour_length_14"
    assert sorted(os.listdir(sub / "metadata")) == ["0.npy", "1.npy", "2.npy"]
    assert sorted(os.listdir(tmp_path / "pathfinder32")) == ["curv_contour_length_14"]


def test_sets_disagreeing_with_their_marker_are_refused(tmp_path):
    paths = D.generate_listops(tmp_path / "lo", **SHORT)
    with open(paths["val"], "r+b") as f:  # a truncated copy
        f.truncate(os.path.getsize(paths["val"]) - 30)
    for fn in (D.data_present, D.find_task_dir):
        assert not fn("listops", tmp_path / "lo")
    with pytest.raises(DataError, match=r"incomplete: basic_val\.tsv has \d+ bytes, its marker "
                                        r"lrux_generated\.json records \d+.*regenerate it: "
                                        r"python -m lrux.data generate listops --out .*lo "
                                        r"--train 30 --val 4 --test 4 --seed 1"):
        D.load_split("listops", "train", tmp_path / "lo", progress=False)
    sub = D.generate_pathfinder(tmp_path / "pf", **PF)
    os.remove(os.path.join(sub, "imgs", "1", "sample_2.png"))  # metadata names it
    with pytest.raises(DataError, match=r"1 of the 15 files .* missing .e\.g\. imgs/1/sample_2"
                                        r"\.png.*generate pathfinder --out .*pf --size 32 "
                                        r"--difficulty 14 --num 12 --seed 2 --per-folder 4"):
        D.load_split("pathfinder", "train", tmp_path / "pf", progress=False, workers=1)
    with open(os.path.join(sub, "metadata", "2.npy"), "w") as f:  # fewer lines than marked
        f.write("imgs/2 sample_0.png 0 1 1 14 4 2 0.5 1 1\n")
    with pytest.raises(DataError, match="metadata/ names 9 images in 3 files, its marker "
                                        "lrux_generated.json records 12 in 3"):
        D.load_split("pathfinder", "train", tmp_path / "pf", progress=False, workers=1)
    # an older lrux wrote in place: its leftovers mark the set as interrupted
    d = write_listops(str(tmp_path / "old"))
    open(os.path.join(d, "basic_test.tsv.tmp"), "w").close()
    with pytest.raises(DataError, match=r"interrupted generation left basic_test\.tsv\.tmp"):
        D.load_split("listops", "train", tmp_path / "old", progress=False)


# ----------------------------------------------------------------------------- CLI census

def _census(tmp_path):
    """(argv, what the error line must say) for every bad input we could think of."""
    file = tmp_path / "a_file"
    file.write_text("x")
    lo, pf, _ = _user_sets(tmp_path / "user")
    bad = tmp_path / "bad"
    write_listops(str(bad))
    with open(bad / "listops-1000" / "basic_val.tsv", "a") as f:
        f.write("( ( [MAX 2 ) ] )\tnine\n")
    img = tmp_path / "img"
    base, _ = write_pathfinder(str(img), n_folders=1, per_folder=3, empty=None)
    write_png(os.path.join(base, "imgs", "0", "sample_1.png"), np.zeros((32, 32), np.uint16))
    g = ["generate"]
    lo_args = g + ["listops", "--out", str(tmp_path / "new"), "--workers", "1"]
    pf_args = g + ["pathfinder", "--out", str(tmp_path / "new"), "--workers", "1"]
    return [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (g, "the following arguments are required: what"),
        (g + ["listops"], "the following arguments are required: --out"),
        (lo_args + ["--bogus", "1"], "unrecognized arguments: --bogus"),
        (lo_args + ["--train", "many"], "argument --train: invalid int value: 'many'"),
        (lo_args + ["--train", "-5"], "train=-5: expected a non-negative count"),
        (lo_args + ["--min-length", "100", "--max-length", "50"], "min_length=100"),
        (lo_args[:-1] + ["0"], "workers=0: expected a positive number"),
        (lo_args + ["--max-args", "1"], "max_args=1"),
        (pf_args + ["--size", "48"], "argument --size: invalid choice: 48"),
        (pf_args + ["--difficulty", "10"], "argument --difficulty: invalid choice: 10"),
        (pf_args + ["--num", "0"], "num=0: expected a positive count"),
        (pf_args + ["--per-folder", "-1"], "per_folder=-1"),
        (g + ["listops", "--out", str(file), "--train", "1"], "cannot write into"),
        (g + ["pathfinder", "--out", str(file / "sub"), "--num", "1"], "cannot write into"),
        (g + ["listops", "--out", str(lo)], "not empty"),
        (g + ["pathfinder", "--out", str(pf), "--num", "1"], "not empty"),
        (["inspect", "mnist", "--data-dir", str(tmp_path)], "task='mnist': expected one of"),
        (["inspect", "text", "--data-dir", str(tmp_path)], "no data found"),
        (["inspect", "listops", "--data-dir", str(lo)], "incomplete: it holds"),
        (["inspect", "pathfinder", "--data-dir", str(pf)], "incomplete: it holds imgs"),
        (["inspect", "listops", "--data-dir", str(bad)], "basic_val.tsv:3: expected a Target"),
        (["inspect", "listops", "--data-dir", str(bad), "--max-length", "0"], "max_length=0"),
        (["inspect", "pathfinder", "--data-dir", str(img)], "16-bit"),
        (["inspect", "pathx", "--data-dir", str(img), "--difficulty", "7"], "invalid choice"),
    ]


def test_cli_census_one_error_line_exit_2(tmp_path, capsys):
    from lrux.data.__main__ import main

    cases = _census(tmp_path)
    before = snapshot(tmp_path)
    for argv, needle in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.startswith("error")]  # (tqdm bars aside)
        assert len(lines) == 1 and err.endswith(lines[0] + "\n"), (argv, err)
        assert lines[0].startswith("error: ") and needle in lines[0], (argv, err)
        assert "Traceback" not in err
    after = {k: v for k, v in snapshot(tmp_path).items() if "/.lrux_cache/" not in k}
    assert after == before  # no bad input wrote or changed anything (but lrux's own cache)
    assert len(cases) == 25


def test_cli_errors_in_a_real_process(tmp_path):
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(D.__file__)))
    lo, _, _ = _user_sets(tmp_path)
    for argv in (["generate", "pathfinder", "--size", "48", "--out", "x"],
                 ["generate", "listops", "--out", str(lo), "--workers", "1"],
                 ["inspect", "listops", "--data-dir", str(lo)]):
        p = subprocess.run([sys.executable, "-m", "lrux.data", *argv], capture_output=True,
                           text=True, env=dict(os.environ, PYTHONPATH=repo), timeout=120)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ")
