"""The Linear Recurrent Unit (paper section 1) and the diagonal-recurrence kernel it shares
with the ablation ladder's diagonal rungs.

    x_k = diag(lambda) x_{k-1} + gamma * (B u_k),   y_k = Re(C x_k) + D * u_k

The projections are real matrix products on stacked real and imaginary parts: B u is
u @ [B_re; B_im]^T (one (H, 2N) product) and Re(C x) is [x_re, x_im] @ [C_re, -C_im]^T
(one (2N, H) product), so the layer costs the two matmuls it cannot avoid plus one scan
(`lrux.scan.complex_scan_stacked`).

`AbstractDiagonalRNN` holds what the LRU shares with `lrux.layers.diagonal.DiagonalRNN`
(call, step, linear system, read-out); a subclass says how lambda and the gain are stored.
Being an `AbstractDiagonalMixer`, the LRU has S5's shared bidirectional form without
writing it (`lrux.layers.bidirectional.SharedBidirectional`: one lambda, gamma and B read in
both directions, a second C for the backward one).
"""

import abc
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Complex, Float, Int, PRNGKeyArray, Real

from lrux.init import ring_init
from lrux.layers.base import (
    AbstractDiagonalMixer,
    LinearSystem,
    check_scan_mode,
    check_sequence,
    check_sizes,
    check_step,
    floating,
)
from lrux.scan import ScanMode, projected_complex_scan


def _input_matrix(B_re, B_im, gain):
    """(2N, H) real matrix mapping u to [Re(gain * B u); Im(gain * B u)]."""
    w = jnp.concatenate([B_re, B_im], axis=0)
    if gain is not None:
        w = w * jnp.concatenate([gain, gain])[:, None]
    return w


def _output_matrix(C_re, C_im):
    """(H, 2N) real matrix mapping [x_re, x_im] to Re(C x)."""
    return jnp.concatenate([C_re, -C_im], axis=1)


def diagonal_recurrence(
    x: Float[Array, "seq d_model"],
    lam_re: Float[Array, " d_state"],
    lam_im: Float[Array, " d_state"],
    gain: Float[Array, " d_state"] | None,
    B_re: Float[Array, "d_state d_model"],
    B_im: Float[Array, "d_state d_model"],
    C_re: Float[Array, "d_model d_state"],
    C_im: Float[Array, "d_model d_state"],
    D: Float[Array, " d_model"],
    *,
    reverse: bool = False,
    scan_mode: ScanMode = "auto",
) -> Float[Array, "seq d_model"]:
    """y_k = Re(C x_k) + D u_k with x_k = lambda * x_{k-1} + gain * (B u_k), x_{-1} = 0.

    `reverse=True` runs the recurrence from the end of the sequence.
    """
    # h = complex_scan_stacked(lambda, x @ w_in^T), y = h @ w_out^T + D x, in one call that
    # fuses the three over sequence chunks when it is not differentiated
    w_in = _input_matrix(B_re, B_im, gain)  # (2N, H): u -> [Re | Im] of gain * B u
    return projected_complex_scan(
        x, w_in, lam_re, lam_im, _output_matrix(C_re, C_im), D, reverse=reverse, mode=scan_mode
    )


def diagonal_step(
    h: Complex[Array, " d_state"],
    x_t: Float[Array, " d_model"],
    lam_re: Float[Array, " d_state"],
    lam_im: Float[Array, " d_state"],
    gain: Float[Array, " d_state"] | None,
    B_re: Float[Array, "d_state d_model"],
    B_im: Float[Array, "d_state d_model"],
    C_re: Float[Array, "d_model d_state"],
    C_im: Float[Array, "d_model d_state"],
    D: Float[Array, " d_model"],
) -> tuple[Complex[Array, " d_state"], Float[Array, " d_model"]]:
    """One step of `diagonal_recurrence`: (x_{k-1}, u_k) -> (x_k, y_k)."""
    n = lam_re.shape[0]
    bu = _input_matrix(B_re, B_im, gain) @ x_t
    h = jax.lax.complex(lam_re, lam_im) * h + jax.lax.complex(bu[:n], bu[n:])
    y = _output_matrix(C_re, C_im) @ jnp.concatenate([h.real, h.imag]) + D * x_t
    return h, y


def gamma_log_init(nu: Float[Array, " d_state"]) -> Float[Array, " d_state"]:
    """log gamma with gamma = sqrt(1 - |lambda|^2), |lambda|^2 = exp(-2 nu) (paper section 1)."""
    return 0.5 * jnp.log1p(-jnp.exp(-2 * nu))


def init_projections(keys, d_model: int, d_state: int) -> tuple[Array, ...]:
    """(B_re, B_im, C_re, C_im, D) from five keys: B ~ N(0, 1/(2H)), C ~ N(0, 1/N), D ~ N(0, 1)."""
    k_bre, k_bim, k_cre, k_cim, k_d = keys
    b_scale = 1.0 / math.sqrt(2 * d_model)
    c_scale = 1.0 / math.sqrt(d_state)
    return (
        jax.random.normal(k_bre, (d_state, d_model)) * b_scale,
        jax.random.normal(k_bim, (d_state, d_model)) * b_scale,
        jax.random.normal(k_cre, (d_model, d_state)) * c_scale,
        jax.random.normal(k_cim, (d_model, d_state)) * c_scale,
        jax.random.normal(k_d, (d_model,)),
    )


def stable_exp_lambda(
    nu_log: Float[Array, " d_state"], theta_log: Float[Array, " d_state"]
) -> tuple[Float[Array, " d_state"], Float[Array, " d_state"]]:
    """(Re, Im) of lambda = exp(-exp(nu_log) + i exp(theta_log)); |lambda| < 1 always."""
    modulus = jnp.exp(-jnp.exp(nu_log))
    phase = jnp.exp(theta_log)
    return modulus * jnp.cos(phase), modulus * jnp.sin(phase)


class AbstractDiagonalRNN(AbstractDiagonalMixer):
    """x_k = diag(lambda) x_{k-1} + g * (B u_k), y_k = Re(C x_k) + D u_k on complex x_k.

    The part shared by `LRU` and the ladder's `DiagonalRNN`: the call, step, linear system
    and read-out (C_re, C_im) through `diagonal_recurrence` / `diagonal_step`. A subclass
    stores the arrays below and says how lambda and the gain g are parameterised.
    """

    B_re: eqx.AbstractVar[Float[Array, "d_state d_model"]]
    B_im: eqx.AbstractVar[Float[Array, "d_state d_model"]]
    C_re: eqx.AbstractVar[Float[Array, "d_model d_state"]]
    C_im: eqx.AbstractVar[Float[Array, "d_model d_state"]]
    D: eqx.AbstractVar[Float[Array, " d_model"]]
    scan_mode: eqx.AbstractVar[ScanMode]

    readout_fields: ClassVar[tuple[str, ...]] = ("C_re", "C_im")

    @abc.abstractmethod
    def lambda_parts(self) -> tuple[Float[Array, " d_state"], Float[Array, " d_state"]]:
        """(Re lambda, Im lambda) (N,) from the stored parameters."""

    @abc.abstractmethod
    def input_gain(self) -> Float[Array, " d_state"] | None:
        """The gain g (N,) on B u, or None for g = 1."""

    def eigenvalues(self) -> Complex[Array, " d_state"]:
        """The complex diagonal lambda (N,)."""
        return jax.lax.complex(*self.lambda_parts())

    def _params(self):
        lam_re, lam_im = self.lambda_parts()
        gain = self.input_gain()
        return lam_re, lam_im, gain, self.B_re, self.B_im, self.C_re, self.C_im, self.D

    def __call__(
        self,
        x: Real[Array, "seq d_model"],
        *,
        length: Int[Array, ""] | int | None = None,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "seq d_model"]:
        """(L, H) -> (L, H) from the zero state; causal, so `length` is not needed; no `key`."""
        check_sequence(x, self.d_model, type(self).__name__)
        x = floating(x, self.B_re)
        return diagonal_recurrence(x, *self._params(), scan_mode=self.scan_mode)

    def reverse(self, x: Real[Array, "seq d_model"]) -> Float[Array, "seq d_model"]:
        """The anti-causal pass: the recurrence run from the end of the sequence."""
        check_sequence(x, self.d_model, type(self).__name__)
        x = floating(x, self.B_re)
        return diagonal_recurrence(x, *self._params(), reverse=True, scan_mode=self.scan_mode)

    def init_state(self) -> Complex[Array, " d_state"]:
        """The zero complex state x_{-1} (N,)."""
        return jnp.zeros(self.d_state, jnp.result_type(self.B_re.dtype, jnp.complex64))

    def step(
        self, state: Complex[Array, " d_state"], x_t: Real[Array, " d_model"]
    ) -> tuple[Complex[Array, " d_state"], Float[Array, " d_model"]]:
        """One recurrent step: (x_{k-1}, u_k) -> (x_k, y_k)."""
        check_step(x_t, self.d_model, type(self).__name__)
        return diagonal_step(state, floating(x_t, self.B_re), *self._params())

    def linear_system(self) -> LinearSystem:
        """A = lambda (diagonal), B = g * B, C, D."""
        b = jax.lax.complex(self.B_re, self.B_im)
        gain = self.input_gain()
        if gain is not None:
            b = gain[:, None] * b
        return LinearSystem(self.eigenvalues(), b, jax.lax.complex(self.C_re, self.C_im), self.D)


class LRU(AbstractDiagonalRNN):
    """The Linear Recurrent Unit: (seq, d_model) -> (seq, d_model), paper section 1.

    lambda = exp(-exp(nu_log) + i exp(theta_log)) with the ring initialisation (Lemma 2),
    input normalisation gamma = exp(gamma_log), initialised to sqrt(1 - |lambda|^2).
    Bidirectional forms: `lrux.make_mixer("lru", ..., bidirectional=True, combine=...)`.
    """

    nu_log: Float[Array, " d_state"]
    theta_log: Float[Array, " d_state"]
    gamma_log: Float[Array, " d_state"]
    B_re: Float[Array, "d_state d_model"]
    B_im: Float[Array, "d_state d_model"]
    C_re: Float[Array, "d_model d_state"]
    C_im: Float[Array, "d_model d_state"]
    D: Float[Array, " d_model"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)
    scan_mode: ScanMode = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = (
        "nu_log",
        "theta_log",
        "gamma_log",
        "B_re",
        "B_im",
    )

    def __init__(
        self,
        d_model: int,
        d_state: int,
        *,
        r_min: float = 0.0,
        r_max: float = 1.0,
        max_phase: float = 2 * math.pi,
        scan_mode: ScanMode = "auto",
        key: PRNGKeyArray,
    ):
        check_sizes(d_model, d_state)
        check_scan_mode(scan_mode)
        k_ring, *k_proj = jax.random.split(key, 6)
        nu, theta = ring_init(k_ring, d_state, r_min, r_max, max_phase)
        self.nu_log = jnp.log(nu)
        self.theta_log = jnp.log(theta)
        self.gamma_log = gamma_log_init(nu)
        self.B_re, self.B_im, self.C_re, self.C_im, self.D = init_projections(
            k_proj, d_model, d_state
        )
        self.d_model = d_model
        self.d_state = d_state
        self.scan_mode = scan_mode

    def lambda_parts(self) -> tuple[Float[Array, " d_state"], Float[Array, " d_state"]]:
        """(Re, Im) of lambda = exp(-exp(nu_log) + i exp(theta_log)), inside the unit disk."""
        return stable_exp_lambda(self.nu_log, self.theta_log)

    def input_gain(self) -> Float[Array, " d_state"]:
        """gamma = exp(gamma_log) (N,)."""
        return jnp.exp(self.gamma_log)
