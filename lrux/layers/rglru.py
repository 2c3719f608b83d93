"""Griffin's Real-Gated Linear Recurrent Unit (De et al. 2024), inside Griffin's recurrent
block, as a sequence mixer. Beyond the LRU paper: its descendant with input-dependent decay.

RG-LRU on the recurrence width D (= d_state):

    r_t = sigmoid(W_a x_t + b_a),  i_t = sigmoid(W_x x_t + b_x)   (block-diagonal W)
    log a_t = -c r_t softplus(-Lambda)  (a_t = sigmoid(Lambda)^(c r_t)),  c = 8
    h_t = a_t h_{t-1} + sqrt(1 - a_t^2) (i_t x_t)

Recurrent block (d_model -> d_model): y = GELU(Dense_y(u)); v = CausalConv1D_4(Dense_x(u));
out = Dense_out(RG-LRU(v) * y). The time-varying recurrence runs through
`lrux.scan.linear_scan`; `step` carries the convolution buffer and h.
"""

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from lrux.layers.lru import check_scan_mode, check_sequence, check_sizes
from lrux.scan import linear_scan

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


class RGLRU(eqx.Module):
    """Griffin recurrent block with the RG-LRU: (seq, d_model) -> (seq, d_model).

    d_state is the recurrence width D. Options: `num_heads` (blocks of the gate matrices,
    default 1), `conv_width` (default 4), `c` (default 8), `r_min`, `r_max` (base decay
    sigmoid(Lambda) = rho with rho^2 ~ U[r_min^2, r_max^2], default 0.9, 0.999),
    `scan_mode`. Dense layers: equinox defaults; conv taps N(0, 1/conv_width), gate weights
    N(0, 1/bw), all biases of conv and gates zero.
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
    scan_mode: str = eqx.field(static=True)

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
        scan_mode: str = "auto",
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
        self.linear_x = eqx.nn.Linear(d_model, d_state, key=keys[0])
        self.linear_y = eqx.nn.Linear(d_model, d_state, key=keys[1])
        self.linear_out = eqx.nn.Linear(d_state, d_model, key=keys[2])
        self.conv_w = jax.random.normal(keys[3], (conv_width, d_state)) / math.sqrt(conv_width)
        self.conv_b = jnp.zeros(d_state)
        bw = d_state // num_heads
        self.gate_a_w = jax.random.normal(keys[4], (num_heads, bw, bw)) / math.sqrt(bw)
        self.gate_a_b = jnp.zeros((num_heads, bw))
        self.gate_x_w = jax.random.normal(keys[5], (num_heads, bw, bw)) / math.sqrt(bw)
        self.gate_x_b = jnp.zeros((num_heads, bw))
        rho = jnp.sqrt(jax.random.uniform(keys[6], (d_state,), minval=r_min**2, maxval=r_max**2))
        self.Lambda = jnp.log(rho) - jnp.log1p(-rho)  # sigmoid(Lambda) = rho
        self.d_model = d_model
        self.d_state = d_state
        self.num_heads = num_heads
        self.conv_width = conv_width
        self.c = float(c)
        self.scan_mode = scan_mode

    def gates(
        self, v: Float[Array, "*seq d_state"]
    ) -> tuple[Float[Array, "*seq d_state"], Float[Array, "*seq d_state"]]:
        """(a_t, sqrt(1 - a_t^2) i_t) for conv outputs v: the recurrence's decay and gain."""
        r = jax.nn.sigmoid(_block_linear(v, self.gate_a_w, self.gate_a_b))
        i = jax.nn.sigmoid(_block_linear(v, self.gate_x_w, self.gate_x_b))
        log_a = -self.c * r * jax.nn.softplus(-self.Lambda)
        a = jnp.exp(log_a)
        multiplier = sqrt_bound_derivative(1.0 - jnp.exp(2.0 * log_a))
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
        self, x: Float[Array, "seq d_model"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, "seq d_model"]:
        """Griffin recurrent block over one sequence; `key` unused."""
        check_sequence(x, self.d_model, "RGLRU")
        y = jax.nn.gelu(jax.vmap(self.linear_y)(x))
        v = self._conv(jax.vmap(self.linear_x)(x))
        return jax.vmap(self.linear_out)(self.recurrence(v) * y)

    def recurrence(self, v: Float[Array, "seq d_state"]) -> Float[Array, "seq d_state"]:
        """The RG-LRU alone on conv outputs v: h_t = a_t h_{t-1} + sqrt(1 - a_t^2) i_t v_t."""
        a, gain = self.gates(v)
        return linear_scan(a, gain * v, mode=self.scan_mode)

    def init_state(
        self,
    ) -> tuple[Float[Array, "buffer d_state"], Float[Array, " d_state"]]:
        """(conv buffer of the last conv_width - 1 inputs, oldest first; h_{-1}), all zeros."""
        dtype = self.Lambda.dtype
        return jnp.zeros((self.conv_width - 1, self.d_state), dtype), jnp.zeros(self.d_state, dtype)

    def step(
        self,
        state: tuple[Float[Array, "buffer d_state"], Float[Array, " d_state"]],
        x_t: Float[Array, " d_model"],
    ) -> tuple[
        tuple[Float[Array, "buffer d_state"], Float[Array, " d_state"]], Float[Array, " d_model"]
    ]:
        """One step: shift the conv buffer, gate, h_t = a_t h_{t-1} + sqrt(1-a_t^2) i_t v_t."""
        if x_t.shape != (self.d_model,):
            raise ValueError(f"RGLRU.step expects x_t of shape ({self.d_model},), got {x_t.shape}")
        buffer, h = state
        y = jax.nn.gelu(self.linear_y(x_t))
        window = jnp.concatenate([buffer, self.linear_x(x_t)[None]])  # oldest first
        v = self.conv_b + jnp.sum(self.conv_w[::-1] * window, axis=0)
        a, gain = self.gates(v)
        h = a * h + gain * v
        return (window[1:], h), self.linear_out(h * y)
