"""lrux.data loaders, cache and grain pipeline against fixtures written in the real formats."""

import os
import shutil

import numpy as np
import pytest
from data_fixtures import (
    AAN,
    IMDB,
    LISTOPS_ROWS,
    snapshot,
    write_aan,
    write_cifar,
    write_imdb,
    write_listops,
    write_pathfinder,
    write_png,
    write_tsv_lines,
)

import lrux.data as D
from lrux.errors import DataError

# Independent oracle of the ListOps tokenisation (lra-data.md): drop parentheses, keep ].
ORACLE_IDS = {**{str(d): d + 1 for d in range(10)}, "[MIN": 11, "[MAX": 12, "[MED": 13,
              "[SM": 14, "]": 15}


def oracle_listops(s):
    return [ORACLE_IDS[t] for t in s.split() if t not in "()"]


def test_task_specs():
    assert D.task_spec("listops").vocab_size == 16
    assert D.task_spec("text").vocab_size == 257 and D.task_spec("text").seq_len == 4096
    r = D.task_spec("retrieval")
    assert r.dual and r.seq_len == 4000 and r.num_classes == 2
    assert D.task_spec("image").channels == 3 and D.task_spec("image", grayscale=True).channels == 1
    assert D.task_spec("pathx").seq_len == 128 * 128 and D.task_spec("pathfinder").kind == "pixels"
    with pytest.raises(ValueError, match="task="):
        D.task_spec("mnist")


@pytest.mark.parametrize("crlf", [True, False])
def test_listops_reads_back_exactly(tmp_path, crlf):
    write_listops(str(tmp_path), crlf=crlf)
    for split, rows in LISTOPS_ROWS.items():
        s = D.load_split("listops", split, tmp_path, progress=False)
        assert s.inputs.shape == (len(rows), 2048)
        for i, (src, y) in enumerate(rows):
            ids = oracle_listops(src)
            assert s.lengths[i] == len(ids)
            assert list(s.inputs[i, : len(ids)]) == ids
            assert not s.inputs[i, len(ids):].any()
            assert s.labels[i] == y


def test_listops_malformed_line_names_file_and_line(tmp_path):
    d = write_listops(str(tmp_path))
    with open(os.path.join(d, "basic_val.tsv"), "a", newline="") as f:
        f.write("( ( [MAX 2 ) ] )\tnine\r\n")
    with pytest.raises(ValueError, match=r"basic_val\.tsv:3: expected a Target digit"):
        D.load_split("listops", "val", tmp_path, progress=False)
    write_listops(str(tmp_path))  # all splits are preprocessed together: repair val
    with open(os.path.join(d, "basic_val.tsv"), "a", newline="") as f:
        f.write("( ( [MAX 2 ) ] )\t2\r\n( ( [MAX 12 ) ] )\t2\r\n")
    with pytest.raises(ValueError, match=r"basic_val\.tsv:4: unknown token '12'"):
        D.load_split("listops", "val", tmp_path, progress=False)
    write_listops(str(tmp_path))
    with open(os.path.join(d, "basic_test.tsv"), "w") as f:
        f.write("src\ttgt\n")
    with pytest.raises(ValueError, match=r"basic_test\.tsv:1: expected the header"):
        D.load_split("listops", "test", tmp_path, cache_dir=str(tmp_path / "c2"),
                     progress=False)


def test_listops_nested_release_level_and_preference(tmp_path):
    inner = tmp_path / "lra_release" / "lra_release"
    write_listops(str(inner))
    s = D.load_split("listops", "val", tmp_path, progress=False)
    assert list(s.labels) == [0]
    # a stray copy one level up must not win over the inner tree
    write_listops(str(tmp_path / "lra_release"), rows={k: v[:1] + [("( ( [SM 1 ) ] )", 1)]
                                                       for k, v in LISTOPS_ROWS.items()})
    assert D.find_task_dir("listops", tmp_path) == str(inner / "listops-1000")


def test_missing_data_messages(tmp_path):
    for task, needle in [("listops", "generate listops"), ("pathx", "--size 128"),
                         ("pathfinder", "--size 32"), ("text", "aclImdb"),
                         ("retrieval", "new_aan_pairs"), ("image", "cifar-10-batches-py")]:
        assert not D.data_present(task, tmp_path)
        msg = D.missing_data_message(task, tmp_path)
        assert needle in msg and str(tmp_path) in msg
        with pytest.raises(DataError, match="no data found"):
            D.load_split(task, "train", tmp_path, progress=False)
    assert "lra_release" in D.missing_data_message("retrieval", tmp_path)


def test_text_bytes_and_chars(tmp_path):
    write_imdb(str(tmp_path))
    s = D.load_split("text", "train", tmp_path, progress=False)
    # order: neg then pos, files by integer id
    expected = [(IMDB["train", "neg"]["1_1.txt"], 0), (IMDB["train", "neg"]["2_3.txt"], 0),
                (IMDB["train", "pos"]["3_9.txt"], 1), (IMDB["train", "pos"]["10_7.txt"], 1)]
    assert len(s) == 4 and s.spec.vocab_size == 257
    for i, (text, y) in enumerate(expected):
        ids = [b + 1 for b in text.encode("utf-8")]
        assert s.lengths[i] == len(ids) and list(s.inputs[i, : len(ids)]) == ids
        assert s.labels[i] == y
    val, test = (D.load_split("text", k, tmp_path, progress=False) for k in ("val", "test"))
    np.testing.assert_array_equal(val.inputs, test.inputs)
    short = D.load_split("text", "train", tmp_path, max_length=10, progress=False)
    assert short.inputs.shape == (4, 10) and short.lengths.max() == 10
    c = D.load_split("text", "train", tmp_path, tokenizer="chars", min_freq=2, progress=False)
    counts = {}
    for text, _ in expected:
        for ch in text:
            counts[ch] = counts.get(ch, 0) + 1
    vocab = sorted((ch for ch, n in counts.items() if n >= 2), key=lambda ch: (-counts[ch], ch))
    assert c.vocab == "".join(vocab) and c.spec.vocab_size == len(vocab) + 2
    text = expected[2][0]
    ids = [vocab.index(ch) + 2 if ch in vocab else 1 for ch in text]
    assert list(c.inputs[2, : len(ids)]) == ids and c.lengths[2] == len(text)


def test_retrieval_quotes_are_data(tmp_path):
    write_aan(str(tmp_path))
    for split, name in (("train", "train"), ("val", "eval"), ("test", "test")):
        s = D.load_split("retrieval", split, tmp_path, max_length=40, progress=False)
        rows = AAN[name]
        assert s.inputs.shape == (len(rows), 2, 40) and s.lengths.shape == (len(rows), 2)
        for i, r in enumerate(rows):
            assert s.labels[i] == int(float(r[0]))
            for j, text in enumerate(r[3:5]):
                ids = [b + 1 for b in text.encode("utf-8")][:40]
                assert s.lengths[i, j] == len(ids)
                assert list(s.inputs[i, j, : len(ids)]) == ids


def test_retrieval_chars(tmp_path):
    write_aan(str(tmp_path))
    s = D.load_split("retrieval", "test", tmp_path, tokenizer="chars", min_freq=3,
                     progress=False)
    counts = {}
    for r in AAN["train"]:
        for text in r[3:5]:
            for ch in text:
                counts[ch] = counts.get(ch, 0) + 1
    vocab = sorted((c for c, n in counts.items() if n >= 3), key=lambda c: (-counts[c], c))
    assert s.vocab == "".join(vocab) and s.spec.vocab_size == len(vocab) + 2
    for i, r in enumerate(AAN["test"]):
        for j, text in enumerate(r[3:5]):
            ids = [vocab.index(c) + 2 if c in vocab else 1 for c in text]
            assert s.lengths[i, j] == len(ids) and list(s.inputs[i, j, : len(ids)]) == ids


def test_retrieval_malformed(tmp_path):
    d = write_aan(str(tmp_path))
    with open(os.path.join(d, "new_aan_pairs.eval.tsv"), "ab") as f:
        f.write(b"1.0\tonly\tthree\n")
    with pytest.raises(ValueError, match=r"new_aan_pairs\.eval\.tsv:2: expected 5"):
        D.load_split("retrieval", "val", tmp_path, progress=False)


def test_cifar_layout_split_and_grayscale(tmp_path):
    xtr, ytr, xte, yte = write_cifar(str(tmp_path))
    tr = D.load_split("image", "train", tmp_path, progress=False)
    va = D.load_split("image", "val", tmp_path, progress=False)
    te = D.load_split("image", "test", tmp_path, progress=False)
    assert (len(tr), len(va), len(te)) == (90, 10, 20)
    assert tr.inputs.dtype == np.uint8 and tr.inputs.shape == (90, 1024, 3)
    for r, c, k in [(0, 0, 0), (5, 17, 1), (31, 31, 2)]:
        assert tr.inputs[7, r * 32 + c, k] == xtr[7, k * 1024 + r * 32 + c]
        assert va.inputs[3, r * 32 + c, k] == xtr[93, k * 1024 + r * 32 + c]
        assert te.inputs[1, r * 32 + c, k] == xte[1, k * 1024 + r * 32 + c]
    np.testing.assert_array_equal(va.labels, ytr[90:])
    np.testing.assert_array_equal(te.labels, yte)
    np.testing.assert_allclose(tr.mean, (0.4914, 0.4822, 0.4465))
    g = D.load_split("image", "test", tmp_path, grayscale=True, progress=False)
    rgb = xte[4].reshape(3, 1024).astype(np.float64)
    gray = np.rint(0.2989 * rgb[0] + 0.5870 * rgb[1] + 0.1140 * rgb[2])
    np.testing.assert_array_equal(g.inputs[4, :, 0], gray)
    rnd = D.load_split("image", "val", tmp_path, val_split="random", split_seed=3,
                       progress=False)
    assert len(rnd) == 10 and not np.array_equal(rnd.labels, va.labels) or \
        not np.array_equal(rnd.inputs, va.inputs)


def test_pathfinder_reads_pngs_and_skips_empty(tmp_path):
    base, good = write_pathfinder(str(tmp_path), n_folders=3, per_folder=10)
    with pytest.warns(UserWarning, match="skipped 1 unreadable image"):
        splits = {k: D.load_split("pathfinder", k, tmp_path, progress=False, workers=1)
                  for k in ("train", "val", "test")}
    assert [len(s) for s in splits.values()] == [23, 2, 4]  # 29 readable: 80/10/10
    assert splits["train"].skipped == 1
    seen = {}
    for s in splits.values():
        assert s.inputs.dtype == np.uint8 and s.inputs.shape[1:] == (1024, 1)
        for x, y in zip(s.inputs, s.labels, strict=True):
            seen[x.tobytes()] = int(y)
    assert len(seen) == 29
    for img, label in good.values():
        assert seen[img.reshape(-1).tobytes()] == label
    # documented order: metadata files by integer name (0, 2, 10), lines in file order,
    # unreadable images dropped, then numpy default_rng(split_seed=42).permutation, 80/10/10
    order = [p for k in (0, 2, 10) for p in sorted(
        (q for q in good if f"/imgs/{k}/" in q),
        key=lambda q: int(q.rsplit("_", 1)[1][:-4]))]
    perm = np.random.default_rng(42).permutation(len(order))
    for i, j in enumerate(perm[:23]):
        np.testing.assert_array_equal(splits["train"].inputs[i, :, 0],
                                      good[order[j]][0].reshape(-1))
        assert splits["train"].labels[i] == good[order[j]][1]
    # a cache-free reload with another split seed permutes the same examples differently
    with pytest.warns(UserWarning, match="skipped 1 unreadable image"):
        other = D.load_split("pathfinder", "train", tmp_path, split_seed=1, progress=False,
                             workers=1, cache=False)
    assert not np.array_equal(other.labels, splits["train"].labels) or \
        not np.array_equal(other.inputs, splits["train"].inputs)


def test_pathfinder_malformed_metadata(tmp_path):
    base, _ = write_pathfinder(str(tmp_path), n_folders=1, per_folder=3, empty=None)
    with open(os.path.join(base, "metadata", "0.npy"), "a") as f:
        f.write("imgs/0 sample_9.png 9 maybe 1.0\n")
    with pytest.raises(ValueError, match=r"0\.npy:4: expected label 0 or 1"):
        D.load_split("pathfinder", "train", tmp_path, progress=False)


def test_cache_is_reused_and_keyed_on_source(tmp_path):
    d = write_listops(str(tmp_path))
    a = D.prepare("listops", tmp_path, progress=False)
    assert D.prepare("listops", tmp_path, progress=False) == a
    s = D.load_split("listops", "train", tmp_path, progress=False)
    assert isinstance(s.inputs, np.memmap) and not s.inputs.flags.writeable
    assert D.prepare("listops", tmp_path, max_length=100, progress=False) != a
    path = os.path.join(d, "basic_train.tsv")
    with open(path, "a", newline="") as f:
        f.write("( ( ( [MIN 3 ) 4 ) ] )\t3\r\n")
    b = D.prepare("listops", tmp_path, progress=False)
    assert b != a
    assert len(D.load_split("listops", "train", tmp_path, progress=False)) == 4
    shutil.rmtree(a)
    assert os.path.exists(os.path.join(b, "meta.json"))


def test_unknown_options_rejected(tmp_path):
    write_listops(str(tmp_path))
    with pytest.raises(ValueError, match="unknown option"):
        D.load_split("listops", "train", tmp_path, tokenizer="chars")
    with pytest.raises(ValueError, match="split="):
        D.load_split("listops", "dev", tmp_path)


# ----------------------------------------------------------------------------- pipeline

def _toy_split(n=23, L=12, kind="tokens"):
    rng = np.random.default_rng(0)
    if kind == "tokens":
        spec = D.task_spec("listops")
        lengths = rng.integers(1, L + 1, n).astype(np.int32)
        x = np.zeros((n, L), np.uint16)
        for i, k in enumerate(lengths):
            x[i, :k] = rng.integers(1, 16, k)
        return D.Split("listops", "train", spec, x, lengths, np.arange(n, dtype=np.int32) % 10)
    spec = D.task_spec("image")
    x = rng.integers(0, 256, (n, L, 3), dtype=np.uint8)
    return D.Split("image", "train", spec, x, np.full(n, L, np.int32),
                   np.arange(n, dtype=np.int32) % 10, mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 2.0))


def _ids(batches, split):
    """Recover example indices from rows (labels are not unique: use the inputs)."""
    rows = {split.inputs[i].tobytes(): i for i in range(len(split))}
    out = []
    for b in batches:
        for x, v in zip(b.inputs, b.valid, strict=True):
            if v:
                out.append(rows[x.astype(split.inputs.dtype).tobytes()])
    return out


def test_loader_epoch_padding_and_shuffle():
    s = _toy_split()
    batches = list(D.make_loader(s, batch_size=5, seed=3, num_epochs=2, shard_index=0,
                                 shard_count=1))
    # epochs run back to back (grain): 46 records -> 9 full batches and one of 1 row
    assert len(batches) == 10
    b = batches[-1]
    assert b.inputs.shape == (5, 12) and b.inputs.dtype == np.int32
    assert list(b.valid) == [True] + [False] * 4
    assert not b.inputs[1:].any() and not b.lengths[1:].any()
    assert all(bt.valid.all() for bt in batches[:-1])
    ids = _ids(batches, s)
    assert sorted(ids[:23]) == list(range(23)) and sorted(ids[23:]) == list(range(23))
    assert ids[:23] != list(range(23)) and ids[:23] != ids[23:]
    for bt in batches:
        for x, k, y, v in zip(bt.inputs, bt.lengths, bt.labels, bt.valid,
                              strict=True):
            if v:
                i = s.inputs.tolist().index(x.tolist())
                assert k == s.lengths[i] and y == s.labels[i]
    again = list(D.make_loader(s, batch_size=5, seed=3, num_epochs=2, shard_index=0,
                               shard_count=1))
    assert _ids(again, s) == ids
    dropped = list(D.make_loader(s, batch_size=5, seed=3, num_epochs=1, shard_index=0,
                                 shard_count=1, drop_remainder=True))
    assert len(dropped) == 4 and all(b.valid.all() for b in dropped)
    plain = list(D.make_loader(s, batch_size=23, shuffle=False, num_epochs=1, shard_index=0,
                               shard_count=1))
    assert _ids(plain, s) == list(range(23))


def test_loader_shards_are_disjoint_and_cover():
    s = _toy_split(n=24)
    seen = []
    for k in range(3):
        batches = list(D.make_loader(s, batch_size=4, seed=1, num_epochs=1, shard_index=k,
                                     shard_count=3))
        seen.append(_ids(batches, s))
    assert sorted(sum(seen, [])) == list(range(24))
    assert all(len(x) == 8 for x in seen)


def test_loader_state_restores_exactly():
    s = _toy_split()
    loader = D.make_loader(s, batch_size=4, seed=7, num_epochs=None, shard_index=0,
                           shard_count=1)
    it = iter(loader)
    for _ in range(3):
        next(it)
    state = it.get_state()
    ahead = [next(it) for _ in range(9)]  # crosses the epoch boundary (23 / 4)
    it2 = iter(D.make_loader(s, batch_size=4, seed=7, num_epochs=None, shard_index=0,
                             shard_count=1))
    it2.set_state(state)
    for a in ahead:
        b = next(it2)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_loader_pixels_normalised_and_pad_to():
    s = _toy_split(n=6, L=16, kind="pixels")
    (b,) = list(D.make_loader(s, batch_size=6, shuffle=False, num_epochs=1, shard_index=0,
                              shard_count=1))
    assert b.inputs.dtype == np.float32 and b.inputs.shape == (6, 16, 3)
    ref = (s.inputs.astype(np.float64) / 255 - np.array(s.mean)) / np.array(s.std)
    np.testing.assert_allclose(b.inputs, ref, rtol=1e-5, atol=1e-5)
    t = _toy_split()
    (c,) = list(D.make_loader(t, batch_size=23, shuffle=False, num_epochs=1, shard_index=0,
                              shard_count=1, pad_to=5))
    assert c.inputs.shape == (23, 5)
    np.testing.assert_array_equal(c.inputs, t.inputs[:, :5])
    np.testing.assert_array_equal(c.lengths, np.minimum(t.lengths, 5))
    (e,) = list(D.make_loader(t, batch_size=23, shuffle=False, num_epochs=1, shard_index=0,
                              shard_count=1, pad_to=20))
    assert e.inputs.shape == (23, 20) and not e.inputs[:, 12:].any()
    with pytest.raises(ValueError, match="batch_size"):
        D.make_loader(t, batch_size=0)


def test_loader_over_loaded_retrieval(tmp_path):
    write_aan(str(tmp_path))
    s = D.load_split("retrieval", "train", tmp_path, max_length=16, progress=False)
    (b,) = list(D.make_loader(s, batch_size=4, shuffle=False, num_epochs=1, shard_index=0,
                              shard_count=1))
    assert b.inputs.shape == (4, 2, 16) and b.lengths.shape == (4, 2)
    assert list(b.valid) == [True, True, True, False]
    np.testing.assert_array_equal(b.inputs[:3], s.inputs)


def test_loader_yields_typed_batches():
    s = _toy_split(n=7)
    (b,) = list(D.make_loader(s, batch_size=8, shuffle=False, num_epochs=1, shard_index=0,
                              shard_count=1))
    assert isinstance(b, D.Batch) and b._fields == ("inputs", "lengths", "labels", "valid")
    assert (b.inputs.dtype, b.lengths.dtype, b.labels.dtype, b.valid.dtype) == (
        np.int32, np.int32, np.int32, np.bool_)
    assert b["inputs"] is b.inputs and b[3] is b.valid  # transitional dict-style access
    with pytest.raises(KeyError):
        b["mask"]
    pix = _toy_split(n=3, kind="pixels")
    floats = D.Split("image", "train", pix.spec, pix.inputs.astype(np.float32), pix.lengths,
                     pix.labels, mean=pix.mean, std=pix.std)
    with pytest.raises(DataError, match="float32, expected uint8"):
        D.make_loader(floats, batch_size=2, shard_index=0, shard_count=1)


def test_import_does_not_load_grain_or_jax_and_has_no_cycle():
    import ast
    import subprocess
    import sys

    code = ("import sys, lrux.data as D; D.Batch; D.ensure_data; D.delayed_recall; "
            "assert 'grain' not in sys.modules and 'jax' not in sys.modules, sys.modules")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(D.__file__)))
    env = dict(os.environ, PYTHONPATH=repo)
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    folder = os.path.dirname(D.__file__)
    graph = {}
    for f in os.listdir(folder):
        if f.endswith(".py") and f != "__init__.py":
            tree = ast.parse(open(os.path.join(folder, f)).read())
            graph[f[:-3]] = {n.module.split(".")[0] for n in ast.walk(tree)
                             if isinstance(n, ast.ImportFrom) and n.level == 1 and n.module}
    assert "_grain_ops" not in graph and {"batch", "loader", "release"} <= set(graph)

    def reach(a, seen):
        for b in graph.get(a, ()):
            if b not in seen:
                seen.add(b)
                reach(b, seen)
        return seen

    assert [m for m in graph if m in reach(m, set())] == []  # no import circle
    assert "import grain" not in open(os.path.join(folder, "batch.py")).read()


# ----------------------------------------------------------------------------- validation

@pytest.mark.parametrize("line, match", [
    ("( ( ( [MAX 2 ) 9 ) ] )\t10", "expected a Target digit 0..9, got '10'"),
    ("( ( ( [MAX 2 ) 9 ) ] )\t-1", "expected a Target digit 0..9, got '-1'"),
    ("\t3", "the expression is empty"),
    ("( ( ( [MAX 2 ) 9 ) )\t9", "1 operator.s. never closed"),
    ("( ( ( [MAX 2 ) 9 ) ] ) 4\t9", "ends at token 4 of 5"),
    ("( [MAX ] )\t9", "operator .MAX at token 1 has no arguments"),
    ("3 ( ( [MAX 2 ) ] )\t3", "starts with '3', not an operator"),
    ("( ( ( [MAX 2 ) 9\t9", "unbalanced parentheses"),
    ("] 2 3\t1", "closes no operator"),
])
def test_listops_broken_lines_are_errors(tmp_path, line, match):
    d = write_listops(str(tmp_path))
    with open(os.path.join(d, "basic_test.tsv"), "a", newline="") as f:
        f.write(line + "\r\n")
    with pytest.raises(DataError, match=rf"basic_test\.tsv:4: .*{match}"):
        D.load_split("listops", "test", tmp_path, progress=False)


def test_listops_non_utf8_blank_lines_and_too_long(tmp_path):
    d = write_listops(str(tmp_path))
    with open(os.path.join(d, "basic_val.tsv"), "ab") as f:
        f.write(b"( ( ( [MAX 2 ) 9 ) ] )\t9\r\n( ( ( [MAX \xff ) 9 ) ] )\t9\r\n")
    with pytest.raises(DataError, match=r"basic_val\.tsv:4: bytes b'\\xff' are not UTF-8"):
        D.load_split("listops", "val", tmp_path, progress=False)
    write_listops(str(tmp_path))
    with open(os.path.join(d, "basic_val.tsv"), "ab") as f:
        f.write(b"\r\n( ( ( [MIN 6 ) 0 ) ] )\t0\r\n")
    with pytest.warns(D.DataWarning, match=r"basic_val\.tsv: 1 blank line.*line 3"):
        assert len(D.load_split("listops", "val", tmp_path, progress=False)) == 2
    long = "( " * 202 + "[SM 1 ) " + "1 ) " * 200 + "] )"  # 203 tokens, 201 arguments
    write_tsv_lines(os.path.join(d, "basic_train.tsv"), [f"{long}\t1", f"{long}\t1"])
    with pytest.raises(DataError) as err:
        D.load_split("listops", "train", tmp_path, max_length=128, progress=False)
    msg = str(err.value)
    assert "2 of 2 expressions are longer than max_length=128" in msg and "203" in msg
    assert "--set data.load.max_length=256" in msg and "--max-length 129" in msg
    assert len(D.load_split("listops", "train", tmp_path, max_length=256, progress=False)) == 2


@pytest.mark.parametrize("labels, match", [
    ([11] + [0] * 19, "label 11 at index 0"),
    ([0] * 5 + [-1] + [0] * 14, "label -1 at index 5"),
    ([0.0] * 20, "b'labels' are float64, expected integers"),
])
def test_cifar_labels_out_of_range(tmp_path, labels, match):
    import pickle

    write_cifar(str(tmp_path))
    path = os.path.join(tmp_path, "cifar-10-batches-py", "data_batch_3")
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    d[b"labels"] = labels
    with open(path, "wb") as f:
        pickle.dump(d, f)
    with pytest.raises(DataError, match=rf"data_batch_3: {match}"):
        D.load_split("image", "train", tmp_path, progress=False)


def test_cifar_float_pixels_are_an_error(tmp_path):
    import pickle

    write_cifar(str(tmp_path))
    path = os.path.join(tmp_path, "cifar-10-batches-py", "test_batch")
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    d[b"data"] = d[b"data"].astype(np.float64) / 255  # no silent cast to uint8 (all zeros)
    with open(path, "wb") as f:
        pickle.dump(d, f)
    with pytest.raises(DataError, match="test_batch: b'data' is float64, expected uint8"):
        D.load_split("image", "test", tmp_path, progress=False)


@pytest.mark.parametrize("image, match", [
    (np.full((32, 32), 40000, np.uint16), "16-bit .mode I(;16)?., expected 8-bit grayscale"),
    (np.zeros((64, 64), np.uint8), "64x64, expected 32x32"),
    (np.zeros((32, 32, 3), np.uint8), "RGB .mode RGB."),
])
def test_pathfinder_wrong_images_are_errors(tmp_path, image, match):
    base, good = write_pathfinder(str(tmp_path), n_folders=1, per_folder=4, empty=None)
    write_png(os.path.join(base, "imgs", "0", "sample_2.png"), image)
    with pytest.raises(DataError, match=rf"1 image.*sample_2\.png: {match}"):
        D.load_split("pathfinder", "train", tmp_path, progress=False, workers=1)


def test_pathfinder_duplicated_and_missing_metadata_lines(tmp_path):
    base, _ = write_pathfinder(str(tmp_path), n_folders=1, per_folder=4, empty=None)
    meta = os.path.join(base, "metadata", "0.npy")
    with open(meta) as f:
        lines = f.readlines()
    with open(meta, "a") as f:
        f.write(lines[1])
    with pytest.raises(DataError, match=r"0\.npy:5: repeats imgs/0 sample_1\.png .first at "
                                         r"0\.npy:2.: duplicated"):
        D.load_split("pathfinder", "train", tmp_path, progress=False, workers=1)
    with open(meta, "w") as f:  # metadata naming an image that is not there
        f.writelines(lines + ["imgs/0 sample_9.png 9 1 1.0 14 4 2 0.5 1 1\n"])
    with pytest.raises(DataError, match=r"1 of the 6 files .* missing .e\.g\. "
                                         r"imgs/0/sample_9\.png.*Complete it from"):
        D.load_split("pathfinder", "train", tmp_path, progress=False, workers=1)


def test_imdb_stray_files_and_non_utf8_are_counted_warnings(tmp_path):
    d = write_imdb(str(tmp_path))
    for name in (".DS_Store", "notes.txt"):
        with open(os.path.join(d, "train", "pos", name), "w") as f:
            f.write("not a review")
    raw = b"caf\xe9 au lait"  # latin-1, not UTF-8
    with open(os.path.join(d, "test", "neg", "7_1.txt"), "wb") as f:
        f.write(raw)
    with pytest.warns(D.DataWarning) as got:
        s = D.load_split("text", "test", tmp_path, progress=False)
    text = " | ".join(str(w.message) for w in got)
    assert "train/pos: 2 entries that are not reviews (ID_RATING.txt) left out: .DS_Store, " \
           "notes.txt" in text
    assert "1 review file(s) are not valid UTF-8 (e.g. test/neg/7_1.txt byte 3)" in text
    assert "kept as raw bytes" in text
    i = len(IMDB["test", "neg"])  # neg first, by id: 5_2 then 7_1
    assert list(s.inputs[i, : len(raw)]) == [b + 1 for b in raw]
    assert len(D.load_split("text", "train", tmp_path, progress=False)) == 4


# ----------------------------------------------------------------------------- cache

def test_damaged_cache_entries_are_rebuilt(tmp_path):
    write_listops(str(tmp_path))
    ref = D.load_split("listops", "train", tmp_path, progress=False, cache=False)
    folder = D.prepare("listops", tmp_path, progress=False)
    labels = np.array(ref.labels)
    for damage in ("truncate", "delete", "meta"):
        target = os.path.join(folder, "meta.json" if damage == "meta" else "train.inputs.npy")
        if damage == "truncate":
            with open(target, "r+b") as f:
                f.truncate(100)
        else:
            os.remove(target)
        with pytest.warns(D.DataWarning, match="is damaged .*rebuilding"):
            s = D.load_split("listops", "train", tmp_path, progress=False)
        np.testing.assert_array_equal(s.labels, labels)
        np.testing.assert_array_equal(s.inputs, ref.inputs)
        assert s.fingerprint == ref.fingerprint
        del s  # a memmap must not outlive the file it maps (truncating it: SIGBUS)


def test_cache_is_keyed_on_content_not_size_and_mtime(tmp_path):
    d = write_listops(str(tmp_path))
    path = os.path.join(d, "basic_train.tsv")
    before = D.load_split("listops", "train", tmp_path, progress=False)
    assert before.labels[0] == 9
    st = os.stat(path)
    data = open(path, "rb").read()
    edited = data.replace(b"] )\t9\r\n", b"] )\t8\r\n", 1)  # same size
    assert len(edited) == len(data) and edited != data
    with open(path, "wb") as f:
        f.write(edited)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (os.stat(path).st_size, os.stat(path).st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    after = D.load_split("listops", "train", tmp_path, progress=False)
    assert after.labels[0] == 8 and after.fingerprint != before.fingerprint


def test_fingerprint_is_the_content_and_options(tmp_path):
    write_listops(str(tmp_path / "a"))
    write_listops(str(tmp_path / "b"))
    fa = {D.load_split("listops", s, tmp_path / "a", progress=False).fingerprint
          for s in D.SPLITS}
    fb = D.load_split("listops", "val", tmp_path / "b", progress=False).fingerprint
    assert len(fa) == 1 and fa == {fb} and fb.startswith("listops-")
    assert D.load_split("listops", "val", tmp_path / "b", max_length=64,
                        progress=False).fingerprint != fb
    assert D.load_split("listops", "val", tmp_path / "a", cache=False,
                        progress=False).fingerprint == fb


def test_read_only_data_dir_falls_back_to_user_cache(tmp_path, monkeypatch):
    import lrux.data.cache as cache

    data = tmp_path / "data"
    write_listops(str(data))
    monkeypatch.setenv("LRUX_CACHE_DIR", str(tmp_path / "user"))
    before = snapshot(data)
    os.chmod(data, 0o555)
    if os.geteuid() == 0:  # root writes through the mode bits: refuse as a read-only FS would
        real = cache._mkdir

        def read_only(path):
            if os.path.abspath(path).startswith(str(data)):
                raise PermissionError(13, "Permission denied", path)
            real(path)

        monkeypatch.setattr(cache, "_mkdir", read_only)
    try:
        with pytest.warns(D.DataWarning, match=r"cannot write the preprocessing cache in "
                                               r".*data/\.lrux_cache .Permission denied.: using "
                                               r".*user instead"):
            s = D.load_split("listops", "train", data, progress=False)
    finally:
        os.chmod(data, 0o755)
    assert len(s) == 3 and s.inputs.filename.startswith(str(tmp_path / "user"))
    assert snapshot(data) == before and not (data / ".lrux_cache").exists()


# ----------------------------------------------------------------------------- ensure_data

def test_ensure_data(tmp_path):
    said = []
    gen = dict(train=6, val=2, test=2, min_length=10, max_length=40, workers=1,
               progress=False)
    D.ensure_data("listops", tmp_path, generate=gen, log=said.append, max_length=64)
    assert len(said) == 2 and "generating it there" in said[0]
    assert len(D.load_split("listops", "train", tmp_path, max_length=64, progress=False)) == 6
    D.ensure_data("listops", tmp_path, generate=gen, log=said.append)  # complete: nothing
    assert len(said) == 2
    with pytest.raises(DataError, match="aclImdb"):
        D.ensure_data("text", tmp_path, generate={})
    with pytest.raises(DataError, match="no data found.*generate pathfinder"):
        D.ensure_data("pathx", tmp_path)  # generate=None: never generates
    with pytest.raises(DataError, match="size=32, but pathx reads 128 x 128"):
        D.ensure_data("pathx", tmp_path, generate={"size": 32})
    with pytest.raises(DataError, match="unknown generate option.*'images'"):
        D.ensure_data("pathfinder", tmp_path, generate={"images": 3})
    with pytest.raises(DataError, match="more than the load max_length=128"):
        D.ensure_data("listops", tmp_path / "new", generate={}, max_length=128)
    partial = tmp_path / "p"
    write_pathfinder(str(partial), n_folders=1, per_folder=3, empty=None)
    os.remove(partial / "pathfinder32" / "curv_contour_length_14" / "metadata" / "0.npy")
    before = snapshot(partial)
    with pytest.raises(DataError, match=r"incomplete: metadata/ is empty.*Complete it from"):
        D.ensure_data("pathfinder", partial, generate={"num": 4, "workers": 1})
    assert snapshot(partial) == before


def test_delayed_recall():
    s = D.delayed_recall(40, 12, classes=3, distractors=5, seed=2)
    assert s.inputs.shape == (40, 12) and s.spec.vocab_size == 9 and s.spec.num_classes == 3
    np.testing.assert_array_equal(s.inputs[:, 0], s.labels + 1)
    assert ((s.inputs[:, 1:] >= 4) & (s.inputs[:, 1:] <= 8)).all()
    assert set(s.labels.tolist()) == {0, 1, 2} and (s.lengths == 12).all()
    again = D.delayed_recall(40, 12, classes=3, distractors=5, seed=2)
    np.testing.assert_array_equal(again.inputs, s.inputs)
    assert again.fingerprint == s.fingerprint
    assert D.delayed_recall(40, 12, classes=3, distractors=5, seed=3).fingerprint != \
        s.fingerprint
    (b,) = list(D.make_loader(s, batch_size=40, shuffle=False, num_epochs=1, shard_index=0,
                              shard_count=1))
    np.testing.assert_array_equal(b.inputs, s.inputs)
    with pytest.raises(DataError, match="length"):
        D.delayed_recall(4, 1)
