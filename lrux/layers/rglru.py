"""Griffin's Real-Gated Linear Recurrent Unit (De et al. 2024), inside Griffin's recurrent
block, as a sequence mixer. Beyond the LRU paper: its descendant with input-dependent decay.

RG-LRU on the recurrence width D (= d_state):

    r_t = sigmoid(W_a x_t + b_a),  i_t = sigmoid(W_x x_t + b_x)   (block-diagonal W)
    log a_t = -c r_t softplus(-Lambda)  (a_t = sigmoid(Lambda)^(c r_t)),  c = 8
    h_t = a_t h_{t-1} + sqrt(1 - a_t^2) (i_t x_t)

Recurrent block (d_model -> d_model): y = GELU(Dense_y(u)); v = CausalConv1D_4(Dense_x(u));
out = Dense_out(RG-LRU(v) * y). The time-varying recurrence runs through
`lrux.scan.linear_scan`; `step` carries the convolution buffer and h.

Initialisation as recurrentgemma's (`recurrentgemma/jax/layers.py`, `modules.py`): every
weight is normal with variance scale / fan-in and every bias is zero. Dense layers scale 1
(fan-in d_model for Dense_x, Dense_y; d_state for Dense_out, whose scale Griffin sets per
depth: here 1, its RecurrentBlock default); conv taps (width, D) scale 0.01, fan-in = the
width; gate blocks (heads, bw, bw) scale 1, fan-in heads * bw = D (flax counts the block axis
in the fan-in); sigmoid(Lambda)^2 ~ U[r_min^2, r_max^2].

`reset_first=True` is recurrentgemma's document reset at the first position (its
`segment_pos == 0`): a_0 = 0 and multiplier 1 there, so h_0 = i_0 v_0 takes the first input
at full scale instead of sqrt(1 - a_0^2) of it. Off by default (Griffin's equations as
written); with it, the `step` state carries a third entry saying whether a step was taken.
"""

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree, Real

from lrux.layers.base import (
    AbstractRecurrentMixer,
    check_scan_mode,
    check_sequence,
    check_sizes,
    check_step,
)
from lrux.scan import ScanMode, linear_scan

CONV_INIT_SCALE = 0.01  # recurrentgemma's Conv1D w_init_variance_scale

MAX_SQRT_GRADIENT = 1000.0


@jax.custom_jvp
def sqrt_bound_derivative(x: Float[Array, "..."]) -> Float[Array, "..."]:
    """sqrt(x) whose derivative is capped at MAX_SQRT_GRADIENT (Griffin / recurrentgemma).

    The derivative is 0.5 / sqrt(max(x, 1 / (4 MAX^2))), finite at x = 0.
    """
    return jnp.sqrt(x)


@sqrt_bound_derivative.defjvp
def _sqrt_bound_derivative_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    floor = 1.0 / (4.0 * MAX_SQRT_GRADIENT**2)
    return jnp.sqrt(x), 0.5 * dx / jnp.sqrt(jnp.maximum(x, floor))


def _block_linear(x: Array, w: Array, b: Array) -> Array:
    """Block-diagonal linear map: x (..., heads * bw) with w (heads, bw, bw), b (heads, bw)."""
    heads, bw, _ = w.shape
    xs = x.reshape(*x.shape[:-1], heads, bw)
    y = jnp.einsum("...hi,hij->...hj", xs, w) + b
    return y.reshape(*x.shape[:-1], heads * bw)


def _normal_linear(key: PRNGKeyArray, d_in: int, d_out: int) -> eqx.nn.Linear:
    """A Dense layer with weights N(0, 1/d_in) and zero bias (flax lecun-style, untruncated)."""
    linear = eqx.nn.Linear(d_in, d_out, key=key)
    weight = jax.random.normal(key, (d_out, d_in)) / math.sqrt(d_in)
    return eqx.tree_at(lambda m: (m.weight, m.bias), linear, (weight, jnp.zeros(d_out)))


class RGLRU(AbstractRecurrentMixer):
    """Griffin recurrent block with the RG-LRU: (seq, d_model) -> (seq, d_model).

    d_state is the recurrence width D. Options: `num_heads` (blocks of the gate matrices,
    default 1), `conv_width` (default 4), `c` (default 8), `r_min`, `r_max` (base decay
    sigmoid(Lambda) = rho with rho^2 ~ U[r_min^2, r_max^2], default 0.9, 0.999),
    `reset_first` (default False), `scan_mode`. Initialisation: the module docstring.
    """

    linear_x: eqx.nn.Linear
    linear_y: eqx.nn.Linear
    linear_out: eqx.nn.Linear
    conv_w: Float[Array, "width d_state"]
    conv_b: Float[Array, " d_state"]
    gate_a_w: Float[Array, "heads bw bw"]
    gate_a_b: Float[Array, "heads bw"]
    gate_x_w: Float[Array, "heads bw bw"]
    gate_x_b: Float[Array, "heads bw"]
    Lambda: Float[Array, " d_state"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)
    num_heads: int = eqx.field(static=True)
    conv_width: int = eqx.field(static=True)
    c: float = eqx.field(static=True)
    reset_first: bool = eqx.field(static=True)
    scan_mode: ScanMode = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = ("Lambda",)

    def __init__(
        self,
        d_model: int,
        d_state: int,
        *,
        num_heads: int = 1,
        conv_width: int = 4,
        c: float = 8.0,
        r_min: float = 0.9,
        r_max: float = 0.999,
        reset_first: bool = False,
        scan_mode: ScanMode = "auto",
        key: PRNGKeyArray,
    ):
        check_sizes(d_model, d_state)
        check_scan_mode(scan_mode)
        if not isinstance(num_heads, int) or num_heads < 1 or d_state % num_heads:
            raise ValueError(
                f"RGLRU: num_heads must be a positive divisor of d_state={d_state}, "
                f"got {num_heads!r}"
            )
        if not isinstance(conv_width, int) or conv_width < 1:
            raise ValueError(f"RGLRU: conv_width must be a positive int, got {conv_width!r}")
        if not c > 0:
            raise ValueError(f"RGLRU: c must be > 0, got {c}")
        if not 0.0 < r_min <= r_max < 1.0:
            raise ValueError(
                f"RGLRU: need 0 < r_min <= r_max < 1 (base decay), got r_min={r_min}, r_max={r_max}"
            )
        keys = jax.random.split(key, 7)
        self.linear_x = _normal_linear(keys[0], d_model, d_state)
        self.linear_y = _normal_linear(keys[1], d_model, d_state)
        self.linear_out = _normal_linear(keys[2], d_state, d_model)
        conv_std = math.sqrt(CONV_INIT_SCALE / conv_width)
        self.conv_w = jax.random.normal(keys[3], (conv_width, d_state)) * conv_std
        self.conv_b = jnp.zeros(d_state)
        bw = d_state // num_heads
        gate_std = 1.0 / math.sqrt(num_heads * bw)
        self.gate_a_w = jax.random.normal(keys[4], (num_heads, bw, bw)) * gate_std
        self.gate_a_b = jnp.zeros((num_heads, bw))
        self.gate_x_w = jax.random.normal(keys[5], (num_heads, bw, bw)) * gate_std
        self.gate_x_b = jnp.zeros((num_heads, bw))
        rho = jnp.sqrt(jax.random.uniform(keys[6], (d_state,), minval=r_min**2, maxval=r_max**2))
        self.Lambda = jnp.log(rho) - jnp.log1p(-rho)  # sigmoid(Lambda) = rho
        self.d_model = d_model
        self.d_state = d_state
        self.num_heads = num_heads
        self.conv_width = conv_width
        self.c = float(c)
        self.reset_first = bool(reset_first)
        self.scan_mode = scan_mode

    def _gate_parts(self, v: Float[Array, "*seq d_state"]) -> tuple[Array, Array, Array]:
        """(a_t, sqrt(1 - a_t^2), i_t) for conv outputs v."""
        r = jax.nn.sigmoid(_block_linear(v, self.gate_a_w, self.gate_a_b))
        i = jax.nn.sigmoid(_block_linear(v, self.gate_x_w, self.gate_x_b))
        log_a = -self.c * r * jax.nn.softplus(-self.Lambda)
        a = jnp.exp(log_a)
        multiplier = sqrt_bound_derivative(1.0 - jnp.exp(2.0 * log_a))
        return a, multiplier, i

    def gates(
        self, v: Float[Array, "*seq d_state"]
    ) -> tuple[Float[Array, "*seq d_state"], Float[Array, "*seq d_state"]]:
        """(a_t, sqrt(1 - a_t^2) i_t) for conv outputs v: the recurrence's decay and gain."""
        a, multiplier, i = self._gate_parts(v)
        return a, multiplier * i

    def _conv(self, v: Float[Array, "seq d_state"]) -> Float[Array, "seq d_state"]:
        """Depthwise causal convolution: out_t = sum_j conv_w[j] v_{t-j} + conv_b."""
        length = v.shape[0]
        width = self.conv_width
        vp = jnp.concatenate([jnp.zeros((width - 1, v.shape[1]), v.dtype), v])
        out = self.conv_b
        for j in range(width):
            out = out + self.conv_w[j] * vp[width - 1 - j : width - 1 - j + length]
        return out

    def __call__(
        self,
        x: Real[Array, "seq d_model"],
        *,
        length: Int[Array, ""] | int | None = None,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "seq d_model"]:
        """Griffin recurrent block over one sequence; causal (`length` not needed), `key` unused."""
        check_sequence(x, self.d_model, "RGLRU")
        y = jax.nn.gelu(jax.vmap(self.linear_y)(x))
        v = self._conv(jax.vmap(self.linear_x)(x))
        return jax.vmap(self.linear_out)(self.recurrence(v) * y)

    def recurrence(self, v: Float[Array, "seq d_state"]) -> Float[Array, "seq d_state"]:
        """The RG-LRU alone on conv outputs v: h_t = a_t h_{t-1} + sqrt(1 - a_t^2) i_t v_t.

        With `reset_first`, a_0 = 0 and the multiplier is 1 at t = 0.
        """
        if not self.reset_first:
            a, gain = self.gates(v)
            return linear_scan(a, gain * v, mode=self.scan_mode)
        a, multiplier, i = self._gate_parts(v)
        first = (jnp.arange(v.shape[0]) == 0)[:, None]
        a = jnp.where(first, 0.0, a)
        multiplier = jnp.where(first, 1.0, multiplier)
        return linear_scan(a, multiplier * i * v, mode=self.scan_mode)

    def init_state(self) -> PyTree:
        """(conv buffer of the last conv_width - 1 inputs, oldest first; h_{-1}), all zeros;
        with `reset_first` also False: no step taken yet."""
        dtype = self.Lambda.dtype
        buffer = jnp.zeros((self.conv_width - 1, self.d_state), dtype)
        state = (buffer, jnp.zeros(self.d_state, dtype))
        return (*state, jnp.array(False)) if self.reset_first else state

    def step(
        self, state: PyTree, x_t: Real[Array, " d_model"]
    ) -> tuple[PyTree, Float[Array, " d_model"]]:
        """One step: shift the conv buffer, gate, h_t = a_t h_{t-1} + sqrt(1-a_t^2) i_t v_t."""
        check_step(x_t, self.d_model, "RGLRU")
        buffer, h = state[0], state[1]
        y = jax.nn.gelu(self.linear_y(x_t))
        window = jnp.concatenate([buffer, self.linear_x(x_t)[None]])  # oldest first
        v = self.conv_b + jnp.sum(self.conv_w[::-1] * window, axis=0)
        if not self.reset_first:
            a, gain = self.gates(v)
            h = a * h + gain * v
            return (window[1:], h), self.linear_out(h * y)
        a, multiplier, i = self._gate_parts(v)
        started = state[2]
        a = jnp.where(started, a, 0.0)
        multiplier = jnp.where(started, multiplier, 1.0)
        h = a * h + multiplier * i * v
        return (window[1:], h, jnp.array(True)), self.linear_out(h * y)

    def state_vector(self, state: PyTree) -> Float[Array, " d_state"]:
        """The recurrence's h (not the conv buffer)."""
        return state[1]
