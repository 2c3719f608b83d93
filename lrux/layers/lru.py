"""The Linear Recurrent Unit (paper section 1) and the diagonal-recurrence kernel it shares
with the ablation ladder's diagonal rungs.

    x_k = diag(lambda) x_{k-1} + gamma * (B u_k),   y_k = Re(C x_k) + D * u_k

The projections are real matrix products on stacked real and imaginary parts: B u is
u @ [B_re; B_im]^T (one (H, 2N) product) and Re(C x) is [x_re, x_im] @ [C_re, -C_im]^T
(one (2N, H) product), so the layer costs the two matmuls it cannot avoid plus one scan.
"""

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Complex, Float, PRNGKeyArray

from lrux.init import ring_init
from lrux.scan import SCAN_MODES, projected_complex_scan


def check_sizes(d_model: int, d_state: int) -> None:
    """Raise ValueError unless both sizes are positive integers."""
    for name, value in (("d_model", d_model), ("d_state", d_state)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_sequence(x: Array, d_model: int, layer: str) -> None:
    """Raise ValueError unless x is one unbatched (seq, d_model) sequence."""
    if x.ndim != 2 or x.shape[1] != d_model:
        hint = " (batch with jax.vmap)" if x.ndim == 3 else ""
        raise ValueError(
            f"{layer} expects one sequence of shape (seq, d_model={d_model}), "
            f"got shape {x.shape}{hint}"
        )


def check_scan_mode(scan_mode: str) -> None:
    """Raise ValueError unless scan_mode is one of `lrux.scan.SCAN_MODES`."""
    if scan_mode not in SCAN_MODES:
        raise ValueError(f"scan_mode must be one of {SCAN_MODES}, got {scan_mode!r}")


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
    scan_mode: str = "auto",
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


class LRU(eqx.Module):
    """The Linear Recurrent Unit: (seq, d_model) -> (seq, d_model), paper section 1.

    lambda = exp(-exp(nu_log) + i exp(theta_log)) with the ring initialisation (Lemma 2),
    input normalisation gamma = exp(gamma_log), initialised to sqrt(1 - |lambda|^2).
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
    scan_mode: str = eqx.field(static=True)

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
        scan_mode: str = "auto",
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

    def eigenvalues(self) -> Complex[Array, " d_state"]:
        """The diagonal recurrence's lambda (inside the unit disk by construction)."""
        return jax.lax.complex(*stable_exp_lambda(self.nu_log, self.theta_log))

    def _params(self):
        lam_re, lam_im = stable_exp_lambda(self.nu_log, self.theta_log)
        gain = jnp.exp(self.gamma_log)
        return lam_re, lam_im, gain, self.B_re, self.B_im, self.C_re, self.C_im, self.D

    def __call__(
        self, x: Float[Array, "seq d_model"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, "seq d_model"]:
        """Run the layer over one sequence; `key` is unused (no randomness)."""
        check_sequence(x, self.d_model, "LRU")
        return diagonal_recurrence(x, *self._params(), scan_mode=self.scan_mode)

    def reverse(self, x: Float[Array, "seq d_model"]) -> Float[Array, "seq d_model"]:
        """The anti-causal pass: the recurrence run from the end of the sequence."""
        check_sequence(x, self.d_model, "LRU")
        return diagonal_recurrence(x, *self._params(), reverse=True, scan_mode=self.scan_mode)

    def init_state(self) -> Complex[Array, " d_state"]:
        """The zero state x_{-1}."""
        return jnp.zeros(self.d_state, jnp.result_type(self.nu_log.dtype, jnp.complex64))

    def step(
        self, state: Complex[Array, " d_state"], x_t: Float[Array, " d_model"]
    ) -> tuple[Complex[Array, " d_state"], Float[Array, " d_model"]]:
        """One recurrent step for inference: (x_{k-1}, u_k) -> (x_k, y_k)."""
        if x_t.shape != (self.d_model,):
            raise ValueError(f"LRU.step expects x_t of shape ({self.d_model},), got {x_t.shape}")
        return diagonal_step(state, x_t, *self._params())
