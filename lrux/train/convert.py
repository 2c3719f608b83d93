"""Checkpoints that an older lrux wrote, read into today's parameter layout (one-off
conversions, used by `lrux.train.load_model`).

lrux 0.1 (up to commit 6496ba9) built the shared bidirectional LRU and S5 as the layer itself
with a second read-out: `.../mixer/{nu_log, ..., C_re, C_im, D, C2_re, C2_im}`. Today that
form is a `SharedBidirectional` around the causal layer, with the second read-out beside it:
`.../mixer/mixer/{nu_log, ..., C_re, C_im, D}` and `.../mixer/backward_readout/{C_re,
C_im}` (the same arrays, the same function). Every other path is unchanged (the concat / sum
forms, `Bidirectional`, kept theirs).

    items = restore_lrux_0_1(ckpt, like, step)   # {"model": ..., "bn_state": ...} or None
"""

from typing import Any

import orbax.checkpoint as ocp

from lrux.errors import ConfigError
from lrux.train.checkpoint import Checkpointer, nested_to_tree, tree_to_nested

_SECOND_READOUT = {"C2_re": "C_re", "C2_im": "C_im"}  # lrux 0.1's name -> today's


def from_lrux_0_1(nested: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's nested dict of arrays in lrux 0.1's layout, in today's: every node that
    holds `C2_re` and `C2_im` (a shared bidirectional LRU or S5) becomes
    {"mixer": the node without them, "backward_readout": {"C_re": C2_re, "C_im": C2_im}}."""
    out = {k: from_lrux_0_1(v) if isinstance(v, dict) else v for k, v in nested.items()}
    if set(_SECOND_READOUT) <= set(out):
        readout = {new: out.pop(old) for old, new in _SECOND_READOUT.items()}
        out = {"mixer": out, "backward_readout": readout}
    return out


def _shapes(nested: dict[str, Any], prefix: str = "") -> dict[str, tuple[int, ...]]:
    """path -> shape of every array of a nested dict."""
    out = {}
    for k, v in nested.items():
        path = f"{prefix}/{k}" if prefix else k
        out.update(_shapes(v, path) if isinstance(v, dict) else {path: tuple(v.shape)})
    return out


def restore_lrux_0_1(ckpt: Checkpointer, like: dict[str, Any], step: int
                     ) -> dict[str, Any] | None:
    """The "model" and "bn_state" items of checkpoint `step` in the structure of `like`'s,
    converted from lrux 0.1's layout (`from_lrux_0_1`); None when the checkpoint is not in
    lrux 0.1's layout (no second read-out in its metadata: nothing is read), ConfigError
    naming the differing paths when it is, but of another model."""
    saved = ckpt.shapes(step, "model")
    if saved is not None and not any(p.rsplit("/", 1)[-1] in _SECOND_READOUT for p in saved):
        return None
    stored = ckpt.manager.restore(
        step, args=ocp.args.Composite(model=ocp.args.StandardRestore()))["model"]
    if not any(p.rsplit("/", 1)[-1] in _SECOND_READOUT for p in _shapes(stored)):
        return None
    got, want = _shapes(from_lrux_0_1(stored)), _shapes(tree_to_nested(like["model"]))
    if got != want:
        differ = sorted(p for p in set(got) | set(want) if got.get(p) != want.get(p))
        raise ConfigError(f"a checkpoint of lrux 0.1 of another model; paths whose arrays "
                          f"differ once converted: {', '.join(differ[:6])}"
                          f"{' ...' if len(differ) > 6 else ''}")
    bn_state = ckpt.restore(like, step, items=("bn_state",))[0]["bn_state"]
    return {"model": nested_to_tree(like["model"], from_lrux_0_1(stored)), "bn_state": bn_state}
