"""Deep sequence models for the Long Range Arena (paper section 2.2, appendix D).

- `SequenceEncoder`: token embedding or linear pixel encoder -> `depth` residual blocks ->
  optional final norm (s4's pre-norm models) -> pooling (masked mean over the valid length,
  last valid position, or none).
- `Classifier`: a `SequenceEncoder` and a linear decoder to the classes.
- `RetrievalDualEncoder`: ONE `SequenceEncoder` on both documents, features
  [u, v, u * v, u - v] into an MLP (LRA's AAN retrieval).

Each model works on one example and threads an `equinox.nn.State` (batch-norm statistics):

    model, state = lrux.models.make_model(mixer="lru", depth=2, d_model=32, d_state=32,
                                          num_classes=10, vocab_size=20,
                                          block=BlockConfig(norm="batch"), key=key)
    logits, state = jax.vmap(model, axis_name="batch", in_axes=(0, 0, None, 0),
                             out_axes=(0, None))(inputs, lengths, state, keys)

A `Classifier` whose mixers can step (`AbstractRecurrentMixer`: the causal presets) also
runs one position at a time, for streaming inference: `model.init_state(bn_state)`, then
`model.step(stream, x_t)` gives the logits of the sequence read so far, equal to the full
call in inference mode on that prefix (mean pooling as a running mean, last pooling as the
latest output).
"""

from collections.abc import Callable, Hashable
from typing import Any, Literal, NamedTuple, cast, get_args

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree, Shaped

from lrux.blocks import DEFAULT_BLOCK, BlockConfig, Dense, Mixer, Norm, ResidualBlock, make_norm

Pooling = Literal["mean", "last", "none"]
POOLINGS: tuple[str, ...] = get_args(Pooling)


class StreamState(NamedTuple):
    """What a streaming `Classifier` carries between positions: each block's mixer state,
    the batch-norm statistics it reads, the pooling's running sum and the positions read."""

    mixers: tuple[PyTree, ...]
    bn_state: eqx.nn.State
    total: Float[Array, " d_model"]
    seen: Int[Array, ""]


class SequenceEncoder(eqx.Module):
    """Encoder -> residual blocks -> pooling: (seq,) tokens or (seq, C) pixels -> (d_model,).

    `remat=True` wraps each block in `eqx.filter_checkpoint` (recomputed in the backward pass).

    `pooling="mean"` averages positions < length (padded token tasks; pixel tasks pass
    length = seq); `"last"` takes position length - 1; `"none"` returns all positions.
    Positions >= length are padding: the blocks' batch statistics skip them and no pooled
    output depends on them, so an example's result does not depend on its batch's padding.
    `final_norm=True` normalises the last block's output (a `block.norm` layer) before
    pooling, as s4's pre-norm backbones do. `block` (a `BlockConfig`) is every block's knobs.
    """

    embedding: Float[Array, "vocab d_model"] | None
    encoder: Dense | None
    blocks: tuple[ResidualBlock, ...]
    final_norm: Norm | None
    pooling: str = eqx.field(static=True)
    remat: bool = eqx.field(static=True)

    def __init__(
        self,
        make_mixer: Callable[[PRNGKeyArray], Mixer],
        *,
        depth: int,
        d_model: int,
        vocab_size: int | None = None,
        channels: int | None = None,
        pooling: str = "mean",
        block: BlockConfig = DEFAULT_BLOCK,
        axis_name: Hashable = "batch",
        remat: bool = False,
        final_norm: bool = False,
        key: PRNGKeyArray,
    ):
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if (vocab_size is None) == (channels is None):
            raise ValueError(
                "give exactly one of vocab_size (token tasks) or channels (pixel tasks), got "
                f"vocab_size={vocab_size}, channels={channels}"
            )
        keys = jax.random.split(key, 2 * depth + 1)
        if vocab_size is not None:
            self.embedding = jax.random.normal(keys[0], (vocab_size, d_model))
            self.encoder = None
        else:
            assert channels is not None  # exactly one of the two, checked above
            self.embedding = None
            self.encoder = Dense(channels, d_model, key=keys[0])
        self.blocks = tuple(
            ResidualBlock(make_mixer(keys[1 + 2 * i]), d_model, block, axis_name=axis_name,
                          key=keys[2 + 2 * i])
            for i in range(depth)
        )
        self.final_norm = (
            make_norm(block.norm, d_model, momentum=block.bn_momentum, axis_name=axis_name)
            if final_norm else None
        )
        self.pooling = pooling
        self.remat = remat

    def __call__(
        self,
        x: Int[Array, " seq"] | Float[Array, "seq channels"],
        length: Int[Array, ""],
        state: eqx.nn.State,
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = False,
    ) -> tuple[Float[Array, "*pos d_model"], eqx.nn.State]:
        if self.embedding is not None:
            if not jnp.issubdtype(x.dtype, jnp.integer) or x.ndim != 1:
                raise ValueError(f"token model expects int (seq,) input, got {x.dtype} {x.shape}")
            h = self.embedding[x]
        else:
            if x.ndim != 2:
                raise ValueError(f"pixel model expects (seq, channels) input, got {x.shape}")
            assert self.encoder is not None  # set when there is no embedding
            h = self.encoder(x.astype(jnp.float32))
        keys = (
            jax.random.split(key, len(self.blocks))
            if key is not None
            else [None] * len(self.blocks)
        )
        def apply(block, h, state, k):
            return block(h, state, length=length, key=k, inference=inference)

        if self.remat:  # recompute each block in the backward pass: activation memory / depth
            apply = eqx.filter_checkpoint(apply)
        for block, k in zip(self.blocks, keys, strict=True):
            h, state = apply(block, h, state, k)
        if self.final_norm is not None:
            h, state = self.final_norm(h, state, length=length, inference=inference)
        if self.pooling == "none":
            return h, state
        if self.pooling == "last":
            return h[jnp.clip(length - 1, 0, h.shape[0] - 1)], state
        mask = (jnp.arange(h.shape[0]) < length)[:, None]
        pooled = jnp.sum(jnp.where(mask, h, 0.0), axis=0) / jnp.maximum(length, 1)
        return pooled, state


class Classifier(eqx.Module):
    """`SequenceEncoder` then a linear decoder: one sequence -> class logits."""

    encoder: SequenceEncoder
    decoder: Dense

    def __init__(self, encoder: SequenceEncoder, d_model: int, num_classes: int, *, key):
        self.encoder = encoder
        self.decoder = Dense(d_model, num_classes, key=key)

    def __call__(
        self,
        x: Int[Array, " seq"] | Float[Array, "seq channels"],
        length: Int[Array, ""],
        state: eqx.nn.State,
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = False,
    ) -> tuple[Float[Array, "*pos classes"], eqx.nn.State]:
        h, state = self.encoder(x, length, state, key=key, inference=inference)
        return self.decoder(h), state

    def init_state(self, bn_state: eqx.nn.State) -> StreamState:
        """The streaming state before the first position, reading the batch-norm statistics
        `bn_state` (ValueError naming the block when a mixer cannot step)."""
        states = []
        for i, block in enumerate(self.encoder.blocks):
            try:
                states.append(block.init_state())
            except ValueError as e:
                raise ValueError(f"Classifier.init_state: block {i}: {e}") from None
        d_model = self.decoder.weight.shape[1]
        return StreamState(tuple(states), bn_state, jnp.zeros((d_model,)),
                           jnp.zeros((), jnp.int32))

    def step(
        self, stream: StreamState, x_t: Int[Array, ""] | Float[Array, " channels"]
    ) -> tuple[StreamState, Float[Array, " classes"]]:
        """One position (a token id or a pixel's channels) in inference mode: the logits of
        the sequence read so far, as the full call with `length` = positions read."""
        enc = self.encoder
        if enc.embedding is not None:
            h = enc.embedding[x_t]
        else:
            assert enc.encoder is not None  # set when there is no embedding
            h = enc.encoder(x_t.astype(jnp.float32))
        states = []
        for block, s in zip(enc.blocks, stream.mixers, strict=True):
            s, h = block.step(s, h, stream.bn_state)
            states.append(s)
        if enc.final_norm is not None:
            h = enc.final_norm(h[None], stream.bn_state, inference=True)[0][0]
        total, seen = stream.total + h, stream.seen + 1
        pooled = total / seen if enc.pooling == "mean" else h
        return StreamState(tuple(states), stream.bn_state, total, seen), self.decoder(pooled)


class RetrievalDualEncoder(eqx.Module):
    """Two documents through ONE encoder; [u, v, u*v, u-v] -> Dense -> GELU -> Dense.

    The encoder runs on both documents in a vmap named `"pair"`; its batch norms reduce over
    `("batch", "pair")`, so their statistics cover both documents of every example.
    """

    encoder: SequenceEncoder
    hidden: Dense
    decoder: Dense

    def __init__(self, encoder: SequenceEncoder, d_model: int, num_classes: int, *, key):
        if encoder.pooling == "none":
            raise ValueError("RetrievalDualEncoder needs a pooled encoder, got pooling='none'")
        k1, k2 = jax.random.split(key)
        self.encoder = encoder
        self.hidden = Dense(4 * d_model, d_model, key=k1)
        self.decoder = Dense(d_model, num_classes, key=k2)

    def __call__(
        self,
        x: Int[Array, "2 seq"],
        length: Int[Array, " 2"],
        state: eqx.nn.State,
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = False,
    ) -> tuple[Float[Array, " classes"], eqx.nn.State]:
        def enc(xi, li, ki):
            return self.encoder(xi, li, state, key=ki, inference=inference)

        keys = jax.random.split(key, 2) if key is not None else None
        feats, state = jax.vmap(
            enc, in_axes=(0, 0, 0 if key is not None else None), out_axes=(0, None),
            axis_name="pair",
        )(x, length, keys)
        u, v = feats[0], feats[1]
        z = jnp.concatenate([u, v, u * v, u - v])
        return self.decoder(jax.nn.gelu(self.hidden(z))), state


def make_model(
    *,
    mixer: str,
    depth: int,
    d_model: int,
    d_state: int,
    num_classes: int,
    vocab_size: int | None = None,
    channels: int | None = None,
    dual: bool = False,
    pooling: str = "mean",
    block: BlockConfig = DEFAULT_BLOCK,
    bidirectional: bool = False,
    combine: str | None = None,
    mixer_options: dict[str, Any] | None = None,
    remat: bool = False,
    final_norm: bool = False,
    key: PRNGKeyArray,
) -> tuple[Classifier | RetrievalDualEncoder, eqx.nn.State]:
    """Build a `Classifier` (or `RetrievalDualEncoder` when `dual`) and its initial state.

    `mixer` is a name of `lrux.registry` (`"lru"`, `"s5"`, ...), built with
    `make_mixer(mixer, d_model, d_state, bidirectional=..., combine=..., **mixer_options)`
    (`combine=None`: the mixer's default bidirectional form). `block` is every residual
    block's knobs (`lrux.blocks.BlockConfig`).
    `remat=True` rematerialises each block in the backward pass (less memory, more compute).
    `final_norm=True` adds a `block.norm` layer after the last block (s4's pre-norm backbones).
    """
    from lrux.registry import make_mixer

    opts = dict(mixer_options or {})

    def mixer_factory(k):
        return make_mixer(
            mixer, d_model, d_state, key=k, bidirectional=bidirectional,
            **({} if combine is None else {"combine": combine}), **opts
        )

    def build(k_enc, k_head) -> Classifier | RetrievalDualEncoder:
        encoder = SequenceEncoder(
            mixer_factory, depth=depth, d_model=d_model, vocab_size=vocab_size,
            channels=channels, pooling=pooling, block=block,
            axis_name=("batch", "pair") if dual else "batch", remat=remat,
            final_norm=final_norm, key=k_enc,
        )
        if dual:
            return RetrievalDualEncoder(encoder, d_model, num_classes, key=k_head)
        return Classifier(encoder, d_model, num_classes, key=k_head)

    k_enc, k_head = jax.random.split(key)
    return eqx.nn.make_with_state(build)(k_enc, k_head)


def batched_apply(
    model: eqx.Module,
    state: eqx.nn.State,
    inputs: Shaped[Array, "batch ..."],
    lengths: Int[Array, "batch ..."],
    *,
    key: PRNGKeyArray | None,
    inference: bool,
) -> tuple[Float[Array, "batch classes"], eqx.nn.State]:
    """vmap a per-example model over the batch (axis name "batch"), one dropout key each."""
    # a Classifier or RetrievalDualEncoder: model(x, length, state, *, key, inference)
    call = cast(Callable[..., tuple[Array, eqx.nn.State]], model)
    if key is None or inference:
        return jax.vmap(
            lambda x, n: call(x, n, state, inference=inference),
            axis_name="batch",
            out_axes=(0, None),
        )(inputs, lengths)
    keys = jax.random.split(key, inputs.shape[0])
    return jax.vmap(
        lambda x, n, k: call(x, n, state, key=k, inference=False),
        axis_name="batch",
        out_axes=(0, None),
    )(inputs, lengths, keys)
