"""The residual block of the deep LRU model (paper section 2.2, appendix D).

    x -> norm -> mixer -> GELU -> dropout -> GLU (or half GLU) -> dropout -> + x

Dropout is tied over time by default, as in every peer (minimal-LRU and S5: flax
`broadcast_dims=[0]`; s4: `tie_dropout`): one (1, d_model) mask per example and dropout site
drops whole channels for the whole sequence. `dropout_tied=False` draws a new mask at every
position (an ablation).

Every module here works on ONE unbatched sequence `(seq, d_model)` and threads an
`equinox.nn.State` that holds the batch-norm running statistics. Callers vmap over the batch
with `axis_name="batch"` (and `out_axes=None` for the state): the batch-norm statistics are
then means over every (example, position) of the batch that the vmap sees. Under `jax.jit`
over a sharded global batch this is the global batch, so data parallelism does not change
the statistics.
"""

from collections.abc import Callable, Hashable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from lrux.layers.base import AbstractMixer

NORMS = ("batch", "layer", "none")
GLUS = ("full", "half", "half2")
Glu = Literal["full", "half", "half2"]
# what a block needs of its mixer: (seq, d_model) -> (seq, d_model), as lrux.AbstractMixer
# does. An AbstractMixer is also told the valid `length` (padded batches); any other callable
# is called as mixer(x), so it must be causal for padding never to reach a valid output.
Mixer = Callable[..., Float[Array, "seq d_model"]]


class BatchNorm(eqx.Module):
    """Batch normalisation over (batch, seq) of each feature, with running statistics.

    Training: y = (x - mu) / sqrt(var + eps) * weight + bias with mu, var the biased mean and
    variance over every valid position (t < `length`) of every example in the vmapped axis
    `axis_name` (a name or a tuple of names), so padding never enters them; the running
    statistics move as r <- momentum * r + (1 - momentum) * b. Inference (`inference=True`)
    uses the running statistics (init 0 and 1).
    """

    weight: Float[Array, " d"]
    bias: Float[Array, " d"]
    state_index: eqx.nn.StateIndex
    momentum: float = eqx.field(static=True)
    eps: float = eqx.field(static=True)
    axis_name: Hashable = eqx.field(static=True)

    def __init__(
        self,
        d: int,
        *,
        momentum: float = 0.9,
        eps: float = 1e-5,
        axis_name: Hashable = "batch",
    ):
        if d < 1:
            raise ValueError(f"BatchNorm: d must be >= 1, got {d}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1), got {momentum}")
        self.weight = jnp.ones((d,))
        self.bias = jnp.zeros((d,))
        self.state_index = eqx.nn.StateIndex((jnp.zeros((d,)), jnp.ones((d,))))
        self.momentum = momentum
        self.eps = eps
        self.axis_name = axis_name

    def __call__(
        self,
        x: Float[Array, "seq d"],
        state: eqx.nn.State,
        *,
        length: Int[Array, ""] | int | None = None,
        inference: bool = False,
    ) -> tuple[Float[Array, "seq d"], eqx.nn.State]:
        if inference:
            mean, var = state.get(self.state_index)
        else:
            mean, var = self._batch_statistics(x, length)
            run_mean, run_var = state.get(self.state_index)
            m = self.momentum
            state = state.set(
                self.state_index,
                (m * run_mean + (1 - m) * mean, m * run_var + (1 - m) * var),
            )
        y = (x - mean) * jax.lax.rsqrt(var + self.eps) * self.weight + self.bias
        return y, state

    def _batch_statistics(
        self, x: Float[Array, "seq d"], length: Int[Array, ""] | int | None
    ) -> tuple[Float[Array, " d"], Float[Array, " d"]]:
        """Mean and biased variance over the valid positions of the whole vmapped batch."""
        if length is None:  # every position valid: equal counts, so the mean of the means
            mean = jax.lax.pmean(jnp.mean(x, axis=0), self.axis_name)
            return mean, jax.lax.pmean(jnp.mean(jnp.square(x - mean), axis=0), self.axis_name)
        w = (jnp.arange(x.shape[0]) < length).astype(x.dtype)[:, None]  # (seq, 1)
        count = jnp.maximum(jax.lax.psum(jnp.sum(w), self.axis_name), 1.0)
        mean = jax.lax.psum(jnp.sum(w * x, axis=0), self.axis_name) / count
        var = jax.lax.psum(jnp.sum(w * jnp.square(x - mean), axis=0), self.axis_name) / count
        return mean, var


class LayerNorm(eqx.Module):
    """Layer normalisation over the features of each position (no state; `length` unused)."""

    weight: Float[Array, " d"]
    bias: Float[Array, " d"]
    eps: float = eqx.field(static=True)

    def __init__(self, d: int, *, eps: float = 1e-5):
        if d < 1:
            raise ValueError(f"LayerNorm: d must be >= 1, got {d}")
        self.weight = jnp.ones((d,))
        self.bias = jnp.zeros((d,))
        self.eps = eps

    def __call__(
        self,
        x: Float[Array, "seq d"],
        state: eqx.nn.State,
        *,
        length: Int[Array, ""] | int | None = None,
        inference: bool = False,
    ) -> tuple[Float[Array, "seq d"], eqx.nn.State]:
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + self.eps) * self.weight + self.bias, state


class Identity(eqx.Module):
    """No normalisation."""

    def __call__(
        self,
        x: Float[Array, "seq d"],
        state: eqx.nn.State,
        *,
        length: Int[Array, ""] | int | None = None,
        inference: bool = False,
    ) -> tuple[Float[Array, "seq d"], eqx.nn.State]:
        return x, state


Norm = BatchNorm | LayerNorm | Identity


def make_norm(
    kind: str, d: int, *, momentum: float = 0.9, axis_name: Hashable = "batch"
) -> Norm:
    """`"batch"` -> BatchNorm, `"layer"` -> LayerNorm, `"none"` -> Identity."""
    if kind == "batch":
        return BatchNorm(d, momentum=momentum, axis_name=axis_name)
    if kind == "layer":
        return LayerNorm(d)
    if kind == "none":
        return Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


class Dense(eqx.Module):
    """y = x W^T + b applied to every position: (seq, d_in) -> (seq, d_out), LeCun-uniform."""

    weight: Float[Array, "d_out d_in"]
    bias: Float[Array, " d_out"]

    def __init__(self, d_in: int, d_out: int, *, key: PRNGKeyArray):
        lin = eqx.nn.Linear(d_in, d_out, key=key)
        assert lin.bias is not None  # eqx.nn.Linear has use_bias=True by default
        self.weight = lin.weight
        self.bias = lin.bias

    def __call__(self, x: Float[Array, "*batch d_in"]) -> Float[Array, "*batch d_out"]:
        return x @ self.weight.T + self.bias


def dropout(
    x: Float[Array, "*seq d"],
    p: float,
    key: PRNGKeyArray | None,
    inference: bool,
    *,
    tied: bool = False,
) -> Float[Array, "*seq d"]:
    """Inverted dropout: zero entries with probability p and scale the rest by 1/(1-p).

    `tied=True` draws one mask over the features, shared by every position (a (1, d) mask
    broadcast over the sequence axis 0); `tied=False` draws a mask per entry.
    """
    if inference or p == 0.0:
        return x
    if key is None:
        raise ValueError("dropout > 0 in training needs a key (pass key=...)")
    shape = (1,) * (x.ndim - 1) + x.shape[-1:] if tied else x.shape
    keep = jax.random.bernoulli(key, 1.0 - p, shape)
    return jnp.where(keep, x / (1.0 - p), 0.0)


class ResidualBlock(eqx.Module):
    """norm -> mixer -> GELU -> dropout -> GLU -> dropout -> + skip (paper section 2.2).

    With y the mixer output and z = dropout(GELU(y)):
    `glu="full"`: out1(z) * sigmoid(out2(z)); `glu="half"` (PathX; S5's `half_glu1`):
    z * sigmoid(W z); `glu="half2"` (S5's `half_glu2`, its ListOps and IMDB scripts):
    y * sigmoid(W z), the gate from GELU(y) multiplying the raw mixer output.
    `prenorm=False` normalises after the residual sum instead (post-norm). Dropout masks are
    tied over time unless `dropout_tied=False` (see the module docstring).
    """

    norm: Norm
    mixer: Mixer
    out1: Dense
    out2: Dense | None
    dropout_rate: float = eqx.field(static=True)
    dropout_tied: bool = eqx.field(static=True)
    glu: Glu = eqx.field(static=True)
    prenorm: bool = eqx.field(static=True)

    def __init__(
        self,
        mixer: Mixer,
        d_model: int,
        *,
        norm: str = "batch",
        prenorm: bool = True,
        glu: str = "full",
        dropout: float = 0.0,
        dropout_tied: bool = True,
        bn_momentum: float = 0.9,
        axis_name: Hashable = "batch",
        key: PRNGKeyArray,
    ):
        if glu not in GLUS:
            raise ValueError(f"glu must be one of {GLUS}, got {glu!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        k1, k2 = jax.random.split(key)
        self.norm = make_norm(norm, d_model, momentum=bn_momentum, axis_name=axis_name)
        self.mixer = mixer
        self.out1 = Dense(d_model, d_model, key=k1)
        self.out2 = Dense(d_model, d_model, key=k2) if glu == "full" else None
        self.dropout_rate = dropout
        self.dropout_tied = dropout_tied
        self.glu = glu
        self.prenorm = prenorm

    def __call__(
        self,
        x: Float[Array, "seq d_model"],
        state: eqx.nn.State,
        *,
        length: Int[Array, ""] | int | None = None,
        key: PRNGKeyArray | None = None,
        inference: bool = False,
    ) -> tuple[Float[Array, "seq d_model"], eqx.nn.State]:
        """Positions >= `length` are padding: batch statistics skip them and no output
        before `length` depends on them (None: every position is valid)."""
        k1, k2 = jax.random.split(key) if key is not None else (None, None)
        skip = x
        if self.prenorm:
            x, state = self.norm(x, state, length=length, inference=inference)
        y = self._mix(x, length)
        z = dropout(jax.nn.gelu(y), self.dropout_rate, k1, inference, tied=self.dropout_tied)
        if self.glu == "full":
            assert self.out2 is not None  # built when glu="full"
            z = self.out1(z) * jax.nn.sigmoid(self.out2(z))
        elif self.glu == "half":
            z = z * jax.nn.sigmoid(self.out1(z))
        else:
            z = y * jax.nn.sigmoid(self.out1(z))
        z = dropout(z, self.dropout_rate, k2, inference, tied=self.dropout_tied)
        x = skip + z
        if not self.prenorm:
            x, state = self.norm(x, state, length=length, inference=inference)
        return x, state

    def _mix(self, x: Float[Array, "seq d_model"], length: Int[Array, ""] | int | None
             ) -> Float[Array, "seq d_model"]:
        if length is None or not isinstance(self.mixer, AbstractMixer):
            return self.mixer(x)
        return self.mixer(x, length=length)
