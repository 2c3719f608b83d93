"""Checkpoints that an older lrux wrote, read into today's parameter layout (one-off
conversions, used by `lrux.train.load_model`).

lrux 0.1 (up to commit 6496ba9) built the shared bidirectional LRU and S5 as the layer itself
with a second read-out: `.../mixer/{nu_log, ..., C_re, C_im, D, C2_re, C2_im}`. Today that
form is a `SharedBidirectional` around the causal layer, with the second read-out beside it:
`.../mixer/mixer/{nu_log, ..., C_re, C_im, D}` and `.../mixer/backward_readout/{C_re,
C_im}` (the same arrays, the same function). Every other path is unchanged (the concat / sum
forms, `Bidirectional`, kept theirs).

    items = restore_model_items(ckpt, like, step)   # {"model": ..., "bn_state": ...}
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


def restore_model_items(ckpt: Checkpointer, like: dict[str, Any], step: int) -> dict[str, Any]:
    """The "model" and "bn_state" items of checkpoint `step`, in the structure of `like`'s:
    read as they are when the checkpoint has today's layout, converted (`from_lrux_0_1`)
    when it has lrux 0.1's; ConfigError naming the differing paths when it has neither."""
    stored = ckpt.manager.restore(
        step, args=ocp.args.Composite(model=ocp.args.StandardRestore()))["model"]
    want = _shapes(tree_to_nested(like["model"]))
    if _shapes(stored) == want:
        return ckpt.restore(like, step, items=("model", "bn_state"))[0]
    converted = from_lrux_0_1(stored)
    got = _shapes(converted)
    if got != want:
        differ = sorted(p for p in set(got) | set(want) if got.get(p) != want.get(p))
        raise ConfigError(
            f"{ckpt.directory}: the checkpoint of step {step} does not hold this model's "
            f"parameters (nor lrux 0.1's layout of them); paths whose arrays differ: "
            f"{', '.join(differ[:6])}{' ...' if len(differ) > 6 else ''}"
        )
    bn_state = ckpt.restore(like, step, items=("bn_state",))[0]["bn_state"]
    return {"model": nested_to_tree(like["model"], converted), "bn_state": bn_state}
