"""S5: one MIMO diagonal state-space model shared by all channels (Smith et al. 2023), in the
LRU paper's comparison (section 4).

    x_k = Lbar x_{k-1} + Bbar u_k,   y_k = 2 Re(Ct x_k) + D u_k

with P/2 complex modes (conjugate symmetry; P modes and Re without the 2 when it is off),
Lambda initialised from the eigenvalues of the normal part of HiPPO-LegS (HiPPO-N, optionally
block-diagonal with J blocks), Bt = V^-1 B, Ct = C V, a learnable step per mode and ZOH or
bilinear discretisation. The recurrence runs through `lrux.scan.linear_scan` (parallel scan
on accelerators). S5's bidirectional form (a second, reversed scan over the same Lbar, Bbar u
with its own C, the two directions summed) is `SharedBidirectional` around an S5, as for
every `AbstractDiagonalMixer`.
"""

import math
from typing import ClassVar, Literal, get_args

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Complex, Float, Int, PRNGKeyArray, Real

from lrux import hippo
from lrux.layers.base import (
    AbstractDiagonalMixer,
    LinearSystem,
    check_choice,
    check_scan_mode,
    check_sequence,
    check_sizes,
    check_step,
)
from lrux.scan import ScanMode, linear_scan

CInit = Literal["trunc_standard_normal", "lecun_normal", "complex_normal"]
C_INITS: tuple[str, ...] = get_args(CInit)
_TRUNC_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


def _lecun_trunc(key: PRNGKeyArray, shape: tuple[int, ...], fan_in: int) -> Array:
    """Truncated (2 sigma) normal with variance 1/fan_in (jax's lecun_normal)."""
    z = jax.random.truncated_normal(key, -2.0, 2.0, shape)
    return z * (math.sqrt(1.0 / fan_in) / _TRUNC_STD)


def init_c(
    key: PRNGKeyArray, c_init: CInit, d_model: int, v: np.ndarray
) -> tuple[Float[Array, "d_model modes"], Float[Array, "d_model modes"]]:
    """(Re Ct, Im Ct) of S5's output matrix Ct = C V for the eigenvectors V (P, modes).

    C = C_re + i C_im (H, P) with each part truncated-normal of variance 1/P
    ("trunc_standard_normal") or 1/(H P) ("lecun_normal"); "complex_normal" draws
    Ct ~ CN(0, 1) itself (real and imaginary parts of variance 1/2).
    """
    d_state, modes = v.shape
    kr, ki = jax.random.split(key)
    if c_init == "complex_normal":
        s = math.sqrt(0.5)
        ct_re = jax.random.normal(kr, (d_model, modes)) * s
        return ct_re, jax.random.normal(ki, (d_model, modes)) * s
    fan_in = d_model * d_state if c_init == "lecun_normal" else d_state
    c = jax.lax.complex(
        _lecun_trunc(kr, (d_model, d_state), fan_in),
        _lecun_trunc(ki, (d_model, d_state), fan_in),
    )
    ct = c @ jnp.asarray(v).astype(c.dtype)
    return ct.real, ct.imag


def hippo_n_blocks(
    d_state: int, blocks: int, conj_sym: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S5's HiPPO-N init: (Lambda (m,), V (P, m), V^-1 (m, P)), block-diagonal, float64.

    Each of the J blocks of size b = P/J takes the eigendecomposition of the normal part of
    HiPPO-LegS of size b; with conjugate symmetry only the b/2 eigenvalues with Im < 0 (and
    their eigenvectors) are kept, so m = P/2; otherwise m = P. V^-1 = V^* blockwise.
    """
    if blocks < 1 or d_state % blocks:
        raise ValueError(
            f"S5: blocks (J) must be a positive divisor of d_state={d_state}, got {blocks}"
        )
    size = d_state // blocks
    if conj_sym and size % 2:
        raise ValueError(
            f"S5: with conj_sym the block size d_state/blocks must be even, got {size}"
        )
    lam, v, _, _ = hippo.legs_nplr(size)  # Im(lam) ascending: the first half has Im < 0
    local = size // 2 if conj_sym else size
    lam, v = lam[:local], v[:, :local]
    m = local * blocks
    big_v = np.zeros((d_state, m), np.complex128)
    for j in range(blocks):
        big_v[j * size : (j + 1) * size, j * local : (j + 1) * local] = v
    return np.tile(lam, blocks), big_v, big_v.conj().T


class S5(AbstractDiagonalMixer):
    """S5 mixer: (seq, d_model) -> (seq, d_model) with d_state = P.

    Options: `blocks` (J, default 1), `conj_sym` (default True: P/2 modes kept),
    `discretization` ("zoh" or "bilinear"), `dt_min`, `dt_max`, `step_rescale`,
    `clip_eigs` (Re Lambda <= -1e-4), `c_init`, `scan_mode`. `c_init` as in
    S5's code, where C is drawn as real and imaginary parts of shape (H, P, 2), then
    Ct = C V: "trunc_standard_normal" draws each channel's (1, P, 2) block with jax's
    lecun_normal (fan-in P: variance 1/P); "lecun_normal" draws the whole (H, P, 2) array
    with it (fan-in H * P: variance 1/(H P)); "complex_normal" draws Ct ~ CN(0, 1) directly.
    """

    Lambda_re: Float[Array, " modes"]
    Lambda_im: Float[Array, " modes"]
    B_re: Float[Array, "modes d_model"]
    B_im: Float[Array, "modes d_model"]
    C_re: Float[Array, "d_model modes"]
    C_im: Float[Array, "d_model modes"]
    D: Float[Array, " d_model"]
    log_dt: Float[Array, " modes"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)
    blocks: int = eqx.field(static=True)
    conj_sym: bool = eqx.field(static=True)
    discretization: hippo.Discretization = eqx.field(static=True)
    step_rescale: float = eqx.field(static=True)
    clip_eigs: bool = eqx.field(static=True)
    scan_mode: ScanMode = eqx.field(static=True)

    recurrent_params: ClassVar[tuple[str, ...]] = (
        "Lambda_re",
        "Lambda_im",
        "B_re",
        "B_im",
        "log_dt",
    )
    readout_fields: ClassVar[tuple[str, ...]] = ("C_re", "C_im")

    def __init__(
        self,
        d_model: int,
        d_state: int,
        *,
        blocks: int = 1,
        conj_sym: bool = True,
        discretization: hippo.Discretization = "zoh",
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        step_rescale: float = 1.0,
        clip_eigs: bool = False,
        c_init: CInit = "trunc_standard_normal",
        scan_mode: ScanMode = "auto",
        key: PRNGKeyArray,
    ):
        check_sizes(d_model, d_state)
        check_scan_mode(scan_mode)
        check_choice("discretization", discretization, tuple(hippo.DISCRETIZATIONS), "S5")
        check_choice("c_init", c_init, C_INITS, "S5")
        if not step_rescale > 0:
            raise ValueError(f"S5: step_rescale must be > 0, got {step_rescale}")
        lam, v, v_inv = hippo_n_blocks(d_state, blocks, conj_sym)
        m = lam.shape[0]
        # five keys (the third drew lrux 0.1's second read-out): the same S5 for the same key
        k_b, k_c, _, k_d, k_dt = jax.random.split(key, 5)
        self.Lambda_re = jnp.asarray(np.real(lam))
        self.Lambda_im = jnp.asarray(np.imag(lam))
        b = _lecun_trunc(k_b, (d_state, d_model), d_state)
        bt = jnp.asarray(v_inv) @ b.astype(jnp.result_type(b.dtype, jnp.complex64))
        self.B_re, self.B_im = bt.real, bt.imag

        self.C_re, self.C_im = init_c(k_c, c_init, d_model, v)
        self.D = jax.random.normal(k_d, (d_model,))
        self.log_dt = hippo.log_dt_init(k_dt, (m,), dt_min, dt_max)
        self.d_model = d_model
        self.d_state = d_state
        self.blocks = blocks
        self.conj_sym = conj_sym
        self.discretization = discretization
        self.step_rescale = float(step_rescale)
        self.clip_eigs = clip_eigs
        self.scan_mode = scan_mode

    def continuous_eigenvalues(self) -> Complex[Array, " modes"]:
        """Continuous-time Lambda (clipped to Re <= -1e-4 when `clip_eigs`)."""
        re = jnp.minimum(self.Lambda_re, -1e-4) if self.clip_eigs else self.Lambda_re
        return jax.lax.complex(re, self.Lambda_im)

    def discrete(self) -> tuple[Complex[Array, " modes"], Complex[Array, "modes d_model"]]:
        """(Lbar, Bbar) after ZOH / bilinear discretisation with dt = exp(log_dt) * rescale."""
        dt = jnp.exp(self.log_dt) * self.step_rescale
        lbar, bbar = hippo.discretize(
            self.discretization,
            self.continuous_eigenvalues()[:, None],
            jax.lax.complex(self.B_re, self.B_im),
            dt[:, None],
        )
        return lbar[:, 0], bbar

    def _readout(self, h: Array) -> Array:
        """(2) Re(C h) as real matmuls over the stacked parts."""
        scale = 2.0 if self.conj_sym else 1.0
        return scale * (h.real @ self.C_re.T - h.imag @ self.C_im.T)

    def eigenvalues(self) -> Complex[Array, " modes"]:
        """Lbar, one per kept mode."""
        return self.discrete()[0]

    def linear_system(self) -> LinearSystem:
        """A = Lbar, B = Bbar, C (2 C with conjugate symmetry), D."""
        lbar, bbar = self.discrete()
        scale = 2.0 if self.conj_sym else 1.0
        return LinearSystem(lbar, bbar, scale * jax.lax.complex(self.C_re, self.C_im), self.D)

    def __call__(
        self,
        x: Real[Array, "seq d_model"],
        *,
        length: Int[Array, ""] | int | None = None,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "seq d_model"]:
        """Parallel-scan form over one sequence; causal (`length` not needed), `key` unused."""
        check_sequence(x, self.d_model, "S5")
        lbar, bbar = self.discrete()
        bu = jax.lax.complex(x @ bbar.real.T, x @ bbar.imag.T)  # (seq, modes)
        h = linear_scan(lbar, bu, mode=self.scan_mode)
        return self._readout(h) + self.D * x

    def init_state(self) -> Complex[Array, " modes"]:
        """The zero state x_{-1}."""
        return jnp.zeros(self.Lambda_re.shape, jnp.result_type(self.log_dt.dtype, jnp.complex64))

    def step(
        self, state: Complex[Array, " modes"], x_t: Real[Array, " d_model"]
    ) -> tuple[Complex[Array, " modes"], Float[Array, " d_model"]]:
        """One recurrent step: x_k = Lbar x_{k-1} + Bbar u_k."""
        check_step(x_t, self.d_model, "S5")
        lbar, bbar = self.discrete()
        state = lbar * state + bbar @ x_t.astype(bbar.dtype)
        return state, self._readout(state) + self.D * x_t
