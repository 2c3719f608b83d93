"""lrux.data loaders, cache and grain pipeline against fixtures written in the real formats."""

import os
import shutil

import numpy as np
import pytest
from data_fixtures import (
    AAN,
    IMDB,
    LISTOPS_ROWS,
    write_aan,
    write_cifar,
    write_imdb,
    write_listops,
    write_pathfinder,
)

import lrux.data as D

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
        with pytest.raises(FileNotFoundError, match="no data found"):
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
        for x, v in zip(b["inputs"], b["valid"], strict=True):
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
    assert b["inputs"].shape == (5, 12) and b["inputs"].dtype == np.int32
    assert list(b["valid"]) == [True] + [False] * 4
    assert not b["inputs"][1:].any() and not b["lengths"][1:].any()
    assert all(bt["valid"].all() for bt in batches[:-1])
    ids = _ids(batches, s)
    assert sorted(ids[:23]) == list(range(23)) and sorted(ids[23:]) == list(range(23))
    assert ids[:23] != list(range(23)) and ids[:23] != ids[23:]
    for bt in batches:
        for x, k, y, v in zip(bt["inputs"], bt["lengths"], bt["labels"], bt["valid"],
                              strict=True):
            if v:
                i = s.inputs.tolist().index(x.tolist())
                assert k == s.lengths[i] and y == s.labels[i]
    again = list(D.make_loader(s, batch_size=5, seed=3, num_epochs=2, shard_index=0,
                               shard_count=1))
    assert _ids(again, s) == ids
    dropped = list(D.make_loader(s, batch_size=5, seed=3, num_epochs=1, shard_index=0,
                                 shard_count=1, drop_remainder=True))
    assert len(dropped) == 4 and all(b["valid"].all() for b in dropped)
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
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_loader_pixels_normalised_and_pad_to():
    s = _toy_split(n=6, L=16, kind="pixels")
    (b,) = list(D.make_loader(s, batch_size=6, shuffle=False, num_epochs=1, shard_index=0,
                              shard_count=1))
    assert b["inputs"].dtype == np.float32 and b["inputs"].shape == (6, 16, 3)
    ref = (s.inputs.astype(np.float64) / 255 - np.array(s.mean)) / np.array(s.std)
    np.testing.assert_allclose(b["inputs"], ref, rtol=1e-5, atol=1e-5)
    t = _toy_split()
    (c,) = list(D.make_loader(t, batch_size=23, shuffle=False, num_epochs=1, shard_index=0,
                              shard_count=1, pad_to=5))
    assert c["inputs"].shape == (23, 5)
    np.testing.assert_array_equal(c["inputs"], t.inputs[:, :5])
    np.testing.assert_array_equal(c["lengths"], np.minimum(t.lengths, 5))
    (e,) = list(D.make_loader(t, batch_size=23, shuffle=False, num_epochs=1, shard_index=0,
                              shard_count=1, pad_to=20))
    assert e["inputs"].shape == (23, 20) and not e["inputs"][:, 12:].any()
    with pytest.raises(ValueError, match="batch_size"):
        D.make_loader(t, batch_size=0)


def test_loader_over_loaded_retrieval(tmp_path):
    write_aan(str(tmp_path))
    s = D.load_split("retrieval", "train", tmp_path, max_length=16, progress=False)
    (b,) = list(D.make_loader(s, batch_size=4, shuffle=False, num_epochs=1, shard_index=0,
                              shard_count=1))
    assert b["inputs"].shape == (4, 2, 16) and b["lengths"].shape == (4, 2)
    assert list(b["valid"]) == [True, True, True, False]
    np.testing.assert_array_equal(b["inputs"][:3], s.inputs)
