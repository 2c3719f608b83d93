"""The residual block of the deep LRU model (paper section 2.2, appendix D).

    x -> norm -> mixer -> GELU -> dropout -> GLU (or half GLU) -> dropout -> + x

The block's knobs (norm, pre/post-norm, GLU, dropout and its tying, batch-norm momentum) are
one frozen `BlockConfig`, passed whole from the preset (`lrux.train.state.build_model`)
through the model to every block.

Dropout is tied over time by default, as in every peer (minimal-LRU and S5: flax
`broadcast_dims=[0]`; s4: `tie_dropout`): one (1, d_model) mask per example and dropout site
drops whole channels for the whole sequence. `dropout_tied=False` draws a new mask at every
position (an ablation).

`ResidualBlock.step` runs a block one position at a time (inference: batch norm with its
running statistics, no dropout) around a mixer that can step (`AbstractRecurrentMixer`).

Every module here works on ONE unbatched sequence `(seq, d_model)` and threads an
`equinox.nn.State` that holds the batch-norm running statistics. Callers vmap over the batch
with `axis_name="batch"` (and `out_axes=None` for the state): the batch-norm statistics are
then means over every (example, position) of the batch that the vmap sees. Under `jax.jit`
over a sharded global batch this is the global batch, so data parallelism does not change
the statistics.
"""

import dataclasses
from collections.abc import Callable, Hashable
from typing import Literal, get_args

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree

from lrux.layers.base import AbstractMixer, AbstractRecurrentMixer

NormKind = Literal["batch", "layer", "none"]
Glu = Literal["full", "half", "half2"]
NORMS: tuple[str, ...] = get_args(NormKind)
GLUS: tuple[str, ...] = get_args(Glu)
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


@dataclasses.dataclass(frozen=True)
class BlockConfig:
    """The residual block's knobs, one frozen (hashable) object from the preset to every block.

    `norm` ("batch", "layer", "none"), `prenorm` (False: normalise after the residual sum),
    `glu` ("full", "half", "half2": `ResidualBlock`), `dropout` (rate in [0, 1)),
    `dropout_tied` (one mask per example and site, shared over time), `bn_momentum` (the
    running statistics' momentum). The field names are the preset's (`lrux.presets.Preset`).
    """

    norm: NormKind = "batch"
    prenorm: bool = True
    glu: Glu = "full"
    dropout: float = 0.0
    dropout_tied: bool = True
    bn_momentum: float = 0.9

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.glu not in GLUS:
            raise ValueError(f"glu must be one of {GLUS}, got {self.glu!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.bn_momentum < 1.0:
            raise ValueError(f"bn_momentum must be in [0, 1), got {self.bn_momentum}")

    @classmethod
    def of(cls, source: object) -> "BlockConfig":
        """The config read off any object with attributes of the same names (a `Preset`)."""
        return cls(**{f.name: getattr(source, f.name) for f in dataclasses.fields(cls)})


DEFAULT_BLOCK = BlockConfig()  # the paper's block: pre-norm BatchNorm, full GLU, no dropout


class ResidualBlock(eqx.Module):
    """norm -> mixer -> GELU -> dropout -> GLU -> dropout -> + skip (paper section 2.2).

    With y the mixer output and z = dropout(GELU(y)):
    `glu="full"`: out1(z) * sigmoid(out2(z)); `glu="half"` (PathX; S5's `half_glu1`):
    z * sigmoid(W z); `glu="half2"` (S5's `half_glu2`, its ListOps and IMDB scripts):
    y * sigmoid(W z), the gate from GELU(y) multiplying the raw mixer output.
    `prenorm=False` normalises after the residual sum instead (post-norm). Dropout masks are
    tied over time unless `dropout_tied=False` (see the module docstring). The knobs are
    `config` (a `BlockConfig`).
    """

    norm: Norm
    mixer: Mixer
    out1: Dense
    out2: Dense | None
    config: BlockConfig = eqx.field(static=True)

    def __init__(
        self,
        mixer: Mixer,
        d_model: int,
        config: BlockConfig = DEFAULT_BLOCK,
        *,
        axis_name: Hashable = "batch",
        key: PRNGKeyArray,
    ):
        k1, k2 = jax.random.split(key)
        self.norm = make_norm(config.norm, d_model, momentum=config.bn_momentum,
                              axis_name=axis_name)
        self.mixer = mixer
        self.out1 = Dense(d_model, d_model, key=k1)
        self.out2 = Dense(d_model, d_model, key=k2) if config.glu == "full" else None
        self.config = config

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
        c = self.config
        k1, k2 = jax.random.split(key) if key is not None else (None, None)
        skip = x
        if c.prenorm:
            x, state = self.norm(x, state, length=length, inference=inference)
        y = self._mix(x, length)
        z = dropout(jax.nn.gelu(y), c.dropout, k1, inference, tied=c.dropout_tied)
        z = dropout(self._gate(y, z), c.dropout, k2, inference, tied=c.dropout_tied)
        x = skip + z
        if not c.prenorm:
            x, state = self.norm(x, state, length=length, inference=inference)
        return x, state

    def _gate(self, y: Float[Array, "*seq d"], z: Float[Array, "*seq d"]) -> Float[Array, "*seq d"]:
        """The GLU of `config.glu` on the mixer output y and z = dropout(GELU(y))."""
        if self.config.glu == "full":
            assert self.out2 is not None  # built when glu="full"
            return self.out1(z) * jax.nn.sigmoid(self.out2(z))
        if self.config.glu == "half":
            return z * jax.nn.sigmoid(self.out1(z))
        return y * jax.nn.sigmoid(self.out1(z))

    def _mix(self, x: Float[Array, "seq d_model"], length: Int[Array, ""] | int | None
             ) -> Float[Array, "seq d_model"]:
        if length is None or not isinstance(self.mixer, AbstractMixer):
            return self.mixer(x)
        return self.mixer(x, length=length)

    def init_state(self) -> PyTree:
        """The mixer's step state (ValueError unless the mixer can step)."""
        return self._stepping_mixer().init_state()

    def step(
        self, state: PyTree, x_t: Float[Array, " d_model"], bn_state: eqx.nn.State
    ) -> tuple[PyTree, Float[Array, " d_model"]]:
        """One position in inference mode (batch norm with its running statistics in
        `bn_state`, no dropout): (mixer state, x_t) -> (mixer state, output at t)."""
        mixer = self._stepping_mixer()

        def norm(v):  # the norm of a one-position sequence (per position at inference)
            return self.norm(v[None], bn_state, inference=True)[0][0]

        skip = x_t
        if self.config.prenorm:
            x_t = norm(x_t)
        state, y = mixer.step(state, x_t)
        out = skip + self._gate(y, jax.nn.gelu(y))
        return state, out if self.config.prenorm else norm(out)

    def _stepping_mixer(self) -> AbstractRecurrentMixer:
        if not isinstance(self.mixer, AbstractRecurrentMixer):
            raise ValueError(
                f"this block's mixer is a {type(self.mixer).__name__}, not an "
                "AbstractRecurrentMixer: it reads whole sequences (a bidirectional form, or a "
                "mixer without step()), so the block cannot run one position at a time"
            )
        return self.mixer
